"""Command metrics: output that does not parse is ERROR (first bytes shown escaped), never OK or BREACH;
a numeric command metric needs an extraction rule, which ``validate`` checks.

(Named for this issue's test files; real shell commands, no mocks.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.plan.load import ConfigError
from tests.test_sources import mini_plan, poll


def health(command: str, regex: str = "OVERALL: HEALTHY") -> str:
    expect = f'expect_regex = "{regex}"\n' if regex else ""
    return f"""
[sources.shell]
kind = "command"
timeout = "5s"

[metrics.m]
title = "m"
source = "shell"
kind = "text"
command = '{command}'
{expect}"""


def number(command: str, rule: str) -> str:
    return f"""
[sources.shell]
kind = "command"
timeout = "5s"

[metrics.m]
title = "m"
source = "shell"
kind = "gauge"
command = '{command}'
{rule}
"""


def garbage_script(tmp_path: Path) -> str:
    script = tmp_path / "garbage.sh"
    script.write_text("#!/bin/sh\nprintf '\\033[2J\\001\\377\\376 garbage\\n'\n")
    script.chmod(0o755)
    return "./garbage.sh"


@pytest.mark.parametrize("regex", ["OVERALL: HEALTHY", ""])
async def test_garbage_health_output_is_an_error_shown_escaped(tmp_path: Path, regex: str) -> None:
    sample = await poll(mini_plan(tmp_path, health(garbage_script(tmp_path), regex)), tmp_path, "m")
    assert sample.value is None and sample.error.startswith("output not understood"), sample
    assert "\x1b" not in sample.error and "\\x1b" in sample.error and "garbage" in sample.error


async def test_empty_health_output_with_a_regex_is_an_error(tmp_path: Path) -> None:
    sample = await poll(mini_plan(tmp_path, health("true")), tmp_path, "m")
    assert sample.value is None and "printed nothing" in sample.error
    still = await poll(mini_plan(tmp_path, health("echo OVERALL: UNHEALTHY")), tmp_path, "m")
    assert still.value == "unhealthy"  # text that says so is understood


async def test_numeric_command_metric_by_regex_and_by_json(tmp_path: Path) -> None:
    by_regex = number("echo dlq entries: 42; echo done", 'value_regex = "entries: (\\\\d+)"')
    sample = await poll(mini_plan(tmp_path, by_regex), tmp_path, "m")
    assert sample.value == 42.0 and sample.error == ""
    by_json = number('echo {\\"dlq\\": {\\"count\\": 7}}', 'json_path = "dlq.count"')
    sample = await poll(mini_plan(tmp_path, by_json), tmp_path, "m")
    assert sample.value == 7.0, sample.error


async def test_numeric_command_metric_on_garbage_is_an_error(tmp_path: Path) -> None:
    sample = await poll(
        mini_plan(tmp_path, number("echo no numbers here", 'value_regex = "entries: (\\\\d+)"')), tmp_path, "m"
    )
    assert sample.value is None and "output not understood" in sample.error and "no numbers here" in sample.error
    sample = await poll(
        mini_plan(tmp_path, number("echo entries: lots", 'value_regex = "entries: (\\\\w+)"')), tmp_path, "m"
    )
    assert sample.value is None and "'lots' is not a number" in sample.error
    sample = await poll(mini_plan(tmp_path, number("echo html-page", 'json_path = "a"')), tmp_path, "m")
    assert sample.value is None and "not JSON" in sample.error


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("", "needs value_regex (one group) or json_path"),
        ('value_regex = "entries: \\\\d+"', "needs exactly one group (the number), has 0"),
        ('value_regex = "(a)(b)"', "needs exactly one group (the number), has 2"),
        ('value_regex = "(unclosed"', "not a regular expression"),
    ],
)
def test_validate_requires_an_extraction_rule(tmp_path: Path, rule: str, message: str) -> None:
    with pytest.raises(ConfigError) as bad:
        mini_plan(tmp_path, number("echo 1", rule))
    assert message in str(bad.value) and "metrics.m" in str(bad.value)


def test_value_regex_is_signed_when_set_and_old_digests_stand(tmp_path: Path) -> None:
    plain = mini_plan(tmp_path, number("echo 1", 'json_path = "a"')).plan.digest
    with_rule = mini_plan(tmp_path, number("echo 1", 'json_path = "a"\nvalue_regex = "(\\\\d+)"')).plan.digest
    assert plain != with_rule  # the rule is part of what approvers sign
    (tmp_path / "x").mkdir()
    assert mini_plan(tmp_path / "x", number("echo 1", 'json_path = "a"')).plan.digest == plain

"""``validate`` catches plans that parse but cannot work: exit 2, one line per problem, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.cli.main import main
from cockpit.plan.keys import DEFAULT_KEYS
from screens.actions import BINDINGS
from tests.core_helpers import ENV, example_text

BASE = example_text()
KEYS = '# [keys]\n# kill = "K"'


def _swap(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


CASES = [
    # (id, plan text, expected substring of the one error line, the line's anchor text)
    (
        "poll-0s",
        _swap('poll_interval = "5s"', 'poll_interval = "0s"'),
        "defaults.poll_interval: must be longer than 0s",
        'poll_interval = "0s"',
    ),
    (
        "stale-0s",
        _swap('json_path = "total"', 'json_path = "total"\nstale_after = "0s"'),
        "metrics.dlq_entries.stale_after: must be longer than 0s",
        'stale_after = "0s"',
    ),
    (
        "bad-regex",
        _swap('expect_regex = "OVERALL: HEALTHY"', 'expect_regex = "OVERALL: (HEALTHY"'),
        "stages.0.checks.0.expect_regex: invalid regular expression 'OVERALL: (HEALTHY'",
        'expect_regex = "OVERALL: (HEALTHY"',
    ),
    (
        "unknown-key-id",
        _swap(KEYS, '[keys]\nkil = "ctrl+k"'),
        "keys.kil: unknown action 'kil'",
        'kil = "ctrl+k"',
    ),
    (
        "key-bound-twice",
        _swap(KEYS, '[keys]\nkill = "q"'),
        "keys.kill: 'q' is bound twice: to kill and to quit",
        'kill = "q"',
    ),
    (
        "duration-overflow",
        _swap('poll_interval = "5s"', 'poll_interval = "99999999999999999999s"'),
        "defaults.poll_interval: duration '99999999999999999999s' is too long",
        "poll_interval =",
    ),
    (
        "soak-overflow",
        _swap('soak = "48h"', 'soak = "9999999999999h"'),
        "stages.3.canary.1.soak: duration '9999999999999h' is too long",
        'soak = "9999999999999h"',
    ),
    (
        "number-overflow",
        _swap('json_path = "total"', 'json_path = "total"\nscale = 1e400'),
        "metrics.dlq_entries.scale: must be a finite number other than 0",
        "scale = 1e400",
    ),
    (
        "int-overflow",
        _swap('json_path = "total"', 'json_path = "total"\nmin_samples = 99999999999999999999999'),
        "metrics.dlq_entries.min_samples: must be at most 1000000",
        "min_samples =",
    ),
    (
        "deep-nesting",
        _swap("[notify]", "x = " + "[" * 100_000 + "]" * 100_000 + "\n[notify]"),
        "nested too deeply",
        None,
    ),
    (
        "after-soak-unknown",
        _swap('after_soak = "dlq-5"', 'after_soak = "dlq-50"'),
        "after_soak: 'dlq-50' is not a canary step of stage-2",
        'after_soak = "dlq-50"',
    ),
]


@pytest.mark.parametrize(("text", "expected", "anchor"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validate_refuses_a_plan_that_cannot_work(
    tmp_path: Path, monkeypatch, capsys, text: str, expected: str, anchor: str | None
) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "plan.toml"
    path.write_text(text)
    assert main(["--config", str(path), "validate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert expected in err[0], err[0]
    if anchor is not None:
        assert err[0].startswith(f"{path}:{_line_of(text, anchor)}:"), err[0]


def test_a_remapped_key_that_frees_its_default_is_fine(tmp_path: Path, monkeypatch, capsys) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "plan.toml"
    path.write_text(_swap(KEYS, '[keys]\nkill = "ctrl+k"\nquit = "Q"\nadvance = "q"'))
    assert main(["--config", str(path), "validate"]) == 0, capsys.readouterr().err


def test_the_core_keymap_is_the_dashboards() -> None:
    bound = {b.id: b.key for b in BINDINGS}  # type: ignore[union-attr]
    assert bound == DEFAULT_KEYS

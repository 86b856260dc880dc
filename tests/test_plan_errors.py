"""Malformed plans: exit 2, one precise line per problem (FILE:LINE: key: message), no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.cli.main import main
from cockpit.plan.load import find_config
from tests.core_helpers import ENV, example_text

BASE = example_text()


def _swap(old: str, new: str, count: int = 1) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, count)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


CASES = [
    # (id, plan text, expected substring of the single error line, the line's anchor text or None)
    ("bad-toml", _swap('id = "alokickflow-phase2"', 'id = "alokickflow-phase2'), "invalid TOML", 'id = "alokickflow'),
    (
        "wrong-type",
        _swap("allow_multiple_roles = false", 'allow_multiple_roles = "maybe"'),
        "rollout.allow_multiple_roles: expected true or false, got a string",
        "allow_multiple_roles =",
    ),
    (
        "unknown-key",
        _swap('service = "AlokickFlow', 'servise = "x"\nservice = "AlokickFlow'),
        "rollout.servise: unknown key",
        "servise =",
    ),
    (
        "missing-stages",
        BASE.split("# ---------------------------------------------------------------- Stage 0")[0],
        "stages: required key is missing",
        None,
    ),
    (
        "unknown-flag-in-stage",
        _swap('flags = ["FEATURE_FLAG_DLQ_ENABLED"]', 'flags = ["FEATURE_FLAG_DLQ"]'),
        "stages.2.flags.0: unknown flag 'FEATURE_FLAG_DLQ'",
        'flags = ["FEATURE_FLAG_DLQ"]',
    ),
    (
        "bad-threshold",
        _swap('threshold = "< 10"', 'threshold = "fewer than ten"'),
        "stages.2.thresholds.0.threshold: bad threshold 'fewer than ten'",
        "fewer than ten",
    ),
    (
        "threshold-unit-mismatch",
        _swap('threshold = "< 500ms"', 'threshold = "< 500s"'),
        "is in 's' but the metric is in 'ms'",
        'threshold = "< 500s"',
    ),
    (
        "text-threshold-on-number",
        _swap('threshold = "< 10"', 'threshold = "== healthy"'),
        "compares text but the metric is numeric",
        None,
    ),
    (
        "unset-var",
        _swap("Bearer ${APP_TOKEN}", "Bearer ${NO_SUCH_TOKEN_VAR}"),
        "sources.app.headers.Authorization: environment variable NO_SUCH_TOKEN_VAR is not set",
        "NO_SUCH_TOKEN_VAR",
    ),
    ("empty-file", "", "empty file", None),
    (
        "unknown-source-kind",
        _swap('kind = "prometheus"', 'kind = "graphite"'),
        "sources.prometheus: unknown kind 'graphite'",
        None,
    ),
    (
        "unknown-metric-in-threshold",
        _swap('metric = "dlq_entries"', 'metric = "dlq_entry"'),
        "stages.2.thresholds.0.metric: unknown metric 'dlq_entry'",
        'metric = "dlq_entry"',
    ),
    (
        "bad-duration",
        _swap('poll_interval = "5s"', 'poll_interval = "five seconds"'),
        "defaults.poll_interval: expected a duration",
        "poll_interval =",
    ),
    ("duplicate-stage", _swap('id = "stage-1"', 'id = "stage-0"'), "stages.1.id: duplicate id 'stage-0'", None),
    (
        "requires-later-stage",
        _swap('requires = ["stage-2"]', 'requires = ["post-rollout"]'),
        "stages.3.requires.0: 'post-rollout' is not an earlier stage",
        'requires = ["post-rollout"]',
    ),
    (
        "percent-out-of-range",
        _swap("percent = 5\n", "percent = 500\n"),
        "stages.2.canary.0.percent: must be at most 100",
        "percent = 500",
    ),
    (
        "flag-unknown-provider",
        _swap('provider = "app"', 'provider = "launchdarkly"'),
        "flags.0.provider: unknown provider 'launchdarkly'",
        None,
    ),
    ("missing-approver-field", _swap('handle = "@alok"\n', ""), "approvers.0.handle: required key is missing", None),
]


@pytest.mark.parametrize(("text", "expected", "anchor"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_plan(tmp_path: Path, monkeypatch, capsys, text: str, expected: str, anchor: str | None) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "plan.toml"
    path.write_text(text)
    assert main(["--config", str(path), "validate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"{path}:"), err[0]
    assert expected in err[0]
    if anchor is not None:
        assert err[0].startswith(f"{path}:{_line_of(text, anchor)}:"), (err[0], _line_of(text, anchor))


def test_missing_file(tmp_path: Path, capsys) -> None:
    assert main(["--config", str(tmp_path / "nope.toml"), "validate"]) == 2
    assert capsys.readouterr().err.strip() == f"{tmp_path / 'nope.toml'}:0: no such file"


def test_directory_instead_of_file(tmp_path: Path, capsys) -> None:
    assert main(["--config", str(tmp_path), "status"]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_no_config_anywhere(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COCKPIT_CONFIG", raising=False)
    assert main(["status"]) == 2
    assert "no plan: pass --config PATH" in capsys.readouterr().err


def test_lookup_order(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cockpit.toml").write_text("x")
    assert find_config(None, {}) == Path("cockpit.toml")
    assert find_config(None, {"COCKPIT_CONFIG": "/a.toml"}) == Path("/a.toml")
    assert find_config("/b.toml", {"COCKPIT_CONFIG": "/a.toml"}) == Path("/b.toml")


def test_several_problems_one_line_each(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("APP_TOKEN", "x")
    text = BASE.replace('threshold = "< 10"', 'threshold = "lots"').replace('provider = "app"', 'provider = "nope"', 1)
    path = tmp_path / "plan.toml"
    path.write_text(text)
    assert main(["--config", str(path), "validate"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{path}:") for line in lines)


def test_secret_never_in_error(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("APP_TOKEN", "tok-very-secret")
    path = tmp_path / "plan.toml"
    path.write_text(BASE.replace("allow_multiple_roles = false", 'allow_multiple_roles = "${APP_TOKEN}"'))
    assert main(["--config", str(path), "validate"]) == 2
    assert "tok-very-secret" not in capsys.readouterr().err


def test_no_traceback_in_a_real_process(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text("[rollout\n")
    proc = subprocess.run(
        [sys.executable, "-m", "cockpit", "--config", str(path), "validate"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"{path}:1: invalid TOML")


def test_several_mistakes_in_one_table_are_all_reported(tmp_path: Path, monkeypatch, capsys) -> None:
    """msgspec stops at a piece's first problem; the plan reports every mistake in the piece, each on its line."""
    monkeypatch.setenv("APP_TOKEN", "x")
    text = (
        BASE.replace('service = "AlokickFlow', 'servise = "x"\nservice = "AlokickFlow', 1)
        .replace("allow_multiple_roles = false", 'allow_multiple_roles = "maybe"', 1)
        .replace("captures_baseline = true", 'captures_baseline = "yes"\ntitel = "typo"', 1)
        .replace("irreversible = true", 'irreversible = "yes"', 1)
    )
    path = tmp_path / "plan.toml"
    path.write_text(text)
    assert main(["--config", str(path), "validate"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    expected = {
        "rollout.servise: unknown key": "servise =",
        "rollout.allow_multiple_roles: expected true or false, got a string": "allow_multiple_roles =",
        "stages.0.captures_baseline: expected true or false, got a string": 'captures_baseline = "yes"',
        "stages.0.titel: unknown key": 'titel = "typo"',
        "stages.1.irreversible: expected true or false, got a string": 'irreversible = "yes"',
    }
    assert len(lines) == len(expected), lines
    for message, anchor in expected.items():
        assert f"{path}:{_line_of(text, anchor)}: {message}" in lines


@pytest.mark.parametrize("command", ["validate", "status", "kill"])
def test_a_plan_that_is_a_device_a_pipe_or_huge_is_one_line(tmp_path: Path, monkeypatch, capsys, command: str) -> None:
    """Before, ``--config /dev/zero`` read until memory ran out (a MemoryError traceback) and a named pipe
    hung the command: a plan is read from a regular file, at most a few MiB."""
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    huge = tmp_path / "huge.toml"
    huge.write_bytes(b"# " + b"x" * (5 << 20) + b"\n")
    fifo = tmp_path / "plan.fifo"
    os.mkfifo(fifo)
    for path, said in (
        ("/dev/zero", "not a regular file"),
        (str(fifo), "not a regular file"),
        (str(huge), "larger than"),
    ):
        assert main(["--config", path, command]) == 2, path
        err = capsys.readouterr().err
        assert said in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err

"""``cockpit fleet --json`` / ``--once``: the headless fleet, its JSON against a golden file, its exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.cli.exits import EXIT_FAIL, EXIT_OK, EXIT_UNKNOWN, EXIT_USAGE
from cockpit.cli.fleet import cmd_fleet
from cockpit.cli.main import build_parser, main
from cockpit.clock import FakeClock
from tests.fleet_support import NOW, build_fleet

GOLDEN = Path(__file__).parent / "golden" / "fleet.json"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fleet")
    build_fleet(root)
    return root


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    args = build_parser().parse_args(argv)
    code = cmd_fleet(args, clock=FakeClock(NOW), user="alok")
    return code, capsys.readouterr().out


def test_json_against_the_golden_file(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(["fleet", "--json", "--dir", str(built)], capsys)
    text = out.replace(str(built), "<dir>")
    if os.environ.get("COCKPIT_UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.is_file(), f"{GOLDEN} missing: run with COCKPIT_UPDATE_GOLDEN=1"
    assert text == GOLDEN.read_text(encoding="utf-8")
    assert code == EXIT_FAIL  # some rollout waits on a human
    data = json.loads(text)
    assert data["rollouts"][0]["id"] == "kill-failed"


def test_once_prints_one_line_per_rollout(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(["fleet", "--once", "--dir", str(built)], capsys)
    lines = out.splitlines()
    assert len(lines) == 14 and lines[0].split()[:2] == ["ROLLOUT", "SERVICE"]
    assert lines[1].startswith("!  kill-failed") and "KILL FAILED" in lines[1]
    soaking = next(line for line in lines if " soaking " in line)
    assert "◷ 5% 13h/24h" in soaking and "soak: 10h48m left at 5%" in soaking and "  OK  " in soaking
    stale = next(line for line in lines if " stale " in line)
    assert "OK 5m STALE" in stale  # a fresh judgement shows no age, a stale one its age
    assert code == EXIT_FAIL


def test_nobody_waited_on_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_fleet(tmp_path, ("soaking",))
    (tmp_path / "no-plan" / "audit.jsonl").unlink()
    code, out = run(["fleet", "--once", "--dir", str(tmp_path)], capsys)
    assert code == EXIT_OK and "soaking" in out


@pytest.mark.parametrize(
    "damage",
    [
        (lambda lines: ["# not an event\n", *lines[1:]], "audit log unreadable"),  # a file written over the log
        (lambda lines: [*lines[:1], lines[1].replace('"alok"', '"mallory"'), *lines[2:]], "audit log broken at event 2"),
    ],
    ids=["overwritten", "edited"],
)
def test_an_unreadable_log_is_said_not_shown_as_a_healthy_rollout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: tuple[object, str]
) -> None:
    change, said = damage
    build_fleet(tmp_path, ("soaking",))
    log = tmp_path / "soaking" / "audit.jsonl"
    log.write_text("".join(change(log.read_text().splitlines(keepends=True))))  # type: ignore[operator]
    code, out = run(["fleet", "--once", "--dir", str(tmp_path)], capsys)
    line = next(row for row in out.splitlines() if "soaking" in row)
    assert said in line, line  # first, where the rollout would say what it waits on
    assert code == EXIT_UNKNOWN  # part of the fleet cannot be read: 3, not "nobody waited on"
    code, out = run(["fleet", "--json", "--dir", str(tmp_path)], capsys)
    row = next(r for r in json.loads(out)["rollouts"] if r["where"].endswith("soaking/audit.jsonl"))
    assert row["needs_human"] and said in json.dumps(row["waiting"])


def test_hostile_text_is_inert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rollouts = build_fleet(tmp_path, ("soaking",))
    rollouts["soaking"].open_breach("dlq\x1b[31m\u202e", "\x1b]0;pwned\x07", "< 10")
    _, out = run(["fleet", "--once", "--dir", str(tmp_path)], capsys)
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert "dlq?[31m?" in out


def test_a_missing_dir_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["fleet", "--once", "--dir", str(tmp_path / "nope")])
    assert cmd_fleet(args) == EXIT_USAGE
    assert "no such file or directory" in capsys.readouterr().err


def test_the_headless_fleet_never_loads_textual(built: Path) -> None:
    code = (
        "import sys; from cockpit.cli.main import main; rc = main(['fleet', '--json', '--dir', sys.argv[1]]);"
        "assert 'textual' not in sys.modules, 'textual loaded'; print('rc', rc)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, str(built)], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("rc 1")


def test_the_screen_needs_a_terminal(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["fleet", "--dir", str(built)])
    assert cmd_fleet(args) == EXIT_USAGE  # pytest's stdin is not a terminal
    assert "the fleet screen needs a terminal" in capsys.readouterr().err


def test_a_named_dsn_variable_that_is_not_set_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FLEET_DSN", raising=False)
    assert main(["fleet", "--once", "--dir", str(tmp_path), "--dsn-env", "FLEET_DSN"]) == EXIT_USAGE
    assert "--dsn-env FLEET_DSN: the environment variable is not set" in capsys.readouterr().err

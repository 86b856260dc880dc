"""``cockpit --readonly`` writes nothing and runs nothing: every command leaves the state directory
byte-identical (no new file either) and starts no check command."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from cockpit.cli.main import main
from cockpit.clock import FakeClock
from cockpit.store.history import SqliteHistory
from tests.rollout_script import EXAMPLE, SECRET, drive_full_rollout, make_rollout

ROLLOUT_ID = "alokickflow-phase2"


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """(config, state directory, marker a check command would create), mid-rollout with an open incident."""
    nowhere = _closed_port()
    for name, value in {
        "COCKPIT_STATE_DIR": str(tmp_path / "state"),
        "APP_TOKEN": SECRET,
        "APP_URL": nowhere,
        "PROMETHEUS_URL": nowhere,
    }.items():
        monkeypatch.setenv(name, value)
    state = tmp_path / "state" / ROLLOUT_ID
    state.mkdir(parents=True)
    clock = FakeClock()
    history = SqliteHistory(state / "history.sqlite3")
    drive_full_rollout(make_rollout(state, clock, {"APP_URL": nowhere}), clock, history)
    history.close()
    config = tmp_path / "cockpit.toml"
    config.write_text(EXAMPLE.read_text())
    marker = tmp_path / "a-check-command-ran"
    script = tmp_path / "verification" / "health_check_script.sh"
    script.parent.mkdir()
    script.write_text(f"#!/bin/sh\ntouch {marker}\necho 'OVERALL: HEALTHY'\n")
    script.chmod(0o755)
    assert main(["--config", str(config), "export", "-o", str(tmp_path / "signoff.md")]) == 0
    return config, state, marker


READONLY_COMMANDS = [
    ["status"],
    ["status", "--json"],
    ["validate"],
    ["audit", "verify"],
    ["audit", "show"],
    ["audit", "show", "--json"],
    ["audit", "repair"],
    ["approve", "dev-lead"],
    ["revoke", "dev-lead"],
    ["tick", "stage-0", "deploy"],
    ["untick", "stage-0", "deploy"],
    ["note", "a viewer's note"],
    ["advance"],
    ["advance", "--override", "a viewer's reason"],
    ["check"],
    ["check", "--all"],
    ["check", "--all", "--json"],
    ["verify"],
    ["verify", "stage-0"],
    ["baseline"],
    ["kill", "--reason", "viewer"],
    ["flags"],
    ["flag", "set", "FEATURE_FLAG_DLQ_ENABLED", "5", "--confirm", "FEATURE_FLAG_DLQ_ENABLED"],
    ["incident"],
    ["incident", "open", "viewer"],
    ["incident", "done", "page"],
    ["incident", "close"],
    ["incident", "capture"],
    ["incident", "capture", "--out", "OUT/capture.json"],
    ["export"],
    ["export", "--format", "json"],
    ["export", "-o", "OUT/viewer.md"],
    ["export", "--verify", "OUT/signoff.md"],
    ["sign-off", "dev-lead"],
]


@pytest.mark.parametrize("command", READONLY_COMMANDS, ids=lambda c: " ".join(c))
def test_readonly_changes_nothing_and_runs_nothing(
    setup: tuple[Path, Path, Path], command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, state, marker = setup
    out_dir = config.parent
    before = _snapshot(state)
    outside = set(os.listdir(out_dir))
    argv = [arg.replace("OUT", str(out_dir)) for arg in command]
    code = main(["--readonly", "--config", str(config), *argv])
    err = capsys.readouterr().err
    assert code in (0, 1, 2, 3) and "Traceback" not in err
    assert _snapshot(state) == before, f"{command} changed the state directory"
    assert not marker.exists(), f"{command} ran a check command"
    assert set(os.listdir(out_dir)) == outside, f"{command} wrote a file"

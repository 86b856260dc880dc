"""Text that is not UTF-8 is ordinary hostile input. A JSON body may escape a lone surrogate (``"\\udcff"``)
and an argument may carry bytes that are not UTF-8 (Python hands them over as lone surrogates): before, either
reached an encoder and ended the command with a traceback (``cockpit check`` on such a service, ``cockpit note``
with such an argument). Now each is spelled out (``\\udcff``) where it enters: on screen, in the history, in
the record."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.cli.main import main
from cockpit.plan.model import Metric
from cockpit.sources.values import to_value
from cockpit.text import visible, well_formed
from tests.core_helpers import ENV, EXAMPLE, make_rollout

ROOT = Path(__file__).resolve().parent.parent


def test_a_lone_surrogate_is_spelled_out() -> None:
    assert visible("ok \udcff") == "ok \\udcff"
    assert well_formed("ok \udcff") == "ok \\udcff" and well_formed("ok é") == "ok é"
    assert visible("é ✔") == "é ✔"


def test_a_text_value_from_a_service_is_well_formed() -> None:
    body = json.loads('{"status": "\\udcff healthy"}')
    value = to_value(body["status"], Metric(title="Health", source="app", kind="text"))
    assert value == "\\udcff healthy"
    value.encode("utf-8")  # what the history and the record do with it


def test_a_note_that_is_not_utf8_is_recorded_spelled_out(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path)
    event = rollout.note("handover \udcff")
    assert event.payload["text"] == "handover \\udcff"
    assert rollout.state.count == 2


def test_the_command_line_takes_an_argument_that_is_not_utf8(tmp_path: Path) -> None:
    env = {**ENV, "COCKPIT_STATE_DIR": str(tmp_path / "state"), "COCKPIT_CONFIG": str(EXAMPLE)}
    done = subprocess.run(
        [sys.executable, "-m", "cockpit", "note", b"bad \xff byte".decode("utf-8", "surrogateescape")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "cockpit", "audit", "show"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "bad \\\\udcff byte" in done.stdout, done.stdout  # JSON's own spelling of the spelled-out text


@pytest.mark.parametrize("argv", [["approve", "\udcff"], ["tick", "stage-0", "\udcff"]])
def test_a_refusal_naming_such_an_argument_is_one_line(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COCKPIT_CONFIG", str(EXAMPLE))
    assert main(argv) in (1, 2)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "\udcff" not in err

"""``cockpit export`` and ``cockpit export --verify`` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cockpit import events as ev
from cockpit.cli.main import main
from cockpit.clock import FakeClock
from cockpit.rollout import Rollout
from cockpit.store.filelog import FileStore
from tests.rollout_script import ALOK, EXAMPLE, SECRET, drive_full_rollout, make_rollout


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A full rollout in the plan's default audit log under $COCKPIT_STATE_DIR."""
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("APP_TOKEN", SECRET)
    directory = tmp_path / "state" / "alokickflow-phase2"
    directory.mkdir(parents=True)
    clock = FakeClock()
    rollout = make_rollout(directory, clock)
    drive_full_rollout(rollout, clock)
    return directory / "audit.jsonl"


@pytest.mark.parametrize("name", ["signoff.md", "signoff.toml", "signoff.json"])
def test_export_to_file_is_audited_and_verifies(
    log: Path, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / name
    assert main(["--config", str(EXAMPLE), "export", "-o", str(out)]) == 0
    assert SECRET not in out.read_text()
    last = FileStore(log, readonly=True).read(0)[-1]
    assert last.type == ev.EXPORT_WRITTEN and last.payload["path"] == str(out)
    assert last.payload["format"] == name.rsplit(".", 1)[1]
    assert main(["--config", str(EXAMPLE), "export", "--verify", str(out)]) == 0
    assert "matches the audit log" in capsys.readouterr().out


def test_export_to_stdout_as_json(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(EXAMPLE), "export", "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["export"]["status"] == "complete"
    assert record["audit"]["count"] == FileStore(log, readonly=True).head()[0]


def test_verify_fails_on_a_tampered_log(log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "signoff.md"
    assert main(["--config", str(EXAMPLE), "export", "-o", str(out)]) == 0
    log.write_text(log.read_text().replace("retaking 5%", "retaking 9%", 1))  # edit the handoff note
    assert main(["--config", str(EXAMPLE), "export", "--verify", str(out)]) == 1
    err = capsys.readouterr().err
    assert "does not match the audit log" in err and len(err.strip().splitlines()) == 1


def test_verify_rejects_a_file_that_is_not_an_export(
    log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "notes.md"
    bad.write_text("# just notes\n")
    assert main(["--config", str(EXAMPLE), "export", "--verify", str(bad)]) == 2
    assert main(["--config", str(EXAMPLE), "export", "--verify", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert "not a cockpit export" in err and "Traceback" not in err


def test_sign_off_before_the_end_is_refused(tmp_path: Path) -> None:
    rollout = Rollout(
        make_rollout(tmp_path, FakeClock()).loaded, FileStore(tmp_path / "a.jsonl"), actor=ALOK, clock=FakeClock()
    )
    with pytest.raises(Exception, match="sign-off comes at the end"):
        rollout.sign_off("dev-lead")


@pytest.mark.parametrize("name", ["signoff.md", "signoff.json"])
def test_verify_catches_an_export_whose_content_was_changed(
    log: Path, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, --verify compared only the head the export names with the log: an Actual cell, a note or a
    whole forged row could be changed in the file and it still "matched the audit log"."""
    out = tmp_path / name
    assert main(["--config", str(EXAMPLE), "export", "-o", str(out)]) == 0
    written = FileStore(log, readonly=True).read(0)[-1]
    assert len(written.payload["sha256"]) == 64  # the content written is on record
    out.write_text(out.read_text().replace("retaking 5%", "retaking 50%", 1))
    capsys.readouterr()
    assert main(["--config", str(EXAMPLE), "export", "--verify", str(out)]) == 1
    err = capsys.readouterr().err
    assert "changed after it was written" in err and len(err.strip().splitlines()) == 1


def test_verify_does_not_vouch_for_an_export_it_has_no_record_of(
    log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(EXAMPLE), "export"]) == 0  # to stdout: its content is not on record
    out = tmp_path / "piped.md"
    out.write_text(capsys.readouterr().out + "\n| Dev Lead | ✔ signed |\n")
    assert main(["--config", str(EXAMPLE), "export", "--verify", str(out)]) == 1
    err = capsys.readouterr().err
    assert "its content is not on record" in err and "export -o" in err

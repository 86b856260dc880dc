"""The record cannot be clobbered or cut short, its files are what they claim, its messages say the truth.

Each test drives the real command line on a full simulated rollout (``tests.rollout_script``) in a
throwaway ``$COCKPIT_STATE_DIR``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from cockpit.cli.main import main
from cockpit.clock import FakeClock
from cockpit.plan.load import parse_plan
from cockpit.rollout import Rollout, open_rollout
from cockpit.store.audit import AuditError, CutShort, TornTail, verify_file
from cockpit.store.filelog import FileStore
from cockpit.store.history import SqliteHistory
from cockpit.store.witness import read_from_db, read_witness, witness_path
from tests.rollout_script import ALOK, EXAMPLE, SECRET, drive_full_rollout
from tests.test_audit import tiny_fs  # noqa: F401  (the 16 KiB tmpfs fixture)

ROLLOUT_ID = "alokickflow-phase2"


def _plan_text(extra: str = "") -> str:
    """The example plan, with ``extra`` lines added to its ``[rollout]`` table."""
    text = EXAMPLE.read_text()
    return text.replace('store = "file"', f'store = "file"\n{extra}', 1) if extra else text


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("APP_TOKEN", SECRET)
    return tmp_path


def _config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "cockpit.toml"
    config.write_text(_plan_text(extra))
    (tmp_path / "verification").mkdir(exist_ok=True)
    return config


def _full(tmp_path: Path, config: Path) -> Rollout:
    """A full rollout through the plan's own store (witnessed in the history database too)."""

    environ = {"APP_TOKEN": SECRET, "PATH": os.environ.get("PATH", ""),
               "COCKPIT_STATE_DIR": str(tmp_path / "state")}  # fmt: skip
    loaded = parse_plan(config.read_text(), str(config), environ, base=config)
    clock = FakeClock()
    rollout = open_rollout(loaded, clock=clock, actor=ALOK)
    drive_full_rollout(rollout, clock)
    return rollout


def _log(tmp_path: Path) -> Path:
    return tmp_path / "state" / ROLLOUT_ID / "audit.jsonl"


# --------------------------------------------------------------------------- 1. nothing lands on the record


@pytest.mark.parametrize("target", ["audit.jsonl", "history.sqlite3", "audit.jsonl.head", "new-file.md"])
def test_export_never_writes_into_the_state_directory(
    env: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(env)
    _full(env, config)
    log = _log(env)
    before = log.read_bytes()
    code = main(["--config", str(config), "export", "-o", str(log.parent / target)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "where the rollout's record lives" in err
    assert log.read_bytes() == before and verify_file(log).ok
    assert main(["--config", str(config), "audit", "verify"]) == 0


def test_export_refuses_a_path_that_resolves_into_the_log_directory(env: Path) -> None:
    config = _config(env, f'audit_log = "{env}/logs/audit.jsonl"')
    _full(env, config)
    log = env / "logs" / "audit.jsonl"
    before = log.read_bytes()
    (env / "out").mkdir()
    (env / "out" / "link.md").symlink_to(log)  # a link in an ordinary directory, pointing at the log
    assert main(["--config", str(config), "export", "-o", str(env / "out" / "link.md"), "--force"]) == 2
    (env / "alias").symlink_to(env / "logs")  # a directory link into the log's directory
    assert main(["--config", str(config), "export", "-o", str(env / "alias" / "x.md")]) == 2
    assert log.read_bytes() == before


def test_export_does_not_overwrite_without_force_and_refuses_devices(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(env)
    _full(env, config)
    out = env / "signoff.md"
    out.write_text("someone else's notes\n")
    assert main(["--config", str(config), "export", "-o", str(out)]) == 2
    assert out.read_text() == "someone else's notes\n"
    assert "--force" in capsys.readouterr().err
    assert main(["--config", str(config), "export", "-o", str(out), "--force"]) == 0
    assert out.read_text().startswith("# ")
    assert main(["--config", str(config), "export", "-o", "/dev/null", "--force"]) == 2
    assert "not a regular file" in capsys.readouterr().err
    assert not list(env.glob(".signoff.md*"))  # no temporary file left behind


def test_incident_capture_out_never_lands_on_the_record(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(env)
    _full(env, config)
    log = _log(env)
    before = log.read_bytes()
    assert main(["--config", str(config), "incident", "capture", "--out", str(log)]) == 2
    assert log.read_bytes() == before
    out = env / "capture.json"
    out.write_text("{}")
    assert main(["--config", str(config), "incident", "capture", "--out", str(out)]) == 2
    assert out.read_text() == "{}"
    assert main(["--config", str(config), "incident", "capture", "--out", str(out), "--force"]) == 0
    assert "captured_at" in out.read_text()


# --------------------------------------------------------------------------- 2. a witness of the head


def test_lines_dropped_from_the_tail_are_found_through_the_witness(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(env)
    rollout = _full(env, config)
    log = _log(env)
    seq, head = rollout.store.head()
    assert read_witness(log) is not None and read_witness(log).seq == seq  # type: ignore[union-attr]
    db_head = read_from_db(env / "state" / ROLLOUT_ID / "history.sqlite3", log)
    assert db_head is not None and (db_head.seq, db_head.hash) == (seq, head)
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-3]))  # three acknowledged events gone
    assert main(["--config", str(config), "audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert f"log ends at event {seq - 3}; event {seq} (hash {head[:16]}" in err
    assert "was acknowledged at 20" in err
    assert rollout.torn is not None and f"log ends at event {seq - 3}" in rollout.torn  # a running cockpit sees it
    assert main(["--config", str(config), "status"]) == 0  # said where the operator looks
    assert f"AUDIT LOG: {log}: log ends at event {seq - 3}; event {seq}" in capsys.readouterr().out
    with pytest.raises(CutShort):  # and nothing is chained onto the cut log
        rollout.note("after the cut")
    assert main(["--config", str(config), "audit", "repair"]) == 0
    assert main(["--config", str(config), "audit", "verify"]) == 0  # the loss is in the chain now
    events = FileStore(log).read()
    assert events[-1].type == "audit.repaired" and events[-1].payload["witnessed_seq"] == seq


def test_the_history_database_witnesses_when_the_sidecar_is_gone_too(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(env)
    rollout = _full(env, config)
    log = _log(env)
    seq, _head = rollout.store.head()
    witness_path(log).unlink()
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:-1]))
    assert main(["--config", str(config), "audit", "verify"]) == 1
    assert f"event {seq} (hash" in capsys.readouterr().err


def test_verify_head_checks_a_head_kept_elsewhere(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(env)
    rollout = _full(env, config)
    log = _log(env)
    seq, head = rollout.store.head()
    assert main(["audit", "verify", str(log), "--head", f"{seq}:{head[:12]}"]) == 0
    # everything rewritten consistently: the log cut, the sidecar and the database rewritten to match
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-2]))
    witness_path(log).unlink()
    db = sqlite3.connect(env / "state" / ROLLOUT_ID / "history.sqlite3")
    db.execute("DELETE FROM audit_head")
    db.commit()
    db.close()
    capsys.readouterr()
    assert main(["--config", str(config), "audit", "verify"]) == 0  # undetectable without a head kept elsewhere
    assert main(["--config", str(config), "audit", "verify", "--head", f"{seq}:{head}"]) == 1
    assert f"log ends at event {seq - 2}; event {seq}" in capsys.readouterr().err
    assert main(["audit", "verify", str(log), "--head", "nonsense"]) == 2


# --------------------------------------------------------------------------- 8. files are what they claim


def test_a_symlinked_log_is_not_followed(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shared = env / "world-writable"
    shared.mkdir()
    shared.chmod(0o1777)
    victim = env / "victim.txt"
    victim.write_text("precious\n")
    (shared / "audit.jsonl").symlink_to(victim)
    config = _config(env, f'audit_log = "{shared}/audit.jsonl"')
    assert main(["--config", str(config), "note", "hello"]) == 1
    assert main(["--config", str(config), "audit", "verify"]) in (1, 2)
    assert main(["--config", str(config), "status"]) == 1
    err = capsys.readouterr().err
    assert "symbolic link" in err and "Traceback" not in err
    assert victim.read_text() == "precious\n"


@pytest.mark.timeout(20)
def test_a_device_as_the_log_is_refused_at_once(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(env, 'audit_log = "/dev/full"')
    assert main(["--config", str(config), "audit", "verify"]) in (1, 2)
    assert main(["--config", str(config), "status"]) == 1
    assert main(["--config", str(config), "note", "x"]) == 1
    err = capsys.readouterr().err
    assert "not a regular file (a character device)" in err and "Traceback" not in err
    with pytest.raises(AuditError):
        FileStore("/dev/zero").read()


def test_a_log_under_a_file_is_one_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(env, 'audit_log = "/etc/passwd/x.jsonl"')
    for command in (["status"], ["note", "x"], ["audit", "verify"]):
        assert main(["--config", str(config), *command]) in (1, 2)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "not a directory" in err.lower()


def test_an_endless_line_is_a_bounded_read(env: Path) -> None:
    log = env / "audit.jsonl"
    with log.open("wb") as fh:
        fh.truncate(64 << 20)  # 64 MiB of NULs, no newline: a sparse file
    with pytest.raises(AuditError, match="longer than"):
        verify_file(log)
    with pytest.raises(AuditError, match="longer than"):
        FileStore(log).read()


def test_a_non_json_last_line_is_torn_and_repairable(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(env)
    _full(env, config)
    log = _log(env)
    with log.open("ab") as fh:
        fh.write(b"garbage that is not JSON\n")
    assert main(["--config", str(config), "status"]) == 0  # the state as of the line before, and said
    out = capsys.readouterr().out
    assert "AUDIT LOG:" in out and "not a JSON event" in out
    with pytest.raises(TornTail):
        FileStore(log).append("note.added", {"text": "x"}, ALOK, FakeClock().now())
    assert main(["--config", str(config), "note", "after"]) == 1
    assert "Traceback" not in capsys.readouterr().err
    assert main(["--config", str(config), "audit", "verify"]) == 1
    assert main(["--config", str(config), "audit", "repair"]) == 0
    aside = log.with_name("audit.jsonl.torn-1")
    assert aside.read_bytes() == b"garbage that is not JSON\n"
    assert main(["--config", str(config), "note", "after"]) == 0
    assert main(["--config", str(config), "audit", "verify"]) == 0


def test_a_note_is_capped(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(env)
    assert main(["--config", str(config), "note", "x" * (1 << 20)]) == 1
    err = capsys.readouterr().err
    assert "a note is at most 64 KiB" in err and len(err.strip().splitlines()) == 1
    assert main(["--config", str(config), "note", "x" * (64 << 10)]) == 0


# --------------------------------------------------------------------------- 9. messages say the truth


def test_export_prints_the_head_it_wrote(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(env)
    rollout = _full(env, config)
    seq, head = rollout.store.head()
    capsys.readouterr()
    assert main(["--config", str(config), "export", "-o", str(env / "s.md")]) == 0
    out = capsys.readouterr().out
    assert f"audit log event {seq}, head {head[:12]}" in out  # the head the export shows, paired right
    assert f"recorded as event {seq + 1}" in out


def test_a_full_disk_says_no_space_left(
    env: Path,
    tiny_fs: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = _config(env)
    _full(env, config)
    filler = tiny_fs / "filler"
    with open(filler, "wb", buffering=0) as f, pytest.raises(OSError):
        while True:
            f.write(b"x" * 1024)
    assert main(["--config", str(config), "export", "-o", str(tiny_fs / "s.md")]) == 1
    assert "no space left on device" in capsys.readouterr().err
    assert not (tiny_fs / "s.md").exists()


def test_history_refuses_a_link(env: Path) -> None:
    target = env / "elsewhere.sqlite3"
    SqliteHistory(target).close()
    (env / "history.sqlite3").symlink_to(target)
    with pytest.raises(Exception, match="symbolic link"):
        SqliteHistory(env / "history.sqlite3")

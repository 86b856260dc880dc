"""The audit log: a hash chain that names the first tampered line, survives crashes, and never forks."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cockpit.cli.main import main
from cockpit.events import GENESIS, Actor, Event, seal
from cockpit.store.audit import AuditError, ReadOnlyStore, TornTail, parse_line, verify_file
from cockpit.store.filelog import FileStore
from tests.core_helpers import ALOK

T0 = datetime(2024, 12, 12, 9, 0, tzinfo=UTC)


def _log(tmp_path: Path, n: int = 6) -> FileStore:
    store = FileStore(tmp_path / "audit.jsonl")
    for i in range(n):
        store.append("note.added", {"text": f"note {i}"}, ALOK, T0 + timedelta(seconds=i))
    return store


def _lines(store: FileStore) -> list[str]:
    return store.path.read_text().splitlines(keepends=True)


def _write(store: FileStore, lines: list[str]) -> None:
    store.path.write_text("".join(lines))


def test_chain_links_and_verifies(tmp_path: Path) -> None:
    store = _log(tmp_path)
    events = store.read()
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[0].prev == GENESIS
    assert all(b.prev == a.hash for a, b in itertools.pairwise(events))
    result = verify_file(store.path)
    assert result.ok and result.count == 6 and result.head == events[-1].hash
    assert store.head() == (6, events[-1].hash)


def test_each_line_is_one_json_event_with_all_fields(tmp_path: Path) -> None:
    store = _log(tmp_path, 1)
    record = json.loads(store.path.read_text())
    assert set(record) == {"seq", "time", "actor", "type", "payload", "prev", "hash"}
    assert record["actor"] == {"user": "alok", "uid": 1001, "host": "bastion-1", "ssh": ""}
    assert record["time"] == "2024-12-12T09:00:00.000000Z"


def test_edited_line_is_named(tmp_path: Path) -> None:
    store = _log(tmp_path)
    lines = _lines(store)
    lines[2] = lines[2].replace("note 2", "note X")
    _write(store, lines)
    problem = verify_file(store.path).problem
    assert problem is not None and (problem.line, problem.kind) == (3, "edited")


def test_deleted_line_is_named(tmp_path: Path) -> None:
    store = _log(tmp_path)
    lines = _lines(store)
    del lines[3]
    _write(store, lines)
    problem = verify_file(store.path).problem
    assert problem is not None and (problem.line, problem.kind) == (4, "deleted")
    assert "4" in problem.message


def test_reordered_lines_are_named(tmp_path: Path) -> None:
    store = _log(tmp_path)
    lines = _lines(store)
    lines[1], lines[2] = lines[2], lines[1]
    _write(store, lines)
    problem = verify_file(store.path).problem
    assert problem is not None and (problem.line, problem.kind) == (2, "reordered")


def test_inserted_line_is_named(tmp_path: Path) -> None:
    store = _log(tmp_path)
    lines = _lines(store)
    third = Event.from_dict(json.loads(lines[2]))
    # a forger who knows the format: a well-formed event chained onto line 3
    forged = seal(4, third.time, Actor("mallory", 666, "evil"), "approval.signed", {"role": "dev-lead"}, third.hash)
    lines.insert(3, forged.to_line() + "\n")
    _write(store, lines)
    problem = verify_file(store.path).problem
    assert problem is not None and problem.kind == "inserted" and problem.line == 5


def test_truncated_tail_is_named(tmp_path: Path) -> None:
    store = _log(tmp_path)
    data = store.path.read_bytes()
    store.path.write_bytes(data[:-20])
    problem = verify_file(store.path).problem
    assert problem is not None and (problem.line, problem.kind) == (6, "truncated")


def test_torn_tail_is_reported_never_accepted(tmp_path: Path) -> None:
    store = _log(tmp_path, 3)
    with store.path.open("ab") as fh:
        fh.write(b'{"seq": 4, "time": "2024-')  # a crash mid-write
    with pytest.raises(TornTail, match=r"audit.jsonl:4: torn last line"):
        store.append("note.added", {"text": "after the crash"}, ALOK, T0)
    reader = FileStore(store.path)
    assert [e.seq for e in reader.read()] == [1, 2, 3]  # the complete events, and the tear is reported
    assert reader.torn is not None and reader.torn.line == 4
    assert reader.read(3) == [] and reader.torn is not None  # still torn, nothing skipped or invented
    aside = store.repair(ALOK, T0)
    assert aside is not None and aside.read_bytes() == b'{"seq": 4, "time": "2024-'
    events = FileStore(store.path).read()
    assert [e.type for e in events][-1] == "audit.repaired"
    assert verify_file(store.path).ok
    store.append("note.added", {"text": "after the repair"}, ALOK, T0)
    assert verify_file(store.path).count == 5


def test_incremental_read_sees_other_writers(tmp_path: Path) -> None:
    mine, theirs = FileStore(tmp_path / "a.jsonl"), FileStore(tmp_path / "a.jsonl")
    mine.append("note.added", {"text": "1"}, ALOK, T0)
    assert [e.seq for e in mine.read(0)] == [1]
    theirs.append("note.added", {"text": "2"}, ALOK, T0)
    assert [e.seq for e in mine.read(1)] == [2]
    assert mine.read(2) == []


def test_readonly_store_refuses(tmp_path: Path) -> None:
    _log(tmp_path, 1)
    with pytest.raises(ReadOnlyStore):
        FileStore(tmp_path / "audit.jsonl", readonly=True).append("note.added", {}, ALOK, T0)


def test_unreadable_line_is_an_error_not_a_crash(tmp_path: Path) -> None:
    store = _log(tmp_path, 2)
    lines = _lines(store)
    _write(store, [lines[0], "not json\n", lines[1]])
    with pytest.raises(AuditError, match=r"audit.jsonl:2: unreadable event"):
        FileStore(store.path).read()


def _append_many(path: str, worker: int, n: int) -> None:
    store = FileStore(path)
    actor = Actor(f"worker{worker}", 2000 + worker, "host")
    for i in range(n):
        store.append("note.added", {"text": f"{worker}-{i}"}, actor, datetime.now(UTC))


def test_two_processes_never_fork_the_chain(tmp_path: Path) -> None:
    path = str(tmp_path / "audit.jsonl")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(path, w, 1000)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    result = verify_file(Path(path))
    assert result.ok, result.problem
    assert result.count == 2000
    texts = [e.payload["text"] for e in FileStore(path).read()]
    assert sorted(texts) == sorted(f"{w}-{i}" for w in (1, 2) for i in range(1000))


def test_audit_verify_cli(tmp_path: Path, capsys) -> None:
    store = _log(tmp_path)
    assert main(["audit", "verify", str(store.path)]) == 0
    assert "OK, 6 events" in capsys.readouterr().out
    lines = _lines(store)
    lines[4] = lines[4].replace("note 4", "note 9")
    _write(store, lines)
    assert main(["audit", "verify", str(store.path)]) == 1
    assert "audit.jsonl:5: edited: event 5" in capsys.readouterr().err


def test_an_unwritable_log_is_an_audit_error_not_a_crash(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "audit.jsonl")
    store.append("note.added", {"text": "1"}, ALOK, T0)
    store.path.unlink()
    store.path.mkdir()  # the log path is now a directory: every write fails at the OS
    with pytest.raises(AuditError, match=r"(?i)audit.jsonl: .*is a directory"):
        store.append("note.added", {"text": "2"}, ALOK, T0)


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 16 KiB tmpfs: a disk that fills up. Mounting needs root (CI runs as root: there it must work)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        why = f"cannot mount a tmpfs: {done.stderr.decode().strip() or done.returncode}"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_leaves_no_half_event_and_loses_nothing_acknowledged(tiny_fs: Path) -> None:
    """The disk fills mid-line: that append fails (said as an AuditError) and leaves the log as it was;
    every acknowledged event is still there, verified; with space again the chain goes on."""
    log = tiny_fs / "audit.jsonl"
    store = FileStore(log)
    store.append("note.added", {"text": "before"}, ALOK, T0)
    filler = tiny_fs / "filler"
    with open(filler, "wb", buffering=0) as f, pytest.raises(OSError):  # the rest of the disk, taken
        while True:
            f.write(b"x" * 1024)
    acknowledged = 1
    with pytest.raises(AuditError, match="cannot append: no space left on device") as refused:
        for i in range(100):  # the log's last page fills; the append that does not fit is refused
            store.append("note.added", {"text": f"{i}: " + "y" * 1500}, ALOK, T0)
            acknowledged += 1
    assert "audit.jsonl" in str(refused.value)
    assert log.read_bytes().endswith(b"\n")  # the part that fitted was taken back: no half event
    result = verify_file(log)
    assert result.ok and result.count == acknowledged
    reader = FileStore(log)
    assert reader.read(0)[-1].seq == acknowledged and reader.torn is None
    filler.unlink()
    event = store.append("note.added", {"text": "after"}, ALOK, T0)
    assert event.seq == acknowledged + 1 and verify_file(log).ok


def test_a_line_json_reads_is_read_whatever_the_parser(tmp_path: Path) -> None:
    """The fast parser reads what the standard one wrote, NaN and huge numbers included."""

    assert parse_line(b'{"a": NaN, "b": 1e400, "c": [1, "x"]}')["c"] == [1, "x"]
    assert parse_line(b'{"seq": 123456789012345678901234567890}')["seq"] == 123456789012345678901234567890
    with pytest.raises(ValueError):
        parse_line(b'{"torn')

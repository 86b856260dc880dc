"""The local spool: ordered, durable, emptied only when its events are committed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cockpit.events import GENESIS, Actor, Event, seal
from cockpit.store.audit import AuditError
from cockpit.store.spool import Spool

ALOK = Actor("alok", 1001, "bastion-1")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def chain(n: int) -> list[Event]:
    events, prev = [], GENESIS
    for i in range(n):
        events.append(seal(i + 1, T0, ALOK, "note.added", {"i": i}, prev))
        prev = events[-1].hash
    return events


def test_appended_events_come_back_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "sub" / "spool.jsonl")
    assert spool.events() == [] and len(spool) == 0
    for event in chain(3):
        spool.append(event)
    assert spool.events() == chain(3)
    assert len(Spool(spool.path)) == 3  # durable: another instance (a restart) sees them


def test_take_empties_only_after_commit_succeeds(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    for event in chain(2):
        spool.append(event)

    def fail(events: list[Event]) -> None:
        raise RuntimeError("database gone again")

    with pytest.raises(RuntimeError):
        spool.take(fail)
    assert len(spool) == 2
    got: list[Event] = []
    assert spool.take(got.extend) == 2
    assert got == chain(2) and spool.events() == []
    assert spool.take(got.extend) == 0


def test_a_torn_last_line_is_ignored_and_a_corrupt_one_is_reported(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append(chain(1)[0])
    with spool.path.open("a") as fh:
        fh.write('{"seq": 2, "ti')  # a crash mid-write: never acknowledged
    assert spool.events() == chain(1)
    spool.path.write_text("not json\n")
    with pytest.raises(AuditError, match=r"spool\.jsonl:1: unreadable"):
        spool.events()

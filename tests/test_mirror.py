"""The local mirror of the shared record keeps only a verified prefix of the chain."""

from __future__ import annotations

import json
from pathlib import Path

from cockpit.clock import FakeClock
from cockpit.events import GENESIS, seal
from cockpit.store.mirror import Mirror
from tests.core_helpers import ALOK


def chain(n: int) -> list:  # type: ignore[type-arg]
    events, prev = [], GENESIS
    for i in range(1, n + 1):
        event = seal(i, FakeClock().now(), ALOK, "note.added", {"text": f"n{i}"}, prev)
        events.append(event)
        prev = event.hash
    return events


def test_extend_appends_only_what_continues_the_copy(tmp_path: Path) -> None:
    events = chain(5)
    mirror = Mirror(tmp_path / "m.jsonl")
    mirror.extend(events[:3])
    mirror.extend(events[1:4])  # overlaps: only event 4 is new
    mirror.extend([*events[4:], events[0]])  # a stray old event after the head is not a continuation
    assert [e.seq for e in Mirror(tmp_path / "m.jsonl").load()] == [1, 2, 3, 4, 5]
    assert mirror.last_contact() is not None


def test_an_edited_or_torn_copy_is_cut_back_to_its_verified_prefix(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    Mirror(path).extend(chain(4))
    lines = path.read_text().splitlines(keepends=True)
    data = json.loads(lines[2])
    data["payload"]["text"] = "edited"
    path.write_text(lines[0] + lines[1] + json.dumps(data) + "\n" + lines[3] + '{"torn')
    loaded = Mirror(path).load()
    assert [e.seq for e in loaded] == [1, 2]  # the edited event and everything after it are dropped
    assert path.read_text() == lines[0] + lines[1]
    Mirror(path).extend(chain(4))
    assert [e.seq for e in Mirror(path).load()] == [1, 2, 3, 4]  # and re-learned from the shared record

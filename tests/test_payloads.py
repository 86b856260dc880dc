"""Typed events: each event type's payload is one struct, checked when written and read by attribute.

Logs written before typed events (and by this release) still replay and verify: ``tests/golden/logs``
holds the full simulated rollout as the release before them wrote it, and as this one does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit import events as ev
from cockpit import payloads as pl
from cockpit.clock import FakeClock
from cockpit.state import replay
from cockpit.store.audit import verify_file
from cockpit.store.filelog import FileStore
from tests.core_helpers import make_rollout

LOGS = Path(__file__).parent / "golden" / "logs"


def test_every_event_type_has_a_payload_struct() -> None:
    assert set(pl.TYPES) == ev.ALL_TYPES


@pytest.mark.parametrize("name", ["release-2024-12-before-typed-events.jsonl", "release-2026-11-typed-events.jsonl"])
def test_golden_logs_verify_and_replay(name: str, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_bytes((LOGS / name).read_bytes())
    assert verify_file(log).ok
    events = FileStore(log).read()
    for event in events:  # every payload decodes as its type's struct
        kind = pl.TYPES[event.type]
        assert isinstance(pl.decode(event, kind), kind)
    state = replay(events)
    assert state.count == len(events) and state.head == events[-1].hash
    assert set(state.approvals) == {"dev-lead", "ops-oncall", "product-owner"}
    assert set(state.signoffs) == {"dev-lead", "ops-oncall", "product-owner"}
    assert state.stage_index == 4 and len(state.kills) == 1 and len(state.incidents) == 1
    assert state.incidents[0].closed is not None and state.baseline
    assert any(soak.completed_at for soak in state.soaks.values())
    assert [text for text, _ in state.notes]


def test_a_writers_typo_fails_when_written_and_writes_nothing(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path, FakeClock())
    rollout.note("first")
    count = rollout.state.count
    with pytest.raises(pl.PayloadError, match=r"item\.ticked payload: Object missing required field `item`"):
        rollout.record(ev.ITEM_TICKED, {"stage": "stage-0", "itme": "deploy"})
    with pytest.raises(pl.PayloadError, match=r"stage\.entered payload: Expected `int`"):
        rollout.record(ev.STAGE_ENTERED, {"stage": "stage-1", "index": "one"})
    assert rollout.state.count == count and len(FileStore(tmp_path / "audit.jsonl").read()) == count


def test_a_payload_that_does_not_match_its_type_names_the_event() -> None:
    event = ev.seal(7, FakeClock().now(), ev.Actor("alok", 1000, "bastion-1"), ev.NOTE_ADDED, {"txt": "x"}, ev.GENESIS)
    with pytest.raises(pl.PayloadError, match=r"event 7 \(note\.added\): payload does not match"):
        replay([event])


def test_encode_is_what_the_log_stores() -> None:
    payload = pl.ItemTicked(stage="stage-0", item="deploy")
    assert pl.encode(payload) == {"stage": "stage-0", "item": "deploy"}
    assert pl.parse(ev.ITEM_TICKED, pl.encode(payload)) == payload

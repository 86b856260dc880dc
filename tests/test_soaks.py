"""Soaks follow what happens: a kill stops them, a breach breaks them (a restart waits for OK), items wait for them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cockpit import events as ev
from cockpit.clock import FakeClock
from cockpit.export.markdown import render_markdown
from cockpit.export.model import build_record
from cockpit.rollout import Rollout, RolloutError
from cockpit.status import status_dict
from tests.core_helpers import example_plan, make_rollout

T0 = datetime(2024, 12, 12, 3, 0, tzinfo=UTC)
DLQ = "FEATURE_FLAG_DLQ_ENABLED"


def _soaking(tmp_path: Path) -> tuple[Rollout, FakeClock]:
    """In Stage 2 (overridden there), the DLQ flag just set to 5%: its 24 h soak starts at T0."""
    clock = FakeClock(T0 - timedelta(minutes=10))
    rollout = make_rollout(tmp_path, clock)
    for _ in range(3):
        rollout.advance(override="test: to stage 2")
    assert rollout.current_stage is not None and rollout.current_stage.id == "stage-2"
    clock.set(T0)
    rollout.record_flag_change(
        DLQ, {"enabled": False, "percent": 0}, {"enabled": True, "percent": 5}, stage="stage-2", step="dlq-5"
    )
    return rollout, clock


def _soak(rollout: Rollout) -> dict:  # type: ignore[type-arg]
    (soak,) = [s for s in status_dict(rollout)["soaks"] if s["step"] == "dlq-5"]
    return soak


def _kill(rollout: Rollout, clock: FakeClock) -> None:
    """The kill as cockpit.kill records it: every flag off, verified."""
    rollout.record(ev.KILL_REQUESTED, {"reason": "K", "flags": [DLQ, "FEATURE_FLAG_JOB_HEARTBEAT"]})
    rollout.record(ev.KILL_FLAG_RESULT, {"flag": DLQ, "ok": True, "verified_off": True})
    rollout.record(ev.KILL_RESULT, {"all_off": True, "may_be_on": [], "reason": "K"})


def test_a_kill_stops_the_soak(tmp_path: Path) -> None:
    rollout, clock = _soaking(tmp_path)
    clock.advance(timedelta(seconds=23))
    _kill(rollout, clock)
    clock.advance(timedelta(seconds=31))
    soak = _soak(rollout)
    assert soak["state"] == "stopped" and soak["elapsed"] == "23s" and not soak["done"]
    assert soak["history"][-1] == {"kind": "stopped", "at": "2024-12-12T03:00:23Z", "detail": "by kill"}
    assert any("soak stopped by kill at 2024-12-12 03:00:23Z" in b.message for b in rollout.blockers())
    clock.advance(timedelta(hours=25))  # the time runs out: a stopped soak does not complete
    assert rollout.complete_soaks() == []
    record = build_record(rollout)
    (step,) = [c for c in record["stages"][2]["canary"] if c["id"] == "dlq-5"]
    assert step["soak"]["status"] == "stopped" and step["soak"]["end"] == "2024-12-12T03:00:23Z"
    text = render_markdown(record)
    assert "stopped by kill at 2024-12-12 03:00 UTC" in text
    assert "unbroken" not in text and "running" not in text.split("### Wait Periods")[1].split("###")[0]


def test_a_breach_breaks_a_restarting_soak_which_restarts_when_the_metric_is_ok_again(tmp_path: Path) -> None:
    rollout, clock = _soaking(tmp_path)
    clock.advance(timedelta(seconds=8))
    rollout.open_breach("dlq_entries", 61, "< 10", stage="stage-2")
    clock.advance(timedelta(seconds=21))  # DLQ entries still at 61: the soak does not count
    soak = _soak(rollout)
    assert soak["state"] == "broken" and soak["elapsed"] == "0s" and soak["breaks"] == 1
    assert any("soak broken at 2024-12-12 03:00:08Z by dlq_entries" in b.message for b in rollout.blockers())
    clock.advance(timedelta(hours=30))  # a broken soak never completes while the breach lasts
    assert rollout.complete_soaks() == []
    rollout.close_breach("dlq_entries", 3)
    restart = clock.now()
    clock.advance(timedelta(seconds=40))
    soak = _soak(rollout)
    assert soak["state"] == "running" and soak["elapsed"] == "40s"
    assert [h["kind"] for h in soak["history"]] == ["started", "broken", "restarted"]
    assert soak["history"][1]["detail"] == "dlq_entries = 61"
    clock.set(restart + timedelta(hours=24))
    assert len(rollout.complete_soaks()) == 1
    record = build_record(rollout)
    (step,) = [c for c in record["stages"][2]["canary"] if c["id"] == "dlq-5"]
    assert [h["kind"] for h in step["soak"]["history"]] == ["started", "broken", "restarted", "completed"]
    text = render_markdown(record)
    assert "broken at 2024-12-12 03:00 UTC by dlq_entries = 61" in text and "restarted at" in text


def test_a_soak_waits_for_every_breach_that_broke_it(tmp_path: Path) -> None:
    rollout, clock = _soaking(tmp_path)
    rollout.open_breach("dlq_entries", 61, "< 10")
    clock.advance(timedelta(minutes=1))
    rollout.open_breach("error_rate", 9.0, "< +5%")
    rollout.close_breach("dlq_entries", 3)
    assert _soak(rollout)["state"] == "broken"
    rollout.close_breach("error_rate", 0.4)
    assert _soak(rollout)["state"] == "running"


def test_an_item_bound_to_a_soak_cannot_be_ticked_before_it_completes(tmp_path: Path) -> None:
    rollout, clock = _soaking(tmp_path)
    clock.advance(timedelta(hours=6))
    with pytest.raises(RolloutError, match="waits for the dlq-5 soak to complete"):
        rollout.tick("stage-2", "canary-healthy")
    assert ("stage-2", "canary-healthy") not in rollout.state.ticks
    clock.advance(timedelta(hours=18))
    rollout.tick("stage-2", "canary-healthy")  # the soak's time is up: it is recorded complete, then ticked
    types = [e.type for e in rollout.store.read(0)][-2:]
    assert types == [ev.SOAK_COMPLETED, ev.ITEM_TICKED]


def test_the_seed_binds_its_canary_checks_to_the_soaks() -> None:
    plan = example_plan().plan
    bound = {(s.id, i.id): i.after_soak for s in plan.stages for i in s.items if i.after_soak}
    assert bound == {("stage-2", "canary-healthy"): "dlq-5", ("stage-3", "canary-healthy"): "heartbeat-5"}

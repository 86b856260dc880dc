"""State rebuilt from the log: replay, gates, soaks across a restart, identity, roles, digest, overrides."""

from __future__ import annotations

import os
import pwd
import re
from datetime import timedelta
from pathlib import Path

import pytest

from cockpit import events as ev
from cockpit.clock import FakeClock
from cockpit.gates import backout_warning
from cockpit.identity import current_actor
from cockpit.rollout import GateClosed, Rollout, RolloutError
from cockpit.rules import Judgement, Status
from cockpit.state import replay
from cockpit.store.filelog import FileStore
from tests.core_helpers import ALOK, OPS, PRODUCT, as_actor, example_plan, example_text, make_rollout


def _approve_all(rollout: Rollout) -> None:
    as_actor(rollout, ALOK).approve("dev-lead")
    as_actor(rollout, OPS).approve("ops-oncall")
    as_actor(rollout, PRODUCT).approve("product-owner")


def _complete_stage(rollout: Rollout, stage_id: str) -> None:
    stage = rollout.plan.stage(stage_id)
    for item in stage.items:
        rollout.tick(stage_id, item.id)
    for check in stage.checks:
        rollout.record_check(stage_id, check.id, True, 0, "ok")
    if stage.captures_baseline:
        rollout.capture_baseline(
            {
                "error_rate": {"value": 0.2, "window": "5m", "query": "q"},
                "p99_latency": {"value": 210.0, "window": "5m", "query": "q"},
            }
        )


def test_approvals_gate_before_stage_0(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path)
    with pytest.raises(GateClosed) as closed:
        rollout.advance()
    assert [b.ref for b in closed.value.blockers] == ["dev-lead", "ops-oncall", "product-owner"]
    _approve_all(rollout)
    rollout.advance()
    assert rollout.current_stage is not None and rollout.current_stage.id == "stage-0"


def test_replay_rebuilds_everything(tmp_path: Path) -> None:
    clock = FakeClock()
    rollout = make_rollout(tmp_path, clock)
    _approve_all(rollout)
    rollout.advance()
    _complete_stage(rollout, "stage-0")
    rollout.note("handing over to Sam")
    rollout.tick("stage-0", "deploy", untick=True)
    fresh = replay(FileStore(tmp_path / "audit.jsonl").read())
    live = rollout.state
    assert fresh.stage_index == live.stage_index == 0
    assert set(fresh.approvals) == {"dev-lead", "ops-oncall", "product-owner"}
    assert ("stage-0", "deploy") not in fresh.ticks and ("stage-0", "build-ok") in fresh.ticks
    assert fresh.notes[0][0] == "handing over to Sam"
    assert fresh.baseline["error_rate"].value == 0.2
    assert fresh.head == live.head and fresh.count == live.count


def test_stage_gate_names_what_is_missing(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path)
    _approve_all(rollout)
    rollout.advance()
    kinds = {b.kind for b in rollout.blockers()}
    assert kinds == {"item", "check", "baseline"}
    _complete_stage(rollout, "stage-0")
    assert rollout.blockers() == []
    rollout.advance()
    assert rollout.current_stage.id == "stage-1"  # type: ignore[union-attr]
    rollout.tick("stage-1", "backup")  # preparation: not yet past the point of no return
    assert backout_warning(rollout.plan, rollout.state) is None
    rollout.tick("stage-1", "migration-001")
    assert "past the point of no return (Stage 1: Run Migrations)" in (backout_warning(rollout.plan, rollout.state) or "")


def test_failed_check_blocks(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path)
    _approve_all(rollout)
    rollout.advance()
    _complete_stage(rollout, "stage-0")
    rollout.record_check("stage-0", "health-script", False, "unhealthy", "OVERALL: UNHEALTHY")
    assert [b.message for b in rollout.blockers()] == [
        "verification failed: ./verification/health_check_script.sh --verbose: OVERALL: UNHEALTHY"
    ]


def _to_stage_2(rollout: Rollout) -> None:
    _approve_all(rollout)
    rollout.advance()
    _complete_stage(rollout, "stage-0")
    rollout.advance()
    _complete_stage(rollout, "stage-1")
    rollout.advance()


def test_soak_survives_a_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    rollout = make_rollout(tmp_path, clock)
    _to_stage_2(rollout)
    assert rollout.canary_blockers("stage-2", "dlq-100")  # 5 % first
    assert rollout.canary_blockers("stage-2", "dlq-5") == []
    rollout.record_flag_change(
        "FEATURE_FLAG_DLQ_ENABLED",
        {"enabled": False, "percent": 0},
        {"enabled": True, "percent": 5},
        stage="stage-2",
        step="dlq-5",
    )
    clock.advance(timedelta(hours=13, minutes=12))
    # the SSH session drops; a new cockpit starts from the log alone
    again = make_rollout(tmp_path, clock)
    soak = again.state.soaks[("stage-2", "dlq-5")]
    assert soak.elapsed(clock.now()) == timedelta(hours=13, minutes=12)
    assert any("soaking: 13h12m / 24h" in b.message for b in again.blockers())
    assert any("soaking" in b.message for b in again.canary_blockers("stage-2", "dlq-100"))
    clock.advance(timedelta(hours=11))
    assert again.complete_soaks()[0].type == ev.SOAK_COMPLETED
    assert again.canary_blockers("stage-2", "dlq-100") == []


def test_breach_during_soak_restarts_it(tmp_path: Path) -> None:
    clock = FakeClock()
    rollout = make_rollout(tmp_path, clock)
    _to_stage_2(rollout)
    rollout.record_flag_change(
        "FEATURE_FLAG_DLQ_ENABLED", {}, {"enabled": True, "percent": 5}, stage="stage-2", step="dlq-5"
    )
    clock.advance(timedelta(hours=20))
    rollout.open_breach("dlq_entries", 14, "< 10", stage="stage-2")
    assert rollout.open_breach("dlq_entries", 15, "< 10") is None  # opened once
    soak = rollout.state.soaks[("stage-2", "dlq-5")]
    assert len(soak.breaks) == 1 and soak.elapsed(clock.now()) == timedelta(0)
    assert any(b.kind == "breach" for b in rollout.blockers())
    rollout.close_breach("dlq_entries", 3)
    clock.advance(timedelta(hours=23))
    assert not rollout.state.soaks[("stage-2", "dlq-5")].done(clock.now())
    clock.advance(timedelta(hours=1))
    assert rollout.state.soaks[("stage-2", "dlq-5")].done(clock.now())


def test_prerequisite_stage_3_needs_stage_2(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path)
    _to_stage_2(rollout)
    blockers = rollout.blockers()
    assert any(b.kind == "prerequisite" and b.ref == "stage-2" for b in blockers) is False  # not yet at stage 3
    rollout.advance(override="test: skip the soak")  # enter stage 3 by override
    assert rollout.current_stage.id == "stage-3"  # type: ignore[union-attr]
    rollout.open_breach("dlq_entries", 20, "< 10", stage="stage-2")
    assert any(b.kind == "breach" for b in rollout.blockers())


def test_override_needs_a_reason_and_is_audited(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path)
    with pytest.raises(RolloutError, match="typed reason"):
        rollout.advance(override="   ")
    rollout.advance(override="CAB approved by phone")
    override = rollout.state.overrides[0]
    assert override.reason == "CAB approved by phone" and override.stage == "stage-0"
    assert "approval missing: Dev Lead (@alok)" in override.blockers


def test_identity_comes_from_the_uid_not_user(monkeypatch) -> None:
    monkeypatch.setenv("USER", "mallory")
    monkeypatch.setenv("LOGNAME", "mallory")
    monkeypatch.setenv("SSH_CLIENT", "10.1.2.3 51234 22")
    actor = current_actor()
    assert actor.user == pwd.getpwuid(os.getuid()).pw_name != "mallory"
    assert actor.uid == os.getuid()
    assert actor.ssh == "10.1.2.3"


def test_real_user_is_recorded(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("USER", "mallory")
    rollout = Rollout(example_plan(), FileStore(tmp_path / "a.jsonl"), clock=FakeClock())
    event = rollout.approve("dev-lead")
    assert event.actor.user == pwd.getpwuid(os.getuid()).pw_name


def test_one_person_cannot_sign_two_roles(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path)
    rollout.approve("dev-lead")
    with pytest.raises(RolloutError, match="cannot sign two roles"):
        rollout.approve("ops-oncall")
    allowed = example_plan(text=example_text().replace("allow_multiple_roles = false", "allow_multiple_roles = true"))
    make_rollout(tmp_path / "b", loaded=allowed).approve("ops-oncall")


def test_allowed_usernames(tmp_path: Path) -> None:
    text = example_text().replace('# users = ["alok"]', 'users = ["alok"]')
    rollout = make_rollout(tmp_path, actor=OPS, loaded=example_plan(text=text))
    with pytest.raises(RolloutError, match="oncall may not sign Dev Lead: allowed are alok"):
        rollout.approve("dev-lead")
    as_actor(rollout, ALOK).approve("dev-lead")


def test_plan_change_voids_approvals(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path)
    _approve_all(rollout)
    assert rollout.blockers() == []
    changed = example_plan(text=example_text().replace('threshold = "< 10"', 'threshold = "< 50"'))
    reopened = make_rollout(tmp_path, loaded=changed)
    blockers = reopened.blockers()
    assert len(blockers) == 3 and all("approval void" in b.message for b in blockers)
    assert "stages.stage-2.thresholds.dlq_entries.threshold changed since the approvals" in blockers[0].message


def test_two_cockpits_see_each_other(tmp_path: Path) -> None:
    mine = make_rollout(tmp_path)
    theirs = as_actor(mine, OPS)
    theirs.approve("ops-oncall")
    assert "ops-oncall" in mine.state.approvals
    assert mine.state.approvals["ops-oncall"].mark.actor == OPS


def test_secrets_are_redacted_from_payloads(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path)
    rollout.loaded.env.resolve("Bearer ${APP_TOKEN}")
    rollout.note("curl -H 'Authorization: Bearer tok-s3cr3t-value' failed")
    assert "tok-s3cr3t-value" not in (tmp_path / "audit.jsonl").read_text()
    assert "Bearer ***" in rollout.state.notes[0][0]


def test_rollout_completes(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path)
    for _ in range(5):
        rollout.advance(override="drill")
    rollout.advance(override="drill")  # complete post-rollout
    assert "post-rollout" in rollout.state.completed
    with pytest.raises(RolloutError, match="complete"):
        rollout.advance(override="again")


def _judged(metric: str, label: str, status: str, reason: str = "") -> object:
    return Judgement(metric, label, Status(status), None, None, "< 1%", "%", reason, None, None)


def test_live_thresholds_that_are_not_ok_block_the_gate(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path)
    stale = [_judged("error_rate", "Error rate", "NO DATA", "no sample yet"), _judged("health", "Health", "OK")]
    assert [b.kind for b in rollout.blockers(stale)] == ["approval"] * 3  # before Stage 0: approvals only
    _approve_all(rollout)
    rollout.advance()
    _complete_stage(rollout, "stage-0")
    assert rollout.blockers() == []
    assert [b.message for b in rollout.blockers(stale)] == ["Error rate: NO DATA (no sample yet)"]
    with pytest.raises(GateClosed, match="Error rate: NO DATA"):
        rollout.advance(judgements=stale)  # stale or missing data is never green
    rollout.advance(override="Prometheus is down; error rate read from the load balancer", judgements=stale)
    assert rollout.state.overrides[-1].blockers == ("Error rate: NO DATA (no sample yet)",)
    assert rollout.current_stage.id == "stage-1"  # type: ignore[union-attr]


def test_an_item_of_a_stage_not_yet_entered_cannot_be_ticked(tmp_path: Path) -> None:
    """Before, 'cockpit tick stage-3 …' during Stage 0 recorded Stage 3's work as done before Stage 3 began:
    the gate counted it and the sign-off showed it ticked at a time when it could not have been done."""
    rollout = make_rollout(tmp_path)
    later = rollout.plan.stages[3]
    with pytest.raises(RolloutError, match=re.escape(f"{later.title} has not been entered")):
        rollout.tick(later.id, later.items[0].id)
    assert not rollout.state.ticks

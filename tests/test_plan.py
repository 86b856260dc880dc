"""The example plan encodes the whole seed checklist."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from cockpit.plan.model import format_duration, parse_duration
from cockpit.plan.thresholds import Threshold, relative_change
from tests.core_helpers import example_plan, seed_path


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("`", "")).strip().lower()


@pytest.fixture(scope="module")
def plan():
    return example_plan().plan


@pytest.fixture(scope="module")
def seed() -> str:
    return seed_path().read_text()


def test_service_and_version(plan) -> None:
    assert plan.rollout.service == "AlokickFlow Hardening Features"
    assert plan.rollout.version == "Phase 2 (DLQ + Heartbeat)"


def test_every_seed_checkbox_is_a_plan_item(plan, seed) -> None:
    boxes = [_norm(m) for m in re.findall(r"^- \[ \] (.+)$", seed, re.M)]
    assert len(boxes) == 33
    items = [_norm(item.text) for stage in plan.stages for item in stage.items]
    # "Wait 24 hours before increasing to 100%" and "Increase to 100%" / "Monitor for 24h|48h" are
    # canary steps and soaks, not ticked items.
    canary_words = {_norm(step.soak_label) for stage in plan.stages for step in stage.canary}
    missing = [b for b in boxes if b not in items and b not in canary_words and not b.startswith("increase to 100")]
    assert missing == []


def test_stages_in_order(plan) -> None:
    assert [s.id for s in plan.stages] == ["stage-0", "stage-1", "stage-2", "stage-3", "post-rollout"]
    assert plan.stage("stage-1").irreversible
    assert plan.stage("stage-3").requires == ("stage-2",)
    assert plan.stage("stage-0").captures_baseline


def test_thresholds_exactly_as_the_seed_states(plan) -> None:
    got = {(s.id, t.label): str(t.threshold) for s in plan.stages for t in s.thresholds}
    assert got[("stage-0", "Health status")] == "== healthy"
    assert got[("stage-0", "Error rate")] == "< 1%"
    assert got[("stage-0", "P99 latency")] == "< 500ms"
    assert got[("stage-2", "DLQ entries")] == "< 10"
    assert got[("stage-2", "Error rate change")] == "< +5%"
    assert got[("stage-2", "Latency regression")] == "< +15%"
    assert got[("stage-3", "Heartbeat misses")] == "< 5/hour"
    assert got[("stage-3", "Jobs moved to DLQ")] == "< 3/hour"
    assert got[("stage-3", "False positive rate")] == "< 1%"


def test_verification_checks(plan) -> None:
    health = plan.stage("stage-0").checks[0]
    assert health.command == "./verification/health_check_script.sh --verbose"
    assert health.expect_regex == "OVERALL: HEALTHY"
    dlq, column = plan.stage("stage-1").checks
    assert dlq.query == "SELECT COUNT(*) FROM job_dlq" and dlq.expect_value == 0
    assert "last_heartbeat_at" in column.query and column.expect_rows == 1
    assert plan.stage("stage-2").checks[0].path == "/api/admin/dlq?stats=true"
    assert plan.stage("stage-3").checks[0].path == "/api/qc/debug"


def test_canary_and_soaks(plan) -> None:
    steps = [(s.id, c.percent, c.soak) for s in plan.stages for c in s.canary]
    assert steps == [
        ("stage-2", 5, timedelta(hours=24)),
        ("stage-2", 100, timedelta(hours=24)),
        ("stage-3", 5, timedelta(hours=24)),
        ("stage-3", 100, timedelta(hours=48)),
    ]


def test_flags_backouts_contacts_incident(plan) -> None:
    assert [f.name for f in plan.flags] == ["FEATURE_FLAG_DLQ_ENABLED", "FEATURE_FLAG_JOB_HEARTBEAT"]
    assert plan.stage("stage-0").backout == "git revert HEAD && git push origin main"
    assert plan.stage("stage-2").backout == "FEATURE_FLAG_DLQ_ENABLED=false"
    assert plan.stage("stage-3").backout == "FEATURE_FLAG_JOB_HEARTBEAT=false"
    assert [(a.title, a.handle) for a in plan.approvers] == [
        ("Dev Lead", "@alok"),
        ("Ops On-Call", "#platform-oncall"),
        ("Product Owner", "@product"),
    ]
    assert [(c.issue, c.contact) for c in plan.contacts] == [
        ("App down", "@alok"),
        ("DB issues", "Supabase Support"),
        ("Escalation", "#platform-oncall"),
    ]
    assert [c.contact for c in plan.stage("stage-1").contacts] == ["support@supabase.io", "@alok", "#platform-oncall"]
    deadlines = [(i.label, i.deadline) for i in plan.incident]
    assert deadlines == [
        ("Immediately", timedelta(0)),
        ("Within 5 minutes", timedelta(minutes=5)),
        ("Within 30 minutes", timedelta(minutes=30)),
        ("Within 24 hours", timedelta(hours=24)),
    ]
    actions = [a for i in plan.incident for a in i.actions]
    for expected in [
        "Page on-call",
        "Capture logs and metrics",
        "Create incident ticket",
        "RCA started",
        "Stakeholders notified",
        "Post-mortem scheduled",
        "Fix identified",
    ]:
        assert expected in actions


def test_secrets_only_as_references() -> None:
    text = example_plan().path.read_text()
    assert "tok-s3cr3t-value" not in text
    assert "${APP_TOKEN}" in text


def test_digest_ignores_secret_values() -> None:
    assert example_plan({"APP_TOKEN": "a" * 10}).plan.digest == example_plan({"APP_TOKEN": "b" * 10}).plan.digest


@pytest.mark.parametrize(
    ("text", "value", "holds"),
    [
        ("< 1%", 0.5, True),
        ("< 1%", 1.0, False),
        ("< 500ms", 499, True),
        ("<= 10", 10, True),
        ("> 0", 0, False),
        ("!= 3", 3, False),
        ("== healthy", "HEALTHY", True),
        ("== healthy", "degraded", False),
        ("< 5/hour", 4.9, True),
        ("< +15%", 15.0, False),
        ("< 1", float("nan"), False),
        ("< 1", float("inf"), False),
    ],
)
def test_threshold_holds(text: str, value: float | str, holds: bool) -> None:
    assert Threshold.parse(text).holds(value) is holds


def test_threshold_kinds() -> None:
    assert Threshold.parse("< +15%").kind == "relative"
    assert Threshold.parse("< 1%").kind == "absolute"
    assert Threshold.parse("< 3/hour").value == 3
    assert Threshold.parse("< 1/min").value == 60
    with pytest.raises(ValueError, match="bad threshold"):
        Threshold.parse("about 5")
    with pytest.raises(ValueError, match="only with == or !="):
        Threshold.parse("< healthy")
    assert relative_change(115, 100) == pytest.approx(15)
    assert relative_change(0, 0) == 0


def test_durations() -> None:
    assert parse_duration("24h") == timedelta(hours=24)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("250ms") == timedelta(milliseconds=250)
    assert format_duration(timedelta(hours=13, minutes=12)) == "13h12m"
    assert format_duration(timedelta(hours=48)) == "48h"
    with pytest.raises(ValueError):
        parse_duration("a day")

"""A full simulated rollout of the example plan, driven through the Rollout service with a FakeClock.

``drive_full_rollout`` walks the seed checklist end to end (about six simulated days): three approvals,
every stage's items and verifications, the baseline, both canaries with their soaks, a breach that
breaks a soak, a kill with its incident, a gate override with a reason, a handoff note, and the
post-rollout sign-off. With a ``History`` it also records a sample of every metric every 30 minutes.
Everything is deterministic, so exports of it can be compared with golden files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit import events as ev
from cockpit.clock import FakeClock
from cockpit.events import Actor
from cockpit.plan.load import parse_plan
from cockpit.rollout import Rollout
from cockpit.store.filelog import FileStore
from cockpit.store.history import History, Sample

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.toml"
START = datetime(2024, 12, 12, 9, 0, tzinfo=UTC)
SECRET = "tok-s3cr3t-value"

ALOK = Actor("alok", 1000, "bastion-1", "")
ONCALL = Actor("oncall", 1001, "bastion-2", "")
PRODUCT = Actor("product", 1002, "laptop", "")

STEP = timedelta(minutes=30)
"""How often the simulated poller records a sample of every metric."""

_NORMAL: dict[str, float | str] = {
    "health": "healthy",
    "error_rate": 0.4,
    "p99_latency": 210.0,
    "dlq_entries": 2.0,
    "heartbeat_misses": 0.0,
    "jobs_moved_to_dlq": 0.0,
    "false_positive_rate": 0.2,
}


def make_rollout(tmp_path: Path, clock: FakeClock, environ: dict[str, str] | None = None) -> Rollout:
    """The example plan on a file store in ``tmp_path``, acted on by ``alok@bastion-1``."""
    env = {"APP_TOKEN": SECRET, "PATH": os.environ.get("PATH", ""), **(environ or {})}
    loaded = parse_plan(EXAMPLE.read_text(), str(EXAMPLE), env, base=EXAMPLE)
    return Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), clock=clock, actor=ALOK)


@contextmanager
def acting_as(rollout: Rollout, actor: Actor) -> Iterator[Rollout]:
    """Let ``actor`` sit at the keyboard for a moment."""
    before = rollout.actor
    rollout.actor = actor
    try:
        yield rollout
    finally:
        rollout.actor = before


class _Poller:
    """Writes one sample per metric per STEP while the clock moves; ``spikes`` override values."""

    def __init__(self, history: History | None, clock: FakeClock) -> None:
        self.history = history
        self.clock = clock
        self.spikes: dict[str, float | str] = {}
        self.counters = {"heartbeat_misses": 0.0, "jobs_moved_to_dlq": 0.0}
        self.tick = 0

    def wait(self, delta: timedelta) -> None:
        end = self.clock.now() + delta
        while self.clock.now() + STEP <= end:
            self.clock.advance(STEP)
            self.poll()
        self.clock.set(end)

    def poll(self) -> None:
        self.tick += 1
        if self.history is None:
            return
        for metric, normal in _NORMAL.items():
            value = self.spikes.get(metric, normal)
            if metric in self.counters:  # counters: add the per-step increment
                self.counters[metric] += float(value) + (1.0 if self.tick % 7 == 0 else 0.0)
                value = self.counters[metric]
            elif isinstance(value, float):
                value = round(value * (1 + 0.05 * ((self.tick * 7 + len(metric)) % 5 - 2)), 3)
            self.history.add(Sample(metric, self.clock.now(), value))


def drive_full_rollout(rollout: Rollout, clock: FakeClock, history: History | None = None) -> None:
    """Run the whole example plan from approvals to sign-off (about six simulated days)."""
    poller = _Poller(history, clock)
    wait = poller.wait
    r = rollout

    # ----------------------------------------------------------- approvals
    clock.set(START)
    with acting_as(r, ALOK):
        r.approve("dev-lead")
    wait(timedelta(minutes=5))
    with acting_as(r, ONCALL):
        r.approve("ops-oncall")
    wait(timedelta(minutes=5))
    with acting_as(r, PRODUCT):
        r.approve("product-owner")
    wait(timedelta(minutes=5))
    r.advance()

    # ----------------------------------------------------------- stage 0
    for item in ("deploy", "build-ok"):
        wait(timedelta(minutes=10))
        r.tick("stage-0", item)
    wait(timedelta(minutes=30))
    r.capture_baseline(
        {
            "error_rate": {"value": 0.4, "window": "1h", "query": "error_rate"},
            "p99_latency": {"value": 210.0, "window": "1h", "query": "p99_latency"},
            "dlq_entries": {"value": 2.0, "window": "1h", "query": "dlq_entries"},
        }
    )
    r.tick("stage-0", "baseline")
    wait(timedelta(minutes=5))
    r.record_check("stage-0", "health-script", False, 127, "./verification/health_check_script.sh: not found")
    wait(timedelta(minutes=5))
    r.advance(override="health script not deployed on bastion-1; /health checked by hand: healthy")

    # ----------------------------------------------------------- stage 1
    with acting_as(r, ONCALL):
        for item in ("backup", "low-traffic", "staging-migrations", "migration-001", "verify-dlq-table"):
            wait(timedelta(minutes=5))
            r.tick("stage-1", item)
    for item in ("migration-002", "verify-column"):
        wait(timedelta(minutes=5))
        r.tick("stage-1", item)
    wait(timedelta(minutes=2))
    r.record_check("stage-1", "dlq-table", True, 0, "SELECT COUNT(*) FROM job_dlq → 0 (expected 0)")
    r.record_check("stage-1", "heartbeat-column", True, 1, "1 row (expected 1 row)")
    wait(timedelta(minutes=10))
    r.advance()

    # ----------------------------------------------------------- stage 2: DLQ canary
    for item in ("staging-on", "staging-verified", "production-on"):
        wait(timedelta(minutes=10))
        r.tick("stage-2", item)
    dlq = "FEATURE_FLAG_DLQ_ENABLED"
    r.record_flag_change(
        dlq, {"enabled": False, "percent": 0}, {"enabled": True, "percent": 5}, stage="stage-2", step="dlq-5"
    )
    wait(timedelta(minutes=15))
    r.record_check("stage-2", "dlq-stats", True, 200, f"HTTP 200 (Bearer {SECRET}) total=3")
    r.tick("stage-2", "inject-failure")
    wait(timedelta(hours=6))
    poller.spikes["dlq_entries"] = 14.0
    wait(STEP)
    r.open_breach("dlq_entries", 14.0, "< 10", stage="stage-2")
    wait(timedelta(hours=1))
    poller.spikes.pop("dlq_entries")
    wait(STEP)
    r.close_breach("dlq_entries", 2.0)
    wait(timedelta(hours=24))
    r.complete_soaks()
    r.tick("stage-2", "canary-healthy")
    r.record_flag_change(
        dlq, {"enabled": True, "percent": 5}, {"enabled": True, "percent": 100}, stage="stage-2", step="dlq-100"
    )
    wait(timedelta(hours=24))
    r.complete_soaks()
    r.advance()

    # ----------------------------------------------------------- stage 3: heartbeat canary, a kill
    with acting_as(r, ONCALL):
        for item in ("dlq-stable", "no-stage2-issues", "staging-on", "watchdog-detects", "stuck-to-dlq"):
            wait(timedelta(minutes=5))
            r.tick("stage-3", item)
    wait(timedelta(minutes=5))
    r.tick("stage-3", "production-on")
    hb = "FEATURE_FLAG_JOB_HEARTBEAT"
    r.record_flag_change(
        hb, {"enabled": False, "percent": 0}, {"enabled": True, "percent": 5}, stage="stage-3", step="heartbeat-5"
    )
    wait(timedelta(minutes=10))
    r.record_check("stage-3", "watchdog-metrics", True, 200, "HTTP 200 with watchdogMetrics")
    wait(timedelta(hours=3))
    poller.spikes["heartbeat_misses"] = 4.0
    wait(timedelta(hours=1))
    r.open_breach("heartbeat_misses", 9.0, "< 5/hour", stage="stage-3")
    _kill(r, clock, hb)
    poller.spikes.pop("heartbeat_misses")
    wait(timedelta(hours=1))
    r.close_breach("heartbeat_misses", 0.0)
    r.note("Handoff alok -> oncall: heartbeat killed at 5% after misses spiked; fix deployed, retaking 5%.")
    with acting_as(r, ONCALL):
        r.record_flag_change(
            hb,
            {"enabled": False, "percent": 0},
            {"enabled": True, "percent": 5},
            stage="stage-3",
            step="heartbeat-5",
            reason="retake after the fix",
        )
        wait(timedelta(hours=24))
        r.complete_soaks()
        r.tick("stage-3", "canary-healthy")
        r.record_flag_change(
            hb,
            {"enabled": True, "percent": 5},
            {"enabled": True, "percent": 100},
            stage="stage-3",
            step="heartbeat-100",
        )
        wait(timedelta(hours=48))
        r.complete_soaks()
        r.advance()

    # ----------------------------------------------------------- post-rollout and sign-off
    with acting_as(r, ONCALL):
        for item in [i.id for i in r.plan.stage("post-rollout").items]:
            wait(timedelta(minutes=5))
            r.tick("post-rollout", item)
    wait(timedelta(minutes=30))
    r.advance()
    for actor, role in ((ALOK, "dev-lead"), (ONCALL, "ops-oncall"), (PRODUCT, "product-owner")):
        wait(timedelta(minutes=10))
        with acting_as(r, actor):
            r.sign_off(role)


def _kill(r: Rollout, clock: FakeClock, flag: str) -> None:
    """The kill switch as the flags module records it, with its incident worked through."""
    r.record(ev.KILL_REQUESTED, {"reason": "heartbeat misses 9/hour (< 5/hour)", "flags": [flag], "trigger": "manual"})
    clock.advance(timedelta(seconds=2))
    r.record(ev.KILL_FLAG_RESULT, {"flag": flag, "ok": True, "verified_off": True, "elapsed_ms": 1840})
    r.record(ev.KILL_RESULT, {"ok": True, "flags_off": [flag], "elapsed_ms": 1851})
    r.record(ev.INCIDENT_OPENED, {"reason": "kill: heartbeat misses 9/hour"})
    steps = [(0, r.plan.incident[0].actions[0])]
    steps += [(3, "Page on-call"), (4, "Capture logs and metrics"), (7, "Create incident ticket")]
    steps += [(20, "RCA started"), (25, "Stakeholders notified")]
    start = clock.now()
    for minutes, action in steps:
        clock.set(start + timedelta(minutes=minutes))
        with acting_as(r, ONCALL):
            r.record(ev.INCIDENT_STEP_DONE, {"action": action})
    clock.set(start + timedelta(minutes=40))
    # the post-mortem steps come the next day; the incident stays open until then
    _late_steps(r, clock, start)


def _late_steps(r: Rollout, clock: FakeClock, start: datetime) -> None:
    clock.set(start + timedelta(minutes=45))
    r.record(ev.INCIDENT_STEP_DONE, {"action": "Post-mortem scheduled"})
    clock.set(start + timedelta(minutes=50))
    r.record(ev.INCIDENT_STEP_DONE, {"action": "Fix identified"})
    r.record(ev.INCIDENT_CLOSED, {"reason": "fix identified; flag stays off until the retake"})

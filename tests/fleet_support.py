"""Rollouts in every state for the fleet's tests and bench (no Textual): each its own plan id, log and history.

``build_fleet(root)`` writes one directory per rollout under ``root`` (``audit.jsonl`` and
``history.sqlite3``, as the state directory holds them); ``make_state`` does the same on any store, so the
bench can put fifty of them in PostgreSQL. Every rollout's clock ends at :data:`NOW`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit import events as ev
from cockpit.clock import FakeClock
from cockpit.incident import open_incident
from cockpit.plan.load import LoadedPlan, parse_plan
from cockpit.rollout import Rollout
from cockpit.rules import Judgement, Status
from cockpit.store.audit import EventStore
from cockpit.store.filelog import FileStore
from cockpit.store.history import History, SqliteHistory
from cockpit.store.publish import Publisher
from tests.core_helpers import ALOK, ENV, EXAMPLE, OPS, PRODUCT, example_text

NOW = datetime(2024, 12, 12, 9, 0, tzinfo=UTC)
FLAGS = ("FEATURE_FLAG_DLQ_ENABLED", "FEATURE_FLAG_JOB_HEARTBEAT")
STATES = (
    "unsigned", "signed", "ticking", "gate-open", "soaking", "breached", "incident", "killed", "kill-failed",
    "complete", "readonly", "stale",
)  # fmt: skip


def plan_for(
    rollout_id: str, *, users: tuple[str, ...] = (), plan_dir: Path | None = None, dsn: str = ""
) -> LoadedPlan:
    """The example plan as rollout ``rollout_id``; with ``plan_dir``, also written there (``ID.toml``); with
    ``dsn``, on the shared PostgreSQL record (``dsn = "${COCKPIT_DATABASE_URL}"``, set to ``dsn`` here)."""
    text = example_text().replace('id = "alokickflow-phase2"', f'id = "{rollout_id}"', 1)
    if dsn:
        text = text.replace('store = "file"', 'store = "postgres"\ndsn = "${COCKPIT_DATABASE_URL}"', 1)
    if users:
        listed = ", ".join(f'"{u}"' for u in users)
        text = text.replace('\n[[approvers]]\nrole = "', f'\n[[approvers]]\nusers = [{listed}]\nrole = "')
    base = EXAMPLE
    if plan_dir is not None:
        base = plan_dir / f"{rollout_id}.toml"
        base.write_text(text)
    return parse_plan(text, str(base), {**ENV, "COCKPIT_DATABASE_URL": dsn} if dsn else ENV, base=base)


def as_actor(rollout: Rollout, actor: object) -> Rollout:
    return Rollout(rollout.loaded, rollout.store, clock=rollout.clock, actor=actor)  # type: ignore[arg-type]


def sign_all(r: Rollout) -> None:
    r.approve("dev-lead")
    as_actor(r, OPS).approve("ops-oncall")
    as_actor(r, PRODUCT).approve("product-owner")


def to_stage(r: Rollout, stage_id: str) -> None:
    while r.current_stage is None or r.current_stage.id != stage_id:
        r.advance(override="test setup")


def tick_all(r: Rollout) -> None:
    stage = r.current_stage
    assert stage is not None
    for item in stage.items:  # but those bound to a soak (after_soak), which wait for it to complete
        if (stage.id, item.id) not in r.state.ticks and not item.after_soak:
            r.tick(stage.id, item.id)
    for check in stage.checks:
        r.record_check(stage.id, check.id, True, 200, "200 OK")


def judgement(metric: str, label: str, status: Status, reason: str = "") -> Judgement:
    return Judgement(metric, label, status, None, None, "", "", reason, None, None)


def publish(r: Rollout, history: History, statuses: dict[str, Status] | None = None) -> None:
    """What a running cockpit publishes: its judgements of the current stage (all OK unless told), the arm check."""
    stage = r.current_stage or r.plan.stages[0]
    rows = [judgement(t.metric, t.label, (statuses or {}).get(t.metric, Status.OK)) for t in stage.thresholds]
    publisher = Publisher(history, r.plan, "alok@bastion-1", str(r.loaded.path))
    publisher.judged(stage.id, rows, r.now())
    publisher.armed(True, "all flags readable", r.now())


def soaking(r: Rollout, clock: FakeClock) -> None:
    """Stage 2, every item ticked and checked, the 5% step soaking for 13h12m (as of NOW)."""
    sign_all(r)
    to_stage(r, "stage-0")
    r.capture_baseline(
        {
            "error_rate": {"value": 0.32, "window": "5m", "query": "q"},
            "p99_latency": {"value": 310.0, "window": "5m", "query": "q"},
        }
    )  # every metric a relative threshold needs: a baseline is all or nothing
    to_stage(r, "stage-2")
    tick_all(r)
    clock._now = NOW - timedelta(hours=13, minutes=12)
    r.record_flag_change(FLAGS[0], {"enabled": False, "percent": 0}, {"enabled": True, "percent": 5},
                         stage="stage-2", step="dlq-5")  # fmt: skip


def kill(r: Rollout, *, all_off: bool) -> None:
    r.record(ev.KILL_REQUESTED, {"reason": "kill key", "flags": list(FLAGS)})
    for flag in FLAGS:
        ok = all_off or flag != FLAGS[0]
        r.record(ev.KILL_FLAG_RESULT, {"flag": flag, "verified_off": ok, "attempts": 1, "error": ""})
    r.record(ev.KILL_RESULT, {"all_off": all_off, "may_be_on": [] if all_off else [FLAGS[0]], "reason": "kill key"})


def make_state(
    state: str, store: EventStore, history: History | None, rollout_id: str | None = None, plan_dir: Path | None = None
) -> Rollout:
    """A rollout in ``state`` on ``store``; its cockpit's records published into ``history`` (None: none)."""
    clock = FakeClock(NOW - timedelta(days=1))
    loaded = plan_for(rollout_id or state, users=("alice",) if state == "readonly" else (), plan_dir=plan_dir)
    r = Rollout(loaded, store, clock=clock, actor=ALOK)
    statuses: dict[str, Status] = {}
    if state in ("unsigned", "readonly"):
        r.note("plan reviewed")
    if state in ("signed", "ticking", "gate-open"):
        sign_all(r)
    if state == "ticking":
        to_stage(r, "stage-0")
    if state == "gate-open":
        to_stage(r, "stage-1")
        tick_all(r)
    if state in ("soaking", "stale"):
        soaking(r, clock)
    if state in ("breached", "incident", "killed", "kill-failed"):
        soaking(r, clock)
        clock._now = NOW - timedelta(minutes=20)
        r.open_breach("dlq_entries", 14.0, "< 10", stage="stage-2")
        statuses["dlq_entries"] = Status.BREACH
        if state != "breached":
            clock._now = NOW - timedelta(minutes=3)
            open_incident(r, "breach: dlq_entries")
        if state in ("killed", "kill-failed"):
            kill(r, all_off=state == "killed")
    if state == "complete":
        sign_all(r)
        to_stage(r, r.plan.stages[-1].id)
        r.advance(override="test setup")
        r.sign_off("dev-lead")
    if history is not None:
        if state == "stale":
            clock._now = NOW - timedelta(minutes=5)
        elif clock.now() < NOW - timedelta(seconds=2):
            clock._now = NOW - timedelta(seconds=2)
        publish(r, history, statuses)
    clock._now = NOW
    return r


def build_fleet(root: Path, states: tuple[str, ...] = STATES, plan_dir: Path | None = None) -> dict[str, Rollout]:
    """One directory per state under ``root``, each a file log and a history (``no-plan`` has no history)."""
    out = {}
    for state in states:
        folder = root / state
        folder.mkdir(parents=True, exist_ok=True)
        history = SqliteHistory(folder / "history.sqlite3")
        out[state] = make_state(state, FileStore(folder / "audit.jsonl"), history, plan_dir=plan_dir)
        history.close()
    folder = root / "no-plan"
    folder.mkdir(parents=True, exist_ok=True)
    r = make_state("signed", FileStore(folder / "audit.jsonl"), None, rollout_id="no-plan")
    out["no-plan"] = r
    return out

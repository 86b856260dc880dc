"""One rollout folded into one line of the fleet: where it is, and who it is waiting on.

Everything comes from the record: the rollout's events (folded by :class:`cockpit.state.RolloutState`), the
plan and the latest judgements its cockpits published (:mod:`cockpit.store.records`). The gate is the one
:mod:`cockpit.gates` computes for the dashboard, with the published judgements as its live thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cockpit.gates import Blocker, advance_blockers, metric_blockers
from cockpit.incident import incident_view
from cockpit.plan.model import Plan, Stage, format_duration
from cockpit.rules import SEVERITY, Status
from cockpit.state import RolloutState
from cockpit.store.records import ARMED, JUDGED, Judged, Record, read_armed, read_judged

STALE_RECORD = timedelta(seconds=30)
"""A published judgement older than this is shown stale: no cockpit is judging the rollout now (a running
one publishes at least every :data:`cockpit.store.publish.HEARTBEAT`)."""

HUMAN_KINDS = frozenset({"approval", "item", "check", "baseline", "canary", "advance", "breach", "incident", "kill",
                         "signoff", "soak-failed", "soak-stopped", "prerequisite", "record"})  # fmt: skip
"""What only a person can move on (a soak finishes by itself)."""

URGENCY = {"kill": 5, "breach": 4, "incident": 4, "record": 4, "soak-failed": 3, "soak-stopped": 3}
"""Rows with these come first among the rows waiting on a human."""


@dataclass(frozen=True)
class Waiting:
    """One thing the rollout waits for: ``kind`` (a blocker's kind, or incident/kill/advance/signoff/soak)."""

    kind: str
    text: str

    @property
    def human(self) -> bool:
        return self.kind in HUMAN_KINDS


@dataclass(frozen=True)
class Flag:
    name: str
    enabled: bool
    percent: int

    def __str__(self) -> str:
        return f"{self.name} {self.percent}%" if self.enabled else f"{self.name} off"


@dataclass(frozen=True)
class FleetRow:
    """A rollout at a glance (``cockpit fleet``: one line each)."""

    id: str
    where: str
    """``postgres`` or the file log's path."""
    service: str = ""
    version: str = ""
    stage: str = ""
    """The current stage's title, ``not started`` before Stage 0, ``complete`` after the last."""
    stage_id: str = ""
    flags: tuple[Flag, ...] = ()
    soak: str = ""
    """The running soak: ``◷ 5% 13h/24h`` (step %, elapsed/duration); empty when none runs."""
    gate: str = "?"
    """``OPEN``, ``CLOSED``, ``COMPLETE``, or ``?`` without the plan."""
    waiting: tuple[Waiting, ...] = ()
    metric: str = ""
    """The worst status of the latest published judgements (``OK``, ``BREACH``, ...), empty when none."""
    metric_at: datetime | None = None
    kill: str = "NOT CHECKED"
    """``ARMED`` / ``NOT ARMED`` as last recorded, ``NOT CHECKED``, or ``KILLED`` / ``KILL FAILED``."""
    kill_reason: str = ""
    kill_at: datetime | None = None
    last_event: datetime | None = None
    events: int = 0
    readonly: str = ""
    """Why this user cannot sign the rollout (empty: they can)."""
    now: datetime | None = field(default=None, compare=False)
    key: str = ""
    """Which followed rollout this is (``pg:ID`` or ``file:PATH``), for the fleet view."""

    @property
    def needs_human(self) -> bool:
        return any(w.human for w in self.waiting)

    @property
    def urgency(self) -> int:
        return max((URGENCY.get(w.kind, 1) for w in self.waiting if w.human), default=0)

    @property
    def metric_stale(self) -> bool:
        return self.metric_at is not None and self.now is not None and self.now - self.metric_at > STALE_RECORD

    def age(self, at: datetime | None) -> timedelta | None:
        return None if at is None or self.now is None else max(self.now - at, timedelta(0))


def sort_key(row: FleetRow) -> tuple[int, int, str, str]:
    """Rows waiting on a human first, the most urgent (a failed kill, a breach, an incident) at the top."""
    return (0 if row.needs_human else 1, -row.urgency, row.id, row.where)


def fold_row(
    rollout_id: str,
    where: str,
    plan: Plan | None,
    state: RolloutState,
    records: dict[str, Record],
    now: datetime,
    user: str,
    last_kill: dict[str, Any] | None = None,
    problem: str = "",
) -> FleetRow:
    """The fleet's line for one rollout; ``last_kill`` is the payload of its last ``kill.result`` event;
    ``problem`` what is wrong with its record (a torn log), said first."""
    judged = read_judged(records.get(JUDGED))
    armed = read_armed(records.get(ARMED))
    metric = _worst(judged.rows) if judged is not None else ""
    kill, kill_reason, kill_at = _kill(state, armed, last_kill)
    first = [Waiting("record", problem)] if problem else []
    common: dict[str, Any] = {
        "metric": metric,
        "metric_at": judged.at if judged is not None else None,
        "kill": kill,
        "kill_reason": kill_reason,
        "kill_at": kill_at,
        "last_event": state.last_time,
        "events": state.count,
        "now": now,
        "flags": tuple(Flag(name, f.enabled, f.percent) for name, f in sorted(state.flags.items())),
    }
    if plan is None:
        entered = max(state.entered.items(), key=lambda kv: kv[1].seq, default=None)
        waiting = [Waiting("plan", "plan unknown: no cockpit running this rollout has published it")]
        return FleetRow(
            rollout_id, where, stage=entered[0] if entered else "not started",
            stage_id=entered[0] if entered else "", waiting=tuple(first + waiting + _urgent(state, None, now, last_kill)),
            readonly="the plan is unknown here", **common,
        )  # fmt: skip
    stage = plan.stages[state.stage_index] if state.stage_index >= 0 else None
    blockers = advance_blockers(plan, state, now) + _threshold_blockers(stage, judged, now)
    done = any(b.kind == "done" for b in blockers)
    flags = {f.name: f for f in common["flags"]}
    common["flags"] = tuple(flags.get(f.name, Flag(f.name, False, 0)) for f in plan.flags) + tuple(
        f for name, f in flags.items() if name not in {p.name for p in plan.flags}
    )
    return FleetRow(
        rollout_id,
        where,
        service=plan.rollout.service,
        version=plan.rollout.version,
        stage="complete" if done else (stage.title if stage is not None else "not started"),
        stage_id=stage.id if stage is not None else "",
        soak=_soak(state, stage, now),
        gate="COMPLETE" if done else ("CLOSED" if blockers else "OPEN"),
        waiting=tuple(first + _urgent(state, plan, now, last_kill) + _waiting(plan, state, blockers, done, now)),
        readonly=cannot_sign(plan, user),
        **common,
    )


def _threshold_blockers(stage: Stage | None, judged: Judged | None, now: datetime) -> list[Blocker]:
    """The current stage's thresholds as its cockpits last judged them. As on the dashboard, what is not known
    to be OK blocks: no judgement of this stage, or one too old to speak for now, is not a green gate."""
    if stage is None or not stage.thresholds:
        return []
    if judged is None or judged.stage != stage.id:
        return [Blocker("metric", stage.id, f"thresholds not judged: no cockpit has judged {stage.title}")]
    if now - judged.at > STALE_RECORD:
        age = short_age(now - judged.at)
        return [Blocker("metric", stage.id, f"thresholds not judged now: the last judgement is {age} old")]
    return metric_blockers(judged.rows)


def cannot_sign(plan: Plan, user: str) -> str:
    """Why ``user`` may sign none of the plan's approvals (every role lists its users), or ""."""
    if not plan.approvers or any(not a.users or user in a.users for a in plan.approvers):
        return ""
    allowed = "; ".join(f"{a.role}: {', '.join(a.users)}" for a in plan.approvers)
    return f"read-only: {user} may sign no approval ({allowed})"


# --------------------------------------------------------------------------- the parts of a row


def _worst(rows: Any) -> str:
    statuses = [Status(r.status) for r in rows if r.status in Status._value2member_map_]
    return str(max(statuses, key=lambda s: SEVERITY[s])) if statuses else ""


def _kill(state: RolloutState, armed: Any, last_kill: dict[str, Any] | None) -> tuple[str, str, datetime | None]:
    """KILLED / KILL FAILED until a flag is turned on again after the kill; then the last arm check."""
    resumed = bool(state.kills) and any(f.enabled and f.mark.seq > state.kills[-1].seq for f in state.flags.values())
    if state.kills and not resumed:
        at = state.kills[-1].time
        if last_kill is None:
            return "KILL FAILED", "the kill has no recorded result", at
        if last_kill.get("all_off"):
            return "KILLED", "every flag verified off", at
        return "KILL FAILED", "may still be on: " + ", ".join(map(str, last_kill.get("may_be_on", []))), at
    if armed is None:
        return "NOT CHECKED", "no cockpit has recorded an arm check", None
    return ("ARMED" if armed.armed else "NOT ARMED"), armed.reason, armed.at


def short_age(delta: timedelta) -> str:
    """``13h``, ``24h``, ``5m``, ``40s``, ``3d``: a glance, not a stopwatch."""
    seconds = int(max(delta.total_seconds(), 0))
    if seconds >= 3 * 86400:
        return f"{seconds // 86400}d"
    if seconds >= 3600:
        return f"{seconds // 3600}h"
    if seconds >= 60:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def _soak(state: RolloutState, stage: Stage | None, now: datetime) -> str:
    """The stage's latest soak as it really is: running (``◷ 5% 13h/24h``), broken by a breach and waiting
    to restart, stopped by a kill, or failed; empty when none is left to run."""
    if stage is None:
        return ""
    percent = {step.id: step.percent for step in stage.canary}
    open_soaks = [
        (key, soak) for key, soak in state.soaks.items()
        if key[0] == stage.id and soak.completed_at is None and not soak.done(now)
    ]  # fmt: skip
    if not open_soaks:
        return ""
    (_, step), soak = max(open_soaks, key=lambda kv: kv[1].started)
    share = f"{percent.get(step, '?')}%"
    if soak.state in ("broken", "stopped", "failed"):  # short for the column; "waiting on" says the rest
        return f"{'■' if soak.state == 'stopped' else '✘'} {share} soak {soak.state}"
    return f"◷ {share} {short_age(soak.elapsed(now))}/{short_age(soak.duration)}"


def _urgent(state: RolloutState, plan: Plan | None, now: datetime, last_kill: dict[str, Any] | None) -> list[Waiting]:
    """A kill that may have left a flag on, and an open incident with its next deadline."""
    out = []
    if state.kills and last_kill is not None and not last_kill.get("all_off"):
        on = ", ".join(map(str, last_kill.get("may_be_on", []))) or "unknown flags"
        out.append(Waiting("kill", f"kill not verified: {on} may be on; back out by hand"))
    incident = state.open_incident
    if incident is not None:
        text = f"incident #{incident.id} open"
        steps = [s for s in incident_view(plan, state, now) if not s.done] if plan is not None else []
        if steps:
            step = steps[0]
            late = now - step.deadline
            when = f"overdue {short_age(late)}" if late > timedelta(0) else f"in {short_age(-late)}"
            text += f": {step.label} by {step.deadline:%H:%M}Z ({when})"
        out.append(Waiting("incident", text))
    return out


def _waiting(plan: Plan, state: RolloutState, blockers: list[Blocker], done: bool, now: datetime) -> list[Waiting]:
    """The gate's blockers, grouped the way a person acts on them: who must sign, what to tick or run."""
    if done:
        missing = [a.role for a in plan.approvers if a.role not in state.signoffs]
        return [Waiting("signoff", "sign-off: " + ", ".join(missing))] if missing else []
    by_kind: dict[str, list[Blocker]] = {}
    for blocker in blockers:
        by_kind.setdefault(blocker.kind, []).append(blocker)
    if "soak" in by_kind:  # the next canary step waits for the soak, not for a person
        by_kind.pop("canary", None)
    stage = plan.stages[state.stage_index] if state.stage_index >= 0 else None
    if stage is not None and "item" in by_kind:  # an item bound to a soak waits for the soak, not for a person
        soaks = {i.id: state.soaks.get((stage.id, i.after_soak)) for i in stage.items if i.after_soak}
        soaking = {item for item, soak in soaks.items() if soak is None or soak.completed_at is None}
        by_kind["item"] = [b for b in by_kind["item"] if b.ref not in soaking]
        if not by_kind["item"]:
            del by_kind["item"]
    if "breach" in by_kind:  # "prerequisite not stable (breached)" is the same breach again
        by_kind["prerequisite"] = [b for b in by_kind.get("prerequisite", []) if "breached" not in b.message]
    out: list[Waiting] = []
    if "approval" in by_kind:
        out.append(Waiting("approval", "approval: " + ", ".join(b.ref for b in by_kind["approval"])))
    out += [Waiting("breach", b.message) for b in by_kind.get("breach", [])]
    for kind, verb in (("item", "tick"), ("check", "run check"), ("prerequisite", "")):
        found = by_kind.get(kind, [])
        if found:
            text = f"{verb} {found[0].ref}" if verb else found[0].message
            out.append(Waiting(kind, text + (f" (+{len(found) - 1} more)" if len(found) > 1 else "")))
    if "baseline" in by_kind:
        out.append(Waiting("baseline", "capture the baseline"))
    for b in by_kind.get("canary", []):
        out.append(Waiting("canary", b.message.replace("canary step not taken: ", "take canary step: ")))
    for b in by_kind.get("soak", []):
        out.append(_soak_wait(state, stage, b, now))
    out += [Waiting("metric", b.message) for b in by_kind.get("metric", [])]
    if not blockers:
        index = state.stage_index
        if index + 1 < len(plan.stages):
            out.append(Waiting("advance", f"gate open: advance to {plan.stages[index + 1].title}"))
        else:
            out.append(Waiting("advance", f"gate open: complete {plan.stages[index].title}"))
    return out


def _soak_wait(state: RolloutState, stage: Stage | None, blocker: Blocker, now: datetime) -> Waiting:
    """A soak that runs (time will end it: ``soak: 10h48m left at 5%``) or that a breach failed (a person redoes
    the step)."""
    soak = state.soaks.get((stage.id, blocker.ref)) if stage is not None else None
    step = next((c for c in stage.canary if c.id == blocker.ref), None) if stage is not None else None
    if soak is None or step is None:
        return Waiting("soak", blocker.message)
    if soak.failed:
        return Waiting("soak-failed", f"soak failed by a breach: redo the {step.percent}% step")
    if soak.stopped_at is not None:
        return Waiting("soak-stopped", f"soak stopped by the kill: take the {step.percent}% step again, or back out")
    if soak.waiting_on:  # the breach itself is the person's to act on; the soak restarts by itself after it
        return Waiting("soak", f"soak broken by {', '.join(sorted(soak.waiting_on))}: restarts when OK")
    return Waiting("soak", f"soak: {format_duration(soak.remaining(now))} left at {step.percent}%")


def row_json(row: FleetRow) -> dict[str, Any]:
    """The line as ``cockpit fleet --json`` prints it; ages in whole seconds."""

    def seconds(at: datetime | None) -> int | None:
        age = row.age(at)
        return int(age.total_seconds()) if age is not None else None

    return {
        "id": row.id,
        "where": row.where,
        "service": row.service,
        "version": row.version,
        "stage": row.stage,
        "stage_id": row.stage_id,
        "flags": {f.name: f.percent if f.enabled else None for f in row.flags},
        "soak": row.soak,
        "gate": row.gate,
        "needs_human": row.needs_human,
        "waiting": [{"kind": w.kind, "text": w.text, "human": w.human} for w in row.waiting],
        "metric": {"worst": row.metric or None, "age_s": seconds(row.metric_at), "stale": row.metric_stale},
        "kill": {"state": row.kill, "reason": row.kill_reason, "age_s": seconds(row.kill_at)},
        "last_event_age_s": seconds(row.last_event),
        "events": row.events,
        "readonly": row.readonly,
    }

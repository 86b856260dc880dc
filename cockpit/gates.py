"""Gates: what must be true before the rollout moves on, and what blocks it now.

Stage N+1 cannot be entered until stage N's gate passes: approvals (before Stage 0: "DO NOT PROCEED
UNTIL ALL THREE ARE CHECKED"), ticked checklist items, passing verifications, a captured baseline
where the stage captures one, every canary step taken and soaked, no open breach, and the next
stage's prerequisites. Anyone may override a gate with a typed reason; the override is audited.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cockpit.plan.model import CanaryStep, Check, Item, Plan, Stage, format_duration
from cockpit.state import CheckResult, Override, RolloutState


@dataclass(frozen=True)
class Blocker:
    """One reason the gate is closed."""

    kind: str
    """``approval``, ``item``, ``check``, ``baseline``, ``canary``, ``soak``, ``breach``, ``prerequisite``, ``done``,
    ``record`` (the audit log's chain is broken: :attr:`cockpit.rollout.Rollout.broken`)."""
    ref: str
    message: str

    def __str__(self) -> str:
        return self.message


ChangesSince = Callable[[str], list[str]]
"""What changed in the plan since the version with a digest (:meth:`cockpit.rollout.Rollout.plan_changes_since`)."""

SHOWN_CHANGES = 5
"""How many changed parts a void approval names (then "and N more")."""


@dataclass(frozen=True)
class CheckVerdict:
    """A verification as it stands: never passed when its last result failed, whatever came after."""

    check: Check
    result: CheckResult | None
    override: Override | None
    """The gate override that moved on past this failed check (who, when, why), if any."""

    @property
    def status(self) -> str:
        """``passed``, ``FAILED`` or ``pending`` (not run)."""
        if self.result is None:
            return "pending"
        return "passed" if self.result.ok else "FAILED"

    def describe(self) -> str:
        """``✗ FAILED Check DLQ table: connection refused — overridden by alok: "reason"`` and the like."""
        if self.result is None:
            return f"☐ not verified: {self.check.text}"
        if self.result.ok:
            return f"✔ passed: {self.check.text}"
        text = f"✗ FAILED {self.check.text}: {self.result.detail}"
        if self.override is not None:
            text += f' — overridden by {self.override.mark.actor.user}: "{self.override.reason}"'
        return text


def check_verdicts(state: RolloutState, stage: Stage) -> list[CheckVerdict]:
    """Each verification check of ``stage`` with its last result and the override that passed it when failed."""
    verdicts = []
    for check in stage.checks:
        result = state.checks.get((stage.id, check.id))
        override = None
        if result is not None and not result.ok:
            failed = f"verification failed: {check.text}"
            override = next(
                (
                    o
                    for o in state.overrides
                    if o.mark.seq > result.mark.seq and any(b.startswith(failed) for b in o.blockers)
                ),
                None,
            )
        verdicts.append(CheckVerdict(check, result, override))
    return verdicts


def approval_blockers(plan: Plan, state: RolloutState, changes_since: ChangesSince | None = None) -> list[Blocker]:
    blockers = []
    digest = plan.digest
    for approver in plan.approvers:
        approval = state.approvals.get(approver.role)
        if approval is None:
            blockers.append(
                Blocker("approval", approver.role, f"approval missing: {approver.title} ({approver.handle})")
            )
        elif approval.digest != digest:
            changed = changes_since(approval.digest) if changes_since else []
            what = describe_changes(changed) if changed else "the plan changed after signing"
            blockers.append(
                Blocker(
                    "approval",
                    approver.role,
                    f"approval void: {approver.title} signed plan {approval.digest[:12]}, "
                    f"the plan is now {digest[:12]}: {what}",
                )
            )
    return blockers


def describe_changes(changed: list[str]) -> str:
    """``providers.app.off.url changed since the approvals`` (the first few, then how many more)."""
    shown = ", ".join(changed[:SHOWN_CHANGES])
    more = f" and {len(changed) - SHOWN_CHANGES} more" if len(changed) > SHOWN_CHANGES else ""
    return f"{shown}{more} changed since the approvals"


def stage_blockers(plan: Plan, state: RolloutState, stage: Stage, now: datetime) -> list[Blocker]:
    """What keeps ``stage`` from being completed."""
    blockers: list[Blocker] = []
    for item in stage.items:
        if (stage.id, item.id) not in state.ticks:
            blockers.append(Blocker("item", item.id, f"not ticked: {item.text}"))
    for check in stage.checks:
        result = state.checks.get((stage.id, check.id))
        if result is None:
            blockers.append(Blocker("check", check.id, f"not verified: {check.text}"))
        elif not result.ok:
            blockers.append(Blocker("check", check.id, f"verification failed: {check.text}: {result.detail}"))
    if stage.captures_baseline and not state.baseline:
        blockers.append(Blocker("baseline", stage.id, "baseline metrics not captured"))
    for step in stage.canary:
        blockers += canary_step_blockers(state, stage, step, now, for_completion=True)
    for metric, breach in state.breaches.items():  # any open breach holds the rollout where it is
        blockers.append(Blocker("breach", metric, f"open breach: {metric} = {breach.value} ({breach.threshold})"))
    return blockers


def canary_step_blockers(
    state: RolloutState, stage: Stage, step: CanaryStep, now: datetime, *, for_completion: bool = False
) -> list[Blocker]:
    """For completion: is the step taken and soaked? Otherwise: may the step be taken now?"""
    key = (stage.id, step.id)
    if for_completion:
        if key not in state.canary:
            return [Blocker("canary", step.id, f"canary step not taken: {step.flag} at {step.percent}%")]
        soak = state.soaks.get(key)
        if step.soak and soak is None:
            return [Blocker("soak", step.id, f"soak not started: {step.soak_label or format_duration(step.soak)}")]
        if soak is not None and soak.failed:
            return [Blocker("soak", step.id, f"soak failed by a breach: redo the {step.percent}% step")]
        if soak is not None and soak.stopped_at is not None:
            return [
                Blocker(
                    "soak",
                    step.id,
                    f"soak stopped by kill at {soak.stopped_at:%Y-%m-%d %H:%M:%S}Z: take the {step.percent}% step again",
                )
            ]
        if soak is not None and soak.waiting_on:
            metrics = ", ".join(sorted(soak.waiting_on))
            since = soak.breaks[-1] if soak.breaks else now
            return [
                Blocker(
                    "soak",
                    step.id,
                    f"soak broken at {since:%Y-%m-%d %H:%M:%S}Z by {metrics}: it restarts when "
                    f"{'they are' if len(soak.waiting_on) > 1 else 'it is'} OK again",
                )
            ]
        if soak is not None and not soak.done(now):
            left = format_duration(soak.remaining(now))
            return [
                Blocker(
                    "soak",
                    step.id,
                    f"soaking: {format_duration(soak.elapsed(now))} / {format_duration(soak.duration)} "
                    f"({left} left) at {step.percent}%",
                )
            ]
        return []
    blockers: list[Blocker] = []
    if state.stage_index < 0 or (state.stage_index >= 0 and stage.id not in state.entered):
        blockers.append(Blocker("stage", stage.id, f"{stage.title} has not been entered"))
    steps = list(stage.canary)
    index = steps.index(step)
    if index > 0:
        blockers += canary_step_blockers(state, stage, steps[index - 1], now, for_completion=True)
    for metric, breach in state.breaches.items():
        blockers.append(Blocker("breach", metric, f"open breach: {metric} = {breach.value} ({breach.threshold})"))
    return blockers


def metric_blockers(judgements: Sequence[Any]) -> list[Blocker]:
    """The stage's live thresholds that are not OK: stale or missing data is never green, so it blocks too.

    ``judgements`` are :class:`cockpit.rules.Judgement` (the live side; they are not in the log).
    """
    return [
        Blocker("metric", j.metric, f"{j.label}: {j.status}" + (f" ({j.reason})" if j.reason else ""))
        for j in judgements
        if str(j.status) != "OK"
    ]


def prerequisite_blockers(plan: Plan, state: RolloutState, stage: Stage, completing: str = "") -> list[Blocker]:
    """Prerequisites of entering ``stage``; ``completing`` is the stage the same advance completes."""
    blockers = []
    for req in stage.requires:
        if req not in state.completed and req != completing:
            blockers.append(Blocker("prerequisite", req, f"prerequisite: {plan.stage(req).title} not completed"))
            continue
        required = plan.stage(req)
        metrics = {rule.metric for rule in required.thresholds}
        for metric in state.breaches:
            if metric in metrics:
                blockers.append(
                    Blocker("prerequisite", req, f"prerequisite: {required.title} not stable ({metric} breached)")
                )
    return blockers


def advance_blockers(
    plan: Plan, state: RolloutState, now: datetime, changes_since: ChangesSince | None = None
) -> list[Blocker]:
    """Everything that keeps the rollout from moving to its next stage."""
    index = state.stage_index
    if index < 0:
        blockers = approval_blockers(plan, state, changes_since)
        return blockers + prerequisite_blockers(plan, state, plan.stages[0])
    current = plan.stages[index]
    blockers = approval_blockers(plan, state, changes_since) + stage_blockers(plan, state, current, now)
    if index + 1 < len(plan.stages):
        blockers += prerequisite_blockers(plan, state, plan.stages[index + 1], completing=current.id)
    elif current.id in state.completed:
        blockers.append(Blocker("done", current.id, "the rollout is complete"))
    return blockers


def next_action(plan: Plan, state: RolloutState) -> str:
    """What ``advance`` would do: enter a stage or complete the last one."""
    index = state.stage_index
    if index + 1 < len(plan.stages):
        return f"enter {plan.stages[index + 1].title}"
    return f"complete {plan.stages[index].title}"


def past_point_of_no_return(plan: Plan, state: RolloutState) -> Stage | None:
    """The last irreversible stage whose work has begun (an item of its "Actions" ticked, e.g. "Run
    migration 001") or that is completed, if any. Its preparation ("Database backup created") is not
    yet the point of no return."""
    found = None
    for stage in plan.stages:
        if not stage.irreversible:
            continue
        started = any((stage.id, item.id) in state.ticks for item in stage.items if item.section == "Actions")
        if started or stage.id in state.completed:
            found = stage
    return found


def backout_warning(plan: Plan, state: RolloutState) -> str | None:
    """After a point of no return, turning the flags off is not the whole backout."""
    stage = past_point_of_no_return(plan, state)
    if stage is None:
        return None
    return f"past the point of no return ({stage.title}): flags off is not a full backout; also: {stage.backout}"


def backout_block(plan: Plan, state: RolloutState) -> list[str]:
    """Past a point of no return, that stage's backout as a block of its own lines (empty before it)."""
    stage = past_point_of_no_return(plan, state)
    if stage is None or not stage.backout:
        return []
    head = f"⚑ past the point of no return ({stage.title}): flags off is not a full backout. Its backout:"
    return [head, *(f"    {line}" for line in stage.backout.splitlines())]


def soak_wait(state: RolloutState, stage: Stage, item: Item, now: datetime) -> str:
    """Why ``item`` cannot be ticked yet: the soak it comes after has not completed ("" when it may)."""
    if not item.after_soak:
        return ""
    soak = state.soaks.get((stage.id, item.after_soak))
    if soak is not None and soak.completed_at is not None:
        return ""
    where = f"{soak.state}, {format_duration(soak.elapsed(now))} of " if soak else "not started, "
    planned = soak.duration if soak else next(c.soak for c in stage.canary if c.id == item.after_soak)
    return (
        f"{stage.id}/{item.id} waits for the {item.after_soak} soak to complete ({where}{format_duration(planned)})"
    )

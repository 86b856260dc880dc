"""The rollout service: the one place operator actions and cockpit decisions become events.

Every method checks what it must, appends one or more events to the store (durable before it
returns) and folds them into the derived state. The CLI, the TUI, the monitor and the kill switch all
go through here; none of them keeps state of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from cockpit import events as ev
from cockpit.clock import Clock, SystemClock
from cockpit.events import Actor, Event
from cockpit.gates import (
    Blocker,
    advance_blockers,
    canary_step_blockers,
    metric_blockers,
    past_point_of_no_return,
)
from cockpit.identity import current_actor
from cockpit.plan.load import LoadedPlan
from cockpit.plan.model import Plan, Stage
from cockpit.state import RolloutState
from cockpit.store.audit import EventStore
from cockpit.store.backend import open_store


class RolloutError(Exception):
    """An action was refused; the message says why, in the operator's words."""


class GateClosed(RolloutError):
    def __init__(self, action: str, blockers: list[Blocker]) -> None:
        lines = "\n".join(f"  - {b.message}" for b in blockers)
        super().__init__(f"gate closed, cannot {action}:\n{lines}\n(override with a typed reason if you must)")
        self.blockers = blockers


Listener = Callable[[Event], None]


class Rollout:
    """A plan, its event store, a clock and the person at the keyboard."""

    def __init__(
        self,
        loaded: LoadedPlan,
        store: EventStore,
        *,
        clock: Clock | None = None,
        actor: Actor | None = None,
    ) -> None:
        self.loaded = loaded
        self.store = store
        self.clock = clock or SystemClock()
        self.actor = actor or current_actor()
        self.listeners: list[Listener] = []
        self._state = RolloutState()

    @property
    def plan(self) -> Plan:
        return self.loaded.plan

    def now(self) -> datetime:
        return self.clock.now()

    # ----------------------------------------------------------------- state

    def refresh(self) -> list[Event]:
        """Fold events appended since the last refresh (by this or another cockpit); return them."""
        new = self.store.read(self._state.count)
        if new and new[0].prev != self._state.head:
            # the chain under us changed (events spooled offline were re-sealed on a newer head): rebuild
            new = self.store.read(0)
            self._state = RolloutState()
        self._state.apply_all(new)
        return new

    @property
    def state(self) -> RolloutState:
        self.refresh()
        return self._state

    @property
    def torn(self) -> str | None:
        """Why the log cannot be continued (a torn last line), or None; the state is as of the line before."""
        self.refresh()
        torn = getattr(self.store, "torn", None)
        return str(torn) if torn is not None else None

    def record(self, type: str, payload: dict[str, Any] | None = None, *, actor: Actor | None = None) -> Event:
        """Append one event (secrets redacted from its payload) and fold it in."""
        payload = self.loaded.env.redact(payload or {})
        event = self.store.append(type, payload, actor or self.actor, self.now())
        self.refresh()
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # a listener (notifications) never breaks the action
                pass
        return event

    def blockers(self, judgements: Sequence[Any] = ()) -> list[Blocker]:
        """What keeps the rollout from moving on; with the current stage's live ``judgements``, a
        threshold that is not OK (breach, stale, no data, error) blocks too."""
        blockers = advance_blockers(self.plan, self.state, self.now())
        if self.state.stage_index >= 0:
            blockers += metric_blockers(judgements)
        return blockers

    @property
    def current_stage(self) -> Stage | None:
        index = self.state.stage_index
        return self.plan.stages[index] if index >= 0 else None

    # ----------------------------------------------------------------- approvals

    def approve(self, role: str) -> Event:
        approver = self._approver(role)
        user = self.actor.user
        if approver.users and user not in approver.users:
            raise RolloutError(f"{user} may not sign {approver.title}: allowed are {', '.join(approver.users)}")
        if not self.plan.rollout.allow_multiple_roles:
            for other, approval in self.state.approvals.items():
                if other != role and approval.mark.actor.user == user and approval.digest == self.plan.digest:
                    title = self.plan.approver(other).title
                    raise RolloutError(
                        f"{user} already signed {title}; one person cannot sign two roles "
                        "(the plan's rollout.allow_multiple_roles is false)"
                    )
        return self.record(
            ev.APPROVAL_SIGNED,
            {"role": role, "title": approver.title, "handle": approver.handle, "digest": self.plan.digest},
        )

    def revoke(self, role: str) -> Event:
        self._approver(role)
        if role not in self.state.approvals:
            raise RolloutError(f"{role} has not signed")
        return self.record(ev.APPROVAL_REVOKED, {"role": role})

    def sign_off(self, role: str) -> Event:
        """Sign the post-rollout Sign-Off table for ``role`` (once the last stage has been entered)."""
        approver = self._approver(role)
        last = self.plan.stages[-1]
        if last.id not in self.state.entered:
            raise RolloutError(f"sign-off comes at the end: {last.title} has not been entered")
        if role in self.state.signoffs:
            raise RolloutError(f"{approver.title} has already signed off")
        return self.record(ev.SIGNOFF_SIGNED, {"role": role, "title": approver.title, "digest": self.plan.digest})

    def _approver(self, role: str) -> Any:
        try:
            return self.plan.approver(role)
        except KeyError:
            roles = ", ".join(a.role for a in self.plan.approvers)
            raise RolloutError(f"unknown role {role!r}; roles are: {roles}") from None

    # ----------------------------------------------------------------- checklist

    def tick(self, stage_id: str, item_id: str, *, untick: bool = False) -> Event:
        stage = self._stage(stage_id)
        if item_id not in {i.id for i in stage.items}:
            items = ", ".join(i.id for i in stage.items)
            raise RolloutError(f"{stage_id} has no item {item_id!r}; items are: {items}")
        ticked = (stage_id, item_id) in self.state.ticks
        if untick:
            if not ticked:
                raise RolloutError(f"{stage_id}/{item_id} is not ticked")
            return self.record(ev.ITEM_UNTICKED, {"stage": stage_id, "item": item_id})
        if ticked:
            raise RolloutError(f"{stage_id}/{item_id} is already ticked")
        return self.record(ev.ITEM_TICKED, {"stage": stage_id, "item": item_id})

    def note(self, text: str) -> Event:
        if not text.strip():
            raise RolloutError("a note needs some text")
        return self.record(ev.NOTE_ADDED, {"text": text.strip()})

    def _stage(self, stage_id: str) -> Stage:
        try:
            return self.plan.stage(stage_id)
        except KeyError:
            ids = ", ".join(s.id for s in self.plan.stages)
            raise RolloutError(f"unknown stage {stage_id!r}; stages are: {ids}") from None

    # ----------------------------------------------------------------- stages

    def advance(self, override: str | None = None, judgements: Sequence[Any] = ()) -> Event:
        """Complete the current stage and enter the next, if the gate passes or is overridden.

        ``judgements``: the current stage's live thresholds (see :meth:`blockers`)."""
        state = self.state
        index = state.stage_index
        blockers = self.blockers(judgements)
        if any(b.kind == "done" for b in blockers):
            raise RolloutError("the rollout is complete; there is no next stage")
        target = self.plan.stages[index + 1] if index + 1 < len(self.plan.stages) else None
        action = f"enter {target.title}" if target else f"complete {self.plan.stages[index].title}"
        if blockers:
            if override is None:
                raise GateClosed(action, blockers)
            if not override.strip():
                raise RolloutError("an override needs a typed reason")
            self.record(
                ev.GATE_OVERRIDDEN,
                {
                    "stage": (target or self.plan.stages[index]).id,
                    "reason": override.strip(),
                    "blockers": [b.message for b in blockers],
                },
            )
        last = None
        if index >= 0:
            last = self.record(ev.STAGE_COMPLETED, {"stage": self.plan.stages[index].id, "index": index})
        if target is not None:
            last = self.record(
                ev.STAGE_ENTERED,
                {"stage": target.id, "index": index + 1, "irreversible": target.irreversible},
            )
        assert last is not None
        return last

    def backout_warning(self) -> str | None:
        """After a point of no return, turning the flags off is not the whole backout."""
        stage = past_point_of_no_return(self.plan, self.state)
        if stage is None:
            return None
        return f"past the point of no return ({stage.title}): flags off is not a full backout; also: {stage.backout}"

    # ----------------------------------------------------------------- measurements

    def capture_baseline(self, values: dict[str, dict[str, Any]]) -> Event:
        """Freeze the baseline: ``{metric: {"value", "window", "query"}}``."""
        if not values:
            raise RolloutError("no metric has data to capture as a baseline")
        return self.record(ev.BASELINE_CAPTURED, {"metrics": values})

    def record_check(self, stage_id: str, check_id: str, ok: bool, value: Any, detail: str) -> Event:
        return self.record(
            ev.CHECK_RESULT,
            {"stage": stage_id, "check": check_id, "ok": ok, "value": value, "detail": detail},
        )

    def canary_blockers(self, stage_id: str, step_id: str) -> list[Blocker]:
        stage = self._stage(stage_id)
        step = next((s for s in stage.canary if s.id == step_id), None)
        if step is None:
            raise RolloutError(f"{stage_id} has no canary step {step_id!r}")
        blockers = canary_step_blockers(self.state, stage, step, self.now())
        current = self.current_stage
        if current is None or current.id != stage_id:
            blockers.insert(0, Blocker("stage", stage_id, f"{stage.title} is not the current stage"))
        return blockers

    def record_flag_change(
        self,
        flag: str,
        before: dict[str, Any],
        after: dict[str, Any],
        *,
        stage: str = "",
        step: str = "",
        reason: str = "",
    ) -> Event:
        """A deliberate flag change; a canary step also starts its soak."""
        event = self.record(
            ev.FLAG_CHANGED,
            {"flag": flag, "before": before, "after": after, "stage": stage, "step": step, "reason": reason},
        )
        if stage and step:
            canary = next(s for s in self._stage(stage).canary if s.id == step)
            if canary.soak:
                self.record(
                    ev.SOAK_STARTED,
                    {
                        "stage": stage,
                        "step": step,
                        "seconds": canary.soak.total_seconds(),
                        "on_breach": canary.on_breach,
                        "label": canary.soak_label,
                    },
                )
        return event

    def open_breach(self, metric: str, value: Any, threshold: str, *, stage: str = "") -> Event | None:
        """Open a breach (once) and break the soaks running in the current stage."""
        if metric in self.state.breaches:
            return None
        event = self.record(
            ev.BREACH_OPENED, {"metric": metric, "value": value, "threshold": threshold, "stage": stage}
        )
        now = self.now()
        for (stage_id, step_id), soak in list(self.state.soaks.items()):
            if soak.completed_at is None and not soak.failed and not soak.done(now):
                self.record(
                    ev.SOAK_BROKEN,
                    {
                        "stage": stage_id,
                        "step": step_id,
                        "metric": metric,
                        "value": value,
                        "action": soak.on_breach,
                    },
                )
        return event

    def close_breach(self, metric: str, value: Any) -> Event | None:
        if metric not in self.state.breaches:
            return None
        return self.record(ev.BREACH_CLOSED, {"metric": metric, "value": value})

    def complete_soaks(self) -> list[Event]:
        """Record soaks whose time has run out (a decision of the cockpit, so it is audited)."""
        now = self.now()
        done = []
        for (stage_id, step_id), soak in list(self.state.soaks.items()):
            if soak.completed_at is None and soak.done(now):
                done.append(
                    self.record(
                        ev.SOAK_COMPLETED,
                        {"stage": stage_id, "step": step_id, "seconds": soak.duration.total_seconds()},
                    )
                )
        return done


def open_rollout(
    loaded: LoadedPlan, *, clock: Clock | None = None, readonly: bool = False, actor: Actor | None = None
) -> Rollout:
    return Rollout(loaded, open_store(loaded, readonly=readonly), clock=clock, actor=actor)

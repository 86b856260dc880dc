"""The rollout service: the one place operator actions and cockpit decisions become events.

Every method checks what it must, appends one or more events to the store (durable before it
returns) and folds them into the derived state. The CLI, the TUI, the monitor and the kill switch all
go through here; none of them keeps state of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from cockpit import events as ev
from cockpit import payloads as pl
from cockpit import soaks
from cockpit.clock import Clock, SystemClock
from cockpit.errors import GateClosed, RolloutError
from cockpit.events import Actor, Event
from cockpit.gates import Blocker, advance_blockers, canary_step_blockers, metric_blockers, soak_wait
from cockpit.identity import current_actor
from cockpit.plan.digest import changes as plan_changes
from cockpit.plan.load import LoadedPlan
from cockpit.plan.model import Plan, Stage
from cockpit.signers import approver_of, may_sign, user_may
from cockpit.signing import Signatures, SigningError
from cockpit.state import RolloutState
from cockpit.state.reader import StateReader
from cockpit.store.audit import ChainProblem, EventStore
from cockpit.store.backend import open_store
from cockpit.text import well_formed, well_formed_data

Listener = Callable[[Event], None]

_NO_PLAN_NOTE = frozenset({ev.PLAN_CHANGED, ev.KILL_REQUESTED, ev.KILL_FLAG_RESULT, ev.KILL_RESULT})
"""Events not preceded by ``plan.changed`` (see :meth:`Rollout.record`)."""
MAX_PAYLOAD = 512 << 10
"""The largest payload recorded, as JSON (a 64 KiB note of controls is 384 KiB; a log line is at most 1 MiB)."""
MAX_NOTE = 64 << 10
"""The longest note, in bytes of UTF-8 (a handoff, not a log dump)."""


class Rollout:
    """A plan, its event store, a clock and the person at the keyboard."""

    def __init__(
        self,
        loaded: LoadedPlan,
        store: EventStore,
        *,
        clock: Clock | None = None,
        actor: Actor | None = None,
        signatures: Signatures | None = None,
    ) -> None:
        self.loaded = loaded
        self.store = store
        self.clock = clock or SystemClock()
        self.actor = actor or current_actor()
        self.signatures = signatures or Signatures(loaded)
        """Signs decisions with the operator's SSH key and says which do not count (:mod:`cockpit.signing`)."""
        self.listeners: list[Listener] = []
        self.reader = StateReader(store)
        """The state, folded as far as the record's chain holds."""

    @property
    def plan(self) -> Plan:
        return self.loaded.plan

    def now(self) -> datetime:
        return self.clock.now()

    # ----------------------------------------------------------------- state

    def refresh(self) -> list[Event]:
        """Fold events appended since the last refresh (by this or another cockpit), each checked against the
        chain (:class:`~cockpit.state.reader.StateReader`); return them."""
        return self.reader.refresh()

    @property
    def broken(self) -> ChainProblem | None:
        """Where the record's chain breaks (nothing after it is believed); None while it holds."""
        return self.reader.broken

    def broken_message(self) -> str:
        return self.reader.broken_message()

    def record_trouble(self) -> str:
        """Why the record takes nothing now ("" when it does): its chain is broken, or its last line is torn or
        missing (``cockpit audit repair``). What changes the world first and records after checks this first."""
        self.refresh()
        if self.broken is not None:
            return self.broken_message()
        return str(self.store.torn) if self.store.torn is not None else ""

    @property
    def state(self) -> RolloutState:
        self.reader.refresh()
        return self.reader.state

    @property
    def torn(self) -> str | None:
        """Why the log cannot be continued (a torn last line), or None; the state is as of the line before."""
        self.refresh()
        torn = self.store.torn
        return str(torn) if torn is not None else None

    def record(
        self,
        type: str,
        payload: dict[str, Any] | None = None,
        *,
        actor: Actor | None = None,
        guard: Callable[[], None] | None = None,
    ) -> Event:
        """Append one event (secrets redacted from its payload), signed if it is a decision, and fold it in.

        ``guard`` runs inside the store's append lock, on the state as of the latest event (refreshed
        there): raising refuses the append, so a check and its event are atomic across cockpits.
        A plan the log has not seen yet is recorded first (``plan.changed``), except before the kill's
        events: nothing delays a kill (the plan is recorded with the next event after it).
        """
        self.refresh()
        if self.broken is not None:  # a record that does not hold is not continued (the kill drives flags anyway)
            raise RolloutError(f"not recorded: {self.broken_message()}")
        payload = well_formed_data(self.loaded.env.redact(payload or {}))  # bytes that were not UTF-8: spelled out
        if (size := len(json.dumps(payload, ensure_ascii=False, default=str).encode())) > MAX_PAYLOAD:
            raise RolloutError(f"not recorded: the event would be {size} bytes, larger than the record takes")
        pl.parse(type, payload)  # its type's shape, or PayloadError: a writer's typo fails here, not on replay
        try:
            sign = self.signatures.hook(type, payload)  # first: a decision refused for its signature writes nothing
        except SigningError as exc:  # signatures required and none can be made
            raise RolloutError(str(exc)) from None
        if type not in _NO_PLAN_NOTE:
            self.note_plan()
        locked: Callable[[], None] | None = None
        if guard is not None:
            check = guard

            def locked() -> None:
                self.refresh()
                check()

        try:
            event = self.store.append(type, payload, actor or self.actor, self.now(), guard=locked, sign=sign)
        except SigningError as exc:  # the agent failed while signing: nothing was written
            raise RolloutError(str(exc)) from None
        self.refresh()
        try:
            self.signatures.after(event)  # anchor the head at a stage change, a kill, a sign-off
        except Exception:  # an anchor is a copy of the head: failing to write one never breaks the action
            pass
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # a listener (notifications) never breaks the action
                pass
        return event

    def note_plan(self) -> Event | None:
        """Record ``plan.changed`` when this cockpit's plan is not the one the log last saw: every new
        digest, what changed since the plan before it, and the signed content (to name later changes)."""
        state = self.state
        digest = self.plan.digest
        if state.plan_digest == digest:
            return None
        before = state.plans.get(state.plan_digest)
        if before is not None:
            changed = plan_changes(before.signed, self.plan.signed)
        else:
            changed = ["the log's earlier events have no recorded plan"] if state.count else []
        return self.record(
            ev.PLAN_CHANGED,
            {"digest": digest, "previous": state.plan_digest, "changes": changed, "signed": self.plan.signed},
        )

    def plan_changes_since(self, digest: str) -> list[str]:
        """What changed in the plan since the version with ``digest`` (as recorded by ``plan.changed``)."""
        if digest == self.plan.digest:
            return []
        version = self.state.plans.get(digest)
        if version is None:
            return ["the plan changed (the signed version is not on record)"]
        return plan_changes(version.signed, self.plan.signed)

    def blockers(self, judgements: Sequence[Any] = ()) -> list[Blocker]:
        """What keeps the rollout from moving on; with the current stage's live ``judgements``, a
        threshold that is not OK (breach, stale, no data, error) blocks too."""
        blockers = advance_blockers(self.plan, self.state, self.now(), self.plan_changes_since)
        if why := self.record_trouble():  # the record is not believed past its break, or takes nothing now
            blockers.insert(0, Blocker("record", "audit", why))
        blockers += self.signatures.blockers(self.state.approvals)
        if self.state.stage_index >= 0:
            blockers += metric_blockers(judgements)
        return blockers

    @property
    def current_stage(self) -> Stage | None:
        index = self.state.stage_index
        return self.plan.stages[index] if index >= 0 else None

    # ----------------------------------------------------------------- approvals

    def approve(self, role: str) -> Event:
        """Sign ``role`` for this plan; the rule (:meth:`may_sign`) is checked inside the append lock."""
        approver = approver_of(self.plan, role)
        return self.record(
            ev.APPROVAL_SIGNED,
            {"role": role, "title": approver.title, "handle": approver.handle, "digest": self.plan.digest},
            guard=lambda: self.may_sign(role, "approval"),
        )

    def revoke(self, role: str) -> Event:
        """Withdraw ``role``'s approval: only a user who may sign the role may revoke it."""
        approver = approver_of(self.plan, role)

        def allowed() -> None:
            user_may(approver, self.actor.user, "revoke")
            if role not in self.reader.state.approvals:
                raise RolloutError(f"{role} has not signed")

        return self.record(ev.APPROVAL_REVOKED, {"role": role}, guard=allowed)

    def sign_off(self, role: str) -> Event:
        """Sign the post-rollout Sign-Off table for ``role`` (once the last stage has been entered)."""
        approver = approver_of(self.plan, role)
        last = self.plan.stages[-1]

        def allowed() -> None:
            if last.id not in self.reader.state.entered:
                raise RolloutError(f"sign-off comes at the end: {last.title} has not been entered")
            self.may_sign(role, "signoff")

        return self.record(
            ev.SIGNOFF_SIGNED, {"role": role, "title": approver.title, "digest": self.plan.digest}, guard=allowed
        )

    def may_sign(self, role: str, what: str) -> None:
        """The one rule for who may sign ``role`` (:func:`cockpit.signers.may_sign`), for the person here."""
        may_sign(self.plan, self.reader.state, self.actor.user, role, what)

    # ----------------------------------------------------------------- checklist

    def tick(self, stage_id: str, item_id: str, *, untick: bool = False) -> Event:
        stage = self.stage_or_error(stage_id)
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
        if stage_id not in self.state.entered:  # its work cannot have been done yet: the record would say it was
            raise RolloutError(f"{stage.title} has not been entered: its items are ticked once it is")
        item = next(i for i in stage.items if i.id == item_id)
        if item.after_soak:
            self.complete_soaks()  # a soak whose time ran out is recorded complete first
            if why := soak_wait(self.state, stage, item, self.now()):
                raise RolloutError(why)
        return self.record(ev.ITEM_TICKED, {"stage": stage_id, "item": item_id})

    def note(self, text: str) -> Event:
        text = well_formed(text)
        if not text.strip():
            raise RolloutError("a note needs some text")
        if len(text.strip().encode()) > MAX_NOTE:
            size = len(text.strip().encode())
            raise RolloutError(f"a note is at most {MAX_NOTE >> 10} KiB; this one is {size / 1024:.0f} KiB")
        return self.record(ev.NOTE_ADDED, {"text": text.strip()})

    def stage_or_error(self, stage_id: str) -> Stage:
        """The plan's stage ``stage_id``, or RolloutError naming the stages there are."""
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

    # ----------------------------------------------------------------- measurements

    def capture_baseline(self, values: dict[str, dict[str, Any]], *, partial: bool = False) -> Event:
        """Freeze the baseline: ``{metric: {"value", "window", "query"}}``.

        All or nothing: every metric a relative threshold needs must have a good value, else nothing is
        captured and the missing ones are named; ``partial`` takes what there is, recorded as partial.
        """
        missing = [name for name in self.plan.baseline_needs() if name not in values]
        if missing and not partial:
            raise RolloutError(
                f"baseline not captured: no good value for {', '.join(missing)} (a relative threshold needs "
                "each); fix the source and capture again, or capture what there is with --partial"
            )
        if not values:
            raise RolloutError("no metric has data to capture as a baseline")
        payload: dict[str, Any] = {"metrics": values}
        if missing:
            payload.update(partial=True, missing=missing)
        return self.record(ev.BASELINE_CAPTURED, payload)

    def record_check(self, stage_id: str, check_id: str, ok: bool, value: Any, detail: str) -> Event:
        return self.record(
            ev.CHECK_RESULT,
            {"stage": stage_id, "check": check_id, "ok": ok, "value": value, "detail": detail},
        )

    def canary_blockers(self, stage_id: str, step_id: str) -> list[Blocker]:
        stage = self.stage_or_error(stage_id)
        step = next((s for s in stage.canary if s.id == step_id), None)
        if step is None:
            raise RolloutError(f"{stage_id} has no canary step {step_id!r}")
        blockers = canary_step_blockers(self.state, stage, step, self.now())
        current = self.current_stage
        if current is None or current.id != stage_id:
            blockers.insert(0, Blocker("stage", stage_id, f"{stage.title} is not the current stage"))
        if why := self.signatures.cannot_sign(ev.FLAG_CHANGED, {"step": step_id}):
            blockers.append(Blocker("signature", step_id, why))
        if why := self.record_trouble():  # the step could not be recorded: the flag is not changed
            blockers.insert(0, Blocker("record", "audit", why))
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
            soaks.start(self, self.stage_or_error(stage), step)
        return event

    def open_breach(self, metric: str, value: Any, threshold: str, *, stage: str = "") -> Event | None:
        """Open a breach (once) and break the soaks running (:mod:`cockpit.soaks`)."""
        return soaks.open_breach(self, metric, value, threshold, stage=stage)

    def close_breach(self, metric: str, value: Any) -> Event | None:
        """Close a breach; restart the soaks it broke that restart on recovery (:mod:`cockpit.soaks`)."""
        return soaks.close_breach(self, metric, value)

    def complete_soaks(self) -> list[Event]:
        """Record the soaks whose time has run out (:mod:`cockpit.soaks`)."""
        return soaks.complete(self)


def open_rollout(
    loaded: LoadedPlan, *, clock: Clock | None = None, readonly: bool = False, actor: Actor | None = None
) -> Rollout:
    return Rollout(loaded, open_store(loaded, readonly=readonly), clock=clock, actor=actor)

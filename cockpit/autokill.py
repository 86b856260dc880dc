"""Auto-kill (opt-in per threshold rule): one shared decision per breach, made in the record.

A breach (``breach.opened`` in the log) that outlasts its rule's ``auto_kill_after`` starts a countdown
of the plan's ``auto_kill_countdown`` (default 30 s); at zero the kill fires unless an operator cancels.

* **One countdown, shown everywhere.** The countdown is the ``autokill.started`` event, recorded when it
  starts with its breach (the seq of its ``breach.opened``) and its length: every cockpit watching the
  rollout shows the same countdown, and a restarted cockpit resumes it.
* **Decided once.** Starting a countdown and firing it are decided under the store's decision lock
  (``EventStore.decision_lock``): the cockpit refreshes from the record under the lock and records only
  if no other cockpit did, so two cockpits never start two countdowns or fire twice.
* **Cancel holds.** ``x`` records ``autokill.cancelled`` naming the breach; every cockpit (restarted ones
  included) honours it until that breach closes and a new one opens.
* **No re-arm.** After it fired (or any kill was requested during the breach) the same breach never
  starts another countdown: a metric stuck high kills once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cockpit import events as ev
from cockpit.kill import FlagSwitch, KillReport
from cockpit.plan.model import ThresholdRule
from cockpit.rollout import Rollout
from cockpit.rules import Judgement, Status
from cockpit.state import RolloutState

COUNTDOWN = timedelta(seconds=30)
"""The countdown when neither the plan nor the caller says otherwise."""


class AutoKill:
    """Drive from the monitor loop: ``update(judgements)`` after each evaluation, then ``fire_due()``."""

    def __init__(self, rollout: Rollout, switch: FlagSwitch, *, countdown: timedelta | None = None) -> None:
        self.rollout = rollout
        self.switch = switch
        self.countdown = countdown or rollout.plan.defaults.auto_kill_countdown or COUNTDOWN

    def rules(self) -> dict[str, ThresholdRule]:
        """The current stage's opted-in rules, by metric."""
        stage = self.rollout.current_stage
        if stage is None:
            return {}
        return {r.metric: r for r in stage.thresholds if r.auto_kill}

    # ----------------------------------------------------------------- deciding

    def armable(self, state: RolloutState, metric: str) -> int | None:
        """The open breach of ``metric`` (its seq) if a countdown may start for it, else None: not already
        counting down, not cancelled or fired for this breach, no kill requested since it opened."""
        breach = state.breaches.get(metric)
        if breach is None or metric in state.autokill:
            return None
        seq = breach.opened.seq
        if state.autokill_done.get(metric) == seq:
            return None
        if state.kills and state.kills[-1].seq > seq:
            return None
        return seq

    def update(self, judgements: list[Judgement]) -> None:
        rules = self.rules()
        for j in judgements:
            if j.status not in (Status.BREACH, Status.OK, Status.WARN):
                continue  # stale, no data, error: nothing learned either way; a countdown keeps running
            if j.status != Status.BREACH:
                if j.metric in self.rollout.state.autokill:
                    self._decide_cleared(j.metric)
                continue
            rule = rules.get(j.metric)
            if rule is None:
                continue
            if j.metric not in self.rollout.state.breaches:
                # the record keys the decision by its breach: open it if the monitor has not yet
                self.rollout.open_breach(j.metric, j.value, j.threshold, stage=self.rollout.current_stage.id
                                         if self.rollout.current_stage else "")  # fmt: skip
            state = self.rollout.state
            seq = self.armable(state, j.metric)
            if seq is None:
                continue
            since = state.breaches[j.metric].opened.at
            if self.rollout.now() - since >= rule.auto_kill_after:
                self._decide_start(j, seq, since)

    def _decide_start(self, j: Judgement, seq: int, since: datetime) -> None:
        with self.rollout.store.decision_lock():
            if self.armable(self.rollout.state, j.metric) != seq:  # another cockpit decided meanwhile
                return
            now = self.rollout.now()
            self.rollout.record(
                ev.AUTOKILL_STARTED,
                {
                    "metric": j.metric,
                    "label": j.label,
                    "value": j.value,
                    "threshold": j.threshold,
                    "breach": seq,
                    "breached_for": (now - since).total_seconds(),
                    "countdown": self.countdown.total_seconds(),
                },
            )

    def _decide_cleared(self, metric: str) -> None:
        with self.rollout.store.decision_lock():
            if metric in self.rollout.state.autokill:
                self.rollout.record(
                    ev.AUTOKILL_CANCELLED, {"metric": metric, "reason": "breach cleared", "by": "cockpit"}
                )

    # ----------------------------------------------------------------- the countdowns

    def countdowns(self) -> dict[str, float]:
        """Metric -> seconds until the kill fires (0 when due), as recorded: the same on every cockpit."""
        now = self.rollout.now()
        state = self.rollout.state
        return {
            metric: max(
                (mark.at - now).total_seconds() + state.autokill_countdown.get(metric, self.countdown.total_seconds()),
                0.0,
            )
            for metric, mark in state.autokill.items()
        }

    def _breaches(self, state: RolloutState, metrics: list[str]) -> dict[str, int]:
        return {m: state.breaches[m].opened.seq for m in metrics if m in state.breaches}

    def cancel(self, reason: str = "cancelled by the operator") -> None:
        """Cancel every running countdown for its breach (honoured by every cockpit until the breach closes)."""
        with self.rollout.store.decision_lock():
            state = self.rollout.state
            running = list(state.autokill)
            if not running:
                return
            self.rollout.record(
                ev.AUTOKILL_CANCELLED,
                {"all": True, "metrics": running, "breaches": self._breaches(state, running), "reason": reason},
            )

    async def fire_due(self) -> KillReport | None:
        """Fire the countdowns that reached zero: decided once under the store's decision lock, then the kill."""
        due = [m for m, left in self.countdowns().items() if left <= 0]
        if not due:
            return None
        try:
            with self.rollout.store.decision_lock():
                state = self.rollout.state  # refreshed under the lock: another cockpit may have fired
                due = [m for m in due if m in state.autokill]
                if not due:
                    return None
                self.rollout.record(
                    ev.AUTOKILL_FIRED, {"all": True, "metrics": due, "breaches": self._breaches(state, due)}
                )
        except Exception:
            if not due:
                return None
            # the record failed: the kill below still fires and reports the audit log's failure itself
        return await self.switch.kill(f"auto-kill: {', '.join(due)} breached past the auto-kill limit")

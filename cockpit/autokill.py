"""Auto-kill (opt-in per threshold rule): a breach that outlasts ``auto_kill_after`` starts a visible
countdown; at zero the kill fires unless an operator cancels. Start, cancel and fire are audited.

Countdowns live in the audit log (``autokill.started`` marks), so every cockpit watching the rollout
shows the same countdown and a restarted cockpit resumes it. A cancelled countdown does not restart
for the same breach; it may start again after the metric has recovered and breached anew.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cockpit import events as ev
from cockpit.kill import FlagSwitch, KillReport
from cockpit.plan.model import ThresholdRule
from cockpit.rollout import Rollout

if TYPE_CHECKING:
    from cockpit.rules import Judgement

COUNTDOWN = timedelta(seconds=30)
"""Time between the countdown appearing and the kill firing."""


def _status(judgement: Judgement) -> str:
    return str(getattr(judgement.status, "value", judgement.status)).upper()


class AutoKill:
    """Drive from the monitor loop: ``update(judgements)`` after each evaluation, then ``fire_due()``."""

    def __init__(self, rollout: Rollout, switch: FlagSwitch, *, countdown: timedelta = COUNTDOWN) -> None:
        self.rollout = rollout
        self.switch = switch
        self.countdown = countdown
        self._since: dict[str, datetime] = {}
        """When each metric's current breach was first seen (if the state has no breach for it)."""
        self._suppressed: set[str] = set()
        """Metrics whose countdown was cancelled during the current breach."""

    def rules(self) -> dict[str, ThresholdRule]:
        """The current stage's opted-in rules, by metric."""
        stage = self.rollout.current_stage
        if stage is None:
            return {}
        return {r.metric: r for r in stage.thresholds if r.auto_kill}

    def update(self, judgements: list[Judgement]) -> None:
        now = self.rollout.now()
        rules = self.rules()
        running = self.rollout.state.autokill
        breaches = self.rollout.state.breaches
        for j in judgements:
            status = _status(j)
            if status not in ("BREACH", "OK", "WARN"):
                continue  # stale, no data, error: nothing learned either way; a countdown keeps running
            if status != "BREACH":
                self._since.pop(j.metric, None)
                self._suppressed.discard(j.metric)
                if j.metric in running:
                    self.rollout.record(
                        ev.AUTOKILL_CANCELLED, {"metric": j.metric, "reason": "breach cleared", "by": "cockpit"}
                    )
                continue
            rule = rules.get(j.metric)
            if rule is None or j.metric in running or j.metric in self._suppressed:
                continue
            since = self._since.setdefault(j.metric, j.at or now)
            if j.metric in breaches:
                since = min(since, breaches[j.metric].opened.at)
            if now - since >= rule.auto_kill_after:
                self.rollout.record(
                    ev.AUTOKILL_STARTED,
                    {
                        "metric": j.metric,
                        "label": j.label,
                        "value": j.value,
                        "threshold": j.threshold,
                        "breached_for": (now - since).total_seconds(),
                        "countdown": self.countdown.total_seconds(),
                    },
                )

    def countdowns(self) -> dict[str, float]:
        """Metric -> seconds until the kill fires (0 when due)."""
        now = self.rollout.now()
        return {
            metric: max((mark.at + self.countdown - now).total_seconds(), 0.0)
            for metric, mark in self.rollout.state.autokill.items()
        }

    def cancel(self, reason: str = "cancelled by the operator") -> None:
        running = list(self.rollout.state.autokill)
        if not running:
            return
        self._suppressed.update(running)
        self.rollout.record(ev.AUTOKILL_CANCELLED, {"all": True, "metrics": running, "reason": reason})

    async def fire_due(self) -> KillReport | None:
        due = [m for m, left in self.countdowns().items() if left <= 0]
        if not due:
            return None
        try:
            self.rollout.record(ev.AUTOKILL_FIRED, {"all": True, "metrics": due})
        except Exception:
            pass  # the kill below still fires and reports the audit log's failure itself
        return await self.switch.kill(f"auto-kill: {', '.join(due)} breached past the auto-kill limit")

"""What a running cockpit publishes for ``cockpit fleet``: its plan, its judgements, its last arm check.

The fleet never polls a metric source: it shows each rollout's metric status as the cockpits running it
judged it. After each judging round the monitor hands its judgements here; they are written to the
rollout's history (:meth:`History.put_record`) when something changed (PostgreSQL also NOTIFYs the
fleets) and otherwise every :data:`HEARTBEAT`, so a fleet can tell a fresh judgement from a stale one.
Publishing never gets in the way of judging: a failed write is kept in :attr:`Publisher.error`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from cockpit.plan.data import plan_data
from cockpit.plan.model import Plan
from cockpit.store.audit import AuditError
from cockpit.store.history import History
from cockpit.store.records import ARMED, JUDGED, PLAN, JudgedRow, armed_body, judged_body

HEARTBEAT = timedelta(seconds=10)
"""An unchanged judgement is re-published this often (its time is what the fleet shows as its age)."""


class Publisher:
    """Publishes one rollout's records into its history; ``by`` is who judges (``user@host``)."""

    def __init__(self, history: History, plan: Plan, by: str, path: str = "") -> None:
        self.history = history
        self.plan = plan
        self.by = by
        self.path = path
        """The plan file, so a fleet on this machine can open the rollout with it."""
        self.error = ""
        """The last failed write, one line ("" when fine)."""
        self._plan_done = False
        self._last: tuple[Any, ...] | None = None
        self._last_at: datetime | None = None
        self._failed_at: datetime | None = None

    def judged(self, stage: str, judgements: Sequence[Any], now: datetime) -> bool:
        """Publish a judging round (``cockpit.rules.Judgement`` rows); True when it was written."""
        rows = [JudgedRow(j.metric, j.label, str(j.status), str(j.reason or "")) for j in judgements]
        key = (stage, tuple(rows))
        news = key != self._last
        if not news and self._last_at is not None and now - self._last_at < HEARTBEAT:
            return False
        if self._failed_at is not None and now - self._failed_at < HEARTBEAT:
            return False  # the last write failed (a database without the table, a full disk): not every second
        if not self._put(JUDGED, now, judged_body(stage, rows, self.by), news=news):
            self._failed_at = now
            return False
        self._failed_at = None
        self._last, self._last_at = key, now
        if not self._plan_done:
            self._plan_done = self._put(PLAN, now, {"digest": self.plan.digest, "path": self.path, "data": plan_data(self.plan)})
        return True

    def armed(self, armed: bool, reason: str, now: datetime) -> bool:
        """Publish the kill switch's arm check (ARMED / NOT ARMED and why)."""
        return self._put(ARMED, now, armed_body(armed, reason, self.by))

    def _put(self, kind: str, now: datetime, body: dict[str, Any], *, news: bool = True) -> bool:
        try:
            self.history.put_record(kind, now, body, news=news)
        except (AuditError, OSError, ValueError) as exc:  # the database is down, the disk full: judging goes on
            self.error = f"publishing {kind} for the fleet: {exc}"
            return False
        except Exception as exc:  # sqlite3.Error and the like: never a reason to stop judging
            self.error = f"publishing {kind} for the fleet: {type(exc).__name__}: {exc}"
            return False
        self.error = ""
        return True

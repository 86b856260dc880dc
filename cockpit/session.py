"""The core services the dashboard drives, gathered in one place and passed into the App.

Plain Python (no Textual): tests build one with a fake clock and the simulator as the backend. The
kill switch (httpx and the flag providers) may be connected after the dashboard's first frame
(``build(..., connect=False)`` then :meth:`Services.connect`); asking for it connects it at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.clock import Clock
from cockpit.events import Actor
from cockpit.incident import BreachIncidents
from cockpit.monitor import Monitor
from cockpit.notify import Notifier, attach
from cockpit.plan.load import LoadedPlan
from cockpit.plan.model import format_duration
from cockpit.rollout import Rollout, RolloutError
from cockpit.store.audit import AuditError
from cockpit.store.backend import open_record
from cockpit.store.history import History

if TYPE_CHECKING:
    from cockpit.autokill import AutoKill
    from cockpit.kill import FlagSwitch


@dataclass
class Services:
    """A rollout and what watches and acts on it.

    Attributes:
        rollout: The rollout service (the only writer of events).
        history: Sample history (``cockpit.store.history.History``).
        monitor: Polls and judges metrics; None leaves every panel at NO DATA.
        switch: The kill switch (``cockpit.kill.FlagSwitch``); None offers no kill key.
        autokill: ``cockpit.autokill.AutoKill`` or None.
        live: Poll sources and flags (False: show only the audit log and history, for snapshots).
        notes: Why some metric has no data, by metric (the demo's "no Prometheus here").
        notifier: The plan's webhooks (``cockpit.notify.Notifier``, a rollout listener), or None.
        connected: The kill switch and auto-kill are built (see :meth:`connect`).
    """

    rollout: Rollout
    history: History
    monitor: Monitor | None = None
    switch: FlagSwitch | None = None
    autokill: AutoKill | None = None
    live: bool = True
    notes: dict[str, str] = field(default_factory=dict)
    notifier: Notifier | None = None
    connected: bool = True
    client: Any = field(default=None, repr=False)
    """The HTTP client to share (tests); None: each part makes its own on first use."""
    trouble: str = ""
    """The last store or history error a screen met (:meth:`shield`), shown in the banner until one succeeds."""

    @classmethod
    def open(
        cls,
        loaded: LoadedPlan,
        *,
        readonly: bool = False,
        clock: Clock | None = None,
        actor: Actor | None = None,
        live: bool = True,
        connect: bool = False,
    ) -> Services:
        """The plan's rollout and history, wired (``cockpit`` itself; starts with the database down too).

        On PostgreSQL the store and the history share one link, so an outage (and its end) is noticed once.
        """
        store, history = open_record(loaded, readonly=readonly)
        rollout = Rollout(loaded, store, clock=clock, actor=actor)
        return cls.build(rollout, history, live=live, connect=connect)

    @classmethod
    def build(
        cls, rollout: Rollout, history: History, *, live: bool = True, client: Any = None, connect: bool = True
    ) -> Services:
        """Wire the monitor, breach incidents, webhooks and (``connect``) the kill switch around ``rollout``.

        The monitor judges from the history at once and makes its HTTP client on its first poll.
        A read-only rollout (``cockpit --readonly``) gets no writing listener: no incident opened on a
        breach, no webhook posted (the cockpit that recorded the event notifies).
        """
        monitor = Monitor(rollout, history, client=client)
        notifier = None
        if not rollout.store.readonly:
            rollout.listeners.append(BreachIncidents(rollout))  # a breach opens an incident
            notifier = attach(rollout)  # kill, breach, approval, stage change: the CLI's path too
        services = cls(rollout, history, monitor, live=live, notifier=notifier, connected=False, client=client)
        if connect:
            services.connect()
        return services

    def connect(self) -> None:
        """Build the kill switch (httpx, the flag providers) and auto-kill; once, and at once when asked for."""
        if self.connected:
            return
        # lazy: httpx and the flag providers load after the dashboard's first frame
        from cockpit.autokill import AutoKill
        from cockpit.kill import FlagSwitch

        self.connected = True
        self.switch = FlagSwitch(self.rollout, client=self.client)
        self.autokill = AutoKill(self.rollout, self.switch)

    def gate_blockers(self, judged: tuple[str, list[Any]] | None = None) -> list[Any]:
        """The gate's blockers with the current stage's live thresholds (stale or missing data blocks too);
        ``judged``: (stage id, rows) just judged from the same history, used if that is the current stage."""
        rollout = self.rollout
        current = rollout.current_stage
        if current is None or self.monitor is None:
            return rollout.blockers([])
        if judged is not None and judged[0] == current.id:
            return rollout.blockers(judged[1])
        return rollout.blockers(self.monitor.judge())

    @contextmanager
    def shield(self) -> Iterator[None]:
        """Where the UI calls the store and the history: an error of theirs becomes :attr:`trouble` (shown as
        DEGRADED in the banner), never an exception that ends the dashboard."""
        try:
            yield
        except AuditError as exc:  # DatabaseUnavailable included
            self.trouble = str(self.rollout.loaded.env.redact(str(exc).splitlines()[0] if str(exc) else repr(exc)))
        else:
            self.trouble = ""

    def degraded(self) -> str | None:
        """One line while the shared record or the history is not what it should be, else None."""
        store, history = self.rollout.store, self.history
        parts = []
        if store.degraded or history.degraded:
            up = store.reachable
            parts.append("database reachable, flushing" if up else "database unreachable")
            if not up:
                parts.append(f"last contact {_ago(store.last_contact)}")
            parts.append(f"{store.spooled} event(s) spooled")
            if history.degraded:
                parts.append("charts from this cockpit's polls")
        if self.trouble:
            parts.append(self.trouble)
        return ", ".join(parts) if parts else None

    @property
    def offers_kill(self) -> bool:
        """A kill switch is here, or will be on first use."""
        return self.switch is not None or not self.connected

    def need_switch(self) -> FlagSwitch:
        self.connect()
        if self.switch is None:
            raise RolloutError("the kill switch (cockpit.kill) is not available in this build")
        return self.switch

    def export(self) -> Path:
        """Write the Markdown sign-off into the rollout's state directory (audited); return its path."""
        # lazy: the export's modules only when an export is written
        from cockpit.export.render import write_export
        from cockpit.store.paths import state_dir

        path = state_dir(self.rollout.loaded) / f"signoff-{self.rollout.plan.rollout.id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_export(self.rollout, "md", path, self.history)
        return path

    async def aclose(self) -> None:
        """Stop the monitor's client, the kill switch and the webhooks (queued ones get at most 2 s)."""
        if self.monitor is not None:
            await self.monitor.aclose()
        if self.switch is not None:
            await self.switch.aclose()
        if self.notifier is not None:
            notifier, self.notifier = self.notifier, None
            if notifier in self.rollout.listeners:
                self.rollout.listeners.remove(notifier)
            await asyncio.to_thread(notifier.close)


def _ago(when: datetime | None) -> str:
    if when is None:
        return "never (since start-up)"
    seconds = max((datetime.now(UTC) - when).total_seconds(), 0.0)
    return f"{format_duration(timedelta(seconds=round(seconds)))} ago" if seconds >= 1 else "just now"

"""The core services the dashboard drives, gathered in one place and passed into the App.

Plain Python (no Textual): tests build one with a fake clock and the simulator as the backend. The
kill switch, auto-kill, incident and export modules are looked up when first needed, so the cockpit
still opens (saying what is missing) if a part of the core is absent.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from cockpit.history import History
from cockpit.monitor import Monitor
from cockpit.rollout import Rollout, RolloutError


def optional(module: str) -> ModuleType | None:
    """Import a core module, or None when it is not there (yet)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


@dataclass
class Services:
    """A rollout and what watches and acts on it.

    Attributes:
        rollout: The rollout service (the only writer of events).
        history: Sample history (``cockpit.history.History``).
        monitor: Polls and judges metrics; None leaves every panel at NO DATA.
        switch: The kill switch (``cockpit.kill.FlagSwitch``) or None.
        autokill: ``cockpit.autokill.AutoKill`` or None.
        live: Poll sources and flags (False: show only the audit log and history, for snapshots).
        notes: Why some metric has no data, by metric (the demo's "no Prometheus here").
    """

    rollout: Rollout
    history: History
    monitor: Monitor | None = None
    switch: Any = None
    autokill: Any = None
    live: bool = True
    notes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, rollout: Rollout, history: History, *, live: bool = True, client: Any = None) -> Services:
        """Wire the monitor, the kill switch and auto-kill around ``rollout``."""
        monitor = Monitor(rollout, history, client=client)
        switch = autokill = None
        kill = optional("cockpit.kill")
        if kill is not None:
            switch = kill.FlagSwitch(rollout, client=client)
            auto = optional("cockpit.autokill")
            if auto is not None:
                autokill = auto.AutoKill(rollout, switch)
        incident = optional("cockpit.incident")
        if (
            incident is not None
            and hasattr(incident, "BreachIncidents")
            and not getattr(rollout.store, "readonly", False)
        ):
            rollout.listeners.append(incident.BreachIncidents(rollout))  # a breach opens an incident
        return cls(rollout, history, monitor, switch, autokill, live)

    def need_switch(self) -> Any:
        if self.switch is None:
            raise RolloutError("the kill switch (cockpit.kill) is not available in this build")
        return self.switch

    def export(self) -> Path:
        """Write the Markdown sign-off into the rollout's state directory (audited); return its path."""
        from cockpit.export import write_export
        from cockpit.paths import state_dir

        path = state_dir(self.rollout.loaded) / f"signoff-{self.rollout.plan.rollout.id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_export(self.rollout, "md", path, self.history)
        return path

    async def aclose(self) -> None:
        if self.monitor is not None:
            await self.monitor.aclose()
        if self.switch is not None and hasattr(self.switch, "aclose"):
            await self.switch.aclose()

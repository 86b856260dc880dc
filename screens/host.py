"""What the dashboard's parts need from the App that hosts them, as protocols (no import of the App).

The Apps (:mod:`screens.app`, and :mod:`screens.fleet_app` with a dashboard over its fleet) implement
:class:`CockpitHost`; the dashboard, its action parts and the screens it opens (help, the command palette,
the incident view) type ``self.app`` with it, so the import arrow points one way: app -> dashboard -> parts.
"""

from __future__ import annotations

from typing import Any, Protocol


class DemoHooks(Protocol):
    """What ``cockpit demo`` adds: a next-step hint and control of the simulator."""

    header: list[str]
    """What the demo stands in for (no Prometheus, no PostgreSQL), said once in the header."""
    notes: dict[str, str]
    """Why a metric shows NO DATA, by metric (shown in its panel)."""

    def hint(self, rollout: object, blockers: list[Any] | None = None) -> str: ...
    def flood(self, rollout: Any) -> str: ...
    def after_kill(self) -> None: ...
    def keep(self, path: Any) -> Any: ...


class CockpitHost(Protocol):
    """The App, as the dashboard's parts see it."""

    readonly: bool
    """Offer no key that writes (the store refuses writes too)."""
    demo: DemoHooks | None
    """The demo's hooks, or None."""
    keymap: dict[str, str]
    """The plan's ``[keys]``: each remapped action's key, by binding id (empty: the default keys)."""

    def push_screen(self, screen: Any, callback: Any = None) -> Any: ...

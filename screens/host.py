"""What the dashboard's parts need from the App that hosts them, as protocols (no import of the App).

The App (:mod:`screens.app`) implements :class:`CockpitHost`; the dashboard's action
parts type ``self.app`` with it, so the import arrow points one way: app -> dashboard -> parts.
"""

from __future__ import annotations

from typing import Any, Protocol


class DemoHooks(Protocol):
    """What ``cockpit demo`` adds: a next-step hint and control of the simulator."""

    header: list[str]
    """What the demo stands in for (no Prometheus, no PostgreSQL), said once in the header."""

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

    def push_screen(self, screen: Any, callback: Any = None) -> Any: ...

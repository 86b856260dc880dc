"""Every dashboard action in the command palette (Ctrl+P), with its current key."""

from __future__ import annotations

from functools import partial
from typing import cast

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from screens.actions import BINDINGS, DESCRIPTIONS
from screens.dashboard import DashboardScreen
from screens.host import CockpitHost

KEYS = {b.id: b.key for b in BINDINGS if isinstance(b, Binding) and b.id}
"""Each action's default key (the plan's ``[keys]`` may remap it)."""


class CockpitCommands(Provider):
    """The dashboard's actions that make sense right now (``check_action``), searchable by description."""

    @property
    def host(self) -> CockpitHost:
        """The App (the cockpit's, or the fleet's under a dashboard), as the dashboard sees it."""
        return cast(CockpitHost, self.app)

    def _actions(self) -> list[tuple[str, str]]:
        screen = next((s for s in self.app.screen_stack if isinstance(s, DashboardScreen)), None)
        found = []
        for action, text in DESCRIPTIONS.items():
            if action in ("help", "quit"):
                found.append((action, text))
                continue
            if isinstance(screen, DashboardScreen) and screen.check_action(action, ()) is not False:
                found.append((action, text))
        return found

    async def _run(self, action: str) -> None:
        if action in ("help", "quit"):
            await self.app.run_action(action)
            return
        for screen in self.app.screen_stack:
            if isinstance(screen, DashboardScreen):
                await screen.run_action(action)

    def key(self, action: str) -> str:
        """The action's key as the key bar shows it (remapped by the plan's ``[keys]``)."""
        key = self.host.keymap.get(action, KEYS.get(action, ""))
        return self.app.get_key_display(Binding(key, action)) if key else ""

    def label(self, action: str, text: str) -> str:
        key = self.key(action)
        return f"{text} · key {key}" if key else text

    async def discover(self) -> Hits:
        for action, text in self._actions():
            yield DiscoveryHit(self.label(action, text), partial(self._run, action), help=f"key: {self.key(action)}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for action, text in self._actions():
            label = self.label(action, text)
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(self._run, action), help=f"key: {self.key(action)}")

"""The fleet's actions in the command palette (Ctrl+P); over a dashboard, the dashboard's are offered."""

from __future__ import annotations

from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from screens.fleet import FleetScreen
from screens.fleet_keys import BINDINGS, describe


class FleetCommands(Provider):
    """The fleet's actions in the command palette (Ctrl+P), searchable by description."""

    def _screen(self) -> FleetScreen | None:
        return next((s for s in self.app.screen_stack if isinstance(s, FleetScreen)), None)

    async def _run(self, action: str) -> None:
        screen = self._screen()
        if screen is not None:
            await screen.run_action(action)

    def _actions(self) -> list[tuple[str, str]]:
        if self._screen() is None or not isinstance(self.app.screen, FleetScreen):
            return []  # over a dashboard, the dashboard's actions are the ones offered
        return [(b.action, describe(b)) for b in BINDINGS if isinstance(b, Binding)]

    async def discover(self) -> Hits:
        for action, text in self._actions():
            yield DiscoveryHit(text, partial(self._run, action), help=f"action: {action}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for action, text in self._actions():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self._run, action), help=f"action: {action}")

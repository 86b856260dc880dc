"""Every dashboard action in the command palette (Ctrl+P), with its current key."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from screens.actions import DESCRIPTIONS


class CockpitCommands(Provider):
    """The dashboard's actions that make sense right now (``check_action``), searchable by description."""

    def _actions(self) -> list[tuple[str, str]]:
        from screens.dashboard import DashboardScreen

        screen = next((s for s in self.app.screen_stack if isinstance(s, DashboardScreen)), None)
        found = []
        for action, text in DESCRIPTIONS.items():
            if action in ("help", "quit"):
                found.append((action, text))
                continue
            if isinstance(screen, DashboardScreen) and screen.check_action(action, ()):
                found.append((action, text))
        return found

    async def _run(self, action: str) -> None:
        from screens.dashboard import DashboardScreen

        if action in ("help", "quit"):
            await self.app.run_action(action)
            return
        for screen in self.app.screen_stack:
            if isinstance(screen, DashboardScreen):
                await screen.run_action(action)

    async def discover(self) -> Hits:
        for action, text in self._actions():
            yield DiscoveryHit(text, partial(self._run, action), help=f"action: {action}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for action, text in self._actions():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self._run, action), help=f"action: {action}")

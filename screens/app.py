"""The cockpit App: the dashboard for one plan, keys remappable from the plan's ``[keys]`` table."""

from __future__ import annotations

import asyncio
import signal
from typing import Protocol

from textual.app import App
from textual.binding import Binding

from screens.commands import CockpitCommands
from screens.dashboard import DashboardScreen
from screens.services import Services


class DemoHooks(Protocol):
    """What ``cockpit demo`` adds: a next-step hint and control of the simulator."""

    def hint(self, rollout: object) -> str: ...
    def flood(self) -> None: ...
    def after_kill(self) -> None: ...


class CockpitApp(App[None]):
    """The rollout cockpit.

    Args:
        services: The rollout, its history, the monitor and the kill switch (see ``screens.services``).
        readonly: Offer no key that writes (the store refuses writes too).
        demo: The demo's hooks, or None.
    """

    TITLE = "Rollout Cockpit"
    COMMANDS = App.COMMANDS | {CockpitCommands}
    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", id="help", show=False),
        Binding("q", "quit", "Quit", id="quit", show=False),
    ]

    def __init__(self, services: Services, *, readonly: bool = False, demo: DemoHooks | None = None) -> None:
        super().__init__()
        self.services = services
        self.readonly = readonly
        self.demo = demo
        self.keymap: dict[str, str] = dict(services.rollout.plan.keys)

    def on_mount(self) -> None:
        if self.keymap:
            self.set_keymap(self.keymap)
        try:  # a dropped SSH session: exit cleanly (everything is already in the log)
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.exit)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
        self.push_screen(DashboardScreen(self.services))

    def action_help(self) -> None:
        from screens.help import HelpScreen

        self.push_screen(HelpScreen())

    async def on_unmount(self) -> None:
        await self.services.aclose()

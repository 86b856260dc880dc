"""The fleet App: the fleet screen, and one rollout's dashboard over it at a time (Escape comes back).

On a shared PostgreSQL record the App ``LISTEN``s once for every rollout (:meth:`PgFleet.listen`):
another process's approval, tick or kill is read and on screen within a second.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message

from cockpit.fleet.open import close_services
from cockpit.fleet.watch import Fleet
from cockpit.session import Services
from screens.commands import CockpitCommands
from screens.dashboard import DashboardScreen
from screens.fleet import FleetScreen
from screens.fleet_commands import FleetCommands
from screens.fleet_help import FleetHelp
from screens.help import HelpScreen
from screens.host import DemoHooks


class FleetApp(App[None]):
    """Every rollout at a glance.

    Args:
        fleet: The rollouts (``cockpit.fleet.watch.Fleet``), read by the screen.
        readonly: Offer no key that writes, here and in the dashboards opened from here.
    """

    TITLE = "Rollout Cockpit · fleet"
    COMMANDS = App.COMMANDS | {CockpitCommands, FleetCommands}
    BINDINGS = [Binding("escape", "back", "Back to the fleet", id="fleet.back", show=False)]

    def __init__(self, fleet: Fleet, *, readonly: bool = False) -> None:
        super().__init__()
        self.fleet = fleet
        self.fleet_readonly = readonly
        self.readonly = readonly
        """What the dashboard on top offers (the :class:`screens.host.CockpitHost` the dashboard sees)."""
        self.demo: DemoHooks | None = None
        self.keymap: dict[str, str] = {}
        self.opened: Services | None = None
        """The rollout whose dashboard is open, or None."""

    @dataclass
    class Heard(Message):
        """PostgreSQL announced a change: read the record now."""

    def on_mount(self) -> None:
        self.push_screen(FleetScreen(self.fleet, readonly=self.fleet_readonly))
        if self.fleet.pg is not None:
            self.listen()

    @work(thread=True, group="fleet-listen", exit_on_error=False)
    def listen(self) -> None:
        """LISTEN in the fleet's thread (connecting may take a moment, so not on the UI loop)."""
        assert self.fleet.pg is not None

        def heard(channel: str, rollout: str) -> None:
            self.fleet.heard(channel, rollout)
            if self.is_running:
                try:
                    self.call_from_thread(self.post_message, self.Heard())
                except RuntimeError:  # stopped meanwhile
                    pass

        self.fleet.pg.listen(heard)

    @on(Heard)
    def heard(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, FleetScreen):
                screen.read()

    # ----------------------------------------------------------------- one rollout

    def open_dashboard(self, services: Services, *, readonly: bool) -> None:
        """Open ``services``' dashboard over the fleet (read-only if asked or if the fleet is)."""
        self.opened = services
        self.readonly = readonly or self.fleet_readonly
        screen = DashboardScreen(services)
        self.push_screen(screen)
        self.call_after_refresh(screen.after_first_frame)

    async def action_back(self) -> None:
        """Escape on a dashboard: back to the fleet (the dashboard's workers stop with it)."""
        if not isinstance(self.screen, DashboardScreen):
            return
        await self.pop_screen()
        services, self.opened = self.opened, None
        self.readonly = self.fleet_readonly
        if services is not None:
            await close_services(services)
        for screen in self.screen_stack:
            if isinstance(screen, FleetScreen):
                screen.read()

    def action_help(self) -> None:
        """``?`` (bound to ``app.help`` on both screens): the fleet's keys, or the dashboard's over a dashboard."""
        self.push_screen(FleetHelp() if isinstance(self.screen, FleetScreen) else HelpScreen())

    async def on_unmount(self) -> None:
        services, self.opened = self.opened, None
        if services is not None:
            await close_services(services)
        await asyncio.to_thread(self.fleet.close)

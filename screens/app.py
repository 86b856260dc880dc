"""The cockpit App: the dashboard for one plan, keys remappable from the plan's ``[keys]`` table.

On a shared PostgreSQL record the App ``LISTEN``s (``store.subscribe``): another cockpit's approval,
tick, kill, breach or stage change redraws this dashboard within a second, without waiting for a poll.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message

from cockpit.session import Services
from screens.commands import CockpitCommands
from screens.dashboard import DashboardScreen
from screens.help import HelpScreen
from screens.host import DemoHooks
from screens.prompts import ConfirmPrompt

if TYPE_CHECKING:
    from cockpit.kill import FlagSwitch  # httpx: loaded after the first frame, with the switch

HANGUP_GRACE = 5.0
"""Seconds a cockpit whose terminal is gone gets to exit cleanly before it is ended."""


def _end_after(seconds: float) -> None:
    time.sleep(seconds)
    os._exit(129)  # 128 + SIGHUP, as a shell reports a hangup


class CockpitApp(App[None]):
    """The rollout cockpit.

    Args:
        services: The rollout, its history, the monitor and the kill switch (see ``cockpit.session``).
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
        self.notified = 0
        """The newest event seq another cockpit (or this one) announced through the store."""
        self._unsubscribe: Callable[[], None] | None = None
        stdin = sys.__stdin__
        self._tty = stdin.fileno() if stdin is not None and not stdin.closed else -1
        """The terminal we start on (``cockpit`` refuses to start without one), noted before the driver runs:
        it may have hung up already (no longer a tty), which :meth:`check_terminal` takes as gone."""
        self._resume: Any = None
        """Textual's SIGCONT handler, called by ours while the terminal lives."""

    @dataclass
    class StoreChanged(Message):
        """The shared record has a new event ``seq`` (from any cockpit): redraw from the log."""

        seq: int

    def on_mount(self) -> None:
        if self.keymap:
            self.set_keymap(self.keymap)
        for signum, handler in ((signal.SIGHUP, self.hang_up), (signal.SIGTERM, self.exit)):
            try:  # a dropped SSH session, or `kill`: exit cleanly, so what the demo started is stopped
                asyncio.get_running_loop().add_signal_handler(signum, handler)  # (everything is in the log)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        if not self.is_headless and self._tty >= 0:
            self._resume = signal.getsignal(signal.SIGCONT)
            signal.signal(signal.SIGCONT, self._on_sigcont)
        self.push_screen(DashboardScreen(self.services))
        self.subscribe()  # PostgreSQL: LISTEN for other cockpits' events (the file log never calls back)
        if not self.is_headless and self._tty >= 0:
            self.set_interval(1.0, self.check_terminal)
            self.check_terminal()  # it may have gone while we started (a tmux server killed at launch)

    def terminal_gone(self) -> bool:
        """The terminal we started on was closed (its node removed) or hung up."""
        try:
            return os.fstat(self._tty).st_nlink == 0 or not os.isatty(self._tty)
        except OSError:
            return True

    def check_terminal(self) -> None:
        """Exit cleanly if the terminal is gone without a SIGHUP (its pseudo-terminal closed under a cockpit
        that was not its controlling process): Textual would otherwise spin on its end of file."""
        if self.terminal_gone():
            self.hang_up()

    def _on_sigcont(self, signum: int, frame: Any) -> None:
        """A hangup comes as SIGHUP *and* SIGCONT: Textual's SIGCONT handler would re-enter application mode
        on the dead terminal (and can deadlock the exit); resume only on a live one."""
        if self.terminal_gone():
            return
        resume = self._resume
        if callable(resume):
            resume(signum, frame)

    def hang_up(self) -> None:
        """The terminal is gone: exit cleanly; if the exit itself hangs (nothing left to draw on), end the
        process after ``HANGUP_GRACE`` seconds anyway (every event is already durable in the record). A kill
        pressed just before the session dropped finishes first: the grace covers its deadline."""
        grace = max(HANGUP_GRACE, self.services.rollout.plan.defaults.kill_deadline.total_seconds() + 2.0)
        threading.Thread(target=_end_after, args=(grace,), name="cockpit-hangup", daemon=True).start()
        self.exit()

    def on_ready(self) -> None:
        """The first frame is on screen: the dashboard adds its metric panels and starts polling."""
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen):
                self.call_after_refresh(screen.after_first_frame)

    # ----------------------------------------------------------------- live record (PostgreSQL)

    @property
    def listening(self) -> bool:
        """True once the store's LISTEN is in effect (a PostgreSQL store)."""
        return self._unsubscribe is not None

    @work(thread=True, group="subscribe", exit_on_error=False)
    def subscribe(self) -> None:
        """LISTEN in the store's thread (connecting may take a moment, so not on the UI loop)."""
        unsubscribe = self.services.rollout.store.subscribe(self._heard)
        if not self.is_running:  # quit while connecting
            unsubscribe()
            return
        self._unsubscribe = unsubscribe
        self.call_from_thread(self.post_message, self.StoreChanged(0))  # whatever came before LISTEN

    def _heard(self, seq: int) -> None:
        """The store's callback, in its listener thread."""
        if self._unsubscribe is None or not self.is_running:
            return
        try:
            self.call_from_thread(self.post_message, self.StoreChanged(seq))
        except RuntimeError:  # the app has stopped meanwhile
            pass

    @on(StoreChanged)
    def store_changed(self, message: StoreChanged) -> None:
        self.notified = max(self.notified, message.seq)
        with self.services.shield():
            self.services.rollout.refresh()
        for screen in self.screen_stack:  # the dashboard may be under the audit or incident view
            if isinstance(screen, DashboardScreen) and screen.is_mounted:
                screen.refresh_view(metrics=False)

    async def action_quit(self) -> None:
        """Quit; with a breach or an incident open, ask first (nothing is lost either way: it is all in the
        log, but the engineer who quits is the one watching). A kill that is running finishes first."""
        switch = self.services.switch
        if switch is not None and switch.killing:  # its flags driven and its result recorded, then the question
            self.notify("The kill is running: quitting when it has finished.", severity="warning")
            self.run_worker(self._quit_after_kill(switch), group="quit", exclusive=True)
            return
        state = self.services.rollout.state
        open_now = [f"breach of {m}" for m in state.breaches]
        if state.open_incident is not None:
            open_now.append(f"incident #{state.open_incident.id}")
        if not open_now or isinstance(self.screen, ConfirmPrompt):
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        question = (
            f"Open now: {', '.join(open_now)}. Quit anyway? Nothing is lost (reopening rebuilds everything "
            "from the log), but no one here is watching the rollout then."
        )
        self.push_screen(ConfirmPrompt(question, "y or Enter quit · n or Esc stay"), answered)

    async def _quit_after_kill(self, switch: FlagSwitch) -> None:
        await switch.settle()
        await self.action_quit()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def on_unmount(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            await asyncio.to_thread(unsubscribe)  # joins the listener thread (bounded)
        await self.services.aclose()

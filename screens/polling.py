"""The dashboard's workers: each metric polled on its own re-armed grid, judging on its own re-armed
timer (no source I/O), and the kill switch's flags read in a worker of their own.

Workers call plain core functions (``Monitor.poll_metric``, ``Monitor.evaluate``, ``KillSwitch.arm``)
and report back as Messages; the screen that mixes this in redraws from the log and the history.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from textual import work
from textual.message import Message

if TYPE_CHECKING:
    from screens.app import CockpitApp
    from screens.services import Services


class Polling:
    """Mixin for the dashboard screen: polls, judgements and the arm check, each re-armed after it ends."""

    @dataclass
    class Sampled(Message):
        """A new sample of ``metric`` is in the history: its panel (and chart) redraw."""

        metric: str

    @dataclass
    class Judged(Message):
        """Judgements were evaluated from history (breaches, auto-kill); no source was polled."""

        fired: list[str] = field(default_factory=list)
        error: str = ""

    @dataclass
    class Armed(Message):
        """The kill switch was checked (its flags read): ARMED / NOT ARMED."""

        arm: Any = None
        error: str = ""

    services: Services
    arm: Any
    _last_arm: datetime | None
    _arming: bool
    _due: dict[str, tuple[float, float]]

    if TYPE_CHECKING:  # the screen supplies these
        app: CockpitApp

        def post_message(self, message: Message) -> bool: ...
        def set_timer(self, delay: float, callback: Any = None) -> Any: ...
        def show_result(self, lines: list[str], *, error: bool = False) -> None: ...
        def refresh_view(self, *, metrics: bool = True) -> None: ...
        def redraw_metric(self, metric: str) -> None: ...

    def init_polling(self) -> None:
        """Nothing read or armed yet (call from the screen's ``__init__``)."""
        self.arm = None
        self._last_arm = None
        self._arming = False
        self._due = {}
        """Per metric: when its current slot started (monotonic) and its interval (real seconds)."""
        self._pollers: dict[str, Any] = {}

    @property
    def speed(self) -> float:
        """How much faster than real time the rollout's clock runs (the demo's accelerated clock)."""
        return float(getattr(self.services.rollout.clock, "speed", 1.0) or 1.0)

    @property
    def judge_period(self) -> float:
        """Real seconds between judgements: the poll interval, at most 1 s (judging does no source I/O)."""
        interval = self.services.rollout.plan.defaults.poll_interval.total_seconds() / self.speed
        return min(max(interval, 0.2), 1.0)

    def start_polling(self) -> None:
        """Each metric on its own grid (``Monitor.schedule``: staggered phases), one poll at a time."""
        monitor = self.services.monitor
        if monitor is None:
            return
        start = time.monotonic()
        for name, (phase, interval) in monitor.schedule(speed=self.speed).items():
            self._due[name] = (start + phase, interval)
            if phase:
                self.set_timer(phase, self._poller(name))
            else:
                self.poll_metric(name)

    def _poller(self, name: str) -> Any:
        """``poll_metric(name)`` as one callable per metric, made once: Textual inspects a new callable's
        signature on each call, and a timer per poll would pay that every few seconds."""
        poller = self._pollers.get(name)
        if poller is None:
            poller = self._pollers[name] = partial(self.poll_metric, name)
        return poller

    @work(group="sources", exit_on_error=False)
    async def poll_metric(self, name: str) -> None:
        """Poll one metric once; its next poll is armed when this one has finished (a hung source
        delays only itself, and is never polled twice at once)."""
        try:
            if self.services.monitor is not None:
                await self.services.monitor.poll_metric(name)
        finally:
            self.post_message(self.Sampled(name))

    def on_polling_sampled(self, message: Sampled) -> None:
        due, interval = self._due.get(message.metric, (time.monotonic(), 0.0))
        if interval:  # re-arm on the metric's grid; an overrun slot starts the grid again now
            now = time.monotonic()
            due = max(due + interval, now)
            self._due[message.metric] = (due, interval)
            if due > now:
                self.set_timer(due - now, self._poller(message.metric))
            else:  # an overrun slot: poll again now (a zero-second Textual timer would die dividing by zero)
                self.poll_metric(message.metric)
        self.redraw_metric(message.metric)

    @work(group="judge", exclusive=True, exit_on_error=False)
    async def judge_rules(self) -> None:
        """Judge from history (open/close breaches, auto-kill); readonly only judges. Re-armed after each."""
        s = self.services
        rollout = s.rollout
        message = self.Judged()
        try:
            rollout.refresh()
            if s.monitor is not None:
                judgements = s.monitor.judge() if self.app.readonly else s.monitor.evaluate()
                if s.autokill is not None and not self.app.readonly:
                    s.autokill.update(judgements)
                    report = await s.autokill.fire_due()
                    if report is not None:
                        message.fired = list(report.summary())
            now = rollout.now()
            due = self._last_arm is None or now - self._last_arm >= rollout.plan.defaults.arm_interval
            if s.switch is not None and due and not self._arming:
                self._last_arm, self._arming = now, True
                self.arm_switch()
        except Exception as exc:  # one bad judgement is shown, the next one is still armed
            message.error = str(rollout.loaded.env.redact(f"judging failed: {type(exc).__name__}: {exc}"))
        self.post_message(message)

    @work(group="arm", exit_on_error=False)
    async def arm_switch(self) -> None:
        """Read the flags once (its own worker: a slow provider delays neither polls nor judgements)."""
        message = self.Armed()
        try:
            message.arm = await self.services.need_switch().arm()
        except Exception as exc:
            message.error = str(
                self.services.rollout.loaded.env.redact(f"arm check failed: {type(exc).__name__}: {exc}")
            )
        finally:
            self._arming = False
        self.post_message(message)

    def on_polling_armed(self, message: Armed) -> None:
        if message.arm is not None:
            self.arm = message.arm
        elif message.error:
            self.show_result([message.error], error=True)
        self.refresh_view(metrics=False)

    def on_polling_judged(self, message: Judged) -> None:
        if message.fired:
            self.show_result(["AUTO-KILL FIRED", *message.fired], error=True)
        elif message.error:
            self.show_result([message.error], error=True)
        self.refresh_view()
        self.set_timer(self.judge_period, self.judge_rules)  # re-arm after this one, never on a fixed beat

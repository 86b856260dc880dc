"""What watches the rollout for the dashboard: the polls (one long-lived worker running the core's own
scheduler, ``Monitor.run``: each metric on its own staggered grid, re-armed after each poll, so a hung
source delays only itself), judging in a loop of its own (no source I/O), and the kill switch's flags read
in a worker of their own.

The :class:`Watcher` is a widget that draws nothing: the dashboard composes it, and what its workers find
comes to the screen as messages (``Watcher.Sampled``, ``Watcher.Judged``, ``Watcher.Armed``; a newer
sample of one metric replaces one still queued). Workers call plain core functions (``Monitor.run``,
``Monitor.evaluate``, ``FlagSwitch.arm``). Long-lived loops rather than a worker and a timer per poll:
those cost more CPU than the polls themselves.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from textual import work
from textual.message import Message
from textual.widget import Widget

from cockpit.session import Services
from cockpit.store.history import Sample


class Watcher(Widget):
    """Polls, judgements and the arm check of one dashboard.

    Args:
        services: The rollout and what watches it (``cockpit.session``).
        readonly: Judge only (a viewer opens or closes no breach and fires no auto-kill).
    """

    DEFAULT_CSS = "Watcher { display: none; }"

    @dataclass
    class Sampled(Message):
        """A new sample of ``metric`` is in the history: its panel (and chart) redraw."""

        metric: str

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, Watcher.Sampled) and message.metric == self.metric

    @dataclass
    class Judged(Message):
        """Judgements were evaluated from history (breaches, auto-kill); no source was polled."""

        fired: list[str] = field(default_factory=list)
        error: str = ""
        stage: str = ""
        judgements: list[Any] = field(default_factory=list)
        """The judged stage's rows (the panels show them instead of judging the same history again)."""

    @dataclass
    class Armed(Message):
        """The kill switch was checked (its flags read): ARMED / NOT ARMED."""

        arm: Any = None
        error: str = ""
        seq: int = 0
        """The events folded when the flags were read: a flag event after it is newer than the reading."""

    def __init__(self, services: Services, *, readonly: bool = False) -> None:
        super().__init__(id="watcher")
        self.services = services
        self.readonly = readonly
        self.arm: Any = None
        """The last arm check's result (``FlagSwitch.arm``), or None until the flags were read."""
        self.armed_seq = 0
        """The events folded when the shown readings were taken (``Armed.seq``)."""
        self.last_arm: datetime | None = None
        """When the flags were last read (rollout time); None makes the next judging round read them."""
        self._arming = False

    def read_flags_again(self) -> None:
        """The last reading is stale (a kill, a canary step): the next judging round reads the flags."""
        self.arm, self.last_arm = None, None

    @property
    def speed(self) -> float:
        """How much faster than real time the rollout's clock runs (the demo's accelerated clock)."""
        return self.services.rollout.clock.speed or 1.0

    @property
    def judge_period(self) -> float:
        """Real seconds between judgements: the poll interval, at most 1 s (judging does no source I/O)."""
        interval = self.services.rollout.plan.defaults.poll_interval.total_seconds() / self.speed
        return min(max(interval, 0.2), 1.0)

    def start(self) -> None:
        """Poll every metric on its own grid, and judge, until the screen goes."""
        if self.services.monitor is not None:
            self.run_polls()
        self.judge_rules()

    @work(group="sources", exit_on_error=False)
    async def run_polls(self) -> None:
        monitor = self.services.monitor

        def sampled(sample: Sample) -> None:
            self.post_message(self.Sampled(sample.metric))

        if monitor is not None:
            await monitor.run(sampled, speed=self.speed)

    @work(group="judge", exclusive=True, exit_on_error=False)
    async def judge_rules(self) -> None:
        """Judge from history every ``judge_period`` until the screen goes (open/close breaches, auto-kill;
        readonly only judges); each round's outcome goes to the screen as a ``Judged`` message."""
        while True:
            self.post_message(await self.judge_once())
            await asyncio.sleep(self.judge_period)

    async def judge_once(self) -> Watcher.Judged:
        s = self.services
        rollout = s.rollout
        message = self.Judged()
        try:
            rollout.refresh()
            if s.monitor is not None:
                judgements = s.monitor.judge() if self.readonly else s.monitor.evaluate()
                message.stage, message.judgements = s.monitor.stage().id, judgements
                if s.autokill is not None and not self.readonly:
                    s.autokill.update(judgements)
                    report = await s.autokill.fire_due()
                    if report is not None:
                        message.fired = list(report.summary())
            now = rollout.now()
            due = self.last_arm is None or now - self.last_arm >= rollout.plan.defaults.arm_interval
            if s.switch is not None and due and not self._arming:
                self.last_arm, self._arming = now, True
                self.arm_switch()
        except Exception as exc:  # one bad judgement is shown, the next one still comes
            message.error = str(rollout.loaded.env.redact(f"judging failed: {type(exc).__name__}: {exc}"))
        return message

    @work(group="arm", exit_on_error=False)
    async def arm_switch(self) -> None:
        """Read the flags once (its own worker: a slow provider delays neither polls nor judgements)."""
        message = self.Armed(seq=self.services.rollout.state.count)
        try:
            message.arm = await self.services.need_switch().arm()
            monitor, now = self.services.monitor, self.services.rollout.now()
            if monitor is not None and not self.readonly:  # published for `cockpit fleet`
                monitor.publisher.armed(message.arm.armed, message.arm.reason, now)
        except Exception as exc:
            message.error = str(
                self.services.rollout.loaded.env.redact(f"arm check failed: {type(exc).__name__}: {exc}")
            )
        finally:
            self._arming = False
        if message.arm is not None:
            self.arm, self.armed_seq = message.arm, message.seq
        self.post_message(message)

"""Time, passed in: the cockpit never calls ``datetime.now()`` itself, so tests can move time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    speed: float
    """How many times faster than real time the clock runs (1.0 but for the demo's :class:`ScaledClock`)."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """Wall-clock time."""

    speed = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to."""

    speed = 1.0
    """What the dashboard paces its judging by (real seconds): this clock itself moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2024, 12, 12, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        self._now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


class ScaledClock:
    """Wall-clock time sped up ``speed`` times from the moment it is made (the demo's accelerated time)."""

    def __init__(self, speed: float, base: Clock | None = None) -> None:
        self._base = base or SystemClock()
        self._start = self._base.now()
        self._anchor = self._start
        """What ``now()`` said when the pace last changed (at base time ``_start``)."""
        self.speed = speed

    def now(self) -> datetime:
        return self._anchor + (self._base.now() - self._start) * self.speed

    def set_speed(self, speed: float) -> None:
        """Change the pace from now on; the time goes on from where it is (no jump)."""
        self._anchor, self._start = self.now(), self._base.now()
        self.speed = speed

"""An event store for a kill whose plan does not say where the audit log is: it reads nothing and refuses
every append, so the kill drives the flags and says the record could not be written."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

from cockpit.events import Actor, Event, Sign
from cockpit.store.audit import CutShort, TornTail


class UnwritableStore:
    """The event store when the plan does not say where the audit log is: reads nothing, refuses appends."""

    readonly = False
    torn: TornTail | CutShort | None = None
    degraded = False
    spooled = 0

    def __init__(self, why: str) -> None:
        self.why = why

    def append(
        self,
        type: str,
        payload: dict[str, Any],
        actor: Actor,
        time: datetime,
        *,
        guard: Callable[[], None] | None = None,
        sign: Sign | None = None,
    ) -> Event:
        raise OSError(f"no audit log: {self.why}")

    def read(self, after: int = 0) -> list[Event]:
        return []

    def head(self) -> tuple[int, str]:
        return 0, ""

    reachable = True
    last_contact: datetime | None = None

    def subscribe(self, callback: Callable[[int], None]) -> Callable[[], None]:
        return _nothing

    def decision_lock(self) -> AbstractContextManager[None]:
        return nullcontext()

    def close(self) -> None:
        pass


def _nothing() -> None:
    """What :meth:`UnwritableStore.subscribe` returns: nothing to undo."""

"""The state a cockpit believes: the events of a store folded incrementally, each checked against the chain.

An event is believed only if it continues the chain: its content matches its hash, its sequence number follows,
its ``prev`` is the hash before it. At the first break (a line edited by hand, removed or spliced in) nothing
more is folded: the state is as of the event before it, and :attr:`StateReader.broken` says where. The
:class:`~cockpit.rollout.Rollout` reads its state through one of these and refuses to record on a broken chain.
"""

from __future__ import annotations

from cockpit.events import Event
from cockpit.state.fold import RolloutState
from cockpit.store.audit import ChainProblem, EventStore, chain_problem


class StateReader:
    """One store's events, folded as far as the chain holds."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.state = RolloutState()
        self.broken: ChainProblem | None = None
        """Where the chain breaks; None while it holds."""

    def refresh(self) -> list[Event]:
        """Fold the events appended since the last refresh (by this or another cockpit); return them."""
        if self.broken is not None:
            return []
        new = self.store.read(self.state.count)
        if new and new[0].prev != self.state.head:
            # the chain under us changed (events spooled offline were re-sealed on a newer head): rebuild
            new = self.store.read(0)
            self.state = RolloutState()
        problem = chain_problem(new, self.state.head, self.state.count)
        if problem is not None:
            self.broken = problem
            new = new[: problem.line - 1 - self.state.count]
        self.state.apply_all(new)
        return new

    def broken_message(self) -> str:
        """One line on the broken chain ("" while it holds)."""
        if self.broken is None:
            return ""
        return (
            f"the audit log's chain is broken at event {self.broken.line} ({self.broken.kind}: "
            f"{self.broken.message}); nothing after it is believed: run 'cockpit audit verify'"
        )

"""What a refused action raises: its message says why, in the operator's words."""

from __future__ import annotations

from cockpit.gates import Blocker


class RolloutError(Exception):
    """An action was refused; the message says why, in the operator's words."""


class GateClosed(RolloutError):
    def __init__(self, action: str, blockers: list[Blocker]) -> None:
        lines = "\n".join(f"  - {b.message}" for b in blockers)
        super().__init__(f"gate closed, cannot {action}:\n{lines}\n(override with a typed reason if you must)")
        self.blockers = blockers

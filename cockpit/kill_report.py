"""What a kill reports: each flag's outcome (verified off, or MAY STILL BE ON and why), the verdict, and the
manual backout for what may still be on (each flag's backout, its stage's command, and the point-of-no-return
warning whenever it applies). :mod:`cockpit.kill` drives the flags; the CLI, the dashboard and the fleet show
this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cockpit.gates import backout_warning
from cockpit.plan.model import Plan
from cockpit.state import RolloutState


@dataclass(frozen=True)
class FlagOutcome:
    flag: str
    verified_off: bool
    attempts: int
    """Off calls made; 0 when the flag's provider could not be used at all."""
    error: str

    def line(self) -> str:
        """``NAME: OFF (verified)`` or ``NAME: MAY STILL BE ON: why [after N attempts]``."""
        if self.verified_off:
            return f"{self.flag}: OFF (verified)"
        tries = f" after {self.attempts} attempt" + ("s" if self.attempts != 1 else "") if self.attempts else ""
        return f"{self.flag}: MAY STILL BE ON: {self.error}{tries}"


@dataclass(frozen=True)
class KillReport:
    outcomes: tuple[FlagOutcome, ...]
    all_off: bool
    backout: tuple[str, ...]
    """Manual backout: each flag's backout and its stage's command when not all off; the
    point-of-no-return warning whenever it applies."""
    audit_errors: tuple[str, ...] = ()
    """Audit events that could not be written (the flags were driven anyway)."""

    @property
    def may_be_on(self) -> list[str]:
        return [o.flag for o in self.outcomes if not o.verified_off]

    def summary(self) -> list[str]:
        lines = []
        for o in self.outcomes:
            lines.append(o.line())
        lines += [f"AUDIT LOG NOT WRITTEN: {e}" for e in self.audit_errors]
        return lines

    @property
    def verdict(self) -> str:
        if self.all_off:
            return "ALL OFF (verified)"
        return "FAILED" if all(not o.verified_off for o in self.outcomes) else "PARTIAL"


def manual_backout(plan: Plan, state: Callable[[], RolloutState], may_be_on: list[str]) -> tuple[str, ...]:
    """What to do by hand: each flag that may still be on, its backout and its stage's; past the point of no
    return, that warning too (``state`` is read last, and a record that cannot be read says no warning)."""
    lines: list[str] = []
    for name in may_be_on:
        flag = plan.flag(name)
        if flag.backout:
            lines.append(f"{name}: {flag.backout}")
        for stage in plan.stages:
            if name in stage.flags and stage.backout and stage.backout != flag.backout:
                lines.append(f"{stage.title}: {stage.backout}")
    try:
        warning = backout_warning(plan, state())
    except Exception:  # the record is unreadable (its outage is reported apart): the flags' backout stands
        warning = None
    if warning:
        lines.append(warning)
    return tuple(dict.fromkeys(lines))

"""Stage 0–3 and post-rollout: each done, current or waiting, and why the current one is blocked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from cockpit.plan.model import Plan
from cockpit.state import RolloutState


class StageStepper(Static):
    """The stages of the plan as a vertical stepper.

    ``✔`` done, ``▸`` current (gate open), ``✘`` current and blocked (with the blockers), ``·`` to come;
    ``⚑`` marks an irreversible stage (the point of no return).
    """

    DEFAULT_CSS = """
    StageStepper {
        height: auto;
        padding: 0 1;
    }
    """

    COMPONENT_CLASSES = {"stepper--done", "stepper--current", "stepper--blocked", "stepper--why"}

    DEFAULT_CSS += """
    StageStepper > .stepper--done { color: $success; }
    StageStepper > .stepper--current { color: $accent; text-style: bold; }
    StageStepper > .stepper--blocked { color: $warning; text-style: bold; }
    StageStepper > .stepper--why { color: $text-muted; }
    """

    def __init__(
        self, *, max_reasons: int = 3, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        """Initialise the stepper.

        Args:
            max_reasons: How many blockers to list under the current stage before "… N more".
            name: The name of the widget.
            id: The ID of the widget in the DOM.
            classes: The CSS classes of the widget.
        """
        super().__init__(name=name, id=id, classes=classes)
        self.max_reasons = max_reasons
        self.compact = False
        """A narrow column: one reason, and ⚑ without its words."""
        self._plain = ""

    def show(self, plan: Plan, state: RolloutState, blockers: Sequence[Any]) -> None:
        """Render the stages for ``state``; ``blockers`` are the current gate's (``cockpit.gates.Blocker``).

        A line too long for the column wraps under its own text (never cut): two reasons that begin alike
        stay two different reasons."""
        style = {k: self.get_component_rich_style(k) for k in self.COMPONENT_CLASSES}
        rows: list[tuple[str, Text]] = []  # (mark, line); a reason's mark is "" and its line is indented
        current = state.stage_index
        steps: list[tuple[str, str, bool]] = [("approvals", "Pre-rollout approvals", False)]
        steps += [(s.id, s.title, s.irreversible) for s in plan.stages]
        for i, (sid, title, irreversible) in enumerate(steps):
            index = i - 1
            done = (index < current) or (sid in state.completed)
            here = index == current and not done
            if done:
                mark, st = "✔", style["stepper--done"]
            elif here and blockers:
                mark, st = "✘", style["stepper--blocked"]
            elif here:
                mark, st = "▸", style["stepper--current"]
            else:
                mark, st = "·", None
            line = Text(title, st or "")
            if irreversible:
                pnr = "  ⚑" if self.compact else "  ⚑ point of no return"  # the legend (?) says what ⚑ is
                line.append(pnr, style["stepper--blocked"] if sid in state.entered else "")
            if here:
                line.append("  [current]" if not blockers else "  [blocked]")
            rows.append((mark, line))
            if here and blockers:
                shown = 1 if self.compact else self.max_reasons
                for b in blockers[:shown]:
                    rows.append(("", Text(f"why: {b}", style["stepper--why"])))
                if len(blockers) > shown:
                    more = f"… {len(blockers) - shown} more (g lists them all)"
                    rows.append(("", Text(more, style["stepper--why"])))
        plain = "\n".join(f"{mark or '   '} {line.plain}" for mark, line in rows)
        if plain == self._plain:  # (compact or not shows in the text)
            return
        self._plain = plain
        grid = Table.grid(expand=True)
        grid.add_column(width=2, no_wrap=True)
        grid.add_column(ratio=1, overflow="fold")
        for mark, line in rows:
            grid.add_row(Text(mark, line.style), line if mark else Padding(line, (0, 0, 0, 2)))
        self.update(grid)

    @property
    def plain(self) -> str:
        """What the stepper shows, one line per stage or reason (before wrapping)."""
        return self._plain

"""Stage 0–3 and post-rollout: each done, current or waiting, and why the current one is blocked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
        text-wrap: nowrap;
        text-overflow: ellipsis;
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
        self._plain = ""

    def show(self, plan: Plan, state: RolloutState, blockers: Sequence[Any]) -> None:
        """Render the stages for ``state``; ``blockers`` are the current gate's (``cockpit.gates.Blocker``)."""
        style = {k: self.get_component_rich_style(k) for k in self.COMPONENT_CLASSES}
        text = Text(no_wrap=True, overflow="ellipsis")
        current = state.stage_index
        steps: list[tuple[str, str, bool]] = [("approvals", "Pre-rollout approvals", False)]
        steps += [(s.id, s.title, s.irreversible) for s in plan.stages]
        for i, (sid, title, irreversible) in enumerate(steps):
            index = i - 1
            done = (index < current) or (sid in state.completed)
            here = index == current and not done
            if done:
                mark, st = "✔ ", style["stepper--done"]
            elif here and blockers:
                mark, st = "✘ ", style["stepper--blocked"]
            elif here:
                mark, st = "▸ ", style["stepper--current"]
            else:
                mark, st = "· ", None
            text.append(mark + title, st)
            if irreversible:
                text.append("  ⚑ point of no return", style["stepper--blocked"] if sid in state.entered else None)
            if here:
                text.append("  [current]" if not blockers else "  [blocked]")
            text.append("\n")
            if here and blockers:
                for b in blockers[: self.max_reasons]:
                    text.append(f"    why: {b}\n", style["stepper--why"])
                if len(blockers) > self.max_reasons:
                    text.append(f"    … {len(blockers) - self.max_reasons} more\n", style["stepper--why"])
        text.rstrip()
        if text.plain != self._plain:
            self._plain = text.plain
            self.update(text)

"""The flags: state and percentage as last read (or recorded), and whether the kill switch is armed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from cockpit.plan.model import Plan
from cockpit.state import RolloutState
from cockpit.text import visible

if TYPE_CHECKING:  # types only: cockpit.flags loads httpx, which the first frame does without
    from cockpit.flags import ArmStatus, FlagReading


class FlagTable(Static):
    """One row per flag: name, ON/OFF, percent, and the kill switch's ARMED / NOT ARMED with its reason."""

    DEFAULT_CSS = """
    FlagTable {
        height: auto;
        padding: 0 1;
    }
    """

    COMPONENT_CLASSES = {"flags--on", "flags--off", "flags--unarmed"}

    DEFAULT_CSS += """
    FlagTable > .flags--on { color: $warning; text-style: bold; }
    FlagTable > .flags--off { color: $success; }
    FlagTable > .flags--unarmed { color: $error; text-style: bold; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        """Initialise the table.

        Args:
            name: The name of the widget.
            id: The ID of the widget in the DOM.
            classes: The CSS classes of the widget.
        """
        super().__init__(name=name, id=id, classes=classes)
        self._key: tuple[Any, ...] = ()

    def show(self, plan: Plan, state: RolloutState, readings: Mapping[str, FlagReading], arm: ArmStatus | None) -> None:
        """Render the flags.

        Args:
            plan: The plan (which flags there are).
            state: The audit-derived state (the recorded flag state, when nothing was read).
            readings: Live readings by flag, possibly empty.
            arm: The last arm check, or None when not checked yet.
        """
        rows = []
        for flag in plan.flags:
            reading = readings.get(flag.name)
            recorded = state.flags.get(flag.name)
            if reading is not None and not reading.error:
                enabled, percent, source = bool(reading.enabled), reading.percent, "read"
            elif recorded is not None:
                enabled, percent, source = recorded.enabled, recorded.percent, "recorded"
            else:
                enabled, percent, source = None, None, "unknown"
            if reading is not None and reading.error:
                source = visible(f"read failed: {reading.error}")
            rows.append((flag.name, enabled, percent, source))
        if arm is None:
            armed, why = None, "not checked yet"
        else:
            armed, why = bool(arm.armed), visible(str(arm.reason or ""))
        key = (tuple(rows), armed, why)
        if key == self._key:
            return
        self._key = key
        on = self.get_component_rich_style("flags--on")
        off = self.get_component_rich_style("flags--off")
        unarmed = self.get_component_rich_style("flags--unarmed")
        table = Table(box=None, expand=True, show_edge=False, pad_edge=False, header_style="bold", padding=(0, 1, 0, 0))
        longest = max((len(name) for name, *_ in rows), default=4)
        table.add_column("flag", min_width=longest, overflow="fold")  # folded if it must be, never cut
        table.add_column("on?", width=3)
        table.add_column("%", justify="right", width=3)
        table.add_column("seen", min_width=8, ratio=1, overflow="fold")
        for name, enabled, percent, source in rows:
            state_text = Text("?") if enabled is None else Text("ON", on) if enabled else Text("OFF", off)
            table.add_row(name, state_text, "" if percent is None else str(percent), source)
        if armed is None:
            line = Text(f"kill switch: ? ({why})")
        elif armed:
            line = Text("kill switch: ARMED" + (f" ({why})" if why else ""), off)
        else:
            line = Text(f"kill switch: NOT ARMED ({why})", unarmed)
        from rich.console import Group

        self.update(Group(table, line))

"""A banner across the top for what must not be missed: breaches, kills, auto-kill countdowns, incidents."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from cockpit.text import visible


class Banner(Static):
    """Lines of alert; hidden when there are none. ``-alert`` for red, ``-info`` for calmer news."""

    DEFAULT_CSS = """
    Banner {
        display: none;
        height: auto;
        padding: 0 1;
        background: $error;
        color: $text;
        text-style: bold;
    }
    Banner.-visible { display: block; }
    Banner.-info { background: $primary-darken-2; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        """Initialise the banner.

        Args:
            name: The name of the widget.
            id: The ID of the widget in the DOM.
            classes: The CSS classes of the widget.
        """
        super().__init__(name=name, id=id, classes=classes)
        self.lines: tuple[str, ...] = ()

    def show(self, lines: Sequence[str], *, alert: bool = True) -> None:
        """Show ``lines`` (hide the banner when empty); redraw only when they changed."""
        lines = tuple(lines)
        self.set_class(bool(lines), "-visible")
        self.set_class(not alert, "-info")
        if lines != self.lines:
            self.lines = lines
            self.update(Text("\n".join(visible(line) for line in lines)))  # a monitored value: no raw controls

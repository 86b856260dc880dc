"""Every key the screen offers right now, on as many lines as the width needs.

Textual's ``Footer`` gives each key a widget of its own and cuts the row at the terminal's edge; an on-call
engineer at 80 columns would lose the keys past it. This bar is one widget that wraps between keys, so
every offered key stays visible (and the first frame has one widget to style instead of two dozen).
It follows the screen's bindings as Textual's footer does: hidden when ``check_action`` says False,
dimmed when it says None, remapped keys shown as remapped.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.geometry import Size
from textual.screen import Screen
from textual.widget import Widget


class Entry(NamedTuple):
    """One key in the bar."""

    key: str
    """The key as bound (``K``, ``question_mark``)."""
    action: str
    display: str
    """The key as shown (``K``, ``?``)."""
    description: str
    enabled: bool


class KeyBar(Widget):
    """The screen's keys, wrapped between keys (never inside one)."""

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: auto;
        max-height: 5;
        padding: 0 1;
        background: $footer-background;
        color: $footer-description-foreground;
    }
    KeyBar > .key-bar--key { color: $footer-key-foreground; text-style: bold; }
    KeyBar > .key-bar--alert { color: $text-error; text-style: bold reverse; }
    KeyBar > .key-bar--disabled { text-style: dim; }
    """

    COMPONENT_CLASSES = {"key-bar--key", "key-bar--alert", "key-bar--disabled"}
    """``key``: a key; ``alert``: a key of ``alert`` (the kill switch); ``disabled``: a key not usable now."""

    SEPARATOR = "  "

    def __init__(
        self,
        *,
        alert: tuple[str, ...] = (),
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """Initialise the bar.

        Args:
            alert: Actions whose keys stand out (the kill switch).
            name: The name of the widget.
            id: The ID of the widget in the DOM.
            classes: The CSS classes of the widget.
        """
        super().__init__(name=name, id=id, classes=classes)
        self.alert = alert
        self.entries: list[Entry] = []
        """What the bar shows, in binding order."""

    @property
    def keys(self) -> list[str]:
        """The keys shown, as bound."""
        return [entry.key for entry in self.entries]

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self.bindings_changed(self.screen)

    def bindings_changed(self, screen: Screen[object]) -> None:
        """The screen's bindings (or what ``check_action`` says of them) changed: redraw if what shows did."""
        seen: set[str] = set()
        entries = []
        for _node, binding, enabled, _tooltip in screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue  # one entry per action (``?`` and F1 both open the help)
            seen.add(binding.action)
            display = self.app.get_key_display(binding)
            entries.append(Entry(binding.key, binding.action, display, binding.description, enabled))
        palette = screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        if self.app.ENABLE_COMMAND_PALETTE and palette is not None:  # last, as Textual's footer has it
            binding = palette.binding
            display = self.app.get_key_display(binding)
            entries.append(Entry(binding.key, binding.action, display, binding.description, palette.enabled))
        if entries != self.entries:
            self.entries = entries
            self.refresh(layout=True)  # the number of lines may change

    def lines(self, width: int) -> list[list[Entry]]:
        """The entries packed greedily into lines of at most ``width`` cells."""
        lines: list[list[Entry]] = [[]]
        used = 0
        for entry in self.entries:
            size = len(entry.display) + 1 + len(entry.description)
            if lines[-1] and used + len(self.SEPARATOR) + size > width:
                lines.append([])
                used = 0
            used += (len(self.SEPARATOR) if lines[-1] else 0) + size
            lines[-1].append(entry)
        return lines

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines(width)) if self.entries else 1

    def render(self) -> RenderResult:
        key_style = self.get_component_rich_style("key-bar--key")
        alert_style = self.get_component_rich_style("key-bar--alert")
        disabled = self.get_component_rich_style("key-bar--disabled")
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        for n, line in enumerate(self.lines(self.content_size.width or self.app.size.width)):
            if n:
                text.append("\n")
            for i, entry in enumerate(line):
                if i:
                    text.append(self.SEPARATOR)
                alert = entry.action in self.alert
                dim = disabled if not entry.enabled else Style()
                text.append(entry.display, (alert_style if alert else key_style) + dim)
                text.append(" " + entry.description, (alert_style if alert else Style()) + dim)
        return text

"""Modal prompts: type a reason, a note or a flag name; pick a role or a checklist item. Escape cancels.

Each says which keys it takes on its last line; its question wraps (a flag name is never cut).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

PROMPT_CSS = """
TextPrompt, PickPrompt { align: center middle; }
TextPrompt > Vertical, PickPrompt > Vertical {
    width: 80%;
    max-width: 90;
    height: auto;
    max-height: 90%;
    border: thick $accent;
    background: $surface;
    padding: 0 1;
}
TextPrompt .prompt--error { color: $error; text-style: bold; height: auto; }
TextPrompt .prompt--title, PickPrompt .prompt--title { width: 100%; height: auto; }
TextPrompt .prompt--keys, PickPrompt .prompt--keys { width: 100%; height: auto; color: $text-muted; }
PickPrompt OptionList { height: auto; max-height: 16; }
"""


class TextPrompt(ModalScreen[str | None]):
    """Ask for a line of text; dismiss with it (stripped), or None on Escape.

    With ``must_equal`` the text must be exactly that (a canary step's flag name, typed to confirm).
    """

    DEFAULT_CSS = PROMPT_CSS
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(self, title: str, *, placeholder: str = "", must_equal: str | None = None, id: str | None = None):
        super().__init__(id=id)
        self.title_text = title
        self.placeholder = placeholder
        self.must_equal = must_equal

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="prompt--title", markup=False)
            yield Input(placeholder=self.placeholder, id="prompt-input")
            yield Label("", classes="prompt--error", id="prompt-error")
            yield Static("Enter confirm · Esc cancel", classes="prompt--keys")

    @on(Input.Submitted, "#prompt-input")
    def submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        error = self.query_one("#prompt-error", Label)
        if not text:
            error.update("✘ required: type something, or press Escape to cancel")
            return
        if self.must_equal is not None and text != self.must_equal:
            error.update(f"✘ that is not {self.must_equal}: type the flag name exactly, or Escape")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PickPrompt(ModalScreen[str | None]):
    """Pick one of ``choices`` (id, label) with the arrow keys or j/k and Enter; None on Escape.

    With ``on_pick`` the list stays open: each pick is handed to it and leaves the list (ticking a
    checklist item after item); Escape, or the last pick, closes it.
    """

    DEFAULT_CSS = PROMPT_CSS
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="prompt.cancel"),
        Binding("j", "move(1)", "Down", show=False, id="prompt.down"),
        Binding("k", "move(-1)", "Up", show=False, id="prompt.up"),
    ]

    def __init__(
        self,
        title: str,
        choices: Sequence[tuple[str, str]],
        *,
        on_pick: Callable[[str], None] | None = None,
        id: str | None = None,
    ):
        super().__init__(id=id)
        self.title_text = title
        self.choices = list(choices)
        self.on_pick = on_pick

    def compose(self) -> ComposeResult:
        keys = "Enter select · j/k or ↑/↓ move · Esc " + ("done" if self.on_pick else "cancel")
        with Vertical():
            yield Static(self.title_text, classes="prompt--title", markup=False)
            yield OptionList(*(Option(label, id=key) for key, label in self.choices), id="prompt-options")
            yield Static(keys, classes="prompt--keys")

    @on(OptionList.OptionSelected, "#prompt-options")
    def selected(self, event: OptionList.OptionSelected) -> None:
        if self.on_pick is None:
            self.dismiss(event.option.id)
            return
        options = self.query_one(OptionList)
        picked = event.option.id or ""
        options.remove_option(picked)
        self.on_pick(picked)
        if not options.option_count:
            self.dismiss(None)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if step > 0:
            options.action_cursor_down()
        else:
            options.action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)


class ListScreen(ModalScreen[None]):
    """A list too long for the result line (every reason a gate is closed), scrollable; Escape closes."""

    DEFAULT_CSS = (
        PROMPT_CSS
        + """
    ListScreen { align: center middle; }
    ListScreen > Vertical {
        width: 90%; max-width: 110; height: auto; max-height: 90%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    ListScreen VerticalScroll { height: auto; max-height: 100%; }
    ListScreen .prompt--keys { color: $text-muted; }
    """
    )
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close", id="list.close")]

    def __init__(self, title: str, lines: Sequence[str], *, id: str | None = None):
        super().__init__(id=id)
        self.title_text = title
        self.lines = list(lines)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="prompt--title", markup=False)
            with VerticalScroll():
                yield Static("\n".join(self.lines), id="list-body", markup=False)
            yield Static("Esc or Enter close · ↑/↓ scroll", classes="prompt--keys")


class ConfirmPrompt(ModalScreen[bool]):
    """A yes/no question: y or Enter answers yes, n or Escape no."""

    DEFAULT_CSS = (
        PROMPT_CSS
        + """
    ConfirmPrompt { align: center middle; }
    ConfirmPrompt > Vertical {
        width: 80%; max-width: 90; height: auto;
        border: thick $warning; background: $surface; padding: 0 1;
    }
    ConfirmPrompt .prompt--keys { color: $text-muted; }
    """
    )
    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, keys: str, *, id: str | None = None):
        super().__init__(id=id)
        self.question = question
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, classes="prompt--title", markup=False)
            yield Static(self.keys, classes="prompt--keys", markup=False)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

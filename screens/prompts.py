"""Modal prompts: type a reason, a note or a flag name; pick a role or a checklist item. Escape cancels."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
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
            yield Label(self.title_text)
            yield Input(placeholder=self.placeholder, id="prompt-input")
            yield Label("", classes="prompt--error", id="prompt-error")

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
    """Pick one of ``choices`` (id, label) with the arrow keys and Enter; None on Escape."""

    DEFAULT_CSS = PROMPT_CSS
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(self, title: str, choices: Sequence[tuple[str, str]], *, id: str | None = None):
        super().__init__(id=id)
        self.title_text = title
        self.choices = list(choices)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text)
            yield OptionList(*(Option(label, id=key) for key, label in self.choices), id="prompt-options")

    @on(OptionList.OptionSelected, "#prompt-options")
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)

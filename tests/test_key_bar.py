"""The key bar: every key the screen offers stays on screen, wrapped between keys, at any width."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen

from tests.tui_support import make_app, until_started
from widgets.key_bar import KeyBar

WORDS = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India", "Juliett"]


class Keys(Screen[None]):
    BINDINGS = [Binding(w[0].lower(), f"say('{w}')", w) for w in WORDS] + [Binding("z", "hidden", "Hidden")]

    def compose(self) -> ComposeResult:
        yield KeyBar(alert=("say('Alpha')",))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "hidden":
            return False  # not offered: not shown
        if parameters == ("Bravo",):
            return None  # offered but not usable now: shown dimmed
        return True

    def action_say(self, word: str) -> None:
        pass

    def action_hidden(self) -> None:
        pass


class KeysApp(App[None]):
    def on_mount(self) -> None:
        self.push_screen(Keys())


async def test_every_offered_key_is_shown_and_wraps_between_keys() -> None:
    app = KeysApp()
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        bar = app.screen.query_one(KeyBar)
        assert bar.keys[: len(WORDS)] == [w[0].lower() for w in WORDS]  # binding order; then the palette
        assert "z" not in bar.keys
        assert [e.enabled for e in bar.entries if e.key == "b"] == [False]
        assert bar.size.height > 1  # 40 columns cannot hold them on one line
        lines = bar.render().plain.splitlines()  # type: ignore[union-attr]
        for word in WORDS:  # each key with its words on exactly one line: wrapped between keys, never inside
            assert sum(f"{word[0].lower()} {word}" in line for line in lines) == 1
        for line in bar.lines(bar.content_size.width):
            assert sum(len(e.display) + 1 + len(e.description) for e in line) + 2 * (len(line) - 1) <= 38
        await pilot.resize_terminal(200, 10)
        await pilot.pause()
        assert bar.size.height == 1


async def test_dashboard_shows_all_its_keys_at_80_columns(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_started(pilot)
        bar = app.screen.query_one(KeyBar)
        offered = {b.key for _, b, _, _ in app.screen.active_bindings.values() if b.show}
        assert offered and offered <= set(bar.keys)
        assert "K" in bar.keys and bar.keys[0] == "K"  # the kill switch first
        assert bar.region.bottom == 24 and bar.size.height >= 2  # wrapped, at the bottom, nothing cut

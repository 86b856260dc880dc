"""The floor: a bare Textual app that updates one label each second (what any Textual app costs)."""

from __future__ import annotations

import time

from textual.app import App, ComposeResult
from textual.widgets import Label


class FloorApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Label("floor ready", id="clock")

    def on_mount(self) -> None:
        self.set_interval(1.0, self.tick)

    def tick(self) -> None:
        self.query_one(Label).update(f"floor ready {time.strftime('%H:%M:%S')}")


if __name__ == "__main__":
    FloorApp().run()

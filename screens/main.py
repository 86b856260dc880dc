"""Open the dashboard on a loaded plan: the ``dashboard`` entry point of the ``rollout_cockpit.ui`` group,
which ``cockpit.cli.tui`` looks up, so the core never imports the UI and headless commands never load Textual."""

from __future__ import annotations

from typing import Any

from cockpit.clock import Clock
from cockpit.plan.load import LoadedPlan
from cockpit.session import Services
from screens.app import CockpitApp


def run(loaded: LoadedPlan, *, readonly: bool = False, clock: Clock | None = None, demo: Any = None) -> int:
    """Run the cockpit until quit or SIGHUP; the exit code is non-zero if the app crashed."""
    services = Services.open(loaded, readonly=readonly, clock=clock)  # the kill switch: after the first frame
    rollout, history = services.rollout, services.history
    services.notes.update(getattr(demo, "notes", None) or {})
    app = CockpitApp(services, readonly=readonly, demo=demo)
    try:
        app.run()
    finally:
        history.close()
        close = getattr(rollout.store, "close", None)  # PgStore: its connection and LISTEN threads
        if callable(close):
            close()
    return app.return_code or 0

"""Open the dashboard on a loaded plan: the ``dashboard`` entry point of the ``rollout_cockpit.ui`` group,
which ``cockpit.cli.tui`` looks up, so the core never imports the UI and headless commands never load Textual."""

from __future__ import annotations

from cockpit.clock import Clock
from cockpit.fleet.watch import Fleet
from cockpit.plan.load import LoadedPlan
from cockpit.session import Services
from screens.app import CockpitApp
from screens.host import DemoHooks


def run(
    loaded: LoadedPlan, *, readonly: bool = False, clock: Clock | None = None, demo: DemoHooks | None = None
) -> int:
    """Run the cockpit until quit or SIGHUP; the exit code is non-zero if the app crashed."""
    services = Services.open(loaded, readonly=readonly, clock=clock)  # the kill switch: after the first frame
    rollout, history = services.rollout, services.history
    if demo is not None:
        services.notes.update(demo.notes)
    app = CockpitApp(services, readonly=readonly, demo=demo)
    try:
        app.run()
    finally:
        history.close()
        rollout.store.close()  # PgStore: its connection and LISTEN threads
    return app.return_code or 0


def run_fleet(fleet: Fleet, *, readonly: bool = False) -> int:
    """Run the fleet screen until quit (the ``fleet`` entry point); the fleet is read and closed here."""
    from screens.fleet_app import FleetApp  # lazy: the dashboard's start does not pay for the fleet

    app = FleetApp(fleet, readonly=readonly)
    app.run()
    return app.return_code or 0

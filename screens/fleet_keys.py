"""The fleet screen's keys: its bindings and what each does, for the key bar, the help and the palette.

Kill, help and quit are the dashboard's own bindings (:mod:`screens.actions`): the same key does the same
thing on both screens.
"""

from __future__ import annotations

from textual.binding import Binding, BindingType

from screens.actions import BINDINGS as DASHBOARD_BINDINGS
from screens.actions import DESCRIPTIONS


def _shared(action: str) -> Binding:
    """The dashboard's binding of ``action``: the same key for the same thing on both screens."""
    return next(b for b in DASHBOARD_BINDINGS if isinstance(b, Binding) and b.action.endswith(action))


FLEET_DESCRIPTIONS = {
    "open": "Open the highlighted rollout's dashboard (Escape comes back)",
    "kill": "Kill switch of the highlighted rollout only (type its id to confirm)",
    "filter": "Filter the lines by any text on them",
    "sort": "Sort: needs a human first / by id / by last event",
    "help": DESCRIPTIONS["help"],
    "quit": DESCRIPTIONS["quit"],
}
"""Every fleet action's description (the help lists them); kill, help and quit are the dashboard's keys."""

BINDINGS: list[BindingType] = [
    Binding(_shared("kill").key, "kill", "KILL one", id="kill", tooltip=FLEET_DESCRIPTIONS["kill"]),
    Binding("enter", "open", "Open", id="fleet.open"),
    Binding("slash", "filter", "Filter", id="fleet.filter"),
    Binding("s", "sort", "Sort", id="fleet.sort"),
    _shared("help"),
    _shared("quit"),
]


def describe(binding: Binding) -> str:
    """A fleet key's description for the help and the palette (``app.help`` is ``help``)."""
    return FLEET_DESCRIPTIONS.get(binding.action.removeprefix("app."), binding.description)

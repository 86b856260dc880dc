"""What an object can do, its type says: no ``getattr``/``hasattr`` probe stands in for an incomplete type.

A probe (``getattr(app, "keymap", {})``) hides a missing member from the type checker and turns it into a
silent default at run time. The app's code reads attributes its types declare; a read by a name known only at
run time is allowed where :data:`ALLOWED` says why. The protocols the screens ``cast`` the App (and the demo,
and the clock) to are not checked by the cast: every object that stands behind them is checked here.
"""

from __future__ import annotations

import ast
from pathlib import Path

from cockpit.clock import Clock, FakeClock, ScaledClock, SystemClock
from cockpit.demo import Demo
from cockpit.demo.hints import DemoProgress
from cockpit.fleet.watch import Fleet
from screens.fleet_app import FleetApp
from screens.host import CockpitHost, DemoHooks
from tests.core_helpers import ROOT
from tests.tui_support import make_app

PACKAGES = ("cockpit", "screens", "widgets")
PROBES = ("getattr", "hasattr")

_FIELDS = "a msgspec Struct's fields, iterated by name (__struct_fields__)"
_PARTS = "the checklist draft's parts (lists and tables of entries), iterated by name"
_ARGS = "an argparse Namespace: which options it has depends on the subcommand that parsed it"

ALLOWED: dict[tuple[str, str], str] = {
    # (file, the object whose attribute is read, as written): why its name is known only at run time
    ("cockpit/checklist/draft.py", "self"): _PARTS,
    ("cockpit/checklist/draft.py", "stage"): _PARTS,
    ("cockpit/checklist/write.py", "draft"): _PARTS,
    ("cockpit/checklist/write.py", "stage"): _PARTS,
    ("cockpit/plan/data.py", "plan"): _FIELDS,
    ("cockpit/plan/data.py", "value"): _FIELDS,
    ("cockpit/plan/digest.py", "plan"): _FIELDS,
    ("cockpit/plan/digest.py", "value"): _FIELDS,
    ("cockpit/plan/checks.py", "part"): _FIELDS + ": the duration fields each part has",
    ("cockpit/text.py", "self.inner"): "VisibleStream.__getattr__: whatever else a stream has, the wrapped one's",
    ("cockpit/store/pg_link.py", "callback"): "a log line's name for a callable (a partial has no __name__)",
    ("cockpit/cli/tui.py", "target"): "the entry point's dotted attribute path (``module:attr.attr``)",
    ("cockpit/cli/fleet.py", "dashboard"): "the entry point's module, to find run_fleet beside an old install's run",
    ("cockpit/cli/fleet.py", "sys.modules.get(getattr(dashboard, '__module__', ''), None)"): (
        "run_fleet beside an old install's dashboard entry point (loaded by name)"
    ),
    ("cockpit/cli/main.py", "handler"): "whether the subcommand's handler is the dashboard's (cockpit.cli.tui)",
    ("cockpit/cli/common.py", "args"): _ARGS,
    ("cockpit/cli/core.py", "args"): _ARGS,
    ("cockpit/cli/db.py", "args"): _ARGS,
    ("cockpit/cli/flags.py", "args"): _ARGS,
    ("cockpit/cli/fleet.py", "args"): _ARGS,
    ("cockpit/cli/main.py", "args"): _ARGS,
    ("cockpit/cli/signing.py", "args"): _ARGS,
    ("cockpit/cli/tui.py", "args"): _ARGS,
}
"""Every ``getattr``/``hasattr`` of the app's code, by file and the object it reads, with the reason."""


def _probes(path: Path) -> list[tuple[int, str]]:
    """(line, the object read) of every ``getattr``/``hasattr`` in ``path``; a bare reference (``map(getattr,
    ...)``) reads an object the code does not name: ``?``."""
    tree = ast.parse(path.read_text())
    calls = {
        id(node.func): node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in PROBES
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in PROBES:
            call = calls.get(id(node))
            found.append((node.lineno, ast.unparse(call.args[0]) if call is not None and call.args else "?"))
    return found


def _all_probes() -> dict[tuple[str, str], list[int]]:
    found: dict[tuple[str, str], list[int]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, target in _probes(path):
                found.setdefault((path.relative_to(ROOT).as_posix(), target), []).append(line)
    return found


def test_no_capability_probes() -> None:
    """A new ``getattr(obj, "name", default)`` on an object whose type should declare ``name`` fails here:
    declare it (on the type, or the protocol the code types the object with) and read it plainly."""
    found = _all_probes()
    unexplained = [
        f"{path}:{lines[0]}: {target}" for (path, target), lines in found.items() if (path, target) not in ALLOWED
    ]
    assert not unexplained, "probes (declare the attribute on the type instead):\n" + "\n".join(sorted(unexplained))


def test_the_allowed_list_has_no_stale_entry() -> None:
    """An allowed read that is gone leaves the list: it does not stay open for a probe to come back."""
    found = _all_probes()
    assert [key for key in ALLOWED if key not in found] == []


def test_the_scan_sees_a_probe(tmp_path: Path) -> None:
    path = tmp_path / "probe.py"
    path.write_text('def f(app, x):\n    return getattr(app, "keymap", {}), hasattr(x.y, "z"), map(getattr, [])\n')
    assert _probes(path) == [(2, "app"), (2, "x.y"), (2, "?")]


def _members(protocol: type) -> set[str]:
    """The names a Protocol declares: its annotated attributes, its methods and properties."""
    names = set(vars(protocol).get("__annotations__", {}))
    names |= {
        n for n, v in vars(protocol).items() if not n.startswith("_") and (callable(v) or isinstance(v, property))
    }
    assert names, protocol
    return names


def _missing(obj: object, protocol: type) -> set[str]:
    return _members(protocol) - set(dir(obj))


def test_every_app_the_dashboard_runs_on_is_a_complete_host(tmp_path: Path) -> None:
    """The dashboard, its help, its command palette and its incident view cast ``self.app`` to CockpitHost:
    the cockpit's App and the fleet's App (which opens a dashboard over the fleet) both are one."""
    assert {"readonly", "demo", "keymap", "push_screen"} <= _members(CockpitHost)
    cockpit = make_app(tmp_path)
    try:
        fleet = FleetApp(Fleet(dirs=[tmp_path], user="alok", clock=FakeClock()))
        assert _missing(cockpit, CockpitHost) == set()
        assert _missing(fleet, CockpitHost) == set()
    finally:
        cockpit.services.history.close()
        cockpit.services.rollout.store.close()


def test_the_demo_is_complete_for_the_dashboard_and_the_hint() -> None:
    """The dashboard's hooks (``screens.host.DemoHooks``) and what the hint reads (``DemoProgress``)."""
    assert {"header", "notes", "hint", "flood", "after_kill", "keep"} <= _members(DemoHooks)
    demo = Demo(speed=1000, postgres=False, prometheus=False)  # not started: no simulator serving
    try:
        assert _missing(demo, DemoHooks) == set()
        assert _missing(demo, DemoProgress) == set()
    finally:
        demo.stop()


def test_every_clock_says_its_speed() -> None:
    """The watcher paces its judging by the clock's speed (the demo's accelerated clock runs faster)."""
    assert "speed" in _members(Clock)
    for clock in (SystemClock(), FakeClock(), ScaledClock(3.0)):
        assert _missing(clock, Clock) == set(), type(clock).__name__
    assert (SystemClock().speed, FakeClock().speed, ScaledClock(3.0).speed) == (1.0, 1.0, 3.0)

"""Pilot tests of the fleet screen at 80x24 and 120x40: rollouts in every state, the keys, live updates."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from cockpit import events as ev
from cockpit.clock import FakeClock
from cockpit.fleet.watch import Fleet
from cockpit.sim.server import SimServer
from cockpit.store.filelog import FileStore
from cockpit.store.records import ARMED, JUDGED, PLAN
from screens.actions import DESCRIPTIONS
from screens.dashboard import DashboardScreen
from screens.fleet import FleetScreen
from screens.fleet_app import FleetApp
from screens.fleet_commands import FleetCommands
from screens.fleet_help import FleetHelp
from screens.prompts import TextPrompt
from tests.core_helpers import OPS
from tests.fleet_support import FLAGS, NOW, as_actor, build_fleet
from tests.tui_support import make_app

SIZES = [(80, 24), (120, 40)]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fleet")
    build_fleet(root)
    return root


def fleet_app(root: Path, *, readonly: bool = False) -> FleetApp:
    return FleetApp(Fleet(dirs=[root], user="alok", clock=FakeClock(NOW)), readonly=readonly)


async def until_read(pilot: object, app: FleetApp) -> FleetScreen:
    """Wait for the first read of the record to be on screen."""
    for _ in range(300):
        screen = app.screen
        if isinstance(screen, FleetScreen) and screen.drawn and screen._shown:
            return screen
        await pilot.pause(0.01)  # type: ignore[attr-defined]
    raise AssertionError("the fleet was not drawn within 3 s")


def line_ids(screen: FleetScreen) -> list[str]:
    return [screen.fleet.tracked[key].rollout_id for key, _ in screen._shown]


def title(app: FleetApp) -> str:
    return str(app.screen.query_one("#fleet-title").render())


def result(app: FleetApp) -> str:
    return str(app.screen.query_one("#fleet-result").render())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_rollout_one_line_those_waiting_first(built: Path, size: tuple[int, int]) -> None:
    app = fleet_app(built)
    async with app.run_test(size=size) as pilot:
        screen = await until_read(pilot, app)
        ids = line_ids(screen)
        assert len(ids) == 13 and ids[0] == "kill-failed"
        assert set(ids[-3:]) == {"soaking", "stale", "no-plan"}
        assert "13 rollouts · 10 waiting on a human" in title(app)
        table = screen.query_one(DataTable)
        columns = [str(c.label) for c in table.columns.values()]
        assert ("STAGE" in columns) == (size[0] >= 100) and "SERVICE" not in columns  # the detail line has them
        assert "WAITING ON" in columns and "KILL" in columns
        detail = str(screen.query_one("#fleet-detail").render())
        assert "kill-failed" in detail and "may be on" in detail


async def test_read_only_row_says_why(built: Path) -> None:
    app = fleet_app(built)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await until_read(pilot, app)
        index = line_ids(screen).index("readonly")
        screen.query_one(DataTable).move_cursor(row=index)
        await pilot.pause()
        detail = str(screen.query_one("#fleet-detail").render())
        assert "read-only: alok may sign no approval (dev-lead: alice;" in detail
        assert "readonly (ro)" in str(screen._shown[index][1])


async def test_s_sorts_and_slash_filters(built: Path) -> None:
    app = fleet_app(built)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await until_read(pilot, app)
        await pilot.press("s")
        assert line_ids(screen) == sorted(line_ids(screen)) and "sorted: id" in title(app)
        await pilot.press("s", "s")
        assert "sorted: needs a human" in title(app)
        await pilot.press("slash")
        await pilot.press(*"10h48m")
        await pilot.pause()
        assert set(line_ids(screen)) == {"soaking", "stale"}
        await pilot.press("escape")
        await pilot.pause()
        assert len(line_ids(screen)) == 13 and not screen.query_one("#fleet-filter").display


async def test_k_asks_which_rollout_and_wants_its_id(built: Path) -> None:
    app = fleet_app(built)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await until_read(pilot, app)
        await pilot.press("K")
        assert isinstance(app.screen, TextPrompt)
        assert "KILL kill-failed:" in app.screen.title_text  # the highlighted one, by name
        await pilot.press(*"breached", "enter")  # another rollout's id is not a confirmation
        await pilot.pause()
        assert isinstance(app.screen, TextPrompt)
        assert "that is not kill-failed" in str(app.screen.query_one("#prompt-error").render())
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        assert not [e for e in screen.fleet.tracked[screen._shown[0][0]].file.store.read(0)  # type: ignore[union-attr]
                    if e.seq > 26]  # fmt: skip  # nothing was recorded


async def test_help_lists_the_fleets_keys(built: Path) -> None:
    app = fleet_app(built)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_read(pilot, app)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, FleetHelp)
        shown = str(app.screen.query_one(Static).render())
        assert "Kill switch of the highlighted rollout only (type its id to confirm)" in shown
        assert "K" in shown and "Sort" in shown
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)


async def test_every_fleet_action_is_in_the_command_palette(built: Path) -> None:
    app = fleet_app(built)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await until_read(pilot, app)
        found = [hit.text async for hit in FleetCommands(screen).discover()]  # type: ignore[attr-defined]
        assert "Sort: needs a human first / by id / by last event" in found
        assert "Kill switch of the highlighted rollout only (type its id to confirm)" in found
        assert DESCRIPTIONS["help"] in found and DESCRIPTIONS["quit"] in found


async def test_k_on_a_read_only_fleet_kills_nothing(built: Path) -> None:
    app = fleet_app(built, readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_read(pilot, app)
        await pilot.press("K")
        await pilot.pause()
        assert not isinstance(app.screen, TextPrompt)
        assert "offers no kill" in result(app)


async def test_k_on_a_read_only_row_says_why_and_kills_nothing(built: Path) -> None:
    app = fleet_app(built)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await until_read(pilot, app)
        screen.query_one(DataTable).move_cursor(row=line_ids(screen).index("readonly"))
        await pilot.pause()
        await pilot.press("K")
        await pilot.pause()
        assert not isinstance(app.screen, TextPrompt)
        assert "read-only: alok may sign no approval" in result(app) and "cockpit kill --config PLAN" in result(app)


async def test_enter_refuses_a_rollout_whose_plan_is_not_here(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_TOKEN", raising=False)  # an unset token keeps no plan from loading: only its users fail
    app = fleet_app(built)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_read(pilot, app)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)
        assert "has changed since the rollout's cockpit published it" in result(app)


async def test_another_process_approval_is_on_screen_within_a_second(tmp_path: Path) -> None:
    rollouts = build_fleet(tmp_path, ("unsigned",))
    app = fleet_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await until_read(pilot, app)
        key = next(k for k, _ in screen._shown if "unsigned" in k)
        assert "approval: dev-lead, ops-oncall, product-owner" in str(dict(screen._shown)[key])
        r = rollouts["unsigned"]
        other = as_actor(r, OPS)
        other.store = FileStore(r.store.path)  # type: ignore[attr-defined]
        other.approve("ops-oncall")
        for _ in range(150):
            await pilot.pause(0.01)
            if "approval: dev-lead, product-owner" in str(dict(screen._shown)[key]):
                break
        else:
            raise AssertionError("the approval was not on screen within 1.5 s")


# --------------------------------------------------------------------------- one rollout, opened


@pytest.fixture
def openable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sim_server: SimServer) -> Path:
    """Rollouts whose plan files are on this machine, their variables set (the simulator as the app)."""
    monkeypatch.setenv("APP_URL", sim_server.url)
    monkeypatch.setenv("APP_TOKEN", sim_server.sim.token)
    monkeypatch.setenv("PROMETHEUS_URL", "http://127.0.0.1:9")
    for flag in FLAGS:
        sim_server.sim.set_flag(flag, False, 0)
    plans = tmp_path / "plans"
    plans.mkdir()
    build_fleet(tmp_path / "state", ("soaking", "unsigned", "readonly"), plan_dir=plans)
    sim_server.sim.set_flag(FLAGS[0], True, 5)
    yield tmp_path / "state"  # type: ignore[misc]
    for flag in FLAGS:
        sim_server.sim.set_flag(flag, False, 0)


async def test_enter_opens_the_dashboard_and_escape_returns(openable: Path) -> None:
    app = fleet_app(openable)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await until_read(pilot, app)
        screen.query_one(DataTable).move_cursor(row=line_ids(screen).index("unsigned"))
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen), result(app)
        assert app.screen.services.rollout.plan.rollout.id == "unsigned" and not app.readonly
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and app.opened is None


async def test_a_rollout_the_user_cannot_sign_opens_read_only(openable: Path) -> None:
    app = fleet_app(openable)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await until_read(pilot, app)
        screen.query_one(DataTable).move_cursor(row=line_ids(screen).index("readonly"))
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        dashboard = app.screen
        assert isinstance(dashboard, DashboardScreen) and app.readonly
        assert dashboard.services.rollout.store.readonly
        assert not dashboard.check_action("approve", ()) and not dashboard.check_action("kill", ())
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and not app.readonly


async def test_k_kills_only_the_highlighted_rollout_once_its_id_is_typed(openable: Path, sim_server: SimServer) -> None:
    app = fleet_app(openable)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await until_read(pilot, app)
        index = line_ids(screen).index("soaking")
        screen.query_one(DataTable).move_cursor(row=index)
        await pilot.pause()
        await pilot.press("K")
        await pilot.press(*"soaking", "enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "KILL soaking:" in result(app)
        assert not sim_server.sim.flags[FLAGS[0]].enabled
        logs = {name: FileStore(openable / name / "audit.jsonl").read(0) for name in ("soaking", "unsigned")}
        assert [e.type for e in logs["soaking"] if e.type == ev.KILL_REQUESTED] == [ev.KILL_REQUESTED]
        assert not [e for e in logs["unsigned"] if e.type.startswith("kill.")]  # the other rollout: untouched


async def test_a_running_cockpit_publishes_its_judgements_and_arm_check(tmp_path: Path, sim_server: SimServer) -> None:
    """What the fleet shows of a rollout is what its dashboard judged and checked, read from its history."""
    app = make_app(tmp_path, app_url=sim_server.url, token=sim_server.sim.token)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        screen.post_message(await screen.watcher.judge_once())  # one judging round; it also starts the arm check
        await app.workers.wait_for_complete()
        await pilot.pause()
        records = app.services.history.records()
        assert set(records) == {JUDGED, PLAN, ARMED}
        assert records[ARMED].body["armed"] is True and records[ARMED].body["by"] == "alok@bastion-1"
        assert records[JUDGED].body["stage"] == "stage-0"
    fleet = Fleet(dirs=[tmp_path], user="alok", clock=FakeClock(NOW))
    fleet.refresh()
    (row,) = fleet.rows()
    assert row.kill == "ARMED" and row.metric == "NO DATA"

"""PostgreSQL stopped under two live dashboards (a writer and a ``--readonly`` viewer): both stay up,
show DEGRADED, ``K`` kills (verified), and both recover by themselves when the database returns, with
nothing lost. Runs on its own PostgreSQL cluster so the session's shared one is never stopped."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cockpit import events as ev
from cockpit.clock import FakeClock
from cockpit.plan.load import LoadedPlan, parse_plan
from cockpit.rollout import open_rollout
from cockpit.session import Services
from cockpit.sim.server import SimServer
from cockpit.store.pg import PgStore, init_schema, verify_store
from screens.app import CockpitApp
from tests.core_helpers import ALOK, ENV, EXAMPLE, OPS, example_text
from tests.servers import Postgres, start_postgres
from tests.tui_support import FLAGS

pytestmark = pytest.mark.postgres

SIZE = (120, 40)


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[Postgres]:
    pg = start_postgres()
    yield pg
    pg.destroy()


@pytest.fixture
def sim(sim_server: SimServer) -> Iterator[SimServer]:
    sim_server.sim.reset_faults()
    for flag in FLAGS:
        sim_server.sim.set_flag(flag, False, 0)
    yield sim_server
    for flag in FLAGS:
        sim_server.sim.set_flag(flag, False, 0)


def pg_loaded(dsn: str, sim: SimServer) -> LoadedPlan:
    text = example_text().replace('store = "file"', 'store = "postgres"\ndsn = "${COCKPIT_DATABASE_URL}"', 1)
    text = text.replace('poll_interval = "5s"', 'poll_interval = "300ms"')
    env = {**ENV, "APP_URL": sim.url, "APP_TOKEN": sim.sim.token, "PROMETHEUS_URL": "http://127.0.0.1:9",
           "COCKPIT_DATABASE_URL": dsn}  # fmt: skip
    return parse_plan(text, str(EXAMPLE), env, base=EXAMPLE)


def dashboard(loaded: LoadedPlan, *, readonly: bool, actor: Any) -> CockpitApp:
    """As ``screens.main.run`` builds it: the plan's store and history, live polls, a frozen clock."""
    services = Services.open(loaded, readonly=readonly, clock=FakeClock(), actor=actor, connect=True)
    return CockpitApp(services, readonly=readonly)


def banner(app: CockpitApp) -> str:
    return str(app.screen.query_one("#banner").render())


async def wait_for(pilot: Any, check: Any, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.05)  # not pilot.pause: two apps share this loop
    return time.monotonic() - started


async def test_both_dashboards_outlive_the_database_kill_and_recover(
    own_postgres: Postgres, sim: SimServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    own_postgres.start()
    _, dsn = own_postgres.fresh_database()
    init_schema(dsn)
    sim.sim.set_flag(FLAGS[0], True, 5)
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "writer"))
    loaded = pg_loaded(dsn, sim)
    setup = open_rollout(loaded, clock=FakeClock(), actor=ALOK)
    setup.advance(override="test: enter stage 0")  # thresholds to judge
    setup.store.close()
    writer = dashboard(loaded, readonly=False, actor=ALOK)
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "viewer"))  # another machine's state dir
    viewer = dashboard(pg_loaded(dsn, sim), readonly=True, actor=OPS)
    store = writer.services.rollout.store
    assert isinstance(store, PgStore)
    try:
        async with writer.run_test(size=SIZE) as wp, viewer.run_test(size=SIZE) as vp:
            await wait_for(wp, lambda: writer.screen.started and viewer.screen.started, 10, "started")
            await wait_for(wp, lambda: writer.listening and viewer.listening, 10, "listening")
            await asyncio.sleep(1.0)  # polls and judgements running on both
            own_postgres.stop()
            took = await wait_for(
                wp, lambda: "DEGRADED" in banner(writer) and "DEGRADED" in banner(viewer), 5, "DEGRADED shown"
            )
            assert took <= 2.5
            await asyncio.sleep(4.0)  # the crash came ~3 s after the stop: polls, judging and redraws go on
            assert writer.is_running and viewer.is_running
            assert writer.return_code is None and viewer.return_code is None
            await wp.press("K")
            await wait_for(wp, lambda: not sim.sim.flags[FLAGS[0]].enabled, 10, "flag off")
            assert store.spooled >= 3  # kill.requested, per-flag results, kill.result: spooled locally
            assert writer.services.rollout.state.kills
            await asyncio.sleep(1.0)
            assert writer.is_running and viewer.is_running
            own_postgres.start()
            took = await wait_for(wp, lambda: store.spooled == 0, 5, "spool flushed by itself")
            assert took <= 3.0
            await wait_for(vp, lambda: bool(viewer.services.rollout.state.kills), 5, "viewer sees the kill")
            await wait_for(
                wp, lambda: "DEGRADED" not in banner(writer) and "DEGRADED" not in banner(viewer), 5, "recovered"
            )
            assert writer.is_running and viewer.is_running
    finally:
        own_postgres.start()
    check = PgStore(dsn, loaded.plan.rollout.id, readonly=True)
    events = check.read()
    result = verify_store(check)
    check.close()
    assert result.ok
    types = [e.type for e in events]
    assert ev.KILL_REQUESTED in types and ev.KILL_RESULT in types
    final = [e for e in events if e.type == ev.KILL_RESULT][-1]
    assert final.payload["all_off"] is True


async def test_the_cockpit_starts_with_the_database_down_from_its_mirror(
    own_postgres: Postgres, sim: SimServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    own_postgres.start()
    _, dsn = own_postgres.fresh_database()
    init_schema(dsn)
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    loaded = pg_loaded(dsn, sim)
    first = open_rollout(loaded, clock=FakeClock(), actor=ALOK)
    first.approve("dev-lead")  # read (and mirrored) while the database is up
    first.store.close()
    own_postgres.stop()
    try:
        app = dashboard(loaded, readonly=False, actor=ALOK)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.started, 10, "started")
            await wait_for(pilot, lambda: "DEGRADED" in banner(app), 5, "DEGRADED shown")
            assert "last contact" in banner(app)
            assert "dev-lead" in app.services.rollout.state.approvals  # from the mirror
            await asyncio.sleep(2.0)
            assert app.is_running and app.return_code is None
    finally:
        own_postgres.start()

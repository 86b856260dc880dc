"""The fleet on a real PostgreSQL: every rollout id in the record, published plans and judgements, LISTEN."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from textual.widgets import DataTable

from cockpit.clock import FakeClock
from cockpit.fleet.watch import Fleet
from cockpit.rollout import Rollout
from cockpit.rules import Status
from cockpit.store.pg import PgHistory, PgStore, init_schema
from cockpit.store.pg_fleet import PgFleet
from cockpit.store.pg_schema import connect
from cockpit.store.publish import Publisher
from cockpit.store.records import JUDGED
from screens.dashboard import DashboardScreen
from screens.fleet_app import FleetApp
from tests.core_helpers import ALOK, OPS
from tests.fleet_support import NOW, as_actor, judgement, make_state, plan_for
from tests.test_fleet_tui import until_read

pytestmark = pytest.mark.postgres


@pytest.fixture
def dsn(postgres_db: str) -> str:
    init_schema(postgres_db)
    return postgres_db


def put(dsn: str, state: str, *, publish: bool = True) -> None:
    store, history = PgStore(dsn, state), PgHistory(dsn, state)
    try:
        make_state(state, store, history if publish else None)
    finally:
        store.close()
        history.close()


def wait_for(what: str, check: object, timeout: float = 3.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():  # type: ignore[operator]
            return time.monotonic() - start
        time.sleep(0.01)
    raise AssertionError(f"{what}: not within {timeout} s")


def test_every_rollout_in_the_record_is_a_line(dsn: str) -> None:
    for state in ("unsigned", "soaking", "breached"):
        put(dsn, state)
    put(dsn, "signed", publish=False)
    fleet = Fleet(pg=PgFleet(dsn), user="alok", clock=FakeClock(NOW))
    try:
        fleet.refresh()
        rows = {row.id: row for row in fleet.rows()}
    finally:
        fleet.close()
    assert set(rows) == {"unsigned", "soaking", "breached", "signed"}
    assert fleet.rows()[0].id == "breached"
    assert rows["soaking"].soak == "◷ 5% 13h/24h" and rows["soaking"].metric == "OK"
    assert rows["soaking"].where == "postgres"
    assert rows["signed"].gate == "?"  # no cockpit published its plan
    assert rows["unsigned"].waiting[0].text == "approval: dev-lead, ops-oncall, product-owner"


def test_another_process_approval_is_heard_and_read(dsn: str) -> None:
    put(dsn, "unsigned")
    fleet = Fleet(pg=PgFleet(dsn), user="alok", clock=FakeClock(NOW))
    heard = threading.Event()

    def on_notify(channel: str, rollout: str) -> None:
        fleet.heard(channel, rollout)
        heard.set()

    try:
        fleet.refresh()
        assert fleet.refresh() == set()  # nothing announced, nothing read
        fleet.pg.listen(on_notify)  # type: ignore[union-attr]
        store = PgStore(dsn, "unsigned")
        r = make_state("unsigned", store, None)  # replays nothing new: the record already has its events
        started = time.monotonic()
        as_actor(r, OPS).approve("ops-oncall")
        store.close()
        wait_for("the NOTIFY", heard.is_set)
        assert fleet.refresh() == {"pg:unsigned"}
        assert time.monotonic() - started < 1.0
        assert fleet.rows()[0].waiting[0].text == "approval: dev-lead, product-owner"
    finally:
        fleet.close()


def test_a_changed_judgement_is_announced_the_heartbeat_is_not(dsn: str) -> None:
    put(dsn, "soaking")
    fleet = Fleet(pg=PgFleet(dsn), user="alok", clock=FakeClock(NOW))
    channels: list[str] = []

    def on_notify(channel: str, rollout: str) -> None:
        channels.append(channel)
        fleet.heard(channel, rollout)

    history = PgHistory(dsn, "soaking")
    try:
        fleet.refresh()
        fleet.pg.listen(on_notify)  # type: ignore[union-attr]
        r = make_state("soaking", PgStore(dsn, "soaking-2"), None, rollout_id="soaking")  # the plan, not the log
        publisher = Publisher(history, r.plan, "oncall@bastion-2")
        ok = [judgement("dlq_entries", "DLQ entries", Status.OK)]
        publisher.judged("stage-2", ok, NOW)
        publisher.judged("stage-2", ok, NOW + timedelta(seconds=11))  # the heartbeat: quiet
        publisher.judged(
            "stage-2", [judgement("dlq_entries", "DLQ entries", Status.STALE)], NOW + timedelta(seconds=12)
        )
        wait_for("the announcements", lambda: channels.count("cockpit_records") >= 3)
        time.sleep(0.3)
        assert channels.count("cockpit_records") == 3  # judged, the plan, judged again: not the heartbeat
        fleet.refresh()
        row = next(row for row in fleet.rows() if row.id == "soaking")
        assert row.metric == "STALE"
        with connect(dsn) as conn:
            (body,) = conn.execute("SELECT body FROM cockpit_records WHERE kind = %s", (JUDGED,)).fetchone()  # type: ignore[misc]
        assert "oncall@bastion-2" in body
    finally:
        history.close()
        fleet.close()


def test_a_record_without_the_records_table_still_lists_its_rollouts(dsn: str) -> None:
    put(dsn, "unsigned", publish=False)
    with connect(dsn) as conn:
        conn.execute("DROP TABLE cockpit_records")
        conn.commit()
    fleet = Fleet(pg=PgFleet(dsn), user="alok", clock=FakeClock(NOW))
    try:
        fleet.refresh()
        assert [row.id for row in fleet.rows()] == ["unsigned"] and fleet.error == ""
    finally:
        fleet.close()


def test_an_unreachable_database_is_said_not_raised(postgres: object) -> None:
    fleet = Fleet(pg=PgFleet("postgresql://cockpit@127.0.0.1:9/nope"), user="alok", clock=FakeClock(NOW))
    try:
        fleet.refresh()
        assert "unreachable" in fleet.error.lower() or "postgresql" in fleet.error.lower()
        assert fleet.rows() == []
    finally:
        fleet.close()


def test_a_rollout_with_a_running_cockpit_and_no_event_yet_is_a_line(dsn: str) -> None:
    history = PgHistory(dsn, "fresh")
    r = make_state("unsigned", PgStore(dsn, "elsewhere"), None, rollout_id="fresh")  # the plan only
    Publisher(history, r.plan, "alok@bastion-1").judged("stage-0", [], NOW)
    history.close()
    fleet = Fleet(pg=PgFleet(dsn), user="alok", clock=FakeClock(NOW))
    try:
        fleet.refresh()
        rows = {row.id: row for row in fleet.rows()}
    finally:
        fleet.close()
    assert rows["fresh"].events == 0
    assert rows["fresh"].waiting[0].text == "approval: dev-lead, ops-oncall, product-owner"


async def test_enter_opens_a_postgres_rollouts_dashboard(
    dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rollout of the shared record opens on its own store and history, as ``cockpit --config PLAN`` would."""
    monkeypatch.setenv("COCKPIT_DATABASE_URL", dsn)
    monkeypatch.setenv("APP_TOKEN", "tok")
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    loaded = plan_for("shared", plan_dir=tmp_path, dsn=dsn)
    store, history = PgStore(dsn, "shared"), PgHistory(dsn, "shared")
    r = Rollout(loaded, store, clock=FakeClock(NOW), actor=ALOK)
    r.note("plan reviewed")
    Publisher(history, r.plan, "alok@bastion-1", str(loaded.path)).judged("stage-0", [], NOW)
    store.close()
    history.close()
    app = FleetApp(Fleet(pg=PgFleet(dsn), user="alok", clock=FakeClock(NOW)))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await until_read(pilot, app)
        screen.query_one(DataTable).move_cursor(row=0)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen), str(screen.query_one("#fleet-result").render())
        opened = app.screen.services.rollout
        assert opened.plan.rollout.id == "shared" and isinstance(opened.store, PgStore)
        assert [e.type for e in opened.store.read(0)] == ["plan.changed", "note.added"]  # the plan, with its first write
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen

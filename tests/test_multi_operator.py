"""Several cockpits on one PostgreSQL record: live redraws through NOTIFY, the shared history,
``cockpit audit verify`` on the database, and the DEGRADED banner (all on real servers)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cockpit.cli.main import main
from cockpit.clock import FakeClock
from cockpit.plan.load import LoadedPlan
from cockpit.rollout import Rollout
from cockpit.session import Services
from cockpit.store.backend import open_history, open_store
from cockpit.store.history import Sample, SqliteHistory
from cockpit.store.paths import history_path
from cockpit.store.pg import PgHistory, PgStore, init_schema
from screens.app import CockpitApp
from tests.core_helpers import ALOK, OPS, example_plan, example_text
from tests.servers import Postgres
from tests.tui_support import FLAGS, make_app, record_kill, to_stage

pytestmark = pytest.mark.postgres

SIZE = (120, 40)
PG_TEXT = example_text().replace('store = "file"', 'store = "postgres"\ndsn = "${COCKPIT_DATABASE_URL}"', 1)


@pytest.fixture
def dsn(postgres_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    init_schema(postgres_db)
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    return postgres_db


def pg_plan(dsn: str) -> LoadedPlan:
    return example_plan({"COCKPIT_DATABASE_URL": dsn}, text=PG_TEXT)


def gate_text(app: CockpitApp) -> str:
    return str(app.screen.query_one("#gate").render())


def test_open_history_follows_the_plans_store(dsn: str, tmp_path: Path) -> None:
    file_plan = example_plan()
    local = open_history(file_plan)
    assert isinstance(local, SqliteHistory) and local.path == history_path(file_plan)
    local.close()

    loaded = pg_plan(dsn)
    writer = open_history(loaded)
    viewer = open_history(loaded, readonly=True)
    assert isinstance(writer, PgHistory) and isinstance(viewer, PgHistory)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    writer.add(Sample("error_rate", at, 0.4))
    viewer.add(Sample("error_rate", at, 9.9))  # a read-only viewer adds nothing
    assert viewer.count("error_rate") == 1
    latest = viewer.latest("error_rate")
    assert latest is not None and latest.value == 0.4
    writer.close()
    viewer.close()


async def test_another_cockpits_approval_shows_within_one_second(dsn: str) -> None:
    loaded = pg_plan(dsn)
    rollout = Rollout(loaded, open_store(loaded), clock=FakeClock(), actor=ALOK)
    history = open_history(loaded)
    # live=False: no poll and no 1 s tick, so only the NOTIFY can explain a redraw
    app = CockpitApp(Services.build(rollout, history, live=False))
    other = Rollout(pg_plan(dsn), PgStore(dsn, loaded.plan.rollout.id), clock=FakeClock(), actor=OPS)
    try:
        async with app.run_test(size=SIZE) as pilot:
            deadline = time.monotonic() + 10
            while not app.listening and time.monotonic() < deadline:
                await pilot.pause(0.02)
            assert app.listening
            assert "Ops On-Call: oncall" not in gate_text(app)

            noted = other.note_plan()  # its first write records its plan: heard first, then timed on its own
            wait = time.monotonic() + 10
            while noted is not None and app.notified < noted.seq and time.monotonic() < wait:
                await pilot.pause(0.02)
            event = other.approve("ops-oncall")  # a second cockpit, another person, another connection
            start = time.monotonic()
            while "Ops On-Call: oncall" not in gate_text(app) and time.monotonic() - start < 1.0:
                await pilot.pause(0.02)
            seen_after = time.monotonic() - start
            assert "Ops On-Call: oncall" in gate_text(app), "not shown within 1 s"
            assert seen_after < 1.0
            assert app.notified >= event.seq  # the notification, not anything else, brought it

            other.advance(override="night shift starts stage 0")  # a stage change, the same way
            start = time.monotonic()
            while app.services.rollout.current_stage is None or app.notified < other.state.count:
                assert time.monotonic() - start < 1.0, "stage change not heard within 1 s"
                await pilot.pause(0.02)
        assert not app.listening  # unsubscribed on exit
    finally:
        history.close()
        rollout.store.close()  # type: ignore[attr-defined]
        other.store.close()  # type: ignore[attr-defined]


async def test_banner_says_degraded_with_the_spooled_count(tmp_path: Path) -> None:
    loaded = example_plan()
    store = PgStore("postgresql://cockpit@127.0.0.1:9/none?connect_timeout=1", "r1", spool_path=tmp_path / "spool")
    rollout = Rollout(loaded, store, clock=FakeClock(), actor=ALOK)
    rollout.note("written while the database is down")
    rollout.note("and another")
    assert store.degraded and store.spooled == 3  # plan.changed and the two notes
    app = CockpitApp(Services.build(rollout, SqliteHistory(tmp_path / "h.sqlite3"), live=False))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        banner = str(app.screen.query_one("#banner").render())
        assert "STORE DEGRADED" in banner and "3 event(s) spooled" in banner
    store.close()


@pytest.fixture
def plan_file(dsn: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("APP_TOKEN", "tok-s3cr3t-value")
    monkeypatch.setenv("COCKPIT_DATABASE_URL", dsn)
    path = tmp_path / "cockpit.toml"
    path.write_text(PG_TEXT)
    return path


def test_audit_verify_walks_the_postgres_chain(
    plan_file: Path, dsn: str, postgres: Postgres, capsys: pytest.CaptureFixture[str]
) -> None:
    for text in ("one", "two", "three"):
        assert main(["-c", str(plan_file), "note", text]) == 0
    capsys.readouterr()
    assert main(["-c", str(plan_file), "audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "postgres rollout alokickflow-phase2: OK, 4 events, chain intact" in out
    assert main(["-c", str(plan_file), "audit", "show"]) == 0
    shown = capsys.readouterr().out.splitlines()
    notes = [line for line in shown if "note.added" in line]
    assert len(shown) == 4 and "plan.changed" in shown[0] and len(notes) == 3 and '"two"' in notes[1]

    postgres.execute(
        "UPDATE cockpit_events SET line = replace(line, '\"two\"', '\"TWO\"') WHERE seq = 3",
        dbname=dsn.rsplit("/", 1)[-1].split("?")[0],
    )
    assert main(["-c", str(plan_file), "audit", "verify"]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "event 3" in lines[0] and "edited" in lines[0]
    assert "Traceback" not in captured.err and "cockpit-pw" not in captured.err


async def test_readonly_marker_is_shown_not_swallowed_by_markup(tmp_path: Path) -> None:
    app = make_app(tmp_path, readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "[READONLY]" in str(app.screen.query_one("#title").render())


async def test_banner_tells_the_truth_after_a_flag_is_re_enabled_after_a_kill(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    rollout = app.services.rollout
    to_stage(rollout, "stage-2")
    record_kill(rollout)
    rollout.record_flag_change(
        FLAGS[0], {"enabled": False, "percent": 0}, {"enabled": True, "percent": 5}, stage="stage-2", step="dlq-5"
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        banner = str(app.screen.query_one("#banner").render())
        assert "KILLED" in banner and "re-enabled since: FEATURE_FLAG_DLQ_ENABLED (5%)" in banner
        assert "still ON" not in banner


def test_a_postgres_record_cut_short_is_caught_by_this_hosts_witness(
    plan_file: Path, dsn: str, postgres: Postgres, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows deleted from the end of the shared table leave a shorter chain that is still intact: the head this
    host committed (``pg-record.head`` in its state directory) says what was lost."""
    for text in ("one", "two", "three"):
        assert main(["-c", str(plan_file), "note", text]) == 0
    capsys.readouterr()
    assert main(["-c", str(plan_file), "audit", "verify"]) == 0
    postgres.execute(
        "DELETE FROM cockpit_events WHERE seq = (SELECT max(seq) FROM cockpit_events)",
        dbname=dsn.rsplit("/", 1)[-1].split("?")[0],
    )
    assert main(["-c", str(plan_file), "audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "truncated: log ends at event 3; event 4 (hash " in err and "was acknowledged at" in err

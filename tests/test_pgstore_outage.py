"""PostgreSQL going away mid-rollout: appends spool locally, status says DEGRADED, a flush keeps the chain.

The stop/start test runs on its own PostgreSQL cluster so the session's shared one is never stopped.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cockpit import events as ev
from cockpit.cli.core import print_status
from cockpit.cli.main import main
from cockpit.clock import FakeClock
from cockpit.rollout import Rollout
from cockpit.status import status_dict
from cockpit.store.backend import open_store
from cockpit.store.pg import DatabaseUnavailable, PgStore, init_schema, verify_store
from cockpit.store.pg_history import PgHistory
from cockpit.store.spool import Spool
from tests.core_helpers import ALOK, OPS, example_plan, example_text
from tests.servers import Postgres, free_port, start_postgres

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[Postgres]:
    pg = start_postgres()
    yield pg
    pg.destroy()


def pg_rollout(dsn: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, actor=ALOK) -> Rollout:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    text = example_text().replace('store = "file"', 'store = "postgres"\ndsn = "${COCKPIT_DATABASE_URL}"', 1)
    loaded = example_plan({"COCKPIT_DATABASE_URL": dsn}, text=text)
    return Rollout(loaded, open_store(loaded), clock=FakeClock(), actor=actor)


def test_database_stopped_mid_rollout_spools_then_flushes_without_loss(
    own_postgres: Postgres, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, dsn = own_postgres.fresh_database()
    init_schema(dsn)
    rollout = pg_rollout(dsn, monkeypatch, tmp_path)
    store = rollout.store
    assert isinstance(store, PgStore)
    for i in range(3):
        rollout.record(ev.NOTE_ADDED, {"text": f"before {i}"})
    seen: queue.Queue[int] = queue.Queue()
    watcher = PgStore(dsn, "alokickflow-phase2", readonly=True)
    watcher.subscribe(seen.put)
    own_postgres.stop()
    try:
        for i in range(5):
            started = time.monotonic()
            event = rollout.record(ev.KILL_REQUESTED if i == 0 else ev.NOTE_ADDED, {"text": f"during {i}"})
            assert time.monotonic() - started < 2.5  # one failed connect at most, then straight to the spool
            assert event.seq == 5 + i  # after plan.changed and the three notes
        assert store.degraded and store.spooled == 5
        assert rollout.state.count == 9 and len(rollout.state.kills) == 1  # the kill is in the state already
        status = status_dict(rollout)["store"]
        assert status == {"kind": "postgres", "degraded": True, "spooled": 5}
        print_status(rollout, status_dict(rollout))
        assert "DEGRADED" in capsys.readouterr().out
    finally:
        own_postgres.start()
    assert store.flush() == 5
    assert not store.degraded and store.spooled == 0
    assert Spool(tmp_path / "state" / "alokickflow-phase2" / "pg-spool.jsonl").events() == []
    fresh = PgStore(dsn, "alokickflow-phase2")
    texts = [e.payload["text"] for e in fresh.read() if e.type != ev.PLAN_CHANGED]
    assert texts == [f"before {i}" for i in range(3)] + [f"during {i}" for i in range(5)]
    result = verify_store(fresh)
    assert result.ok and result.count == 9
    assert "spooled" not in fresh.read()[-1].payload  # nobody appended meanwhile: inserted as-is
    assert rollout.record(ev.NOTE_ADDED, {"text": "after"}).seq == 10
    deadline = time.monotonic() + 10  # the watcher reconnects by itself and hears the flush and the rest
    heard: list[int] = []
    while 10 not in heard and time.monotonic() < deadline:
        try:
            heard.append(seen.get(timeout=0.2))
        except queue.Empty:
            pass
    assert 10 in heard
    assert watcher.read()[-1].seq == 10
    watcher.close()
    fresh.close()
    store.close()


def test_others_appended_meanwhile_the_spool_is_resealed_on_the_new_head(
    postgres_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    init_schema(postgres_db)
    dead = f"postgresql://cockpit:x@127.0.0.1:{free_port()}/nowhere"
    rollout = pg_rollout(dead, monkeypatch, tmp_path)  # this cockpit cannot reach the database
    offline = rollout.store
    assert isinstance(offline, PgStore)
    rollout.record(ev.NOTE_ADDED, {"text": "offline 1"})
    rollout.record(ev.NOTE_ADDED, {"text": "offline 2"})
    assert offline.spooled == 3 and rollout.state.count == 3  # plan.changed and two notes
    other = PgStore(postgres_db, "alokickflow-phase2")
    for i in range(3):
        other.append(ev.NOTE_ADDED, {"text": f"online {i}"}, OPS, rollout.now())
    offline.db.dsn = postgres_db  # the network comes back
    assert offline.flush() == 3
    events = other.read()
    assert [e.payload["text"] for e in events if e.type != ev.PLAN_CHANGED] == ["online 0", "online 1", "online 2", "offline 1", "offline 2"]
    assert events[3].payload["spooled"]["seq"] == 1 and events[3].actor == ALOK
    assert verify_store(other).ok
    state = rollout.state  # the cockpit notices the chain moved and rebuilds its state
    assert state.count == 6 and state.head == events[-1].hash and len(state.notes) == 5
    other.close()
    offline.close()


def test_a_spooled_event_already_committed_is_not_inserted_twice(postgres_db: str, tmp_path: Path) -> None:
    init_schema(postgres_db)
    store = PgStore(postgres_db, "r1", spool_path=tmp_path / "spool.jsonl")
    event = store.append(ev.NOTE_ADDED, {"text": "acked?"}, ALOK, FakeClock().now())
    Spool(tmp_path / "spool.jsonl").append(event)  # committed, but the acknowledgement was lost
    again = PgStore(postgres_db, "r1", spool_path=tmp_path / "spool.jsonl")
    assert again.degraded and again.spooled == 1  # a spool left by the last run is picked up
    assert again.flush() == 0
    assert again.spooled == 0 and verify_store(again).count == 1
    store.close()
    again.close()


def test_without_a_spool_an_unreachable_database_is_an_error(tmp_path: Path) -> None:
    store = PgStore(f"postgresql://cockpit:pw@127.0.0.1:{free_port()}/x", "r1")
    with pytest.raises(DatabaseUnavailable, match="unreachable") as info:
        store.append(ev.NOTE_ADDED, {}, ALOK, FakeClock().now())
    assert "pw@" not in str(info.value)
    assert store.degraded


def test_offline_status_on_two_machines_shows_the_same_approvals_from_their_mirrors(
    own_postgres: Postgres, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each cockpit keeps a verified local mirror of the chain it read: with the database down, a fresh
    ``cockpit status`` on either machine (its own state directory) shows the shared approvals."""

    own_postgres.start()
    _, dsn = own_postgres.fresh_database()
    init_schema(dsn)
    plan = tmp_path / "cockpit.toml"
    plan.write_text(example_text().replace('store = "file"', 'store = "postgres"\ndsn = "${COCKPIT_DATABASE_URL}"', 1))
    monkeypatch.setenv("APP_TOKEN", "tok-s3cr3t-value")
    monkeypatch.setenv("COCKPIT_DATABASE_URL", dsn)
    a_dir, b_dir = tmp_path / "a" / "state", tmp_path / "b"
    rollout = pg_rollout(dsn, monkeypatch, tmp_path / "a")  # machine A signs (state in a/state)
    rollout.approve("dev-lead")
    Rollout(rollout.loaded, rollout.store, clock=FakeClock(), actor=OPS).approve("ops-oncall")
    rollout.store.close()  # type: ignore[attr-defined]
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(b_dir))
    assert main(["-c", str(plan), "status"]) == 0  # B reads the chain once while the database is up
    online = capsys.readouterr().out
    assert "Dev Lead" in online and "alok" in online
    own_postgres.stop()
    try:
        outputs = {}
        for name, where in (("A", a_dir), ("B", b_dir)):
            monkeypatch.setenv("COCKPIT_STATE_DIR", str(where))
            assert main(["-c", str(plan), "status"]) == 0
            outputs[name] = capsys.readouterr().out
        for name, out in outputs.items():
            assert "DEGRADED" in out and "last contact" in out, (name, out)
            assert "audit: 3 events" in out, (name, out)  # the plan.changed, then the two approvals
        approvals = {
            name: [line for line in out.splitlines() if line.startswith("  ✔")] for name, out in outputs.items()
        }
        assert len(approvals["A"]) == 2 and approvals["A"] == approvals["B"]
    finally:
        own_postgres.start()


def test_a_fleet_record_published_while_the_database_is_down_is_dropped_not_raised() -> None:
    """The monitor publishes its judgements for `cockpit fleet` on every judging round: with the database
    down that must not stop the round (DEGRADED says the rest; the next round publishes again)."""
    history = PgHistory(f"postgresql://cockpit:pw@127.0.0.1:{free_port()}/x", "r1")
    try:
        history.put_record("judged", datetime.now(UTC), {"stage": "stage-2", "rows": []})  # no exception
        assert history.degraded
    finally:
        history.close()

"""PgStore on a real PostgreSQL: one chain from many writers, NOTIFY, read-only, history."""

from __future__ import annotations

import itertools
import queue
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from cockpit.events import GENESIS, Actor
from cockpit.store.audit import AuditError, ReadOnlyStore
from cockpit.store.history import Sample
from cockpit.store.pg import PgHistory, PgStore, init_schema, stored_lines, verify_store
from cockpit.store.pg_schema import SCHEMA_VERSION, connect
from tests.core_helpers import ROOT
from tests.test_history import check_series

pytestmark = pytest.mark.postgres

ALOK = Actor("alok", 1001, "bastion-1")
T0 = datetime(2026, 1, 1, tzinfo=UTC)

WRITER = """
import sys
from datetime import UTC, datetime
from cockpit.events import Actor
from cockpit.store.pg import PgStore
dsn, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = PgStore(dsn, "r1")
actor = Actor(name, 1, name)
print("ready", flush=True)
sys.stdin.readline()
for n in range(count):
    store.append("note.added", {"writer": name, "n": n}, actor, datetime.now(UTC))
store.close()
"""


@pytest.fixture
def dsn(postgres_db: str) -> str:
    init_schema(postgres_db)
    return postgres_db


def test_init_schema_is_idempotent_and_records_the_version(postgres_db: str) -> None:
    assert init_schema(postgres_db) == SCHEMA_VERSION
    assert init_schema(postgres_db) == SCHEMA_VERSION
    with connect(postgres_db) as conn:
        rows = conn.execute("SELECT version FROM cockpit_schema ORDER BY version").fetchall()
    assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1))


def test_append_read_head_and_a_second_cockpit_sees_it(dsn: str) -> None:
    store = PgStore(dsn, "r1")
    assert store.head() == (0, GENESIS)
    events = [store.append("note.added", {"text": f"n{i}"}, ALOK, T0 + timedelta(seconds=i)) for i in range(3)]
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[1].prev == events[0].hash
    other = PgStore(dsn, "r1")
    assert other.read() == events
    assert other.read(2) == events[2:]
    assert other.head() == (3, events[2].hash)
    assert verify_store(other).ok and verify_store(other).count == 3
    # another rollout in the same database has its own chain
    assert PgStore(dsn, "r2").append("note.added", {}, ALOK, T0).seq == 1
    assert store.read(0) == events
    store.close()
    other.close()


def test_three_processes_appending_at_once_make_one_chain(dsn: str) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, dsn, f"w{i}", "1000"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for i in range(3)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:  # release them together
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        assert p.wait(timeout=120) == 0
    store = PgStore(dsn, "r1")
    result = verify_store(store)
    assert result.ok, result.problem
    assert result.count == 3000
    events = store.read()
    for name in ("w0", "w1", "w2"):
        mine = [e.payload["n"] for e in events if e.payload["writer"] == name]
        assert mine == list(range(1000))  # each writer's events all there, in its order
    writers = [e.payload["writer"] for e in events]
    assert sum(a != b for a, b in itertools.pairwise(writers)) > 2  # really interleaved
    store.close()


def test_a_notify_reaches_a_second_connection_within_one_second(dsn: str) -> None:
    writer, watcher = PgStore(dsn, "r1"), PgStore(dsn, "r1")
    seen: queue.Queue[int] = queue.Queue()
    unsubscribe = watcher.subscribe(seen.put)
    PgStore(dsn, "other-rollout").append("note.added", {}, ALOK, T0)  # not ours: not delivered
    started = time.monotonic()
    event = writer.append("kill.requested", {"flags": ["X"]}, ALOK, T0)
    assert seen.get(timeout=1.0) == event.seq
    assert time.monotonic() - started < 1.0
    assert watcher.read(0)[-1] == event
    unsubscribe()
    writer.append("note.added", {}, ALOK, T0)
    with pytest.raises(queue.Empty):
        seen.get(timeout=0.5)
    writer.close()
    watcher.close()


def test_a_subscribed_store_does_not_poll_the_table(dsn: str) -> None:
    """Issue 7: live by LISTEN/NOTIFY, not by polling. While LISTEN is in effect and nothing new was
    announced, a read answers from what the store holds; an announcement makes the next read fetch."""
    writer, watcher = PgStore(dsn, "r1"), PgStore(dsn, "r1")
    writer.append("note.added", {"text": "1"}, ALOK, T0)
    seen: queue.Queue[int] = queue.Queue()
    unsubscribe = watcher.subscribe(seen.put)
    assert [e.seq for e in watcher.read(0)] == [1]  # the first read fetches
    live_dsn, watcher.db.dsn = watcher.db.dsn, "host=127.0.0.1 port=1 connect_timeout=1"  # a query would now fail
    watcher.db.close()
    for _ in range(20):
        assert [e.seq for e in watcher.read(0)] == [1]
    assert watcher.error == "" and not watcher.degraded  # no query was attempted
    watcher.db.dsn = live_dsn
    writer.append("note.added", {"text": "2"}, ALOK, T0)
    assert seen.get(timeout=1.0) == 2
    assert [e.seq for e in watcher.read(0)] == [1, 2]  # announced: fetched
    unsubscribe()
    writer.close()
    watcher.close()


def test_readonly_refuses_writes_and_its_connection_is_read_only(dsn: str) -> None:
    PgStore(dsn, "r1").append("note.added", {"text": "x"}, ALOK, T0)
    viewer = PgStore(dsn, "r1", readonly=True)
    with pytest.raises(ReadOnlyStore):
        viewer.append("note.added", {}, ALOK, T0)
    with pytest.raises(ReadOnlyStore):
        viewer.flush()
    assert len(viewer.read()) == 1
    with pytest.raises(AuditError, match="read-only"):
        viewer.db.run(lambda conn: conn.execute("DELETE FROM cockpit_events"))
    assert len(stored_lines(viewer)) == 1
    seen: queue.Queue[int] = queue.Queue()
    viewer.subscribe(seen.put)  # a viewer still hears everything live
    PgStore(dsn, "r1").append("note.added", {}, ALOK, T0)
    assert seen.get(timeout=1.0) == 2
    viewer.close()


def test_without_schema_the_error_says_run_db_init(postgres_db: str) -> None:
    with pytest.raises(AuditError, match="cockpit db init"):
        PgStore(postgres_db, "r1").append("note.added", {}, ALOK, T0)


def test_history_add_samples_latest_stats(dsn: str) -> None:
    history = PgHistory(dsn, "r1")
    for i in range(100):
        history.add(Sample("p99", T0 + timedelta(seconds=i), float(i + 1)))
    history.add(Sample("p99", T0 + timedelta(seconds=100), None, "timeout"))
    history.add(Sample("health", T0, "healthy"))
    PgHistory(dsn, "r2").add(Sample("p99", T0, 1e9))
    got = history.samples("p99", T0 + timedelta(seconds=10), T0 + timedelta(seconds=12))
    assert [s.value for s in got] == [11.0, 12.0, 13.0]
    latest = history.latest("p99")
    assert latest is not None and latest.error == "timeout" and latest.value is None
    good = history.latest_good("p99")
    assert good is not None and good.value == 100.0
    stats = history.stats("p99", T0, T0 + timedelta(hours=1))
    assert stats is not None and (stats.count, stats.min, stats.max, stats.p50, stats.p99) == (100, 1, 100, 50, 99)
    health = history.latest("health")
    assert health is not None and health.value == "healthy"
    assert history.count("p99") == 101 and history.count() == 102
    history.close()


def test_history_series_in_postgresql(dsn: str) -> None:
    history = PgHistory(dsn, "series")
    check_series(history)
    history.close()


def test_history_thins_and_expires_like_sqlite(dsn: str) -> None:
    """3 h of 5 s polls, 2 h retention: the last hour whole, the hour before one a minute (a failed poll kept
    over a good one), older gone; another rollout's samples untouched."""
    other = PgHistory(dsn, "thin-other")
    other.add(Sample("m", T0, 1.0))
    history = PgHistory(dsn, "thin", retention=timedelta(hours=2))
    failed_at = T0 + timedelta(minutes=90, seconds=20)
    for i in range(3 * 720):
        at = T0 + timedelta(seconds=5 * i)
        history.add(Sample("m", at, None, "refused") if at == failed_at else Sample("m", at, float(i)))
    newest = T0 + timedelta(seconds=5 * (3 * 720 - 1))
    history.compact(newest)
    assert 770 <= history.count("m") <= 790  # 720 + 60, give or take the minute at each edge
    assert history.samples("m", T0, newest - timedelta(hours=2, seconds=1)) == []
    minute = history.samples("m", failed_at.replace(second=0), failed_at.replace(second=59))
    assert [s.error for s in minute] == ["refused"]
    assert len(history.samples("m", newest - timedelta(minutes=30), newest)) == 361  # full resolution
    assert other.count("m") == 1
    history.close()
    other.close()

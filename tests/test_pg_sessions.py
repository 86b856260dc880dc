"""PostgreSQL metrics keep one connection per source (real server): reused from poll to poll, replaced when
it is lost, dropped on close, and nothing a query sets outlives its transaction."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import psycopg
import pytest

from cockpit.monitor import Monitor
from tests.servers import Postgres
from tests.test_sources import mini_plan, monitor_for

pytestmark = pytest.mark.postgres


def body(statement_timeout: str = "5s") -> str:
    metrics = {
        "pid": ("SELECT pg_backend_pid()", "gauge"),
        "unlock": ("SELECT set_config('default_transaction_read_only', 'off', false)", "text"),
        "readonly": ("SELECT current_setting('default_transaction_read_only')", "text"),
        "write": ("WITH x AS (INSERT INTO t VALUES (1) RETURNING id) SELECT count(*) FROM x", "gauge"),
        "sleep": ("SELECT pg_sleep(5)", "text"),
    }
    text = f"""
[sources.db]
kind = "postgres"
dsn = "${{DATABASE_URL}}"
connect_timeout = "2s"
statement_timeout = "{statement_timeout}"
"""
    for name, (query, kind) in metrics.items():
        text += f'\n[metrics.{name}]\ntitle = "{name}"\nsource = "db"\nkind = "{kind}"\nquery = "{query}"\n'
    return text


def backends(postgres: Postgres, dbname: str) -> list[int]:
    with psycopg.connect(postgres.dsn(user="postgres"), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'rollout-cockpit' AND datname = %s", [dbname]
        ).fetchall()
    return sorted(r[0] for r in rows)


def terminate(postgres: Postgres, pid: int) -> None:
    postgres.execute(f"SELECT pg_terminate_backend({pid}, 5000)")


def eventually(postgres: Postgres, dbname: str, expected: list[int]) -> None:
    """The cockpit's backends become ``expected`` (a closed one takes a moment to leave the server)."""
    deadline = time.monotonic() + 5
    while (now := backends(postgres, dbname)) != expected:
        assert time.monotonic() < deadline, f"the cockpit's connections are {now}, expected {expected}"
        time.sleep(0.05)


@pytest.fixture
def monitor(tmp_path: Path, postgres: Postgres, postgres_db: str) -> Monitor:
    name = postgres_db.rsplit("/", 1)[1]
    postgres.execute("CREATE TABLE t (id int); ALTER TABLE t OWNER TO cockpit", name)
    return monitor_for(mini_plan(tmp_path, body(), env={"DATABASE_URL": postgres_db}), tmp_path)


async def test_polls_share_one_connection_until_closed(monitor: Monitor, postgres: Postgres, postgres_db: str) -> None:
    dbname = postgres_db.rsplit("/", 1)[1]
    pids = {(await monitor.poll_metric("pid")).value for _ in range(5)}
    assert len(pids) == 1 and None not in pids
    eventually(postgres, dbname, [int(pids.pop())])  # type: ignore[arg-type]
    await monitor.aclose()
    eventually(postgres, dbname, [])


async def test_nothing_a_query_sets_outlives_it(monitor: Monitor, postgres: Postgres, postgres_db: str) -> None:
    first = (await monitor.poll_metric("pid")).value
    assert (await monitor.poll_metric("unlock")).value == "off"  # inside its own, rolled back, transaction
    assert (await monitor.poll_metric("readonly")).value == "on"
    write = await monitor.poll_metric("write")
    assert write.value is None and "read-only" in write.error
    assert (await monitor.poll_metric("pid")).value == first  # one connection all along
    await monitor.aclose()


async def test_a_lost_connection_is_replaced_within_the_poll(monitor: Monitor, postgres: Postgres) -> None:
    first = (await monitor.poll_metric("pid")).value
    assert isinstance(first, float)
    terminate(postgres, int(first))  # a DBA kills it, or the server restarted between polls
    again = await monitor.poll_metric("pid")
    assert again.error == "" and isinstance(again.value, float) and again.value != first
    await monitor.aclose()


async def test_a_query_failure_keeps_the_connection(tmp_path: Path, postgres: Postgres, postgres_db: str) -> None:
    loaded = mini_plan(tmp_path, body(statement_timeout="300ms"), env={"DATABASE_URL": postgres_db})
    monitor = monitor_for(loaded, tmp_path)
    first = (await monitor.poll_metric("pid")).value
    slow = await monitor.poll_metric("sleep")
    assert slow.value is None and "statement timeout" in slow.error
    assert (await monitor.poll_metric("pid")).value == first
    await monitor.aclose()


async def test_an_outage_is_an_error_then_the_next_poll_reconnects(monitor: Monitor, postgres: Postgres) -> None:
    assert (await monitor.poll_metric("pid")).error == ""
    postgres.stop()
    try:
        down = await monitor.poll_metric("pid")
        assert down.value is None and "PostgreSQL" in down.error and "cockpit-pw" not in down.error
    finally:
        postgres.start()
    back = await monitor.poll_metric("pid")
    assert back.error == "" and isinstance(back.value, float)
    await monitor.aclose()


def test_each_event_loop_gets_its_own_connection(monitor: Monitor, postgres: Postgres, postgres_db: str) -> None:
    """`cockpit check` style: one asyncio.run per round on the same monitor."""
    dbname = postgres_db.rsplit("/", 1)[1]
    for _ in range(3):
        sample = asyncio.run(monitor.poll_metric("pid"))
        assert sample.error == ""
        eventually(postgres, dbname, [int(sample.value)])  # type: ignore[arg-type]
    asyncio.run(monitor.aclose())
    eventually(postgres, dbname, [])


async def test_a_hung_backend_costs_one_poll_then_a_fresh_connection(
    tmp_path: Path, postgres: Postgres, postgres_db: str
) -> None:
    """The server stops answering mid-poll (its backend frozen with SIGSTOP): the poll gives up after its
    budget (connect 2 s + statement 0.3 s + 2 s) and the up to 5 s psycopg spends asking the server to
    cancel the query; the connection is dropped and the next poll opens another."""
    monitor = monitor_for(mini_plan(tmp_path, body("300ms"), env={"DATABASE_URL": postgres_db}), tmp_path)
    first = (await monitor.poll_metric("pid")).value
    assert isinstance(first, float)
    os.kill(int(first), signal.SIGSTOP)
    try:
        started = time.monotonic()
        hung = await monitor.poll_metric("pid")
        took = time.monotonic() - started
    finally:
        os.kill(int(first), signal.SIGCONT)
    assert hung.value is None and "did not answer within 4s" in hung.error and 4 < took < 15
    again = await monitor.poll_metric("pid")
    assert again.error == "" and again.value != first
    await monitor.aclose()

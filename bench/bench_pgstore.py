"""PgStore on loopback: append latency (p50/p99), NOTIFY latency to a second cockpit, and the outage path:
time from stopping PostgreSQL (fast shutdown, as ``pg_ctl stop``) to the store saying DEGRADED (what the
dashboard's banner shows on its next redraw, at most 1 s later), and from restarting it to the spool
flushed by itself (no command run).

Starts its own throwaway PostgreSQL (tests/servers.py's helper; fsync off, as in the tests), so the
figures are the store's and the protocol's cost, not the disk's. Run:

    .venv/bin/python bench/bench_pgstore.py [APPENDS]
"""

from __future__ import annotations

import asyncio
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.clock import FakeClock
from cockpit.events import Actor
from cockpit.plan.load import parse_plan
from cockpit.session import Services
from cockpit.store.pg import PgStore, init_schema, verify_store
from screens.app import CockpitApp
from tests.core_helpers import ENV, EXAMPLE, example_text
from tests.servers import Postgres, start_postgres

ACTOR = Actor("bench", 1000, "bench-host")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def show(label: str, seconds: list[float]) -> None:
    ms = [s * 1000 for s in seconds]
    print(f"{label:<44} n={len(ms):>5}  p50={pct(ms, 50):7.3f} ms  p99={pct(ms, 99):7.3f} ms  max={max(ms):7.3f} ms")


def appends(store: PgStore, n: int) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        store.append("note.added", {"i": i}, ACTOR, datetime.now(UTC))
        out.append(time.perf_counter() - t)
    return out


def until(check: Callable[[], bool], timeout: float = 30.0) -> float:
    """Seconds until ``check()`` holds (polled every 5 ms)."""
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("never happened")
        time.sleep(0.005)
    return time.perf_counter() - start


def outage(pg: Postgres, dsn: str, rounds: int = 5) -> None:
    """A cockpit as the dashboard runs it (subscribed, with a spool): stop -> DEGRADED, restart -> flushed."""
    to_degraded, to_flushed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        store = PgStore(dsn, "outage", spool_path=Path(tmp) / "spool.jsonl", mirror_path=Path(tmp) / "mirror.jsonl")
        store.subscribe(lambda seq: None)
        store.append("note.added", {"before": True}, ACTOR, datetime.now(UTC))
        for i in range(rounds):
            until(store.listening)  # up again, LISTEN back in effect (as between real outages)
            stopped = time.perf_counter()
            pg.stop()
            pg_stopped = time.perf_counter() - stopped  # the fast shutdown itself
            to_degraded.append(until(lambda: store.degraded) + pg_stopped)
            for k in range(3):
                store.append("kill.requested" if k == 0 else "note.added", {"round": i}, ACTOR, datetime.now(UTC))
            assert store.spooled == 3
            pg.start()  # returns once PostgreSQL accepts connections
            to_flushed.append(until(lambda: store.spooled == 0 and not store.degraded))
        check = verify_store(store)
        store.close()
    show("pg stop -> store DEGRADED (no query needed)", to_degraded)
    show("pg restart -> spool flushed by itself", to_flushed)
    print(f"chain after {rounds} outages: {check.count} events, verified={check.ok}")


async def on_screen(pg: Postgres, dsn: str, rounds: int = 3) -> None:
    """The dashboard itself (headless, live: polls and judging running): stop -> DEGRADED in the banner,
    restart -> the banner clear and the spool flushed, with a kill spooled meanwhile."""
    # the UI only here: the rest of this bench needs no Textual

    text = example_text().replace('store = "file"', 'store = "postgres"\ndsn = "${COCKPIT_DATABASE_URL}"', 1)
    env = {**ENV, "APP_URL": "http://127.0.0.1:9", "PROMETHEUS_URL": "http://127.0.0.1:9", "COCKPIT_DATABASE_URL": dsn}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COCKPIT_STATE_DIR"] = tmp
        loaded = parse_plan(text, str(EXAMPLE), env, base=EXAMPLE)
        app = CockpitApp(Services.open(loaded, clock=FakeClock(), connect=True))
        store = app.services.rollout.store
        assert isinstance(store, PgStore)

        def banner() -> str:
            return str(app.screen.query_one("#banner").render())

        async def until_async(check: Callable[[], bool], timeout: float = 30.0) -> float:
            start = time.perf_counter()
            while not check():
                if time.perf_counter() - start > timeout:
                    raise TimeoutError("never happened")
                await asyncio.sleep(0.01)
            return time.perf_counter() - start

        to_degraded, to_clear = [], []
        async with app.run_test(size=(120, 40)):
            await until_async(lambda: app.screen.started and app.listening)
            for _ in range(rounds):
                await until_async(store.listening)
                stopped = time.perf_counter()
                pg.stop()
                shutdown = time.perf_counter() - stopped
                to_degraded.append(shutdown + await until_async(lambda: "DEGRADED" in banner()))
                app.services.rollout.note("written while the database is down")
                pg.start()
                to_clear.append(await until_async(lambda: store.spooled == 0 and "DEGRADED" not in banner()))
        app.services.history.close()
        store.close()
    show("pg stop -> DEGRADED on the dashboard", to_degraded)
    show("pg restart -> flushed, banner clear (dashboard)", to_clear)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    pg = start_postgres()
    try:
        _, dsn = pg.fresh_database()
        init_schema(dsn)
        writer = PgStore(dsn, "bench")
        appends(writer, 50)  # warm up the connection
        show("append, one writer", appends(writer, n))

        others = [PgStore(dsn, "bench") for _ in range(2)]
        results: list[list[float]] = [[], [], []]
        threads = [
            threading.Thread(target=lambda s=s, k=k: results[k].extend(appends(s, n // 3)))
            for k, s in enumerate([writer, *others])
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        show("append, three writers at once (same chain)", [x for r in results for x in r])

        watcher = PgStore(dsn, "bench")
        seen: queue.Queue[tuple[int, float]] = queue.Queue()
        unsubscribe = watcher.subscribe(lambda seq: seen.put((seq, time.perf_counter())))
        latencies = []
        for i in range(500):
            t = time.perf_counter()
            event = writer.append("note.added", {"notify": i}, ACTOR, datetime.now(UTC))
            seq, at = seen.get(timeout=5)
            assert seq == event.seq
            latencies.append(at - t)
        show("append -> NOTIFY at a second connection", latencies)
        unsubscribe()
        check = verify_store(watcher)
        print(f"chain: {check.count} events, verified={check.ok}")
        print(f"median of 200 more appends (re-check): {statistics.median(appends(writer, 200)) * 1000:.3f} ms")
        for s in (writer, watcher, *others):
            s.close()
        outage(pg, dsn)
        asyncio.run(on_screen(pg, dsn))
    finally:
        pg.destroy()


if __name__ == "__main__":
    main()

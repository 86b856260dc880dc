"""A PostgreSQL metric's poll on loopback: the kept connection (``PgSessions``, what the monitor uses)
against a connection per poll (``query_postgres``, what checks use): wall time and the cockpit's CPU per
poll, and the backends the server sees. Starts its own throwaway PostgreSQL. Run:

    .venv/bin/python bench/bench_pgpoll.py [POLLS]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.sources.local import PgSessions, query_postgres
from tests.servers import start_postgres
from tests.test_sources import mini_plan
from tests.test_sources_local import pg_body


async def measure(label: str, poll: object, n: int) -> None:
    walls, cpus = [], []
    for _ in range(n):
        w, c = time.perf_counter(), time.process_time()
        await poll()  # type: ignore[operator]
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    print(f"{label:<36} n={n:>4}  wall p50 {statistics.median(walls) * 1000:6.2f} ms"
          f"  cpu mean {statistics.fmean(cpus) * 1000:6.2f} ms")  # fmt: skip


async def main(n: int) -> None:
    pg = start_postgres()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            body = pg_body(pg.dsn(), "SELECT count(*) FROM pg_class")
            loaded = mini_plan(Path(tmp), body, env={"DATABASE_URL": pg.dsn()})
            src, query = loaded.plan.sources["db"], loaded.plan.metrics["m"].query
            sessions = PgSessions()
            await measure("kept connection (polls)", lambda: sessions.query(loaded, src, query), n)  # type: ignore[arg-type]
            await sessions.aclose()
            await measure("a connection per poll (checks)", lambda: query_postgres(loaded, src, query), n)  # type: ignore[arg-type]
    finally:
        pg.destroy()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))

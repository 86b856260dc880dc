"""Benchmark: replay of 100,000 events (goal < 1 s) and append throughput with fsync.

Run: .venv/bin/python bench/bench_audit.py [--events N] [--appends N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.events import GENESIS, Actor, seal
from cockpit.state import replay
from cockpit.store.audit import chain_problem, verify_file
from cockpit.store.filelog import FileStore

ACTOR = Actor("bench", 1000, "host")
T0 = datetime(2024, 12, 12, tzinfo=UTC)


def _payload(i: int) -> tuple[str, dict]:
    kind = i % 4
    if kind == 0:
        return "item.ticked", {"stage": "stage-0", "item": f"i{i % 50}"}
    if kind == 1:
        return "item.unticked", {"stage": "stage-0", "item": f"i{i % 50}"}
    if kind == 2:
        return "note.added", {"text": f"note {i}"}
    return "breach.opened" if i % 8 == 3 else "breach.closed", {
        "metric": "dlq_entries",
        "value": i,
        "threshold": "< 10",
    }


def write_log(path: Path, n: int) -> None:
    prev = GENESIS
    with path.open("w") as fh:
        for i in range(n):
            type_, payload = _payload(i)
            event = seal(i + 1, T0 + timedelta(seconds=i), ACTOR, type_, payload, prev)
            fh.write(event.to_line() + "\n")
            prev = event.hash


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--appends", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.jsonl"
        write_log(path, args.events)
        size = path.stat().st_size
        t = time.perf_counter()
        events = FileStore(path).read()
        t_read = time.perf_counter() - t
        t = time.perf_counter()
        state = replay(events)
        t_fold = time.perf_counter() - t
        t = time.perf_counter()
        problem = chain_problem(events)  # what a cockpit adds on start: every event checked against its hash
        t_chain = time.perf_counter() - t
        t = time.perf_counter()
        result = verify_file(path)
        t_verify = time.perf_counter() - t
        assert state.count == args.events and result.ok and problem is None
        print(f"log: {args.events:,} events, {size / 1e6:.1f} MB")
        print(
            f"replay (read + parse + fold): {t_read + t_fold:.3f} s  (read+parse {t_read:.3f} s, fold {t_fold:.3f} s)"
            f"  goal < 1 s: {'PASS' if t_read + t_fold < 1 else 'MISS'}"
        )
        print(
            f"a cockpit's start (replay + every event checked against the chain): {t_read + t_fold + t_chain:.3f} s"
            f"  (the check {t_chain:.3f} s)"
        )
        print(f"verify chain (cockpit audit verify, from the raw lines): {t_verify:.3f} s")

        store = FileStore(Path(tmp) / "appends.jsonl")
        latencies = []
        t = time.perf_counter()
        for i in range(args.appends):
            s = time.perf_counter()
            store.append("note.added", {"text": f"n{i}"}, ACTOR, T0)
            latencies.append(time.perf_counter() - s)
        total = time.perf_counter() - t
        latencies.sort()
        p50 = latencies[len(latencies) // 2] * 1000
        p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
        print(f"append with flock+fsync: {args.appends / total:,.0f} events/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    main()

"""The dashboard's memory over a compressed soak: does it grow, round after round, for 24 hours?

A real 24 h soak at 5 s polls is 17,280 poll rounds. This runs ``cockpit demo`` in a pseudo-terminal at
120x40 with the rollout's clock 100x faster and a poll every 50 ms, so each round is a real 5 s round of the
soak (the real simulator in the cockpit's process; its Prometheus beside it when ``prometheus`` is on PATH)
and 17,280 rounds take about 15 minutes. The plan keeps ``--retention`` of history (default 6 h, so pruning
and the chart's thinning act within the run). RSS is sampled every few seconds; printed: RSS against rounds,
and the growth per 1,000 rounds after a warm-up (a least-squares slope), with what it comes to over 17,280.

Usage: ``.venv/bin/python bench/bench_soak_memory.py [--rounds 17280] [--warmup 1000] [--retention 6h]``
(``--rounds 4000`` gives the slope in under 4 minutes). Goal: <= 5 MB over 17,280 rounds.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLS, ROWS = 120, 40
SPEED = 100.0
POLL = 0.05
"""Real seconds between polls: 5 s of the rollout's time at SPEED."""
GOAL_MB = 5.0
SOAK_ROUNDS = 17_280


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rounds_done(state: Path | None, metrics: int) -> float | None:
    """Poll rounds really made: the samples ever written to the demo's history (SQLite's rowid keeps
    counting up after thinning and retention delete rows) over the number of metrics polled."""
    found = sorted(state.glob("**/*.sqlite3")) if state is not None else []
    if not found:
        return None
    try:
        with sqlite3.connect(f"file:{found[0]}?mode=ro", uri=True, timeout=1) as db:
            row = db.execute("SELECT MAX(rowid) FROM samples").fetchone()
    except sqlite3.Error:
        return None
    return (row[0] or 0) / metrics


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y)."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=SOAK_ROUNDS, help="poll rounds to run (5 s of soak each)")
    parser.add_argument("--warmup", type=int, default=1000, help="rounds left out of the slope (caches filling)")
    parser.add_argument("--retention", default="6h", help="history_retention of the plan")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between RSS samples")
    args = parser.parse_args()
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLUMNS": str(COLS),
        "LINES": str(ROWS),
        "PYTHONPATH": str(ROOT),
    }
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    cmd = [sys.executable, "-m", "cockpit", "demo", "--speed", str(SPEED), "--poll", str(POLL), "--no-postgres",
           "--retention", args.retention]  # fmt: skip
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, start_new_session=True)
    os.close(slave)
    points: list[tuple[float, float]] = []
    state: Path | None = None
    metrics = 7  # the example plan's metrics, each polled once a round
    try:
        seen = b""
        start = None
        deadline = time.monotonic() + 60
        next_sample = 0.0
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 1 << 16)
                except OSError:
                    break
                if start is None:
                    seen = (seen + data)[-200_000:]
                    found = re.search(rb"state in (\S+)", seen)
                    if found and state is None:
                        state = Path(found.group(1).decode())
                    if b"KILL" in seen:
                        start = time.monotonic()
            now = time.monotonic()
            if start is None:
                if now > deadline:
                    raise SystemExit(f"no dashboard within 60 s: {seen[-400:]!r}")
                continue
            if now >= next_sample:
                next_sample = now + args.every
                counted = rounds_done(state, metrics)
                rounds = counted if counted is not None else (now - start) / POLL
                points.append((rounds, rss_mb(proc.pid)))
                print(f"round {rounds:8.0f}  RSS {points[-1][1]:7.1f} MB  ({now - start:5.0f} s)", flush=True)
            if (points and points[-1][0] >= args.rounds) or proc.poll() is not None:
                break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        os.close(master)
    steady = [(x, y) for x, y in points if x >= args.warmup]
    if len(steady) < 3:
        print("too few samples after the warm-up: run more --rounds")
        return 1
    per_1000 = 1000 * slope(steady)
    print(
        f"RSS {points[0][1]:.1f} -> {points[-1][1]:.1f} MB over {points[-1][0]:.0f} rounds; after {args.warmup} "
        f"rounds: {per_1000:+.3f} MB per 1,000 rounds = {per_1000 * SOAK_ROUNDS / 1000:+.1f} MB per 17,280 "
        f"(a 24 h soak at 5 s polls; goal <= {GOAL_MB:g} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Kill 10 flags on an HTTP provider with 200 ms added latency per request.

Prints the wall time from the call to all-verified-off, and the ratio to killing the same flags one at
a time. Goal: <= 0.6 s (one round of writes plus one round of read-backs, ~0.4 s, plus the audit log).

The simulator knows two flags; the plan's 10 flags use ``key`` to map onto them (5 each), so every
flag still costs one off request and one read-back, each delayed 200 ms by the simulator's latency
fault. Run: ``.venv/bin/python bench/bench_kill.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from cockpit.clock import SystemClock
from cockpit.events import Actor
from cockpit.kill import FlagSwitch
from cockpit.plan.load import parse_plan
from cockpit.rollout import Rollout
from cockpit.sim.model import FLAG_NAMES, Simulator
from cockpit.sim.server import SimServer
from cockpit.store.audit import FileStore

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"
LATENCY_MS = 200
FLAGS = 10


def plan_text() -> str:
    text = (ROOT / "config.example.toml").read_text()
    extra = "".join(
        f'[[flags]]\nname = "BENCH_FLAG_{i:02d}"\nprovider = "app"\nkey = "{FLAG_NAMES[i % 2]}"\n\n'
        for i in range(3, FLAGS + 1)
    )
    marker = "# ---------------------------------------------------------------- Stage 0"
    return text.replace(marker, extra + marker, 1)


def all_on(url: str) -> None:
    for name in FLAG_NAMES:
        httpx.post(f"{url}/api/flags/{name}/on", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)


async def one_run(rollout: Rollout, url: str, sequential: bool) -> float:
    httpx.post(f"{url}/api/sim/faults", json={"latency_ms": 0}, timeout=10)
    all_on(url)
    httpx.post(f"{url}/api/sim/faults", json={"latency_ms": LATENCY_MS}, timeout=10)
    switch = FlagSwitch(rollout)
    names = [f.name for f in rollout.plan.flags]
    try:
        started = time.perf_counter()
        if sequential:
            reports = [await switch.kill("bench, one at a time", [name]) for name in names]
        else:
            reports = [await switch.kill("bench")]
        elapsed = time.perf_counter() - started
    finally:
        await switch.aclose()
    if not all(r.all_off for r in reports):
        sys.exit(f"not all verified off: {[line for r in reports for line in r.summary()]}")
    return elapsed


async def main(runs: int) -> None:
    server = SimServer(Simulator(token=TOKEN)).start()
    try:
        loaded = parse_plan(plan_text(), "bench-plan", {"APP_URL": server.url, "APP_TOKEN": TOKEN}, base=ROOT / "x")
        assert len(loaded.plan.flags) == FLAGS
        with tempfile.TemporaryDirectory() as tmp:
            rollout = Rollout(loaded, FileStore(Path(tmp) / "audit.jsonl"), clock=SystemClock(),
                              actor=Actor("bench", 0, "bench"))  # fmt: skip
            together = [await one_run(rollout, server.url, False) for _ in range(runs)]
            apart = [await one_run(rollout, server.url, True) for _ in range(max(1, runs // 3))]
    finally:
        server.stop()
    med, seq = statistics.median(together), statistics.median(apart)
    print(f"flags: {FLAGS}, added latency per request: {LATENCY_MS} ms, runs: {runs}")
    print(f"kill, all flags concurrently: median {med:.3f} s (min {min(together):.3f}, max {max(together):.3f})")
    print(f"one flag at a time:           median {seq:.3f} s")
    print(f"ratio one-at-a-time / concurrent: {seq / med:.1f}x")
    print(f"goal <= 0.600 s: {'met' if med <= 0.6 else 'MISSED'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))

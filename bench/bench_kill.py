"""Kill 10 flags on a real Unleash 200 ms away (a local delay proxy), as the dashboard and as ``cockpit kill``.

Cases (medians over ``--runs``):

- dashboard path: ``FlagSwitch.kill`` in a process that keeps the switch armed (connections open):
  one bulk off + one list read = 2 round trips. Goal <= 0.6 s.
- ``cockpit kill``: the command as a process, from start to exit (Python start; the plan loads while
  the connection opens; bulk off, list read, audit). Goal <= 1.0 s.
- sequential baseline: the same 10 flags one at a time (10 x (off + read)) on open connections.
- hung provider: an 11th flag on an HTTP provider that never answers; the kill returns within
  ``kill_deadline`` (1 s here) + 0.2 s.

Needs the test servers (PostgreSQL, Unleash; ``scripts/install-test-deps``).
Run: ``PYTHONPATH=$PWD .venv/bin/python bench/bench_kill.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.delay_proxy import DelayProxy
from cockpit.clock import SystemClock
from cockpit.events import Actor
from cockpit.kill import FlagSwitch
from cockpit.plan.load import parse_plan
from cockpit.rollout import Rollout
from cockpit.store.filelog import FileStore
from tests.servers import start_postgres
from tests.servers_unleash import Unleash, start_unleash
from tests.test_kill_deadline import Hanging

ROOT = Path(__file__).resolve().parents[1]
RTT = 0.2
FLAGS = 10
DASHBOARD_GOAL, CLI_GOAL, HUNG_DEADLINE = 0.6, 1.0, 1.0
NAMES = ["FEATURE_FLAG_DLQ_ENABLED", "FEATURE_FLAG_JOB_HEARTBEAT"] + [
    f"BENCH_FLAG_{i:02d}" for i in range(3, FLAGS + 1)
]


def plan_text(hung_url: str = "") -> str:
    provider = '[providers.app]\nkind = "unleash"\nurl = "${UNLEASH_URL}"\ntoken = "${UNLEASH_ADMIN_TOKEN}"\n\n'
    if hung_url:
        provider += (
            f'[providers.hung]\nkind = "http"\nread_url = "{hung_url}/f/{{flag}}"\n'
            f'off = {{ method = "POST", url = "{hung_url}/f/{{flag}}/off" }}\n\n'
        )
    text = (ROOT / "config.example.toml").read_text()
    text = re.sub(r"\[providers\.app\].*?(?=# An Unleash server instead)", provider, text, flags=re.S)
    extra = "".join(f'[[flags]]\nname = "{n}"\nprovider = "app"\n\n' for n in NAMES[2:])
    if hung_url:
        extra += '[[flags]]\nname = "HUNG_FLAG"\nprovider = "hung"\nbackout = "ask the vendor"\n\n'
        text = text.replace("[defaults]\n", f'[defaults]\nkill_deadline = "{HUNG_DEADLINE:g}s"\n', 1)
    marker = "# ---------------------------------------------------------------- Stage 0"
    return text.replace(marker, extra + marker, 1)


def all_on(unleash: Unleash) -> None:
    with httpx.Client(headers=unleash.headers, timeout=10) as client:
        for name in NAMES:
            client.post(f"{unleash.feature_path(name)}/environments/production/on").raise_for_status()


def rollout_for(text: str, env: dict[str, str], tmp: Path) -> Rollout:
    loaded = parse_plan(text, "bench-plan", env, base=ROOT / "x")
    return Rollout(loaded, FileStore(tmp / "audit.jsonl"), clock=SystemClock(), actor=Actor("bench", 0, "bench"))


async def dashboard(unleash: Unleash, proxy: DelayProxy, tmp: Path, runs: int) -> tuple[list[float], list[float], int]:
    """(kill times, sequential times, connections opened during the kills) with an armed switch."""
    env = {"UNLEASH_URL": proxy.url, "UNLEASH_ADMIN_TOKEN": unleash.admin_token, "APP_TOKEN": "bench"}
    rollout = rollout_for(plan_text(), env, tmp)
    together: list[float] = []
    apart: list[float] = []
    opened = 0
    async with FlagSwitch(rollout) as switch:
        for _ in range(runs):
            all_on(unleash)
            assert (await switch.arm()).armed  # what the dashboard does every arm_interval
            await switch.warm()
            before = proxy.connections
            started = time.perf_counter()
            report = await switch.kill("bench")
            together.append(time.perf_counter() - started)
            opened += proxy.connections - before
            assert report.all_off, report.summary()
        for _ in range(max(1, runs // 3)):
            all_on(unleash)
            await switch.arm()
            started = time.perf_counter()
            reports = [await switch.kill("bench, one at a time", [name]) for name in NAMES]
            apart.append(time.perf_counter() - started)
            assert all(r.all_off for r in reports)
    return together, apart, opened


def cli(unleash: Unleash, proxy: DelayProxy, tmp: Path, runs: int) -> list[float]:
    plan = tmp / "cli.toml"
    plan.write_text(plan_text())
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "UNLEASH_URL": proxy.url,
        "UNLEASH_ADMIN_TOKEN": unleash.admin_token,
        "COCKPIT_STATE_DIR": str(tmp / "state"),
        "USER": "bench",
        "APP_TOKEN": "bench",
    }
    times = []
    for _ in range(runs):
        all_on(unleash)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "cockpit", "--config", str(plan), "kill", "--reason", "bench"],
            capture_output=True, text=True, env=env, cwd=tmp, check=False,
        )  # fmt: skip
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            sys.exit(f"cockpit kill failed: {done.stdout}{done.stderr}")
    return times


async def hung(unleash: Unleash, proxy: DelayProxy, tmp: Path, runs: int) -> list[float]:
    server = Hanging()
    try:
        env = {"UNLEASH_URL": proxy.url, "UNLEASH_ADMIN_TOKEN": unleash.admin_token, "APP_TOKEN": "bench"}
        rollout = rollout_for(plan_text(server.url), env, tmp)
        times = []
        for _ in range(runs):
            all_on(unleash)
            async with FlagSwitch(rollout) as switch:
                await switch.arm()
                started = time.perf_counter()
                report = await switch.kill("bench, a provider hangs")
                times.append(time.perf_counter() - started)
            assert report.may_be_on == ["HUNG_FLAG"], report.summary()
        return times
    finally:
        server.stop()


def line(label: str, values: list[float], goal: float | None = None) -> str:
    med = statistics.median(values)
    verdict = f"  goal <= {goal:.3f} s: {'met' if med <= goal else 'MISSED'}" if goal is not None else ""
    return f"{label:<34} median {med:.3f} s (min {min(values):.3f}, max {max(values):.3f}){verdict}"


async def main(runs: int) -> None:
    pg = start_postgres()
    unleash = start_unleash(pg)
    try:
        for name in NAMES:
            unleash.create_flag(name)
        with DelayProxy("127.0.0.1", unleash.port, rtt=RTT) as proxy, tempfile.TemporaryDirectory() as tmp:
            together, apart, opened = await dashboard(unleash, proxy, Path(tmp), runs)
            process = cli(unleash, proxy, Path(tmp), runs)
            stuck = await hung(unleash, proxy, Path(tmp), max(1, runs // 2))
    finally:
        unleash.stop()
        pg.destroy()
    print(f"Unleash 8, {FLAGS} flags, {RTT * 1000:.0f} ms round trip (delay proxy), runs: {runs}")
    print(line("dashboard path (armed switch)", together, DASHBOARD_GOAL))
    print(f"  new connections during the kills: {opened} in {runs} runs")
    print(line("cockpit kill, start to exit", process, CLI_GOAL))
    print(line("sequential, one flag at a time", apart))
    print(f"ratio sequential / dashboard: {statistics.median(apart) / statistics.median(together):.1f}x; "
          f"sequential / cockpit kill: {statistics.median(apart) / statistics.median(process):.1f}x")  # fmt: skip
    print(line(f"one provider hung (deadline {HUNG_DEADLINE:g} s)", stuck, HUNG_DEADLINE + 0.2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))

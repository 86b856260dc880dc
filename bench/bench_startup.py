"""Start-up time of the headless commands, as the operator's shell sees it (a fresh process each run).

Prints the median wall time of ``cockpit --help``, ``cockpit validate``, ``cockpit status`` on the
example plan (APP_TOKEN set, COCKPIT_STATE_DIR a temporary directory), and of ``cockpit check --json``
against a simulator this script starts (``cockpit.sim.server.serve``), with Prometheus pointed at a closed
port (refused at once). For ``check`` it also prints the wall time over its slowest source: the median
wall time minus the median latency of a fresh-connection GET to each source, timed here with httpx.
Goal (issue 3): ``check`` over its slowest source <= 0.25 s.

Run: ``.venv/bin/python bench/bench_startup.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from cockpit.sim.model import Simulator
from cockpit.sim.server import serve

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.toml"
TOKEN = "bench-token"


def cockpit_command() -> list[str]:
    script = Path(sys.executable).parent / "cockpit"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "cockpit"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def median_seconds(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def time_command(args: Sequence[str], env: dict[str, str], runs: int, ok: Sequence[int] = (0,)) -> float:
    def once() -> None:
        proc = subprocess.run([*cockpit_command(), *args], env=env, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode not in ok:
            raise SystemExit(f"cockpit {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")

    once()  # warm the page cache and the bytecode cache
    return median_seconds(once, runs)


def source_latency(client: httpx.Client, url: str, runs: int) -> float:
    """Median of one GET on a new connection (``check`` opens one per source); a refusal counts too.

    The client is made once, outside the timing: building it (an SSL context, ~20 ms) is start-up
    that ``check`` pays itself, not the source's latency.
    """

    def once() -> None:
        try:
            client.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
        except httpx.ConnectError:
            pass

    once()
    return median_seconds(once, runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per command (default 10)")
    runs = parser.parse_args().runs
    # as after a first launch: the cockpit's modules compiled (PYTHONDONTWRITEBYTECODE would recompile each run)
    subprocess.run([sys.executable, "-m", "compileall", "-q", "cockpit", "screens", "widgets"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as state, serve(Simulator(scenario="healthy", token=TOKEN)) as sim:
        prometheus = f"http://127.0.0.1:{closed_port()}"
        env = {
            **os.environ,
            "APP_TOKEN": TOKEN,
            "APP_URL": sim.url,
            "PROMETHEUS_URL": prometheus,
            "COCKPIT_CONFIG": str(EXAMPLE),
            "COCKPIT_STATE_DIR": state,
            "HOME": state,
        }
        print(f"median of {runs} runs, each a fresh process ({' '.join(cockpit_command())})")
        for args in (["--help"], ["validate"], ["status"]):
            print(f"  cockpit {' '.join(args):<12} {time_command(args, env, runs) * 1000:7.1f} ms")
        check = time_command(["check", "--json"], env, runs, ok=(0, 1, 3))
        with httpx.Client(timeout=5, limits=httpx.Limits(max_keepalive_connections=0)) as client:
            sources = {
                "app (sim /health)": source_latency(client, f"{sim.url}/health", runs),
                "prometheus (refused)": source_latency(client, f"{prometheus}/api/v1/query", runs),
            }
        slowest = max(sources, key=lambda name: sources[name])
        print(f"  cockpit check --json {check * 1000:7.1f} ms")
        for name, latency in sources.items():
            print(f"    source {name:<22} {latency * 1000:7.1f} ms")
        over = check - sources[slowest]
        verdict = "meets" if over <= 0.25 else "misses"
        print(f"  check over its slowest source ({slowest}): {over * 1000:.1f} ms ({verdict} the 250 ms goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

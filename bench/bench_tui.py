"""Benchmark the cockpit's dashboard against the floor (a bare Textual app updating a label each second).

Each app runs in a real pseudo-terminal at 120x40. Printed, side by side:

* time to first frame (process start to the first screen with the app's marker text),
* RSS in steady state, and its growth over the measuring window,
* CPU (% of one core) over the window, with the cockpit polling every 5 s (``cockpit demo --poll 5``),
* terminal bytes per second written over the window (steady state, after the first 5 s).

Usage: ``.venv/bin/python bench/bench_tui.py [--window 30] [--soak]``. ``--soak`` runs the cockpit
for a whole accelerated 24 h soak (speed 1000: ~90 s) and reports the RSS growth over it.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
COLS, ROWS = 120, 40
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    name: str
    first_frame: float
    rss_start_mb: float
    rss_end_mb: float
    cpu_percent: float
    bytes_per_s: float


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def run(name: str, cmd: list[str], marker: bytes, warmup: float, window: float) -> Run:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLS), "LINES": str(ROWS)}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, start_new_session=True)
    os.close(slave)
    seen = b""
    first = None
    counted = 0
    t_window = None
    rss0 = cpu0 = 0.0
    deadline = start + 60
    try:
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            now = time.perf_counter()
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if first is None:
                    seen = (seen + data)[-200_000:]
                    if marker in seen:
                        first = now - start
                        deadline = now + warmup + window
                elif t_window is not None:
                    counted += len(data)
            if first is not None and t_window is None and now - start >= first + warmup:
                t_window = now
                rss0, cpu0 = rss_mb(proc.pid), cpu_seconds(proc.pid)
        if first is None or t_window is None:
            raise RuntimeError(f"{name}: no first frame with {marker!r} within 60 s")
        elapsed = time.perf_counter() - t_window
        return Run(
            name,
            first,
            rss0,
            rss_mb(proc.pid),
            100 * (cpu_seconds(proc.pid) - cpu0) / elapsed,
            counted / elapsed,
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        os.close(master)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=30.0, help="seconds measured in steady state")
    parser.add_argument("--soak", action="store_true", help="measure the cockpit over an accelerated 24 h soak")
    args = parser.parse_args()
    cockpit = [str(ROOT / ".venv/bin/cockpit"), "demo", "--speed", "1", "--poll", "5", "--no-postgres",
               "--no-prometheus"]  # fmt: skip
    floor = run("floor", [PY, str(ROOT / "bench/floor_app.py")], b"floor ready", 5.0, args.window)
    cock = run("cockpit (5 s polls)", cockpit, b"KILL", 5.0, args.window)
    print(f"{'':24}{'floor':>12}{'cockpit':>12}{'ratio':>8}   goal")
    rows = [
        ("time to first frame s", floor.first_frame, cock.first_frame, "<= 2x floor"),
        ("RSS MB", floor.rss_end_mb, cock.rss_end_mb, "<= 2x floor"),
        ("CPU % of a core", floor.cpu_percent, cock.cpu_percent, "<= 1 %"),
        ("terminal bytes/s", floor.bytes_per_s, cock.bytes_per_s, "<= 1024"),
        (f"RSS growth MB ({args.window:.0f}s)", floor.rss_end_mb - floor.rss_start_mb,
         cock.rss_end_mb - cock.rss_start_mb, "<= 5 MB / 24 h soak"),
    ]  # fmt: skip
    for label, f, c, goal in rows:
        ratio = f"{c / f:.1f}x" if f > 0 else "-"
        print(f"{label:24}{f:12.3f}{c:12.3f}{ratio:>8}   {goal}")
    if args.soak:
        soak_cmd = [str(ROOT / ".venv/bin/cockpit"), "demo", "--speed", "1000", "--no-postgres", "--no-prometheus"]
        soak = run("cockpit soak", soak_cmd, b"KILL", 5.0, 24 * 3600 / 1000)
        print(f"24 h soak at speed 1000 (1 s polls, {24 * 3.6:.0f} s): RSS {soak.rss_start_mb:.1f} -> "
              f"{soak.rss_end_mb:.1f} MB (growth {soak.rss_end_mb - soak.rss_start_mb:+.1f} MB), "
              f"CPU {soak.cpu_percent:.1f} %, {soak.bytes_per_s:.0f} B/s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

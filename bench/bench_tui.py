"""Benchmark the cockpit's dashboard against the floor (a bare Textual app updating a label each second).

Each app runs in a real pseudo-terminal at 120x40. Printed, side by side:

* time to first frame (process start until the screen shows the app's marker texts: for the cockpit the
  kill key in the key bar *and* the stage stepper, so a frame with only the key bar does not count), the
  median of ``--launches`` starts taken in turns with the floor's (the demo: half as many),
* time until the metric panels are drawn too (the cockpit adds them right after its first frame),
* RSS in steady state, and its growth over the measuring window,
* CPU (% of one core) over the window, with the cockpit polling every 5 s: the dashboard alone on the example
  plan (``cockpit -c PLAN``; the simulator, and Prometheus scraping it when it is on PATH, in the bench's
  process, so every chart has data), and the demo (``cockpit demo --poll 5``: the simulator inside the
  cockpit's process, its Prometheus beside it),
* terminal bytes per second written over the window (steady state, after the first 5 s).

Usage: ``.venv/bin/python bench/bench_tui.py [--window 30] [--soak]``. ``--soak`` runs the cockpit
for a whole accelerated 24 h soak (speed 1000: ~90 s) and reports the RSS growth over it.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

from cockpit.demo import Demo

ROOT = Path(__file__).resolve().parents[1]
FRAME = [b"KILL", b"Stage 0"]
"""The cockpit's first frame: the kill key (key bar) and the stage stepper are both on screen."""
PANELS = b"limit"
PROMETHEUS_WARMUP = 20.0
"""Seconds of 1 s scrapes before the dashboard starts, so the error rate and P99 have data."""
"""A metric panel's threshold line: the panels are drawn."""
PY = sys.executable
COLS, ROWS = 120, 40
TICK = os.sysconf("SC_CLK_TCK")
ESCAPES = re.compile(rb"\x1b\[[0-9;?<>$]*[a-zA-Z~]|\x1b\][^\x07]*\x07")
"""Terminal control sequences, stripped before looking for marker texts."""


@dataclass
class Run:
    name: str
    first_frame: float
    panels: float | None
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


def run(
    name: str,
    cmd: list[str],
    markers: list[bytes],
    warmup: float,
    window: float,
    extra: dict[str, str] | None = None,
    later: bytes | None = None,
) -> Run:
    """Run ``cmd`` in a pty: the first frame is when every one of ``markers`` is on screen; ``later`` (the
    metric panels) is timed too; then ``warmup`` seconds, then CPU, RSS and output over ``window``."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLS), "LINES": str(ROWS), "PYTHONPATH": str(ROOT)}
    env.update(extra or {})
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, start_new_session=True)
    os.close(slave)
    seen = b""
    first = panels = None
    counted = 0
    t_window = None
    rss0 = cpu0 = 0.0
    deadline = start + 60
    try:
        while time.perf_counter() < deadline or (
            first is not None and later is not None and panels is None and time.perf_counter() < start + 30
        ):
            ready, _, _ = select.select([master], [], [], 0.1)
            now = time.perf_counter()
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if first is None or (later is not None and panels is None):
                    seen = (seen + ESCAPES.sub(b"", data))[-400_000:]
                    if first is None and all(m in seen for m in markers):
                        first = now - start
                        deadline = now + warmup + window
                    if later is not None and panels is None and later in seen:
                        panels = now - start
                if t_window is not None:
                    counted += len(data)
            if first is not None and t_window is None and now - start >= first + warmup:
                t_window = now
                rss0, cpu0 = rss_mb(proc.pid), cpu_seconds(proc.pid)
        if first is None or t_window is None:
            raise RuntimeError(f"{name}: no first frame with {markers!r} within 60 s")
        elapsed = max(time.perf_counter() - t_window, 1e-6)
        return Run(
            name,
            first,
            panels,
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


def launches(runs: int, commands: dict[str, tuple[list[str], list[bytes], bytes | None]]) -> dict[str, Run]:
    """Start each command ``runs`` times, taking turns (so drift in the machine's load hits all alike), each
    until its first frame (and panels); the medians, as a ``Run`` without steady-state figures."""
    seen: dict[str, list[Run]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, (cmd, markers, later) in commands.items():
            seen[name].append(run(name, cmd, markers, 0.0, 0.0, later=later))
    out = {}
    for name, got in seen.items():
        panels = [r.panels for r in got if r.panels is not None]
        first = statistics.median(r.first_frame for r in got)
        out[name] = Run(name, first, statistics.median(panels) if panels else None, 0.0, 0.0, 0.0, 0.0)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=30.0, help="seconds measured in steady state")
    parser.add_argument("--soak", action="store_true", help="measure the cockpit over an accelerated 24 h soak")
    parser.add_argument("--launches", type=int, default=9, help="launches whose median first frame is reported")
    args = parser.parse_args()
    cockpit = [PY, "-m", "cockpit"]  # this tree's cockpit, whatever entry script the venv holds
    demo = [*cockpit, "demo", "--speed", "1", "--poll", "5", "--no-postgres"]
    # as on any machine after the first launch: the cockpit's own modules compiled (this environment may
    # set PYTHONDONTWRITEBYTECODE, which would otherwise make every launch compile them again)
    subprocess.run([PY, "-m", "compileall", "-q", "cockpit", "screens", "widgets"], cwd=ROOT, check=True)
    # the dashboard alone, as on call: the service (the simulator) and Prometheus (scraping it, when on PATH)
    # run in this process, so every chart has data and redraws on each poll, as in a real soak
    with Demo(speed=1, poll=5, postgres=False, prometheus=True) as service:
        for line in service.notices():
            print(f"service: {line}", file=sys.stderr)
        time.sleep(PROMETHEUS_WARMUP if shutil.which("prometheus") else 0)  # rate() needs a few scrapes
        # the floor under the same background (the simulator and Prometheus busy on the other core)
        floor_cmd = [PY, str(ROOT / "bench/floor_app.py")]
        dash_cmd = [*cockpit, "-c", str(service.plan_path)]
        starts = launches(args.launches, {"floor": (floor_cmd, [b"floor ready"], None),
                                          "dashboard": (dash_cmd, FRAME, PANELS)})  # fmt: skip
        floor = run("floor", floor_cmd, [b"floor ready"], 5.0, args.window)
        dash = run("dashboard", dash_cmd, FRAME, 5.0, args.window, later=PANELS)
    starts.update(launches(max(args.launches // 2, 1), {"demo": (demo, FRAME, PANELS)}))
    cock = run("demo (5 s polls)", demo, FRAME, 5.0, args.window, later=PANELS)
    for r in (floor, dash, cock):  # the first frame: the median of the launches, not one sample
        r.first_frame, r.panels = starts[r.name.split()[0]].first_frame, starts[r.name.split()[0]].panels
    print(f"{'':24}{'floor':>10}{'dashboard':>11}{'ratio':>7}{'demo':>10}{'ratio':>7}   goal")
    rows = [
        ("time to first frame s", floor.first_frame, dash.first_frame, cock.first_frame, "<= 2x floor"),
        ("  ... with metric panels", floor.first_frame, dash.panels or 0.0, cock.panels or 0.0, "(no goal)"),
        ("RSS MB", floor.rss_end_mb, dash.rss_end_mb, cock.rss_end_mb, "<= 2x floor"),
        ("CPU % of a core", floor.cpu_percent, dash.cpu_percent, cock.cpu_percent, "<= 1 %"),
        ("terminal bytes/s", floor.bytes_per_s, dash.bytes_per_s, cock.bytes_per_s, "<= 1024"),
        (f"RSS growth MB ({args.window:.0f}s)", floor.rss_end_mb - floor.rss_start_mb,
         dash.rss_end_mb - dash.rss_start_mb, cock.rss_end_mb - cock.rss_start_mb, "<= 5 MB / 24 h soak"),
    ]  # fmt: skip
    for label, f, d, c, goal in rows:
        ratios = [f"{x / f:.1f}x" if f > 0 else "-" for x in (d, c)]
        print(f"{label:24}{f:10.3f}{d:11.3f}{ratios[0]:>7}{c:10.3f}{ratios[1]:>7}   {goal}")
    if args.soak:
        soak_cmd = [*cockpit, "demo", "--speed", "1000", "--no-postgres", "--no-prometheus"]
        soak = run("cockpit soak", soak_cmd, FRAME, 5.0, 24 * 3600 / 1000)
        print(f"24 h soak at speed 1000 (1 s polls, {24 * 3.6:.0f} s): RSS {soak.rss_start_mb:.1f} -> "
              f"{soak.rss_end_mb:.1f} MB (growth {soak.rss_end_mb - soak.rss_start_mb:+.1f} MB), "
              f"CPU {soak.cpu_percent:.1f} %, {soak.bytes_per_s:.0f} B/s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``cockpit fleet`` on 50 rollouts in a real PostgreSQL: first frame, CPU while idle, and how long another
process's approval takes to reach the screen.

Starts a throwaway PostgreSQL (tests/servers.py's helper), writes the demo's rollout plus 49 generated
ones in every state (tests/fleet_support.py; each with its plan and judgements published, as a running
cockpit does), then runs ``cockpit fleet`` in a real pseudo-terminal at 120x40. While it runs, a thread
re-publishes every rollout's judgements each 10 s (the heartbeat of fifty running cockpits). Measured:

* time to first frame (process start until the title says ``50 rollouts``),
* CPU (% of one core) and terminal bytes per second over ``--window`` idle seconds,
* approval -> screen: another process approves (or revokes) a role of one rollout; the time from the
  commit until the pty shows the new "waiting on" text, ``--trials`` times.

Run: ``.venv/bin/python bench/bench_fleet.py [--window 30] [--trials 10] [--files]`` (``--files``: the same 50
rollouts as file logs and SQLite histories under a ``--dir``, no PostgreSQL).
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
import tempfile
import termios
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cockpit.rollout import Rollout  # noqa: E402
from cockpit.store.audit import FileStore  # noqa: E402
from cockpit.store.history import SqliteHistory  # noqa: E402
from cockpit.store.pg import PgHistory, PgStore, init_schema  # noqa: E402
from cockpit.store.pg_schema import connect  # noqa: E402
from cockpit.store.records import JUDGED  # noqa: E402
from tests.core_helpers import OPS  # noqa: E402
from tests.fleet_support import STATES, as_actor, make_state  # noqa: E402
from tests.servers import start_postgres  # noqa: E402

COLS, ROWS = 120, 40
TICK = os.sysconf("SC_CLK_TCK")
ESCAPES = re.compile(rb"\x1b\[[0-9;?<>$]*[a-zA-Z~]|\x1b\][^\x07]*\x07")
TARGET = "gen-12"
"""An unsigned rollout: its approvals are toggled by "another process" (this one)."""
SIGNED = b"approval: dev-lead, product-owner"
UNSIGNED = b"approval: dev-lead, ops-oncall, product-owner"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


PLANNED = [("alokickflow-phase2", "soaking")] + [(f"gen-{i:02d}", STATES[i % len(STATES)]) for i in range(1, 50)]
"""The demo's rollout (soaking) and 49 others, cycling through every state."""


def generate(dsn: str) -> dict[str, Rollout]:
    out = {}
    for rollout_id, state in PLANNED:
        store, history = PgStore(dsn, rollout_id), PgHistory(dsn, rollout_id)
        out[rollout_id] = make_state(state, store, history, rollout_id=rollout_id)
        history.close()
        store.close()  # fifty connections would be more than the server allows
    return out


def generate_files(root: Path) -> dict[str, Rollout]:
    out = {}
    for rollout_id, state in PLANNED:
        history = SqliteHistory(root / rollout_id / "history.sqlite3")
        out[rollout_id] = make_state(
            state, FileStore(root / rollout_id / "audit.jsonl"), history, rollout_id=rollout_id
        )
        history.close()
    return out


def heartbeats(dsn: str, stop: threading.Event) -> None:
    """Fifty running cockpits' quiet heartbeats: each judgement re-published (no NOTIFY) every 10 s."""
    with connect(dsn, autocommit=True) as conn:
        while True:  # the first at once: the fleet starts on fresh judgements, as among running cockpits
            conn.execute("UPDATE cockpit_records SET at = now() WHERE kind = %s", (JUDGED,))
            if stop.wait(10):
                break


def file_heartbeats(root: Path, stop: threading.Event) -> None:
    """The same for file logs: each history's judgement re-written every 10 s (a running cockpit also adds
    samples every poll: either changes the history the fleet stats)."""
    histories = [SqliteHistory(root / rollout_id / "history.sqlite3") for rollout_id, _ in PLANNED]
    while True:
        for history in histories:
            judged = history.records().get(JUDGED)
            if judged is not None:
                history.put_record(JUDGED, datetime.now(UTC), judged.body, news=False)
        if stop.wait(10):
            break
    for history in histories:
        history.close()


class Pty:
    """``cockpit fleet`` in a pseudo-terminal; ``wait_for`` reads its output until a text shows."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.start = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT,
                                     start_new_session=True)  # fmt: skip
        os.close(slave)
        self.master = master
        self.seen = b""
        self.bytes = 0

    def pump(self, timeout: float) -> None:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            data = os.read(self.master, 65536)
            self.bytes += len(data)
            self.seen = (self.seen + ESCAPES.sub(b"", data))[-200_000:]

    def wait_for(self, text: bytes, timeout: float = 30) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if text in self.seen:
                return time.perf_counter()
            self.pump(0.005)
        raise RuntimeError(f"{text!r} not on screen within {timeout} s")

    def idle(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            self.pump(0.1)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=30.0, help="idle seconds over which CPU is measured")
    parser.add_argument("--trials", type=int, default=10, help="approvals (and revocations) timed")
    parser.add_argument("--files", action="store_true", help="50 file logs under a --dir instead of PostgreSQL")
    args = parser.parse_args()
    stop = threading.Event()
    screen = None
    scratch = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    pg = None if args.files else start_postgres()
    try:
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLS), "LINES": str(ROWS),
               "PYTHONPATH": str(ROOT)}  # fmt: skip
        env.pop("COCKPIT_DSN", None)
        t = time.perf_counter()
        if pg is None:
            rollouts = generate_files(scratch)
            beat = threading.Thread(target=file_heartbeats, args=(scratch, stop), daemon=True)
        else:
            _, dsn = pg.fresh_database()
            init_schema(dsn)
            env["COCKPIT_DSN"] = dsn
            rollouts = generate(dsn)
            (scratch / "empty").mkdir()
            beat = threading.Thread(target=heartbeats, args=(dsn, stop), daemon=True)
        print(f"generated {len(rollouts)} rollouts ({'file logs' if pg is None else 'PostgreSQL'}) "
              f"in {time.perf_counter() - t:.1f} s")  # fmt: skip
        beat.start()
        time.sleep(1)  # the first heartbeat is written
        cmd = [sys.executable, "-m", "cockpit", "fleet", "--dir", str(scratch if pg is None else scratch / "empty")]
        screen = Pty(cmd, env)
        first = screen.wait_for(b"FLEET \xc2\xb7 50 rollouts") - screen.start
        screen.idle(5)  # settle
        cpu0, bytes0, t0 = cpu_seconds(screen.proc.pid), screen.bytes, time.perf_counter()
        screen.idle(args.window)
        elapsed = time.perf_counter() - t0
        cpu = 100 * (cpu_seconds(screen.proc.pid) - cpu0) / elapsed
        rate = (screen.bytes - bytes0) / elapsed
        screen.send(b"/")  # one line: its whole "waiting on" is in the detail
        screen.wait_for(b"filter: any text")
        screen.send(TARGET.encode() + b"\r")
        screen.wait_for(UNSIGNED)
        other = as_actor(rollouts[TARGET], OPS)  # another process's cockpit, on its own connection or file
        other.store = FileStore(scratch / TARGET / "audit.jsonl") if pg is None else PgStore(env["COCKPIT_DSN"], TARGET)
        latencies = []
        for n in range(args.trials):
            screen.seen = b""
            if n % 2 == 0:
                other.approve("ops-oncall")
                wanted = SIGNED
            else:
                other.revoke("ops-oncall")
                wanted = UNSIGNED
            recorded = time.perf_counter()
            latencies.append(screen.wait_for(wanted, timeout=10) - recorded)
        ms = sorted(1000 * x for x in latencies)
        print(f"{'rollouts':<40} {len(rollouts)}")
        print(f"{'first frame (50 rollouts on screen)':<40} {first:.2f} s")
        print(f"{'CPU while idle, % of one core':<40} {cpu:.2f} %   (goal <= 1 %, over {elapsed:.0f} s)")
        print(f"{'terminal output while idle':<40} {rate:.0f} B/s")
        print(
            f"{'approval -> on screen':<40} p50 {statistics.median(ms):.0f} ms  max {ms[-1]:.0f} ms"
            f"  (goal <= 1000 ms, {len(ms)} trials)"
        )
    finally:
        stop.set()
        if screen is not None:
            screen.stop()
        if pg is not None:
            pg.destroy()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

"""What ``cockpit demo`` started dies with it, even when it is SIGKILLed (stdlib only, no cockpit imports).

The demo writes what it starts, one JSON object a line, to a reaper process (``python -m
cockpit.sim.reaper``, its own session) and to ``reap.jsonl`` in its throwaway directory:

* ``{"owner": pid, "start": ticks}`` the demo's process (``start``: its start time, against a reused pid)
* ``{"kill": pid, "mark": text}`` a server to stop (only if its command line still contains ``mark``)
* ``{"run": [argv...]}`` a command that stops one (``pg_ctl stop``)
* ``{"remove": path}`` a directory to delete (the last one registered is deleted first)
* ``{"done": true}`` the demo stopped everything itself: nothing left to do

When the demo's end of the pipe closes (its exit, however it came) without ``done``, the reaper does
what the lines say. A reaper that was itself killed leaves ``reap.jsonl``: the next demo's
:func:`clean_stale` finds it under a dead owner and does the same.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RECORD = "reap.jsonl"
STOP_WAIT = 5.0
"""Seconds a server gets after SIGTERM before SIGKILL."""


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (``/proc/PID/stat`` field 22), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        return int(stat[stat.rindex(b")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _stop(pid: int, mark: str) -> None:
    """SIGTERM, then SIGKILL after ``STOP_WAIT`` s; only while the process still runs ``mark``."""
    if mark.encode() not in _cmdline(pid):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT
    while mark.encode() in _cmdline(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if mark.encode() in _cmdline(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def reap(lines: list[dict[str, Any]]) -> None:
    """Stop the servers, run the stop commands, remove the directories (newest first)."""
    if any(line.get("done") for line in lines):
        return
    for line in lines:
        if "kill" in line:
            _stop(int(line["kill"]), str(line.get("mark", "")))
    for line in lines:
        if "run" in line:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(line["run"], capture_output=True, timeout=30, check=False)
    for line in reversed(lines):
        if "remove" in line:
            shutil.rmtree(line["remove"], ignore_errors=True)


def parse(text: str) -> list[dict[str, Any]]:
    """The lines of a record (a torn last line, from a kill mid-write, is left out)."""
    found = []
    for raw in text.splitlines():
        with contextlib.suppress(ValueError):
            line = json.loads(raw)
            if isinstance(line, dict):
                found.append(line)
    return found


def owner_alive(lines: list[dict[str, Any]]) -> bool:
    """Whether the demo that wrote ``lines`` still runs (same pid, same start time)."""
    owner = next((line for line in lines if "owner" in line), None)
    if owner is None:
        return False
    return start_ticks(int(owner["owner"])) == owner.get("start")


def clean_stale(tmp: Path) -> list[Path]:
    """Reap every ``cockpit-demo-*`` directory in ``tmp`` whose demo is gone; return those cleaned."""
    cleaned = []
    for record in sorted(tmp.glob(f"cockpit-demo-*/{RECORD}")):
        try:
            lines = parse(record.read_text(encoding="utf-8"))
        except OSError:
            continue
        if owner_alive(lines):
            continue
        reap([line for line in lines if not line.get("done")])
        shutil.rmtree(record.parent, ignore_errors=True)
        cleaned.append(record.parent)
    return cleaned


def main() -> int:
    """Read lines from stdin until the demo's end closes, then reap (unless told ``done``)."""
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):  # the terminal's signals are the demo's
        signal.signal(signum, signal.SIG_IGN)
    lines = parse(sys.stdin.read())
    reap(lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

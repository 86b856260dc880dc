"""The dashboard as a real process in a pseudo-terminal: a dropped SSH session (SIGHUP), a `kill`
(SIGTERM) or a terminal that just vanishes (its pty closed, no signal) exits cleanly and loses nothing."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest

from cockpit.store.audit import verify_file
from tests.core_helpers import EXAMPLE, ROOT

COLS, ROWS = 120, 40


def _read_until(master: int, marker: bytes, seen: bytes, deadline: float) -> bytes:
    """Read the terminal until ``marker`` shows (with ``b""``: one read, so the app never blocks)."""
    first = True
    while first or marker not in seen:
        first = False
        left = deadline - time.monotonic()
        assert left > 0, f"{marker!r} never appeared; the screen so far ends with {seen[-400:]!r}"
        ready, _, _ = select.select([master], [], [], min(left, 0.2))
        if ready:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
    return seen


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM, None], ids=["SIGHUP", "SIGTERM", "pty-closed"])
def test_a_signal_exits_cleanly_and_the_record_survives(
    tmp_path: Path, sim_url: str, sim_token: str, signum: signal.Signals | None
) -> None:
    state = tmp_path / "state"
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "APP_URL": sim_url,
        "APP_TOKEN": sim_token,
        "PROMETHEUS_URL": "http://127.0.0.1:1",
        "COCKPIT_STATE_DIR": str(state),
    }
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/cockpit"), "-c", str(EXAMPLE)],
        stdin=slave, stdout=slave, stderr=slave, env=env, cwd=tmp_path, start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    try:
        seen = _read_until(master, b"KILL", b"", time.monotonic() + 30)
        os.write(master, b"n")  # add a note: a write, through the real key path
        seen = _read_until(master, b"Note", seen, time.monotonic() + 10)
        time.sleep(1.0)  # let the prompt take focus before typing into it (slow on a loaded machine)
        os.write(master, b"handover to the next on-call\r")
        log = state / "alokickflow-phase2" / "audit.jsonl"
        deadline = time.monotonic() + 10
        while not (log.exists() and b"handover" in log.read_bytes()):
            assert time.monotonic() < deadline, "the note never reached the audit log"
            _read_until(master, b"", seen, time.monotonic() + 0.2)
        if signum is None:  # the terminal goes away with no signal (this pty is not the controlling one)
            os.close(master)
            master = -1
            try:
                proc.wait(timeout=15)  # the terminal check runs every second
            except subprocess.TimeoutExpired:
                raise AssertionError("the cockpit kept running on a closed terminal") from None
        else:
            os.killpg(proc.pid, signum)  # the SSH session drops, or someone runs `kill`
        deadline = time.monotonic() + 15
        while proc.poll() is None:  # keep draining the terminal so the app's last writes cannot block
            assert time.monotonic() < deadline, f"the cockpit did not exit on {signum}"
            _read_until(master, b"", seen, time.monotonic() + 0.2)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if master >= 0:
            os.close(master)
    result = verify_file(log)
    assert result.ok and result.count >= 1
    notes = [json.loads(line)["payload"] for line in log.read_text().splitlines()]
    assert {"text": "handover to the next on-call"} in notes


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _descendant_running(root: int, program: bytes) -> list[bytes] | None:
    """The argv of a process under ``root`` (by parent chain) that runs ``program``, if there is one."""
    parents, argvs = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_bytes()
                parents[int(entry.name)] = int(stat[stat.rindex(b")") + 2 :].split()[1])
                argvs[int(entry.name)] = (entry / "cmdline").read_bytes().split(b"\0")
            except (OSError, ValueError, IndexError):
                pass
    for pid, argv in argvs.items():
        up = pid
        while up in parents and up not in (0, 1, root):
            up = parents[up]
        if up == root and any(Path(a.decode(errors="replace")).name == program.decode() for a in argv):
            return argv
    return None


def test_sigterm_while_the_demo_starts_stops_what_it_started(tmp_path: Path) -> None:
    """A SIGTERM while `cockpit demo` runs initdb: its PostgreSQL and Prometheus stopped, nothing left.

    The demo's throwaway directory goes under tmp_path, which (as root) the 'postgres' user cannot reach
    (pytest's base directory is private): the demo then gives PostgreSQL a directory of its own in /tmp.
    """
    env = {**os.environ, "TMPDIR": str(tmp_path), "TERM": "xterm-256color"}
    master, slave = pty.openpty()  # a terminal, so a start that wins the race still opens the dashboard
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    proc = subprocess.Popen([str(ROOT / ".venv/bin/cockpit"), "demo"], stdin=slave, stdout=slave, stderr=slave,
                            env=env, start_new_session=True)  # fmt: skip
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while (argv := _descendant_running(proc.pid, b"initdb")) is None:
            assert proc.poll() is None, _read_until(master, b"", seen, time.monotonic() + 1)
            assert time.monotonic() < deadline, f"the demo never ran initdb; it printed {seen[-600:]!r}"
            seen = _read_until(master, b"", seen, time.monotonic() + 0.01)
        pg_dir = Path(argv[argv.index(b"-D") + 1].decode()).parent
        os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while proc.poll() is None:
            assert time.monotonic() < deadline, "the demo did not exit on SIGTERM"
            seen = _read_until(master, b"", seen, time.monotonic() + 0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    assert proc.returncode == 128 + signal.SIGTERM
    deadline = time.monotonic() + 10
    while left := _processes_mentioning(str(tmp_path)) + _processes_mentioning(str(pg_dir)):
        assert time.monotonic() < deadline, f"left running: {left}"
        time.sleep(0.1)
    assert not pg_dir.exists()
    assert not list(tmp_path.glob("cockpit-demo-*"))


@pytest.mark.parametrize("redirected", ["stdin", "stderr"])
def test_no_terminal_to_draw_on_is_one_line_and_starts_nothing(tmp_path: Path, redirected: str) -> None:
    """Textual reads keys from stdin and draws on stderr: `cockpit demo 2>log` would draw into the log,
    so it is refused, before the demo starts any server (stdout alone may be redirected)."""
    master, slave = pty.openpty()
    log = tmp_path / "err.txt"
    with open(log, "wb") as err, open(os.devnull, "rb") as null:
        stdin, stderr = (null, slave) if redirected == "stdin" else (slave, err)
        result = subprocess.run([str(ROOT / ".venv/bin/cockpit"), "demo"], stdin=stdin, stdout=subprocess.DEVNULL,
                                stderr=stderr, env={**os.environ, "TMPDIR": str(tmp_path)}, timeout=30, check=False)  # fmt: skip
    os.close(slave)
    said = log.read_text() if redirected == "stderr" else _read_until(master, b"", b"", time.monotonic() + 1).decode()
    os.close(master)
    assert result.returncode == 2
    name = "standard input" if redirected == "stdin" else "standard error"
    assert f"needs a terminal ({name} is not a terminal)" in said, said
    assert "Traceback" not in said and not list(tmp_path.glob("cockpit-demo-*"))

"""``cockpit demo``'s own PostgreSQL: started whatever TMPDIR is, usable by the Stage 1 checks, gone on exit."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

import psycopg
import pytest

from cockpit.demo import Demo, find_pg_bin, reachable
from cockpit.sim.reaper import RECORD, clean_stale, start_ticks
from tests.core_helpers import ROOT
from tests.servers import missing
from tests.test_tui_process import COLS, ROWS, _descendant_running, _processes_mentioning, _read_until


def test_the_demo_postgres_starts_even_under_a_private_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root, PostgreSQL runs as 'postgres', which cannot enter a 0700 TMPDIR: it gets its own dir in /tmp."""
    if find_pg_bin() is None:
        missing("PostgreSQL binaries (initdb, pg_ctl) not found")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    with Demo(speed=1000, prometheus=False) as demo:
        assert demo.dir.parent == private
        assert demo.has_postgres, demo.notices()
        with psycopg.connect(os.environ["DATABASE_URL"], connect_timeout=10) as conn:
            assert conn.execute("SELECT count(*) FROM job_dlq").fetchone() == (0,)
            data_dir = Path(conn.execute("SHOW data_directory").fetchone()[0])  # type: ignore[index]
        if os.geteuid() == 0:
            assert not data_dir.is_relative_to(private)  # the fallback really was taken
        postmaster = Path(f"/proc/{(data_dir / 'postmaster.pid').read_text().split()[0]}")
    assert not data_dir.exists()
    assert not demo.dir.exists()
    try:  # gone, or a zombie waiting for init (whose argv is empty): either way no server
        assert str(data_dir).encode() not in (postmaster / "cmdline").read_bytes()
    except FileNotFoundError:
        pass


def test_reachable_follows_every_parent(tmp_path: Path) -> None:
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    (tmp_path / "a").chmod(0o700)
    nobody = 65534
    assert not reachable(inner, nobody, nobody)  # "a" is closed to others
    owner = inner.stat()
    assert reachable(inner, owner.st_uid, owner.st_gid) == reachable(tmp_path, owner.st_uid, owner.st_gid)
    (tmp_path / "a").chmod(0o711)  # now only what is above tmp_path decides
    assert reachable(inner, nobody, nobody) == reachable(tmp_path, nobody, nobody)
    assert reachable(Path("/"), nobody, nobody)


def test_a_sigkilled_demo_leaves_no_process_and_no_directory(tmp_path: Path) -> None:
    """SIGKILL gives the demo no chance to clean up: its reaper stops PostgreSQL and Prometheus and removes
    the throwaway directories (PostgreSQL's own one in /tmp too, as root under a private TMPDIR)."""
    if find_pg_bin() is None or shutil.which("prometheus") is None:
        missing("PostgreSQL binaries or prometheus not found")
    env = {**os.environ, "TMPDIR": str(tmp_path), "TERM": "xterm-256color", "PYTHONPATH": str(ROOT)}
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "cockpit", "demo"], stdin=slave, stdout=slave, stderr=slave,
                            env=env, start_new_session=True)  # fmt: skip
    os.close(slave)
    seen = b""
    try:
        seen = _read_until(master, b"KILL", seen, time.monotonic() + 60)  # the dashboard is up
        postgres = _descendant_running(proc.pid, b"postgres") or _processes_running(b"postgres", str(tmp_path))
        prometheus = _descendant_running(proc.pid, b"prometheus")
        assert prometheus is not None, "the demo started no Prometheus"
        demo_dirs = list(tmp_path.glob("cockpit-demo-*"))
        assert demo_dirs
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    marks = [str(tmp_path)] + (
        [a.decode() for a in postgres if a.startswith(b"/tmp/cockpit-demo-pg-")] if postgres else []
    )
    deadline = time.monotonic() + 20
    while left := [pid for mark in marks for pid in _processes_mentioning(mark)]:
        assert time.monotonic() < deadline, f"left running: {left}"
        time.sleep(0.1)
    while list(tmp_path.glob("cockpit-demo-*")):
        assert time.monotonic() < deadline, f"left behind: {list(tmp_path.glob('cockpit-demo-*'))}"
        time.sleep(0.1)


def _processes_running(program: bytes, mark: str) -> list[bytes] | None:
    """The argv of any process running ``program`` with ``mark`` in its command line (PostgreSQL, started
    by pg_ctl, is no descendant of the demo)."""
    for pid in _processes_mentioning(mark):
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if Path(argv[0].decode(errors="replace")).name == program.decode():
            return argv
    return None


def test_a_stale_demo_directory_is_cleaned_at_start(tmp_path: Path) -> None:
    """A demo whose reaper died too (kill -9 of both) left its directory and a server: the next demo's
    start stops the server (still running what was recorded) and removes the directory."""
    stale = tmp_path / "cockpit-demo-old"
    stale.mkdir()
    server = subprocess.Popen(["sleep", "300", str(stale)][:2], start_new_session=True)  # stands in for Prometheus
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer runs the demo
    try:
        lines = [{"owner": gone.pid, "start": 1}, {"remove": str(stale)}, {"kill": server.pid, "mark": "sleep"}]
        (stale / RECORD).write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"torn', encoding="utf-8")
        alive = tmp_path / "cockpit-demo-alive"  # a running demo's directory is left alone
        alive.mkdir()
        me = [{"owner": os.getpid(), "start": start_ticks(os.getpid())}, {"remove": str(alive)}]
        (alive / RECORD).write_text("".join(json.dumps(line) + "\n" for line in me), encoding="utf-8")
        assert clean_stale(tmp_path) == [stale]
        assert server.wait(timeout=10) == -signal.SIGTERM
        assert not stale.exists()
        assert alive.exists()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()

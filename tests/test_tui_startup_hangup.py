"""A dashboard whose terminal disappears while it starts (a tmux server killed, an SSH session dropped
0.2-1.0 s after launch) exits: no cockpit outlives its terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import random
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest

from tests.core_helpers import EXAMPLE, ROOT

COLS, ROWS = 120, 40
TRIES = 20


def _controlling_tty() -> None:
    """In the child (already in a new session): make its stdin the controlling terminal, as a login does."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.mark.parametrize("controlling", [True, False], ids=["controlling-tty", "plain-pty"])
def test_a_terminal_closed_during_start_up_never_leaves_a_cockpit_running(
    tmp_path: Path, sim_url: str, sim_token: str, controlling: bool
) -> None:
    env = {**os.environ, "TERM": "xterm-256color", "APP_URL": sim_url, "APP_TOKEN": sim_token,
           "PROMETHEUS_URL": "http://127.0.0.1:1", "COCKPIT_STATE_DIR": str(tmp_path / "state")}  # fmt: skip
    survivors = []
    rng = random.Random(18)
    for attempt in range(TRIES // 2):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/cockpit"), "-c", str(EXAMPLE)],
            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=tmp_path, start_new_session=True,
            preexec_fn=_controlling_tty if controlling else None,
        )  # fmt: skip
        os.close(slave)
        delay = rng.uniform(0.2, 1.0)
        time.sleep(delay)
        assert proc.poll() is None, f"try {attempt}: the cockpit ended by itself ({proc.returncode}) before the test"
        os.close(master)  # the terminal is gone (SIGHUP to a controlling process; EOF/EIO either way)
        try:
            proc.wait(timeout=15)  # ~1 s to notice, a clean exit, 5 s grace at most; slack for a loaded host
        except subprocess.TimeoutExpired:
            survivors.append(f"try {attempt}: closed after {delay:.2f} s")
            proc.kill()
            proc.wait()
    assert not survivors, survivors

"""Real servers for the tests: PostgreSQL, Prometheus, Unleash (and the simulator).

Each is started as a child process on 127.0.0.1 on a free port, with its data in a temp dir, and
stopped at the end (fixture finalizer, plus ``atexit`` as a safety net: process groups are killed).
A missing binary skips the tests that need it locally, and fails them when ``CI=true``.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from cockpit.demo import find_pg_bin

ROOT = Path(__file__).resolve().parents[1]
NODE_CACHE = Path(os.environ.get("COCKPIT_NODE_CACHE", ROOT / ".ci" / "cache" / "node"))
UNLEASH_ADMIN_TOKEN = "*:*.unleash-insecure-admin-token"
UNLEASH_FLAGS = ("FEATURE_FLAG_DLQ_ENABLED", "FEATURE_FLAG_JOB_HEARTBEAT")

_procs: list[subprocess.Popen[bytes]] = []
_cleanups: list[Callable[[], None]] = []


def _atexit() -> None:
    for fn in reversed(_cleanups):
        try:
            fn()
        except Exception:
            pass
    for p in _procs:
        _kill_group(p)


atexit.register(_atexit)
_sigterm_hooked = False


def _hook_sigterm() -> None:
    """On SIGTERM, stop the servers first (atexit does not run on a signal death)."""
    global _sigterm_hooked
    if _sigterm_hooked:
        return
    _sigterm_hooked = True
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return

        def on_term(signum: int, frame: Any) -> None:
            _atexit()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        pass


def _kill_group(p: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def missing(reason: str) -> NoReturn:
    """A server cannot be had: skip locally, fail in CI (``CI=true``)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: a missing test server is an error)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(what: str, check: Callable[[], bool], timeout: float, proc: Any = None, log: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = Path(log).read_text(errors="replace")[-3000:] if log else ""
            raise RuntimeError(f"{what}: process exited with {proc.returncode}\n{tail}")
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.2)
    tail = Path(log).read_text(errors="replace")[-3000:] if log else ""
    raise RuntimeError(f"{what}: not ready after {timeout:.0f}s\n{tail}")


def _spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    _hook_sigterm()
    with open(log, "ab") as out:
        p = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,  # own process group: killed as a whole
        )
    _procs.append(p)
    return p


# ---------------------------------------------------------------- PostgreSQL


class Postgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1.

    Authentication (``pg_hba.conf``): the superuser ``postgres`` is ``trust`` (local socket and
    127.0.0.1, no password needed); every other role over TCP uses ``scram-sha-256``. The role
    ``cockpit`` / password ``cockpit-pw`` (LOGIN CREATEDB) exists for password tests: a wrong password
    fails with "password authentication failed for user "cockpit"".

    ``dsn()`` defaults to the ``cockpit`` role with its password; ``dsn(user="postgres")`` is the
    superuser without a password. ``stop()`` / ``start()`` stop and restart the same cluster on the
    same port (for outage tests). As root, the server runs as the OS user ``postgres`` (runuser).
    """

    USER = "cockpit"
    PASSWORD = "cockpit-pw"

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="cockpit-pg-"))
        self.data = self.tmp / "data"
        self.sockdir = self.tmp / "sock"
        self.log = self.tmp / "postgres.log"
        self.proc: Any = None
        self.as_root = os.geteuid() == 0
        self.sockdir.mkdir()
        self.log.touch()
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            for p in (self.tmp, self.sockdir, self.log):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        self._run([str(bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                   "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"])  # fmt: skip
        (self.data / "pg_hba.conf").write_text(
            "local all postgres trust\n"
            "host all postgres 127.0.0.1/32 trust\n"
            "local all all trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        _cleanups.append(self.destroy)

    def _cmd(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if self.as_root else cmd

    def _run(self, cmd: list[str]) -> None:
        r = subprocess.run(self._cmd(cmd), capture_output=True, text=True, cwd=self.tmp, check=False)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        cmd = [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.sockdir),
               "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off",
               "-c", "synchronous_commit=off", "-c", "max_connections=100"]  # fmt: skip
        self.proc = _spawn(self._cmd(cmd), self.log, cwd=self.tmp)
        wait_until("postgres", self._ready, 60, self.proc, self.log)

    def _ready(self) -> bool:
        import psycopg

        with psycopg.connect(self.dsn(user="postgres"), connect_timeout=2) as conn:
            conn.execute("select 1")
        return True

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster); the data stays for ``start()``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGINT)
            self.proc.wait(timeout=30)
        except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
            _kill_group(self.proc)
        _kill_group(self.proc)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def dsn(self, dbname: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        user = user or self.USER
        if password is None and user == self.USER:
            password = self.PASSWORD
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}"

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.dsn(dbname, user="postgres"), autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self, name: str, owner: str | None = None) -> str:
        """(Re)create database ``name`` owned by ``owner`` (default ``cockpit``); returns its DSN."""
        owner = owner or self.USER
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
        return self.dsn(name, user=owner if owner != "postgres" else "postgres")

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def fresh_database(self) -> tuple[str, str]:
        """A new empty database for one test: (name, dsn as ``cockpit``)."""
        name = f"test_{uuid.uuid4().hex[:10]}"
        return name, self.create_database(name)


def start_postgres() -> Postgres:
    bindir = find_pg_bin()
    if bindir is None:
        missing("PostgreSQL not found (no pg_ctl/initdb on PATH or in /usr/lib/postgresql/*/bin)")
    pg = Postgres(bindir)
    pg.start()
    pg.execute(f"CREATE ROLE {Postgres.USER} LOGIN CREATEDB PASSWORD '{Postgres.PASSWORD}'")
    return pg


# ---------------------------------------------------------------- Prometheus


class Prometheus:
    """A real Prometheus scraping ``target_url``'s ``/metrics`` every 1 s (job ``alokickflow``)."""

    def __init__(self, binary: str, target_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = Path(tempfile.mkdtemp(prefix="cockpit-prom-"))
        self.log = self.tmp / "prometheus.log"
        target = target_url.split("://", 1)[1].rstrip("/")
        config = self.tmp / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: alokickflow\n    metrics_path: /metrics\n"
            f"    static_configs:\n      - targets: ['{target}']\n"
        )
        self.proc = _spawn(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={self.tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h",
             "--web.enable-lifecycle", "--log.level=warn"],
            self.log,
        )  # fmt: skip
        _cleanups.append(self.stop)

    def query(self, promql: str) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        r.raise_for_status()
        return list(r.json()["data"]["result"])

    def wait_ready(self, timeout: float = 60) -> None:
        wait_until("prometheus /-/ready", lambda: httpx.get(f"{self.url}/-/ready", timeout=2).is_success,
                   timeout, self.proc, self.log)  # fmt: skip

        def scraped() -> bool:
            return any(s["value"][1] == "1" for s in self.query("up"))

        wait_until("prometheus first scrape", scraped, timeout, self.proc, self.log)

    def stop(self) -> None:
        _kill_group(self.proc, signal.SIGTERM)
        _kill_group(self.proc)
        shutil.rmtree(self.tmp, ignore_errors=True)


def start_prometheus(target_url: str) -> Prometheus:
    binary = shutil.which("prometheus") or ("/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None)
    if binary is None:
        missing("prometheus not found (apt-get install prometheus; scripts/install-test-deps does it)")
    prom = Prometheus(binary, target_url)
    try:
        prom.wait_ready()
    except Exception:
        prom.stop()
        raise
    return prom

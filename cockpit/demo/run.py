"""``cockpit demo``: the whole seed rollout in minutes, on a laptop, with nothing to set up.

Starts the AlokickFlow simulator in a thread on a free 127.0.0.1 port, a throwaway state directory,
the example plan (shipped as ``cockpit/example_plan.toml``, identical to ``config.example.toml``) with
its environment variables, and accelerated time (``--speed``: the 24 h soak passes in ~90 s at
1000x). When ``initdb``/``pg_ctl`` are found, a throwaway PostgreSQL with the migrations' tables backs
Stage 1's checks; when ``prometheus`` is on PATH it scrapes the simulator for the error rate and P99
latency. Whatever is missing, :meth:`Demo.notices` and the metric panels say so plainly.

Plain Python: the dashboard gets a :class:`Demo` and calls :meth:`hint`, :meth:`flood`, :meth:`after_kill`.
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from cockpit.clock import ScaledClock
from cockpit.demo.hints import next_hint, stage_fault
from cockpit.demo.plan import (
    HEALTH_SCRIPT,
    PROM_METRICS,
    SQL_STANDIN,
    example_plan_text,
    read_simulator,
    sql_standin,
    toml_str,
)
from cockpit.rollout import Rollout, RolloutError
from cockpit.sim.reaper import RECORD, clean_stale, start_ticks
from cockpit.sim.server import SimServer, Simulator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_pg_bin() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, else the newest /usr/lib/postgresql/N/bin (Debian)."""
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl and shutil.which("initdb"):
        return Path(os.path.realpath(pg_ctl)).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]), reverse=True)
    for d in dirs:
        if (Path(d) / "initdb").exists() and (Path(d) / "postgres").exists():
            return Path(d)
    return None


def reachable(path: Path, uid: int, gid: int) -> bool:
    """Whether user ``uid`` (group ``gid``) may pass through ``path`` and every directory above it."""
    for part in [path, *path.parents]:
        st = part.stat()
        bit = stat.S_IXUSR if st.st_uid == uid else stat.S_IXGRP if st.st_gid == gid else stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


class Demo:
    """Everything the demo starts, stopped again on exit (use it as a context manager)."""

    def __init__(self, *, speed: float = 1000.0, scenario: str = "healthy", poll: float = 1.0,
                 postgres: bool = True, prometheus: bool = True, retention: str | None = None) -> None:  # fmt: skip
        self.speed = speed
        self.poll = poll
        self.clock = ScaledClock(speed)
        self.cleaned = clean_stale(Path(tempfile.gettempdir()))
        """Directories (and their servers) left by demos that were killed, removed before this one starts."""
        self.dir = Path(tempfile.mkdtemp(prefix="cockpit-demo-"))
        self._reaper = subprocess.Popen(
            [sys.executable, "-m", "cockpit.sim.reaper"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        """Stops what the demo started if the demo dies without doing it (SIGKILL): ``cockpit.sim.reaper``."""
        self._reap({"owner": os.getpid(), "start": start_ticks(os.getpid())})
        self._reap({"remove": str(self.dir)})
        self.token = secrets.token_hex(16)
        self.sim = Simulator(scenario=scenario, speed=speed, token=self.token)
        self.server: SimServer | None = None
        self.plan_path = self.dir / "cockpit.toml"
        self.notes: dict[str, str] = {}
        """Why a metric shows NO DATA, by metric (shown in its panel)."""
        self._notices: list[str] = []
        self._pg: Path | None = None
        self._pg_started: Path | None = None
        """The data directory ``pg_ctl start`` was run on (stopped on exit even if the start failed)."""
        self._pg_outside: Path | None = None
        """PostgreSQL's directory when the 'postgres' user cannot reach ours (removed on exit too)."""
        self._pg_bin: Path | None = None
        """Where initdb, pg_ctl and postgres are (``find_pg_bin``)."""
        self._prom: subprocess.Popen[bytes] | None = None
        self.want_pg, self.want_prom = postgres, prometheus
        self.retention = retention
        """The plan's history_retention ("6h"), None for the example's."""
        self._no_prometheus = ""
        """Why no Prometheus runs ("" when one does): its metrics are read from the simulator."""
        self._no_postgres = ""
        """Why no PostgreSQL runs ("" when one does): Stage 1's SQL runs on an SQLite stand-in."""
        self.header: list[str] = []
        """What the demo stands in for, said once in the dashboard's header."""
        self.cwd = Path.cwd()
        """Where the demo was started: the sign-off is kept there."""
        self.kept: list[Path] = []
        """Files the demo keeps after it exits (the exported sign-off)."""
        self.flooded = False
        self.killed = False
        self._saved_env: dict[str, str | None] = {}

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> Demo:
        try:
            self.start()
        except BaseException:  # interrupted half-way (Ctrl-C, SIGTERM): stop what did start
            self.stop()
            raise
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _reap(self, line: dict[str, Any]) -> None:
        """Tell the reaper (and the record a later demo reads, should the reaper die too) what to undo."""
        text = json.dumps(line) + "\n"
        try:
            with open(self.dir / RECORD, "a", encoding="utf-8") as record:
                record.write(text)
        except OSError:  # the directory is already gone (stopped twice)
            pass
        stdin = self._reaper.stdin
        if stdin is not None and not stdin.closed:
            try:
                stdin.write(text.encode())
                stdin.flush()
            except (BrokenPipeError, ValueError):  # the reaper is gone: the record remains for the next demo
                pass

    def _setenv(self, name: str, value: str) -> None:
        self._saved_env.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def start(self) -> None:
        self.server = SimServer(self.sim).start()
        self._setenv("APP_URL", self.server.url)
        self._setenv("APP_TOKEN", self.token)
        self._setenv("COCKPIT_STATE_DIR", str(self.dir / "state"))
        self._notices.append(f"simulator on {self.server.url}, time x{self.speed:g}, state in {self.dir}")
        self._notices.append("one person may sign all three approvals in the demo (the real plan forbids it)")
        if self.want_pg:
            self._start_postgres()
        else:
            self._no_postgres = "not started (--no-postgres)"
        if self.want_prom:
            self._start_prometheus()
        else:
            self._no_prometheus = "not started (--no-prometheus)"
        text = example_plan_text().replace("allow_multiple_roles = false", "allow_multiple_roles = true")
        # one poll per ``poll`` real seconds, one arm check per 10 polls, whatever the speed
        text = text.replace('poll_interval = "5s"', f'poll_interval = "{max(round(self.speed * self.poll), 1)}s"')
        text = text.replace('arm_interval = "60s"', f'arm_interval = "{max(round(self.speed * self.poll * 10), 1)}s"')
        if self.retention:
            text = text.replace('history_retention = "14d"', f"history_retention = {toml_str(self.retention)}")
        verification = self.dir / "verification"
        verification.mkdir()
        script = verification / "health_check_script.sh"
        script.write_text(HEALTH_SCRIPT.format(python=sys.executable))
        script.chmod(0o755)
        if self._no_prometheus:
            text = read_simulator(text)
            self.header.append(f"Prometheus: {self._no_prometheus}, reading the simulator")
            self._notices.append(f"Prometheus {self._no_prometheus}: error rate and P99 are read from the simulator")
        if self._no_postgres:
            standin = verification / "sql_standin.py"
            standin.write_text(SQL_STANDIN.format(python=sys.executable))
            text = sql_standin(text, standin)
            self.header.append(f"PostgreSQL: {self._no_postgres}, Stage 1 SQL on an SQLite stand-in")
            self._notices.append(f"PostgreSQL {self._no_postgres}: Stage 1's SQL checks run on an SQLite stand-in")
        self.plan_path.write_text(text, encoding="utf-8")

    def stop(self) -> None:
        if self._prom is not None:
            self._prom.terminate()
            try:
                self._prom.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._prom.kill()
        if self._pg_started is not None:
            subprocess.run(self._pg_cmd("pg_ctl", "-D", str(self._pg_started / "data"), "stop", "-m", "immediate"),
                           capture_output=True, check=False)  # fmt: skip
        if self.server is not None:
            self.server.stop()
        if self._pg_outside is not None:
            shutil.rmtree(self._pg_outside, ignore_errors=True)
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._reap({"done": True})
        shutil.rmtree(self.dir, ignore_errors=True)
        if self._reaper.stdin is not None:
            self._reaper.stdin.close()
        try:
            self._reaper.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._reaper.kill()

    @property
    def has_postgres(self) -> bool:
        return self._pg is not None

    def notices(self) -> list[str]:
        """What the demo started and what it could not (one line each)."""
        return list(self._notices)

    # ----------------------------------------------------------------- optional servers

    def _pg_cmd(self, tool: str, *args: str) -> list[str]:
        path = str(self._pg_bin / tool) if self._pg_bin else tool
        return ["runuser", "-u", "postgres", "--", path, *args] if os.geteuid() == 0 else [path, *args]

    def _start_postgres(self) -> None:
        self._pg_bin = find_pg_bin()
        if self._pg_bin is None:
            self._no_postgres = "not installed"
            return
        pg = self.dir / "pg"
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: it runs as 'postgres' in a dir it owns
            import pwd

            try:
                ids = pwd.getpwnam("postgres")
            except KeyError:
                self._no_postgres = "running as root and no 'postgres' user"
                return
            if reachable(self.dir.parent, ids.pw_uid, ids.pw_gid):
                os.chown(self.dir, ids.pw_uid, ids.pw_gid)
                pg.mkdir()
            else:  # e.g. a TMPDIR inside a private 0700 directory: PostgreSQL gets its own under /tmp
                pg = self._pg_outside = Path(tempfile.mkdtemp(prefix="cockpit-demo-pg-", dir="/tmp"))
                self._reap({"remove": str(pg)})
            os.chown(pg, ids.pw_uid, ids.pw_gid)
        else:
            pg.mkdir()
        port = free_port()
        data = str(pg / "data")
        steps = [
            self._pg_cmd("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "--no-instructions"),
            self._pg_cmd("pg_ctl", "-D", data, "-l", str(pg / "log"), "-w", "-t", "30", "-o",
                         f"-p {port} -k {pg} -c listen_addresses=127.0.0.1 -c fsync=off", "start"),
        ]  # fmt: skip
        for cmd in steps:
            if "start" in cmd:
                self._pg_started = pg
                self._reap({"run": self._pg_cmd("pg_ctl", "-D", data, "stop", "-m", "immediate")})
            r = subprocess.run(cmd, capture_output=True, text=True, check=False, start_new_session=True)
            if r.returncode != 0:
                why = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["?"]
                self._no_postgres = f"did not start ({why[0]})"
                return
        self._pg = pg
        dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        try:
            import psycopg

            with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
                conn.execute("CREATE TABLE job_dlq (id bigserial PRIMARY KEY, payload jsonb)")
                conn.execute("CREATE TABLE qc_jobs (id bigserial PRIMARY KEY, last_heartbeat_at timestamptz)")
        except Exception as exc:
            self._no_postgres = f"could not create the tables ({exc})"
            return
        self._setenv("DATABASE_URL", dsn)
        self._notices.append(f"PostgreSQL on 127.0.0.1:{port} with job_dlq and qc_jobs.last_heartbeat_at")

    def _start_prometheus(self) -> None:
        binary = shutil.which("prometheus")
        if binary is None or self.server is None:
            self._no_prometheus = "not installed"
            return
        prom = self.dir / "prom"
        prom.mkdir()
        target = self.server.url.removeprefix("http://")
        every = min(max(round(self.poll), 1), 15)  # as often as the cockpit polls: more would be wasted
        (prom / "prometheus.yml").write_text(
            f"global: {{scrape_interval: {every}s, evaluation_interval: {every}s}}\n"
            f"scrape_configs:\n  - job_name: alokickflow\n    static_configs: [{{targets: ['{target}']}}]\n"
        )
        port = free_port()
        with open(prom / "log", "wb") as log:
            self._prom = subprocess.Popen(
                [binary, f"--config.file={prom / 'prometheus.yml'}", f"--storage.tsdb.path={prom / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        self._reap({"kill": self._prom.pid, "mark": str(prom)})
        self._setenv("PROMETHEUS_URL", f"http://127.0.0.1:{port}")
        self._notices.append(f"Prometheus on 127.0.0.1:{port} scraping the simulator every {every} s")
        self.notes.update({m: "Prometheus needs ~1 min of scrapes for rate()" for m in PROM_METRICS})

    # ----------------------------------------------------------------- the guided walk

    def flood(self, rollout: Rollout) -> str:
        """Inject the fault the watched stage judges: a DLQ flood in Stage 2 (``dlq-flood``), heartbeat
        misses in Stage 3 (``heartbeat-misses``); RolloutError where no threshold would see either. The
        rollout's time slows to real time, so the incident that follows counts its deadlines ("immediately",
        "within 5 minutes") as an on-call engineer would live them (the simulator's own pace stays fast)."""
        fault = stage_fault(rollout)
        if fault is None:
            stage = rollout.current_stage
            where = stage.title if stage else "Before Stage 0"
            raise RolloutError(f"{where} judges neither the DLQ nor heartbeats: f injects a fault in Stage 2 or 3")
        scenario, metric, limit = fault
        self.sim.set_scenario(scenario)
        self.flooded = True
        self.clock.set_speed(1.0)
        return f"simulator: {scenario} ({metric} will climb past {limit}; time now runs at x1)"

    def keep(self, path: Path) -> Path:
        """A copy of ``path`` (the sign-off, written in the throwaway directory) in the directory the demo was
        started from, where quitting leaves it; said again on exit (:attr:`kept`)."""
        for where in (self.cwd, Path.home()):
            target = where / path.name
            try:
                shutil.copyfile(path, target)
            except OSError:
                continue
            if target not in self.kept:
                self.kept.append(target)
            return target
        return path

    def after_kill(self) -> None:
        """Recovery: with the flag off the DLQ drains; the simulator goes back to healthy. A kill opens an
        incident: the rollout's time slows to real time (as after a fault), so its deadlines ("immediately",
        "within 5 minutes") count as an on-call engineer lives them, not overdue in a blink."""
        self.sim.set_scenario("healthy")
        self.killed = True
        self.clock.set_speed(1.0)

    def hint(self, rollout: Rollout, blockers: list[Any] | None = None) -> str:
        """The next key for a newcomer, from the rollout's state (and the gate's live ``blockers``)."""
        return next_hint(rollout, self, blockers)

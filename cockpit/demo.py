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
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import tomllib
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

from cockpit.clock import ScaledClock
from cockpit.plan.model import format_duration
from cockpit.rollout import Rollout, RolloutError
from cockpit.sim.reaper import RECORD, clean_stale, start_ticks
from cockpit.sim.server import SimServer, Simulator

HEALTH_SCRIPT = """#!/bin/sh
# The demo's stand-in for ./verification/health_check_script.sh: asks the simulator's /health.
exec "{python}" - <<'PY'
import json, os, urllib.request
status = json.load(urllib.request.urlopen(os.environ["APP_URL"] + "/health", timeout=5))["status"]
print("health:", status)
print("OVERALL: HEALTHY" if status == "healthy" else "OVERALL: DEGRADED")
PY
"""

PROM_METRICS = ("error_rate", "p99_latency")

SIM_FIGURES = {"error_rate": "errorRatePercent", "p99_latency": "p99LatencyMs"}
"""Without Prometheus, each of its metrics is read from the simulator's ``/api/sim/figures`` (this key)."""

SQL_STANDIN = """#!{python}
# The demo's stand-in for PostgreSQL (none installed): runs Stage 1's SQL, verbatim, on SQLite with the
# migrations' tables and an information_schema.columns that lists them. Prints the row count, then the rows.
import sqlite3, sys
db = sqlite3.connect(":memory:")
db.execute("CREATE TABLE job_dlq (id INTEGER PRIMARY KEY, payload TEXT)")
db.execute("CREATE TABLE qc_jobs (id INTEGER PRIMARY KEY, last_heartbeat_at TEXT)")
db.execute("ATTACH ':memory:' AS information_schema")
db.execute("CREATE TABLE information_schema.columns (table_name TEXT, column_name TEXT)")
for table in ("job_dlq", "qc_jobs"):
    for column in db.execute(f"SELECT name FROM pragma_table_info('{{table}}')"):
        db.execute("INSERT INTO information_schema.columns VALUES (?, ?)", (table, column[0]))
rows = db.execute(sys.argv[1]).fetchall()
print(f"SQLite stand-in (no PostgreSQL): {{len(rows)}} row(s)")
for row in rows:
    print("\\t".join(str(v) for v in row))
"""

STANDIN_CHECKS = {"dlq-table": r"^0$", "heartbeat-column": r"stand-in \(no PostgreSQL\): 1 row\(s\)$"}
"""Stage 1's SQL checks on the stand-in: the regex its output must match (the plan's expect_value 0 and
expect_rows 1)."""


def replace_block(text: str, start: str, new: str) -> str:
    """``text`` with the TOML block that begins with the line(s) ``start`` (up to the next blank line)
    replaced by ``new``; ValueError if ``start`` is not there (the example plan changed)."""
    at = text.index(start)
    end = text.find("\n\n", at)
    return text[:at] + new.rstrip("\n") + (text[end:] if end >= 0 else "\n")


def toml_str(value: str) -> str:
    """A TOML basic string (JSON's escaping is TOML's for these)."""
    return json.dumps(value, ensure_ascii=False)


def read_simulator(text: str) -> str:
    """The plan with each Prometheus metric read from the simulator's ``/api/sim/figures`` instead."""
    for metric, key in SIM_FIGURES.items():
        table = tomllib.loads(text)["metrics"][metric]
        block = "\n".join([
            f"[metrics.{metric}]",
            f"title = {toml_str(table['title'])}",
            'source = "app"',
            f"unit = {toml_str(table['unit'])}",
            'path = "/api/sim/figures"',
            f'json_path = "{key}"',
            f"# demo: no Prometheus here, so the simulator's own figures stand for: {table['query']}",
        ])  # fmt: skip
        text = replace_block(text, f"[metrics.{metric}]\n", block)
    return text


def sql_standin(text: str, script: Path) -> str:
    """The plan with Stage 1's SQL checks run on the SQLite stand-in (``SQL_STANDIN``), marked so."""
    checks = {c["id"]: c for s in tomllib.loads(text)["stages"] for c in s.get("checks", [])}
    for check_id, regex in STANDIN_CHECKS.items():
        check = checks[check_id]
        command = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {shlex.quote(check['query'])}"
        block = "\n".join([
            "[[stages.checks]]",
            f'id = "{check_id}"',
            f"text = {toml_str(check['text'] + ' [simulated: SQLite stand-in, no PostgreSQL]')}",
            'source = "shell"',
            'kind = "command"',
            f"command = {toml_str(command)}",
            f"expect = {toml_str(check['expect'])}",
            f"expect_regex = {toml_str(regex)}",
        ])  # fmt: skip
        text = replace_block(text, f'[[stages.checks]]\nid = "{check_id}"\n', block)
    return text


def example_plan_text() -> str:
    """The example plan shipped inside the package."""
    return resources.files("cockpit").joinpath("example_plan.toml").read_text(encoding="utf-8")


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


FAULTS = {"dlq_entries": "dlq-flood", "heartbeat_misses": "heartbeat-misses"}
"""The simulator's scenario that breaches each metric a stage may judge."""


def stage_fault(rollout: Rollout) -> tuple[str, str, str] | None:
    """(scenario, metric label, threshold) of the fault ``f`` injects in the current stage, or None."""
    stage = rollout.current_stage
    for rule in stage.thresholds if stage is not None else ():
        if rule.metric in FAULTS:
            return FAULTS[rule.metric], rule.label, str(rule.threshold)
    return None


def next_hint(rollout: Rollout, demo: Any = None, blockers: list[Any] | None = None) -> str:
    """approvals → baseline → migrations → DLQ 5 % → a breach → kill → recovery → export."""
    if rollout.store.readonly:  # --readonly offers no key that writes: none to suggest
        return "read-only: watching. Another cockpit drives the rollout; l shows the audit log, q quits."
    state = rollout.state
    stage = rollout.current_stage
    blockers = rollout.blockers() if blockers is None else blockers
    kinds = {b.kind for b in blockers}
    if getattr(demo, "kept", None):  # (not the log read again: this runs on every redraw)
        where = demo.kept[-1]
        return f"Done: the sign-off is written to {where} (kept after q). l shows the audit log; q quits."
    if state.kills:
        if state.breaches:
            return "Killed. Recovery: the flag is off; the breach closes on the next good poll. Wait…"
        kill = state.kills[-1].time
        had_breach = any(closed is not None and closed.at >= kill for _, closed in state.breach_log)
        done = "the flags are off and the breach is closed" if had_breach else "every flag is off"
        return f"Killed: {done}. i shows the incident's steps; e exports the sign-off (Markdown)."
    fault = stage_fault(rollout)
    if getattr(demo, "flooded", False) and fault is not None and not state.breaches:
        return f"The fault is in: watch {fault[1]} climb past {fault[2]} (a few seconds)…"
    if state.breaches:
        pace = " (time runs at x1 now: the incident's deadlines are real)" if getattr(demo, "flooded", False) else ""
        return f"BREACH! Press K (shift+k): kills every flag at once, no dialog, then verifies each is off.{pace}"
    if stage is None:
        if "approval" in kinds:
            return "Press a to sign an approval (all three roles), then g to enter Stage 0."
        return "All three signed. Press g to enter Stage 0."
    pending_items = [i for i in stage.items if (stage.id, i.id) not in state.ticks]
    if stage.captures_baseline and not state.baseline:
        return "Let a few samples arrive, then press b to capture the baseline."
    now = rollout.now()
    soaking = [k for k in state.soaks.values() if k.stage == stage.id and not k.done(now) and not k.failed]
    step = next((c for c in stage.canary if (stage.id, c.id) not in state.canary), None)
    if soaking:
        soak = soaking[0]
        clock = f"{format_duration(soak.elapsed(now))} of {format_duration(soak.duration)}"
        if fault is not None and demo is not None and not getattr(demo, "flooded", False):
            return f"The soak runs (accelerated: {clock}). Press f to inject a fault ({fault[0]}) and watch the breach."
        return f"The soak runs (accelerated: {clock}); the next step waits for it."
    if step is not None:
        return f"Press c and type {step.flag} to take the {step.percent}% canary step."
    if pending_items:
        return f"Press t to tick the checklist ({len(pending_items)} left in {stage.title})."
    if "check" in kinds:
        return "Press v to run the verification checks."
    if kinds == {"metric"}:
        first = next(b for b in blockers if b.kind == "metric")
        return f"Waiting for the metrics ({first.message}); if a source is missing here, press o to override."
    if blockers:
        return "The gate is still closed (see why on the left); press o to override with a reason."
    return "Gate open: press g to advance."

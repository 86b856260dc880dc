"""The example plan, rewired for the demo: the simulator's URL and token, the throwaway state directory,
and stand-ins where a server is missing (the simulator's own figures instead of Prometheus, an SQLite
stand-in for Stage 1's SQL instead of PostgreSQL), each said once in the header."""

from __future__ import annotations

import json
import shlex
import sys
import tomllib
from importlib import resources
from pathlib import Path

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

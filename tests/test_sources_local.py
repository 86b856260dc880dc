"""PostgreSQL (real server), Prometheus (real server) and command sources: values and bad input."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.servers import Postgres, Prometheus
from tests.test_sources import closed_port, mini_plan, poll


def pg_body(dsn: str, query: str, result: str = "scalar", statement_timeout: str = "5s") -> str:
    return f"""
[sources.db]
kind = "postgres"
dsn = "${{DATABASE_URL}}"
connect_timeout = "2s"
statement_timeout = "{statement_timeout}"

[metrics.m]
title = "m"
source = "db"
query = "{query}"
result = "{result}"
"""


def prom_body(url: str, query: str) -> str:
    return f"""
[sources.prometheus]
kind = "prometheus"
url = "{url}"

[metrics.m]
title = "m"
source = "prometheus"
query = '{query}'
"""


def cmd_body(command: str, timeout: str = "5s", regex: str = "OVERALL: HEALTHY") -> str:
    return f"""
[sources.shell]
kind = "command"
timeout = "{timeout}"

[metrics.m]
title = "m"
source = "shell"
kind = "text"
command = '{command}'
expect_regex = "{regex}"
"""


# --------------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
async def test_postgres_scalar_and_row_count(tmp_path: Path, postgres: Postgres, postgres_db: str) -> None:
    name = postgres_db.rsplit("/", 1)[1]
    postgres.execute("CREATE TABLE job_dlq (id int); INSERT INTO job_dlq VALUES (1), (2), (3)", name)
    postgres.execute("GRANT SELECT ON job_dlq TO cockpit", name)
    env = {"DATABASE_URL": postgres_db}
    sample = await poll(
        mini_plan(tmp_path, pg_body(postgres_db, "SELECT COUNT(*) FROM job_dlq"), env=env), tmp_path, "m"
    )
    assert sample.value == 3.0 and sample.error == ""
    rows = pg_body(postgres_db, "SELECT id FROM job_dlq WHERE id > 1", result="rows")
    sample = await poll(mini_plan(tmp_path, rows, env=env), tmp_path, "m")
    assert sample.value == 2.0


@pytest.mark.postgres
async def test_postgres_refuses_a_write(tmp_path: Path, postgres: Postgres, postgres_db: str) -> None:
    name = postgres_db.rsplit("/", 1)[1]
    postgres.execute("CREATE TABLE t (id int)", name)
    postgres.execute("ALTER TABLE t OWNER TO cockpit", name)
    body = pg_body(postgres_db, "WITH x AS (INSERT INTO t VALUES (1) RETURNING id) SELECT COUNT(*) FROM x")
    sample = await poll(mini_plan(tmp_path, body, env={"DATABASE_URL": postgres_db}), tmp_path, "m")
    assert sample.value is None and "read-only" in sample.error


@pytest.mark.postgres
async def test_postgres_statement_timeout(tmp_path: Path, postgres: Postgres, postgres_db: str) -> None:
    body = pg_body(postgres_db, "SELECT pg_sleep(5)", statement_timeout="300ms")
    started = time.monotonic()
    sample = await poll(mini_plan(tmp_path, body, env={"DATABASE_URL": postgres_db}), tmp_path, "m")
    assert sample.value is None and "statement timeout" in sample.error
    assert time.monotonic() - started < 3


@pytest.mark.postgres
async def test_postgres_wrong_password_never_shows_it(tmp_path: Path, postgres: Postgres) -> None:
    postgres.start()
    dsn = postgres.dsn(password="hunter2-wrong")
    sample = await poll(mini_plan(tmp_path, pg_body(dsn, "SELECT 1"), env={"DATABASE_URL": dsn}), tmp_path, "m")
    assert sample.value is None and "password authentication failed" in sample.error
    assert "hunter2-wrong" not in sample.error


async def test_postgres_down_is_connection_refused(tmp_path: Path) -> None:
    dsn = f"postgresql://cockpit:pw-secret@127.0.0.1:{closed_port()}/x"
    sample = await poll(mini_plan(tmp_path, pg_body(dsn, "SELECT 1"), env={"DATABASE_URL": dsn}), tmp_path, "m")
    assert sample.value is None and "connection refused" in sample.error and "pw-secret" not in sample.error


# --------------------------------------------------------------------------- Prometheus


@pytest.mark.prometheus
async def test_prometheus_vector_scalar_empty_and_bad_query(tmp_path: Path, prometheus: Prometheus) -> None:
    q = 'sum(up{job="alokickflow"})'
    sample = await poll(mini_plan(tmp_path, prom_body(prometheus.url, q)), tmp_path, "m")
    assert sample.value == 1.0 and sample.error == ""
    sample = await poll(mini_plan(tmp_path, prom_body(prometheus.url, "scalar(vector(42))")), tmp_path, "m")
    assert sample.value == 42.0
    empty = await poll(mini_plan(tmp_path, prom_body(prometheus.url, "no_such_metric_anywhere")), tmp_path, "m")
    assert empty.value is None and empty.error == ""  # no data, never zero
    bad = await poll(mini_plan(tmp_path, prom_body(prometheus.url, "sum(rate(x[5m])")), tmp_path, "m")
    assert bad.value is None and bad.error.startswith("Prometheus bad_data:") and "parse error" in bad.error


async def test_prometheus_down(tmp_path: Path) -> None:
    port = closed_port()
    sample = await poll(mini_plan(tmp_path, prom_body(f"http://127.0.0.1:{port}", "up")), tmp_path, "m")
    assert sample.value is None  # which source, at which URL, would not answer
    assert sample.error == f"source 'prometheus': connection refused (http://127.0.0.1:{port}/api/v1/query)"


# --------------------------------------------------------------------------- commands


async def test_command_healthy_and_unhealthy(tmp_path: Path) -> None:
    ok = await poll(mini_plan(tmp_path, cmd_body("echo component OK; echo OVERALL: HEALTHY")), tmp_path, "m")
    assert ok.value == "healthy"
    nomatch = await poll(mini_plan(tmp_path, cmd_body("echo OVERALL: UNHEALTHY")), tmp_path, "m")
    assert nomatch.value == "unhealthy"
    failed = await poll(mini_plan(tmp_path, cmd_body("echo OVERALL: HEALTHY; exit 1")), tmp_path, "m")
    assert failed.value == "unhealthy"


async def test_command_not_found_is_an_error(tmp_path: Path) -> None:
    sample = await poll(mini_plan(tmp_path, cmd_body("./no-such-script.sh --verbose")), tmp_path, "m")
    assert sample.value is None and "command not found" in sample.error


async def test_command_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    body = cmd_body(f"sleep 30 & echo $! > {pidfile}; wait", timeout="500ms")
    started = time.monotonic()
    sample = await poll(mini_plan(tmp_path, body), tmp_path, "m")
    assert sample.value is None and "timed out after" in sample.error
    assert time.monotonic() - started < 3
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child), "the backgrounded child survived the timeout"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


async def test_the_seed_health_script_against_the_simulator(tmp_path: Path, sim_url: str, sim_token: str) -> None:
    script = Path(__file__).resolve().parents[1] / "verification" / "health_check_script.sh"
    body = cmd_body(f"{script} --verbose")
    env = {"APP_URL": sim_url, "APP_TOKEN": sim_token}
    body = body.replace(
        'timeout = "5s"', 'timeout = "5s"\nenv = { APP_URL = "${APP_URL}", APP_TOKEN = "${APP_TOKEN}" }'
    )
    ok = await poll(mini_plan(tmp_path, body, env=env), tmp_path, "m")
    assert ok.value == "healthy", ok.error
    bad = await poll(mini_plan(tmp_path, body, env={**env, "APP_TOKEN": "bad-token-x"}), tmp_path, "m")
    assert bad.value == "unhealthy"

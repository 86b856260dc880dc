"""HTTP JSON sources against the real simulator, including every misbehaving endpoint.

Also home of ``mini_plan``, the small plan the metric tests build around one or two sources.
"""

from __future__ import annotations

import os
import socket
import textwrap
import time
from pathlib import Path

import pytest

from cockpit.clock import FakeClock
from cockpit.monitor import Monitor
from cockpit.plan.load import LoadedPlan, parse_plan
from cockpit.rollout import Rollout
from cockpit.store.filelog import FileStore
from cockpit.store.history import Sample, SqliteHistory
from tests.core_helpers import ALOK

HEAD = """
[rollout]
id = "metrics-test"
service = "AlokickFlow"
version = "test"

[defaults]
poll_interval = "5s"

[[approvers]]
role = "dev-lead"
title = "Dev Lead"
handle = "@alok"
"""

DEFAULT_STAGES = """
[[stages]]
id = "stage-0"
title = "Stage 0"
captures_baseline = true
"""


def mini_plan(tmp_path: Path, body: str, stages: str = DEFAULT_STAGES, env: dict[str, str] | None = None) -> LoadedPlan:
    """A plan of ``body`` (sources + metrics) and ``stages``, written to ``tmp_path/plan.toml``."""
    text = HEAD + textwrap.dedent(body) + textwrap.dedent(stages)
    path = tmp_path / "plan.toml"
    path.write_text(text)
    environ = {"PATH": os.environ.get("PATH", ""), "APP_TOKEN": "sim-token", **(env or {})}
    return parse_plan(text, str(path), environ, base=path)


def http_body(url: str, timeout: str = "2s", max_bytes: int = 1_000_000, metrics: str = "") -> str:
    return f"""
[sources.app]
kind = "http"
base_url = "{url}"
headers = {{ Authorization = "Bearer ${{APP_TOKEN}}" }}
timeout = "{timeout}"
max_bytes = {max_bytes}
{metrics}
"""


def metric(name: str, path: str, json_path: str = "value", kind: str = "gauge", extra: str = "") -> str:
    return f"""
[metrics.{name}]
title = "{name}"
source = "app"
kind = "{kind}"
path = "{path}"
json_path = "{json_path}"
{extra}
"""


def monitor_for(loaded: LoadedPlan, tmp_path: Path, clock: FakeClock | None = None) -> Monitor:
    rollout = Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), clock=clock or FakeClock(), actor=ALOK)
    return Monitor(rollout, SqliteHistory(tmp_path / "history.sqlite3"))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def poll(loaded: LoadedPlan, tmp_path: Path, name: str) -> Sample:
    monitor = monitor_for(loaded, tmp_path)
    try:
        return await monitor.poll_metric(name)
    finally:
        await monitor.aclose()
        monitor.history.close()


# --------------------------------------------------------------------------- good values


async def test_reads_the_seed_endpoints_with_the_token(tmp_path: Path, sim_url: str, sim_token: str) -> None:
    body = http_body(
        sim_url,
        metrics=metric("health", "/health", "status", kind="text")
        + metric("dlq", "/api/admin/dlq?stats=true", "total")
        + metric("misses", "/api/qc/debug", "watchdogMetrics.heartbeatMisses", kind="counter")
        + metric("fpr", "/api/qc/debug", "watchdogMetrics.falsePositiveRate", extra="scale = 10.0"),
    )
    loaded = mini_plan(tmp_path, body, env={"APP_TOKEN": sim_token})
    monitor = monitor_for(loaded, tmp_path)
    try:
        samples = await monitor.poll_once()
    finally:
        await monitor.aclose()
    assert samples["health"] == Sample("health", samples["health"].at, "healthy", "")
    assert isinstance(samples["dlq"].value, float) and samples["dlq"].error == ""
    assert isinstance(samples["misses"].value, float)
    assert isinstance(samples["fpr"].value, float) and samples["fpr"].value >= 0
    assert monitor.history.latest("health") == samples["health"]


# --------------------------------------------------------------------------- bad input: each an error with a reason


@pytest.mark.parametrize(
    ("path", "json_path", "timeout", "max_bytes", "expected"),
    [
        ("/bad/status/404", "value", "2s", 1_000_000, "HTTP 404"),
        ("/bad/status/503", "value", "2s", 1_000_000, "HTTP 503"),
        ("/bad/notjson", "value", "2s", 1_000_000, "body is not JSON"),
        ("/health", "no.such.path", "2s", 1_000_000, "JSON path 'no' not found"),
        ("/bad/string", "value", "2s", 1_000_000, "non-numeric value 'abc'"),
        ("/bad/nan", "value", "2s", 1_000_000, "not a finite number"),
        ("/bad/hang", "value", "0.5s", 1_000_000, "timed out after"),
        ("/bad/drip", "value", "1.5s", 1_000_000, "timed out after"),
        ("/bad/huge", "items", "5s", 100_000, "larger than the 100000-byte cap"),
        ("/bad/reset", "value", "2s", 1_000_000, "connection reset"),
    ],
)
async def test_bad_http_answers_are_errors_with_a_reason(
    tmp_path: Path, sim_url: str, sim_token: str, path: str, json_path: str, timeout: str, max_bytes: int, expected: str
) -> None:
    loaded = mini_plan(
        tmp_path, http_body(sim_url, timeout, max_bytes, metric("m", path, json_path)), env={"APP_TOKEN": sim_token}
    )
    started = time.monotonic()
    sample = await poll(loaded, tmp_path, "m")
    assert sample.value is None
    assert expected in sample.error
    assert time.monotonic() - started < 6  # a drip or a hang never outlives the source's timeout by much


async def test_connection_refused_names_the_source_and_url(tmp_path: Path) -> None:
    port = closed_port()
    loaded = mini_plan(
        tmp_path, http_body(f"http://user:pw-secret@127.0.0.1:{port}", metrics=metric("m", "/health?k=1"))
    )
    sample = await poll(loaded, tmp_path, "m")
    assert sample.value is None
    name = next(iter(loaded.plan.sources))
    assert sample.error == f"source {name!r}: connection refused (http://127.0.0.1:{port}/health)"
    assert "pw-secret" not in sample.error and "k=1" not in sample.error


async def test_bad_token_is_401_and_the_token_is_never_shown(tmp_path: Path, sim_url: str) -> None:
    loaded = mini_plan(
        tmp_path,
        http_body(sim_url, metrics=metric("dlq", "/api/admin/dlq?stats=true", "total")),
        env={"APP_TOKEN": "wrong-secret-token"},
    )
    sample = await poll(loaded, tmp_path, "dlq")
    assert sample.value is None
    assert sample.error.startswith("HTTP 401") and "check the token" in sample.error
    assert "wrong-secret-token" not in sample.error

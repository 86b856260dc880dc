"""``cockpit check``, ``verify``, ``baseline`` and ``sim`` through the real CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.cli.main import main
from cockpit.plan.load import load_plan
from cockpit.rollout import open_rollout
from tests.test_sources import HEAD, closed_port, http_body, metric

STAGES = """
[[stages]]
id = "stage-0"
title = "Stage 0"
captures_baseline = true

[[stages.checks]]
id = "health-script"
text = "health"
source = "shell"
kind = "command"
command = "echo OVERALL: HEALTHY"
expect_regex = "OVERALL: HEALTHY"

[[stages.checks]]
id = "dlq-stats"
text = "dlq"
source = "app"
kind = "http"
path = "/api/admin/dlq?stats=true"
expect_status = 200

[[stages.thresholds]]
metric = "health"
label = "Health status"
threshold = "== healthy"

[[stages]]
id = "stage-2"
title = "Stage 2"

[[stages.thresholds]]
metric = "dlq"
label = "DLQ entries"
threshold = "< 10"

[[stages.thresholds]]
metric = "down"
label = "Down"
threshold = "< 1"

[[stages]]
id = "stage-3"
title = "Stage 3"

[[stages.thresholds]]
metric = "health"
label = "Health must be degraded"
threshold = "== degraded"
"""


@pytest.fixture
def plan(tmp_path: Path, sim_url: str, sim_token: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    body = http_body(
        sim_url,
        metrics=metric("health", "/health", "status", kind="text")
        + metric("dlq", "/api/admin/dlq?stats=true", "total"),
    )
    body += f'\n[sources.down]\nkind = "http"\nbase_url = "http://127.0.0.1:{closed_port()}"\n'
    body += '\n[metrics.down]\ntitle = "down"\nsource = "down"\npath = "/x"\njson_path = "v"\n'
    body += '\n[sources.shell]\nkind = "command"\n'
    path = tmp_path / "plan.toml"
    path.write_text(HEAD + body + STAGES)
    monkeypatch.setenv("APP_TOKEN", sim_token)
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    return path


def run(plan: Path, *args: str) -> int:
    return main(["--config", str(plan), *args])


def test_check_all_ok_exits_0_and_prints_the_table(plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(plan, "check") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["METRIC", "VALUE", "THRESHOLD", "STATUS", "AGE", "REASON"]
    assert "Health status" in out and "healthy" in out and " OK " in out


def test_check_breach_exits_1(plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(plan, "check", "--stage", "stage-3", "--json") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "BREACH" and data["metrics"][0]["value"] == "healthy"


def test_check_error_without_breach_exits_3_and_history_is_kept(
    plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(plan, "check", "--stage", "stage-2", "--json") == 3
    data = json.loads(capsys.readouterr().out)
    by = {m["metric"]: m for m in data["metrics"]}
    assert by["dlq"]["status"] == "OK"
    assert by["down"]["status"] == "ERROR" and "connection refused" in by["down"]["reason"]
    assert (tmp_path / "state" / "metrics-test" / "history.sqlite3").exists()


def test_check_all_judges_every_row(plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(plan, "check", "--all", "--json") == 1
    statuses = {(m["metric"], m["threshold"]): m["status"] for m in json.loads(capsys.readouterr().out)["metrics"]}
    assert statuses[("health", "== healthy")] == "OK" and statuses[("health", "== degraded")] == "BREACH"


def test_check_unknown_stage_is_a_usage_error(plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(plan, "check", "--stage", "nope") == 2
    assert "unknown stage 'nope'" in capsys.readouterr().err


def test_check_never_prints_the_token(plan: Path, sim_token: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(plan, "check", "--all", "--json")
    captured = capsys.readouterr()
    assert sim_token not in captured.out + captured.err


def test_verify_records_check_results(plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(plan, "verify", "stage-0") == 0
    out = capsys.readouterr().out
    assert "PASS  health-script" in out and "PASS  dlq-stats" in out

    checks = open_rollout(load_plan(plan), readonly=True).state.checks
    assert checks[("stage-0", "health-script")].ok and checks[("stage-0", "dlq-stats")].value == 200


def test_baseline_is_refused_before_stage_0(plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(plan, "baseline") == 1
    assert "captures_baseline (stage-0)" in capsys.readouterr().err


def test_sim_rejects_a_bad_speed_and_a_bad_scenario(plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--speed", "0"]) == 2
    assert main(["sim", "--port", "0", "--scenario", "nope"]) == 2
    assert "unknown scenario" in capsys.readouterr().out


def test_check_does_not_import_textual(plan: Path) -> None:
    code = (
        "import sys; from cockpit.cli.main import main; rc = main(['--config', sys.argv[1], 'check']); "
        "assert 'textual' not in sys.modules, 'textual imported'; print(rc)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(plan)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0"

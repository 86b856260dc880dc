"""The baseline is all or nothing: a relative threshold never compares against a value that was not captured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cockpit.cli.main import main
from tests.test_sources import HEAD, closed_port, http_body, metric
from tests.tui_support import make_app, to_stage

STAGES = """
[[stages]]
id = "stage-0"
title = "Stage 0"
captures_baseline = true

[[stages]]
id = "stage-2"
title = "Stage 2"

[[stages.thresholds]]
metric = "dlq"
label = "DLQ change"
threshold = "< +50%"

[[stages.thresholds]]
metric = "latency"
label = "Latency regression"
threshold = "< +15%"
"""


@pytest.fixture
def plan(tmp_path: Path, sim_url: str, sim_token: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The DLQ from the simulator; the latency from a source that is down (Prometheus missing)."""
    body = http_body(sim_url, metrics=metric("dlq", "/api/admin/dlq?stats=true", "total"))
    body += f'\n[sources.prometheus]\nkind = "prometheus"\nurl = "http://127.0.0.1:{closed_port()}"\n'
    body += '\n[metrics.latency]\ntitle = "p99"\nsource = "prometheus"\nunit = "ms"\nquery = "p99"\n'
    path = tmp_path / "plan.toml"
    path.write_text(HEAD + body + STAGES)
    monkeypatch.setenv("APP_TOKEN", sim_token)
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    assert main(["--config", str(path), "advance", "--override", "test: into stage 0"]) == 0
    return path


def _baselines(plan: Path, capsys: pytest.CaptureFixture[str]) -> list[dict]:  # type: ignore[type-arg]
    capsys.readouterr()
    assert main(["--config", str(plan), "audit", "show", "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return [e["payload"] for e in events if e["type"] == "baseline.captured"]


def test_a_partial_baseline_is_refused_naming_what_is_missing(plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["--config", str(plan), "baseline"]) == 1
    err = capsys.readouterr().err
    assert "baseline not captured: no good value for latency" in err and "--partial" in err
    assert _baselines(plan, capsys) == []


def test_partial_takes_what_there_is_and_says_so(plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(plan), "baseline", "--partial"]) == 0
    (payload,) = _baselines(plan, capsys)
    assert payload["partial"] is True and payload["missing"] == ["latency"] and set(payload["metrics"]) == {"dlq"}
    assert main(["--config", str(plan), "status"]) == 0
    assert "baseline: PARTIAL — no value for latency" in capsys.readouterr().out
    capsys.readouterr()
    assert main(["--config", str(plan), "check", "--stage", "stage-2"]) == 3  # cannot tell: never OK
    out = capsys.readouterr().out
    (line,) = [ln for ln in out.splitlines() if "Latency regression" in ln]
    assert " OK " not in line and ("ERROR" in line or "NO DATA" in line)


async def test_the_b_key_refuses_a_partial_baseline_naming_the_missing_metrics(tmp_path: Path) -> None:
    app = make_app(tmp_path)  # nothing answers: no metric has a good value
    to_stage(app.services.rollout, "stage-0")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("b")
        await pilot.pause()
        shown = str(app.screen.query_one("#result").render())
        assert "baseline not captured: no good value for error_rate, p99_latency" in shown
    assert app.services.rollout.state.baseline_mark is None

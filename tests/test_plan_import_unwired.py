"""``source = "unwired"``: what the import cannot know is accepted, warned about, never green, and it blocks.

A plan imported from a checklist names its metrics but not where they are read. Such a metric is valid
(``validate`` warns once per metric), is never polled, is NOT WIRED on the dashboard and in ``check``, and
holds the gate of its stage until it is wired or the gate is overridden with a reason.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cockpit.checklist import import_checklist
from cockpit.cli.main import main
from cockpit.clock import FakeClock
from cockpit.monitor import Monitor
from cockpit.plan.load import parse_plan
from cockpit.plan.model import Metric, ThresholdRule
from cockpit.rollout import GateClosed
from cockpit.rules import Status, judge
from cockpit.store.history import Sample, SqliteHistory
from cockpit.verify import run_checks
from tests.core_helpers import ALOK, OPS, PRODUCT, as_actor, make_rollout, seed_path

NOW = FakeClock().now()


@pytest.fixture
def draft(tmp_path: Path) -> Path:
    path = tmp_path / "plan.toml"
    imported = import_checklist(seed_path().read_text(encoding="utf-8"), "rollout-checklist.md")
    path.write_text(imported.toml, encoding="utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_an_unwired_metric_is_never_green_whatever_its_samples() -> None:
    metric = Metric(title="Error rate", source="unwired", unit="%")
    rule = ThresholdRule.model_validate({"metric": "error_rate", "label": "Error rate", "threshold": "< 1%"})
    samples = [Sample("error_rate", NOW - timedelta(seconds=5), 0.1, "")]  # even a value (stale history)
    judged = judge(rule, metric, samples, None, NOW, timedelta(minutes=1))
    assert judged.status is Status.NOT_WIRED and not judged.status.green
    assert "not wired" in judged.reason


def test_validate_accepts_the_draft_with_one_warning_per_unwired_metric(
    capsys: pytest.CaptureFixture[str], draft: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    code, out, err = _run(capsys, "--config", str(draft), "validate")
    assert code == 0, err
    assert "valid plan" in out
    warnings = [line for line in err.splitlines() if "warning: not wired" in line and ".source:" in line]
    metrics = [line for line in warnings if ": metrics." in line]
    assert len(metrics) == 7, err  # one per metric, not one per threshold row (error_rate has two rows)
    assert all(line.startswith(f"{draft}:") for line in warnings)
    line_of = int(metrics[0].split(":")[1])
    assert draft.read_text().splitlines()[line_of - 1].startswith("source = ")


def test_the_monitor_never_polls_an_unwired_metric_and_check_says_not_wired(
    capsys: pytest.CaptureFixture[str], draft: Path, tmp_path: Path
) -> None:
    loaded = parse_plan(draft.read_text(), str(draft), {}, base=draft)
    rollout = make_rollout(tmp_path, FakeClock(), loaded=loaded)
    history = SqliteHistory(tmp_path / "history.sqlite3")
    monitor = Monitor(rollout, history)
    assert monitor.schedule() == {}
    judgements = monitor.judge("stage-0")
    assert [j.status for j in judgements] == [Status.NOT_WIRED] * 3
    assert history.latest("error_rate") is None


def test_the_gate_blocks_on_unwired_thresholds_of_the_current_stage_until_overridden(tmp_path: Path) -> None:
    text = seed_path().read_text(encoding="utf-8")
    loaded = parse_plan(import_checklist(text, "seed.md").toml, "plan.toml", {})
    clock = FakeClock()
    rollout = make_rollout(tmp_path, clock, loaded=loaded)
    for actor, role in ((ALOK, "dev-lead"), (OPS, "ops-oncall"), (PRODUCT, "product-owner")):
        as_actor(rollout, actor).approve(role)
    rollout.refresh()
    rollout.advance()
    stage = rollout.current_stage
    assert stage is not None and stage.id == "stage-0"
    monitor = Monitor(rollout, SqliteHistory(tmp_path / "history.sqlite3"))
    blockers = rollout.blockers(monitor.judge())
    unwired = [b for b in blockers if b.kind == "metric"]
    assert [b.ref for b in unwired] == ["health_status", "error_rate", "p99_latency"]
    assert all("NOT WIRED" in b.message for b in unwired)
    for item in stage.items:
        rollout.tick(stage.id, item.id)
    with pytest.raises(GateClosed) as closed:
        rollout.advance(judgements=monitor.judge())
    assert "Error rate: NOT WIRED" in str(closed.value)
    # ... until someone overrides it with a reason, like any other block
    rollout.advance(override="metrics are watched in Grafana for this drill", judgements=monitor.judge())
    assert rollout.current_stage is not None and rollout.current_stage.id == "stage-1"


async def test_an_unwired_check_fails_with_the_reason_instead_of_crashing(tmp_path: Path) -> None:
    text = seed_path().read_text(encoding="utf-8")
    loaded = parse_plan(import_checklist(text, "seed.md").toml, "plan.toml", {})
    rollout = make_rollout(tmp_path, FakeClock(), loaded=loaded)
    outcomes = await run_checks(rollout, "stage-1")
    assert [o.ok for o in outcomes] == [False, False]
    assert all("not wired" in o.detail for o in outcomes)

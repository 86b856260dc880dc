"""The dashboard on an imported plan: an unwired metric's panel says NOT WIRED, never OK, whatever the history."""

from __future__ import annotations

from pathlib import Path

from cockpit.checklist import import_checklist
from cockpit.clock import FakeClock
from cockpit.plan.load import parse_plan
from cockpit.rollout import Rollout
from cockpit.session import Services
from cockpit.store.filelog import FileStore
from cockpit.store.history import Sample, SqliteHistory
from screens.app import CockpitApp
from tests.core_helpers import seed_path
from tests.tui_support import ALOK, to_stage, until_started
from widgets.metric_panel import MetricPanel


async def test_unwired_panels_show_not_wired_never_ok(tmp_path: Path) -> None:
    text = import_checklist(seed_path().read_text(encoding="utf-8"), "rollout-checklist.md").toml
    loaded = parse_plan(text, str(tmp_path / "plan.toml"), {})
    clock = FakeClock()
    rollout = Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), clock=clock, actor=ALOK)
    to_stage(rollout, "stage-0")
    history = SqliteHistory(tmp_path / "history.sqlite3")
    for name in ("health_status", "error_rate", "p99_latency"):  # a history that would look fine
        history.add(Sample(name, clock.now(), "healthy" if name == "health_status" else 0.1))
    app = CockpitApp(Services.build(rollout, history, live=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await until_started(pilot)
        panels = list(app.screen.query(MetricPanel))
        assert [p.metric for p in panels] == ["health_status", "error_rate", "p99_latency"]
        for panel in panels:
            assert panel.status == "NOT WIRED" and panel.has_class("-not-wired"), panel.metric
            assert "NOT WIRED" in panel._head and "OK" not in panel._head.replace("NOT WIRED", "")

"""What the dashboard reads from the history each second: one judging round reads each metric of the
watched stage once (the panels show that round's judgements), and a new sample re-judges only its metric."""

from __future__ import annotations

from pathlib import Path

from screens.dashboard import DashboardScreen
from tests.tui_support import healthy_history, make_app, to_stage, until_started

SIZE = (120, 40)


async def test_a_round_reads_each_metric_once_and_a_sample_only_its_own(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    services = app.services
    monitor = services.monitor
    assert monitor is not None
    to_stage(services.rollout, "stage-3")  # rates, a text limit and plain limits
    healthy_history(services.rollout, services.history)
    reads: list[str] = []
    recent = monitor.recent

    def counted(name: str) -> list:  # type: ignore[type-arg]
        reads.append(name)
        return recent(name)

    monitor.recent = counted  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await until_started(pilot)
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        app.workers.cancel_group(screen, "judge")  # this test drives the rounds itself
        await pilot.pause()
        stage = services.rollout.plan.stage("stage-3")
        metrics = sorted({rule.metric for rule in stage.thresholds})
        reads.clear()
        screen.on_watcher_judged(await screen.watcher.judge_once())
        assert sorted(reads) == metrics  # judged once, drawn from that judging
        reads.clear()
        screen.redraw_metric("heartbeat_misses")
        assert reads == ["heartbeat_misses"]

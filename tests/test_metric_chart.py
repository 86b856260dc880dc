"""The metric chart draws what its width can show: a long soak is thinned, and a spike survives it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult

from cockpit.clock import FakeClock
from cockpit.store.history import Sample
from tests.tui_support import healthy_history, make_app, soaking_rollout, until_started
from widgets.metric_chart import MetricChart, thin

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_thin_keeps_each_buckets_lowest_and_highest_point_in_order() -> None:
    points = [(float(i), 1.0 + (i % 3) / 10) for i in range(10_000)]
    points[7_777] = (7_777.0, 99.0)  # one spike among ten thousand samples
    points[1_234] = (1_234.0, -5.0)  # and one dip
    out = thin(points, 100)
    assert len(out) <= 200
    assert (7_777.0, 99.0) in out and (1_234.0, -5.0) in out
    assert [x for x, _ in out] == sorted(x for x, _ in out)
    assert out[0] == points[0] or out[0][0] < 100  # the first bucket starts the line
    assert thin(points[:150], 100) == points[:150]  # few enough: unchanged
    assert thin([], 10) == []


class ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield MetricChart()


async def test_a_24_hour_soak_is_drawn_from_a_few_hundred_points() -> None:
    samples = [Sample("dlq", NOW - timedelta(seconds=5 * i), 2.0) for i in range(17_280, 0, -1)]
    samples[9_000] = Sample("dlq", samples[9_000].at, 40.0)  # a breach 11.5 h ago
    app = ChartApp()
    async with app.run_test(size=(60, 14)) as pilot:
        chart = app.query_one(MetricChart)
        chart.replot(samples, [10.0], 2.0, start=NOW - timedelta(hours=24), now=NOW)
        await pilot.pause()
        assert 0 < chart.points <= 4 * chart.size.width
        labels = [float(n) for n in re.findall(r"-?\d+\.\d+", Text.from_ansi(str(chart.render())).plain)]
        assert max(labels) >= 40.0  # the y axis reaches the spike: thinning kept it


async def test_a_soak_chart_redraws_for_what_it_can_show_not_every_poll(tmp_path: Path) -> None:
    """A new sample in the same dot column and minute leaves the chart alone; a breach redraws it at once."""
    clock = FakeClock()
    app = make_app(tmp_path, clock=clock)
    rollout, history = app.services.rollout, app.services.history
    soaking_rollout(rollout, clock)  # Stage 2, the 5% step soaking for 13h12m: a 13 h chart
    healthy_history(rollout, history)
    drawn: list[str] = []
    replot = MetricChart.replot

    def counting(self: MetricChart, *args: object, **kw: object) -> None:
        drawn.append(str(self.parent.id if self.parent else ""))
        replot(self, *args, **kw)  # type: ignore[arg-type]

    MetricChart.replot = counting  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await until_started(pilot)
            screen = app.screen
            screen.refresh_view()  # type: ignore[attr-defined]  # redrawn once the panels have their width
            await pilot.pause()
            assert drawn  # every chart drawn
            drawn.clear()
            clock.advance(timedelta(seconds=1))  # a poll in the same minute and the same 6-minute dot column
            history.add(Sample("dlq_entries", rollout.now(), 2.5))
            screen.redraw_metric("dlq_entries")  # type: ignore[attr-defined]
            await pilot.pause()
            assert drawn == []
            clock.advance(timedelta(seconds=1))
            history.add(Sample("dlq_entries", rollout.now(), 50.0))  # a breach: status BREACH
            screen.redraw_metric("dlq_entries")  # type: ignore[attr-defined]
            await pilot.pause()
            assert len(drawn) == 1
    finally:
        MetricChart.replot = replot  # type: ignore[method-assign]


async def test_the_time_axis_reads_whole_positive_units_back_from_now() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 14)) as pilot:
        chart = app.query_one(MetricChart)
        for span, unit in ((timedelta(seconds=8), "s ago"), (timedelta(minutes=40), "min ago"),
                           (timedelta(hours=24), "h ago")):  # fmt: skip
            samples = [Sample("dlq", NOW - span + span * i / 20, 2.0 + i % 3) for i in range(21)]
            chart.replot(samples, [10.0], 2.0, start=NOW - span, now=NOW)
            await pilot.pause()
            lines = Text.from_ansi(str(chart.render())).plain.splitlines()
            axis = next((line for line in reversed(lines) if "now" in line), "")
            assert axis, (span, lines[-3:])
            assert unit in "\n".join(lines), (span, lines[-3:])
            assert "-" not in axis and not re.search(r"\d\.\d", axis), (span, axis)
            assert len(re.findall(r"\d+", axis)) >= 2, (span, axis)

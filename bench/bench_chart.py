"""Benchmark one chart redraw (what the dashboard does per new sample of a metric on screen).

A redraw reads the soak window from the sample history (SQLite, thinned to one sample a minute past the
last hour) as ``History.series`` (each time bucket's lowest and highest, as the dashboard reads it) and
draws it with plotext at 50x12. Printed per window: samples stored in it, points read, points drawn
(after ``widgets.metric_chart.thin``), and milliseconds for the read and for replot + render; then the
same with every sample read (``History.samples``), as before ``series`` existed.

Usage: ``.venv/bin/python bench/bench_chart.py``
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.app import App, ComposeResult

from cockpit.store.history import History, Sample, SqliteHistory
from widgets.metric_board import CHART_DOTS
from widgets.metric_chart import MetricChart

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
WINDOWS = [timedelta(hours=1), timedelta(hours=24), timedelta(hours=48)]


class ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield MetricChart()


def fill(history: History, hours: int) -> None:
    """A sample every 5 s for ``hours``, then the history's own thinning (one a minute past the last hour)."""
    for i in range(hours * 720, 0, -1):
        history.add(Sample("dlq", NOW - timedelta(seconds=5 * i), 2.0 + (i % 13) / 10))
    history.compact(NOW)


async def measure(history: History) -> None:
    app = ChartApp()
    async with app.run_test(size=(50, 12)) as pilot:
        await pilot.pause()
        chart = app.query_one(MetricChart)
        for how in ("series", "samples"):
            print(f"read with History.{how}")
            print(f"{'window':>8}{'stored':>8}{'read':>7}{'drawn':>7}{'read ms':>9}{'draw ms':>9}{'total':>8}")
            for window in WINDOWS:
                reads, draws = [], []
                for _ in range(20):
                    t0 = time.perf_counter()
                    if how == "series":
                        points: list[object] = list(history.series("dlq", NOW - window, NOW, CHART_DOTS))
                    else:
                        points = list(history.samples("dlq", NOW - window, NOW))
                    t1 = time.perf_counter()
                    chart.replot(points, [10.0], 2.0, start=NOW - window, now=NOW)  # type: ignore[arg-type]
                    chart.render()  # textual-plotext builds the figure when rendered
                    t2 = time.perf_counter()
                    reads.append(t1 - t0)
                    draws.append(t2 - t1)
                stored = len(history.samples("dlq", NOW - window, NOW))
                read, draw = statistics.median(reads) * 1000, statistics.median(draws) * 1000
                print(
                    f"{window.total_seconds() / 3600:7.0f}h{stored:8d}{len(points):7d}{chart.points:7d}"
                    f"{read:9.2f}{draw:9.2f}{read + draw:8.2f}"
                )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        history = SqliteHistory(Path(tmp) / "history.sqlite3", full_resolution=timedelta(hours=1))
        fill(history, 48)
        asyncio.run(measure(history))
        history.close()


if __name__ == "__main__":
    main()

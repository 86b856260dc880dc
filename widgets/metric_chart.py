"""A chart of one metric over the soak window: the samples, the threshold line and the baseline.

The one place the cockpit touches textual-plotext: everything else calls :meth:`MetricChart.replot`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from textual_plotext import PlotextPlot


class SampleLike(Protocol):
    """What the chart needs of a history sample."""

    @property
    def at(self) -> datetime: ...
    @property
    def value(self) -> float | str | None: ...


def time_axis(span: float) -> tuple[str, float, list[float]]:
    """The x axis for ``span`` seconds back from now: its unit, seconds per unit, and a few round ticks
    (whole numbers of that unit, at least 1 apart), so no axis reads "-0.00232 -0.00116 0.00000"."""
    span = max(span, 1.0)
    unit, per = ("s", 1.0) if span < 120 else ("min", 60.0) if span < 3 * 3600 else ("h", 3600.0)
    length = span / per
    step = 1.0
    for candidate in (1, 2, 5, 10, 15, 30, 60, 120, 240, 480, 960):
        step = float(candidate)
        if length / step <= 4:
            break
    return unit, per, [k * step for k in range(int(length // step) + 1)][::-1]


def thin(points: Sequence[tuple[float, float]], buckets: int) -> list[tuple[float, float]]:
    """What a chart ``buckets`` dots wide can show: per bucket of x, its lowest and its highest point (in x
    order), so a spike survives. ``points`` are ``(x, y)`` sorted by x; few enough come back unchanged.

    A 24 h soak holds thousands of samples, and plotext's cost grows with them (50 ms for 8,640 points,
    against 2 ms for 100): the chart would cost more than everything else the dashboard does.
    """
    if len(points) <= 2 * buckets:
        return list(points)
    x0, span = points[0][0], (points[-1][0] - points[0][0]) or 1.0
    out: list[tuple[float, float]] = []
    bucket = -1
    low = high = points[0]
    for point in points:
        b = min(int((point[0] - x0) / span * buckets), buckets - 1)
        if b != bucket:
            if bucket >= 0:
                out.extend(sorted({low, high}))
            bucket, low, high = b, point, point
        elif point[1] < low[1]:
            low = point
        elif point[1] > high[1]:
            high = point
    out.extend(sorted({low, high}))
    return out


class MetricChart(PlotextPlot):
    """A line chart of a metric, with its threshold and baseline as horizontal lines.

    Redraws only when :meth:`replot` is called (on a new sample), never on a timer.
    """

    DEFAULT_CSS = """
    MetricChart {
        height: 1fr;
        min-height: 4;
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        """Initialise the chart.

        Args:
            name: The name of the widget.
            id: The ID of the widget in the DOM.
            classes: The CSS classes of the widget.
        """
        super().__init__(name=name, id=id, classes=classes)
        self.points = 0
        """How many points the last replot drew (after :func:`thin`)."""

    def replot(
        self,
        samples: Sequence[SampleLike],
        thresholds: Sequence[float],
        baseline: float | None,
        *,
        start: datetime | None = None,
        now: datetime | None = None,
    ) -> None:
        """Draw the samples (hours before ``now`` on x), each threshold and the baseline.

        Args:
            samples: History samples, oldest first; non-numeric values are skipped.
            thresholds: Limits to draw as red lines (already in the metric's unit).
            baseline: The frozen baseline, drawn as a dim line, or None.
            start: The left edge of the window (the soak's start); the first sample when None.
            now: The right edge of the window; the last sample when None.
        """
        numeric = [(s.at, float(s.value)) for s in samples if isinstance(s.value, int | float)]
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.frame(False)
        plt.xaxes(True, False)
        plt.yaxes(True, False)
        self.points = 0
        if numeric:
            end = now or numeric[-1][0]
            left = start if start is not None and start < end else numeric[0][0]
            unit, per, ticks = time_axis((end - left).total_seconds())
            width = self.size.width or 100  # braille: two dots a cell
            points = thin([((at - end).total_seconds() / per, v) for at, v in numeric], 2 * width)
            self.points = len(points)
            xs, ys = [x for x, _ in points], [y for _, y in points]
            plt.plot(xs, ys, marker="braille", color="cyan")
            lows = [*ys, *thresholds, *([baseline] if baseline is not None else [])]
            low, high = min(lows), max(lows)
            pad = (high - low) * 0.1 or 1.0
            plt.ylim(low - pad, high + pad)
            plt.xlabel(f"{unit} ago")
            plt.xticks([-t for t in ticks], [f"{t:g}" if t else "now" for t in ticks])  # never negative nor 0.00116
            if start is not None and start < end:
                plt.xlim((start - end).total_seconds() / per, 0)
        for limit in thresholds:
            plt.hline(limit, "red")
        if baseline is not None:
            plt.hline(baseline, "gray")
        self.refresh()

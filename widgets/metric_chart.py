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
        """How many samples the last replot drew."""

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
        self.points = len(numeric)
        if numeric:
            end = now or numeric[-1][0]
            xs = [(at - end).total_seconds() / 3600 for at, _ in numeric]
            ys = [v for _, v in numeric]
            plt.plot(xs, ys, marker="braille", color="cyan")
            lows = [*ys, *thresholds, *([baseline] if baseline is not None else [])]
            low, high = min(lows), max(lows)
            pad = (high - low) * 0.1 or 1.0
            plt.ylim(low - pad, high + pad)
            plt.xlabel("hours")
            if start is not None and start < end:
                plt.xlim((start - end).total_seconds() / 3600, 0)
        for limit in thresholds:
            plt.hline(limit, "red")
        if baseline is not None:
            plt.hline(baseline, "gray")
        self.refresh()

"""Text charts for the Markdown export: each metric over each stage's soak window, with its threshold.

plotext is imported lazily (only when a chart is drawn); the output is colorless and of a fixed size,
so the same history always gives the same text.

This is the one place the core touches plotext, on purpose: issue 6 asks for "a plotext line chart (as a text
block)" in the Markdown sign-off, which is written headless (``cockpit export``). plotext here is a plain
text renderer, not the UI; ``tests/test_import_hygiene.py`` pins that only ``cockpit export --format md``
loads it and that nothing in cockpit/ ever loads Textual, textual_plotext, screens or widgets.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from cockpit.events import parse_time
from cockpit.plan.thresholds import Threshold
from cockpit.store.history import History

WIDTH, HEIGHT = 72, 14
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _instant(text: str) -> datetime:
    return parse_time(text.rstrip("Z") + ".000000Z")


def threshold_line(row: dict[str, Any], baseline: dict[str, Any]) -> float | None:
    """Where the threshold sits in the metric's own unit, when it can be drawn on the samples."""
    threshold = Threshold.parse(row["threshold"])
    if threshold.kind == "absolute" and isinstance(threshold.value, float):
        return threshold.value
    if threshold.kind == "relative" and isinstance(threshold.value, float):
        base = baseline.get(row["metric"])
        if base is not None:
            return float(base["value"]) * (1 + threshold.value / 100)
    return None


def build_charts(record: dict[str, Any], history: History) -> dict[str, str]:
    """``{"stage-id/metric": chart text}`` for every numeric threshold row with samples in its window."""
    charts: dict[str, str] = {}
    baseline = record["baseline"]["metrics"]
    for stage in record["stages"]:
        window = stage["window"]
        if not window["start"] or not window["end"]:
            continue
        start, end = _instant(window["start"]), _instant(window["end"])
        for row in stage["thresholds"]:
            if row["kind"] == "text":
                continue
            samples = [s for s in history.samples(row["metric"], start, end) if s.ok and not isinstance(s.value, str)]
            if len(samples) < 2:
                continue
            xs = [(s.at - start).total_seconds() / 3600 for s in samples]
            ys = [float(s.value) for s in samples]  # type: ignore[arg-type]
            title = f"{row['label']} ({row['threshold']}), hours since {window['start']}"
            charts[f"{stage['id']}/{row['metric']}"] = draw(xs, ys, threshold_line(row, baseline), title)
    return charts


def draw(xs: list[float], ys: list[float], limit: float | None, title: str) -> str:
    """One line chart as plain text (no colour codes, trailing spaces stripped)."""
    import plotext as plt

    plt.clear_figure()
    plt.plot_size(WIDTH, HEIGHT)
    plt.theme("clear")
    plt.plot(xs, ys, marker="braille")
    if limit is not None:
        plt.hline(limit)
        low, high = min([*ys, limit]), max([*ys, limit])
        pad = (high - low) * 0.1 or 1.0
        plt.ylim(low - pad, high + pad)
    plt.title(title)
    text = _ANSI.sub("", plt.build())
    plt.clear_figure()
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")

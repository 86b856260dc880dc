"""One metric of the current stage: value with unit, threshold, status (colour and word), age, chart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from cockpit.readings import PANEL, PANEL_CHANGE, format_age, format_reading
from cockpit.rules import Judgement
from cockpit.text import visible
from widgets.metric_chart import MetricChart, SampleLike

STATUS_MARKS = {
    "OK": "✔ OK",
    "WARN": "▲ WARN",
    "BREACH": "✘ BREACH",
    "STALE": "◌ STALE",
    "NO DATA": "∅ NO DATA",
    "INCONCLUSIVE": "? INCONCLUSIVE",
    "ERROR": "! ERROR",
    "NOT WIRED": "⊘ NOT WIRED",
}
"""The status word, with a shape, so status is never told by colour alone."""


def status_class(status: str) -> str:
    """``NO DATA`` -> ``-no-data``."""
    return "-" + status.lower().replace(" ", "-")


class MetricPanel(Vertical):
    """A metric's judgement and its chart.

    The words that matter first: the status word, the value and the sample's age; then the threshold and
    the reason, wrapped (never cut) when the panel is narrow. The status is
    a CSS class (``-ok``, ``-warn``, ``-breach``, ``-stale``, ``-no-data``, ``-error``,
    ``-inconclusive``, ``-not-wired``) for colour, and a word with a shape for everyone else.
    """

    DEFAULT_CSS = """
    MetricPanel {
        border: round $panel;
        height: auto;
        min-height: 5;
        padding: 0 1;
    }
    MetricPanel > .metric--head { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    MetricPanel > .metric--detail { height: auto; color: $text-muted; }
    MetricPanel.-ok { border: round $success; }
    MetricPanel.-warn { border: round $warning; }
    MetricPanel.-breach, MetricPanel.-error, MetricPanel.-not-wired { border: heavy $error; }
    MetricPanel.-stale, MetricPanel.-no-data, MetricPanel.-inconclusive { border: round $warning; }
    """

    def __init__(
        self,
        metric: str,
        label: str,
        threshold: str,
        *,
        signed: bool = False,
        raw_unit: str = "",
        chart: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """Initialise the panel.

        Args:
            metric: The metric's name in the plan.
            label: The stage's label for it (the checklist's words).
            threshold: The threshold expression as written.
            signed: The threshold is relative: the value is a change from the baseline, shown signed.
            raw_unit: The metric's own unit (a relative panel also shows the reading itself).
            chart: Whether to show a chart (text metrics have none).
            name: The name of the widget.
            id: The ID of the widget in the DOM.
            classes: The CSS classes of the widget.
        """
        super().__init__(name=name, id=id, classes=classes)
        self.metric = metric
        self.label = label
        self.threshold = threshold
        self.signed = signed
        self.raw_unit = raw_unit
        self.has_chart = chart
        self.status = "NO DATA"
        self.border_title = label
        self._head = ""
        self._detail = ""
        self._detail_lines = 0
        """How many lines the detail took when last drawn (0: not known, redraw with a layout pass)."""
        self._shown: tuple[Judgement | None, str] = (None, "")
        self._plotted: tuple[Any, ...] | None = None
        self._ready = False
        """Composed and mounted: until then ``show`` and ``plot`` only remember what to draw."""

    def compose(self) -> ComposeResult:
        yield Static(classes="metric--head")
        yield Static(classes="metric--detail")
        if self.has_chart:
            yield MetricChart(classes="metric--chart")

    def on_mount(self) -> None:
        self._ready = True
        judgement, note = self._shown
        self.show(judgement, note=note)
        if self._plotted is not None:
            samples, limits, baseline, start, now = self._plotted
            self.plot(samples, limits, baseline, start=start, now=now)

    def show(self, judgement: Judgement | None, *, note: str = "") -> None:
        """Show a judgement or, with None, that there is no data yet.

        Only the lines that changed are redrawn.

        Args:
            judgement: The latest judgement of this metric, or None.
            note: Why there is no data, when known (e.g. "no Prometheus in this demo").
        """
        self._shown = (judgement, note)
        if not self._ready:  # mounted but not composed yet: on_mount draws it
            return
        raw: float | str | None = None
        value: float | str | None = None
        age: timedelta | None = None
        if judgement is None:
            status, unit, reason = "NO DATA", "", note or "no sample yet"
        else:
            status = str(judgement.status)
            value, raw, unit, age = judgement.value, judgement.raw, judgement.unit, judgement.age
            reason = judgement.reason or note
            if note and status != "OK":  # the known cause (e.g. "no Prometheus in this demo") says more
                reason = note
            elif status == "OK":  # "within: X vs T" repeats the two lines; a relative one adds the reading
                reason = f"now {format_reading(raw, self.raw_unit, PANEL)}" if self.signed and raw is not None else ""
        if status != self.status or not self._head:  # a class change restyles the panel: only on a change
            self.remove_class(*(status_class(s) for s in STATUS_MARKS))
            self.add_class(status_class(status))
        self.status = status
        head = Text.assemble(
            (STATUS_MARKS.get(status, status), "bold"),
            "  ",
            (visible(format_reading(value, unit, PANEL_CHANGE if self.signed else PANEL)), "bold"),
            f"  age {format_age(age)}" if age is not None else "",  # no sample: "NO DATA" says it
        )
        detail = visible(f"limit {self.threshold}" + (f" · {reason}" if reason else ""))  # a service's text
        # the head is one cell high and as wide as the panel whatever it says, and the detail (which wraps,
        # never cut) keeps its number of lines on most polls: redrawing them then needs no layout pass over
        # the whole screen (which a poll's new value would otherwise cost)
        if head.plain != self._head:
            self._head = head.plain
            self.query_one(".metric--head", Static).update(head, layout=False)
        if detail != self._detail:
            box = self.query_one(".metric--detail", Static)
            width = box.content_size.width
            if not width:
                lines = 0
            elif detail.isascii() and len(detail) <= width:  # the usual case, without a wrap (or its caches)
                lines = 1
            else:
                lines = len(Text(detail).wrap(self.app.console, width))
            self._detail = detail
            box.update(detail, layout=not lines or lines != self._detail_lines)
            self._detail_lines = lines

    def on_resize(self) -> None:
        self._detail_lines = 0  # the detail's lines are counted again at the new width

    def plot(
        self,
        samples: Sequence[SampleLike],
        limits: Sequence[float],
        baseline: float | None,
        *,
        start: datetime | None = None,
        now: datetime | None = None,
    ) -> None:
        """Redraw the chart (call on a new sample only); the x axis runs from ``start`` to ``now``."""
        if not self._ready:
            self._plotted = (samples, limits, baseline, start, now)
        elif self.has_chart:
            self.query_one(MetricChart).replot(samples, limits, baseline, start=start, now=now)

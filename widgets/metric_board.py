"""The dashboard's metrics: one panel per threshold of the watched stage, text metrics full width above an
even grid of charts. Panels are rebuilt when the watched stage changes; a chart redraws only when what it
can show changed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Grid, Vertical, VerticalScroll
from textual.css.query import NoMatches

from cockpit.plan.model import Stage
from cockpit.plan.thresholds import Threshold
from cockpit.rollout import Rollout
from cockpit.session import Services

if TYPE_CHECKING:
    from widgets.metric_panel import MetricPanel

CHART_DOTS = 320
"""Time buckets a chart is read in before its panel has a width (two braille dots a cell: 160 columns);
each bucket keeps its lowest and highest sample."""


class MetricBoard(VerticalScroll):
    """The watched stage's metric panels, drawn from the history and judged by the monitor.

    Args:
        services: The rollout, its history and monitor (``cockpit.session``).
    """

    def __init__(self, services: Services, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.services = services
        self.stage_id: str | None = None
        """The stage whose panels are mounted (None: none yet)."""
        self.begun = False
        """Panels may be mounted (:meth:`begin`: after the screen's first frame, so plotext loads later)."""
        self._plotted: dict[str, Any] = {}

    def begin(self) -> None:
        """From now on :meth:`draw` mounts the watched stage's panels."""
        self.begun = True

    def compose(self) -> ComposeResult:
        yield Vertical(id="metric-texts")
        yield Grid(id="metric-charts")

    def shows(self, stage: Stage, metric: str) -> bool:
        """``metric`` has a panel here, of ``stage``."""
        return stage.id == self.stage_id and any(rule.metric == metric for rule in stage.thresholds)

    def draw(
        self, stage: Stage, now: datetime, *, only: str | None = None, judged: tuple[str, list[Any]] | None = None
    ) -> None:
        """Panels of ``stage`` (``only``: just that metric's, judging just its rows; ``judged``: the
        stage's judgements if just made); a chart redraws only when what it can show changed."""
        from widgets.metric_panel import MetricPanel  # lazy: plotext loads after the first frame is on screen

        s = self.services
        current = rollout_stage_title(s.rollout)
        title = (
            f"{stage.title}: thresholds"
            if current == stage.title
            else f"{current}: no thresholds; watching {stage.title}"
        )
        if self.border_title != title:  # the current stage may change while the watched one stays
            self.border_title = title
        if stage.id != self.stage_id:
            self._mount_panels(stage)
            return
        if judged is not None and judged[0] == stage.id and only is None:
            judgements = judged[1]
        else:
            judgements = s.monitor.judge(stage.id, only=only) if s.monitor is not None else []
        rows = iter(judgements)  # in the stage's order, of the rows drawn
        for i, rule in enumerate(stage.thresholds):
            if only is not None and rule.metric != only:
                continue
            judgement = next(rows, None)
            try:
                panel = self.query_one(f"#metric-{stage.id}-{i}", MetricPanel)
            except NoMatches:  # the stage's panels are being rebuilt
                continue
            panel.show(judgement, note=s.notes.get(rule.metric, ""))
            if panel.has_chart:
                status = "" if judgement is None else str(judgement.status)
                self._plot(panel, stage, rule.metric, rule.threshold, status, now)

    def _mount_panels(self, stage: Stage) -> None:
        from widgets.metric_panel import MetricPanel  # lazy: plotext loads after the first frame is on screen

        plan = self.services.rollout.plan
        self.stage_id = stage.id
        self._plotted.clear()
        texts, charts = self.query_one("#metric-texts", Vertical), self.query_one("#metric-charts", Grid)
        texts.remove_children()
        charts.remove_children()
        panels = [
            MetricPanel(
                rule.metric,
                rule.label,
                str(rule.threshold),
                signed=rule.threshold.kind == "relative",
                raw_unit=plan.metrics[rule.metric].unit,
                chart=plan.metrics[rule.metric].kind != "text",
                id=f"metric-{stage.id}-{i}",
            )
            for i, rule in enumerate(stage.thresholds)
        ]
        with_chart = [p for p in panels if p.has_chart]
        if len(with_chart) % 2:  # the odd one out takes the whole last row: no hole in the grid
            with_chart[-1].add_class("-wide")
        texts.mount_all([p for p in panels if not p.has_chart])
        charts.mount_all(with_chart)
        self.call_after_refresh(self._draw_mounted, stage)

    def _draw_mounted(self, stage: Stage) -> None:
        with self.services.shield():  # an outage of the shared record is DEGRADED, never a crash
            if stage.id == self.stage_id:
                self.draw(stage, self.services.rollout.now())

    def _plot(self, panel: MetricPanel, stage: Stage, metric: str, threshold: Threshold, status: str, now: datetime) -> None:
        # A chart redraws when what it can show changed: a sample in a new dot column (a 24 h chart
        # 40 cells wide has a column per 18 min), a new status (a breach shows at once), the baseline,
        # and once a minute as the axis moves on; not on every 5 s poll, which would cost more CPU than
        # everything else the dashboard does and look the same.
        s = self.services
        state = s.rollout.state
        window = chart_window(s.rollout, stage, now)
        dots = 2 * panel.size.width or CHART_DOTS  # braille: two dots a cell
        per_dot = max((now - window).total_seconds() / dots, 1.0)
        good = s.history.latest_good(metric)  # a failed poll adds no point to the chart
        column = int((good.at - window).total_seconds() // per_dot) if good else None
        anchored = window != now - timedelta(hours=1)  # a soak's start, not a sliding hour
        minute = int(now.timestamp() // 60)
        key = (column, status, state.baseline_mark, window if anchored else None, minute)
        if self._plotted.get(panel.id or "") == key:
            return
        self._plotted[panel.id or ""] = key
        base = state.baseline.get(metric)
        baseline = base.value if base else None
        points = s.history.series(metric, window, now, dots)  # a spike survives the thinning
        panel.plot(points, limits(threshold, baseline), baseline, start=window, now=now)


def chart_window(rollout: Rollout, stage: Stage, now: datetime) -> datetime:
    """The running soak's start (at most 48 h back), else the last hour."""
    soaks = [s for s in rollout.state.soaks.values() if s.stage == stage.id and not s.done(now)]
    if soaks:
        return max(min(s.first_started or s.started for s in soaks), now - timedelta(hours=48))
    return now - timedelta(hours=1)


def rollout_stage_title(rollout: Rollout) -> str:
    stage = rollout.current_stage
    return stage.title if stage else rollout.plan.stages[0].title


def limits(threshold: Threshold, baseline: float | None) -> list[float]:
    """The threshold as a line in the metric's unit (a relative one needs the baseline)."""
    if threshold.kind == "absolute" and isinstance(threshold.value, float):
        return [threshold.value]
    if threshold.kind == "relative" and baseline is not None and isinstance(threshold.value, float):
        return [baseline * (1 + threshold.value / 100)]
    return []

"""The monitor: polls every metric on its own schedule, keeps history, judges, and audits breaches.

Each metric has its own loop that re-arms after each poll (never two polls of one metric at once);
the loops share one ``httpx.AsyncClient``, so a hung source only ever delays itself. Judging reads
the history, so a restarted cockpit (or ``cockpit check`` from cron) sees what earlier polls saw.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import logging
import math
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cockpit.plan.model import Metric, PostgresSource, Stage, format_duration
from cockpit.rollout import Rollout
from cockpit.rules import Judgement, Status, judge
from cockpit.sources.errors import NoData, SourceError
from cockpit.sources.local import PgSessions
from cockpit.sources.replies import SharedReplies
from cockpit.sources.values import cut_text
from cockpit.store.history import History, Sample
from cockpit.store.publish import Publisher

if TYPE_CHECKING:
    import httpx

BASELINE_WINDOW = timedelta(minutes=5)
"""The baseline is the mean of the good samples of this last stretch."""

SPREAD = 0.5
"""``run`` staggers the metrics' first polls over at most this many seconds (or one interval), so
fifty sources do not all fire, and all come back to the event loop, in the same millisecond."""


def json_safe(value: Any) -> Any:
    """A value that JSON (and the audit chain) can carry: non-finite floats become text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


log = logging.getLogger(__name__)


class Monitor:
    """Polls the plan's metrics into ``history`` and turns judgements into breach events."""

    def __init__(self, rollout: Rollout, history: History, *, client: httpx.AsyncClient | None = None) -> None:
        self.rollout = rollout
        self.history = history
        self._own_client = client is None
        self._client = client
        self.shared = SharedReplies()
        """One request per endpoint and polling round (``schedule`` sets how long a reply is reused)."""
        self.in_flight: set[str] = set()
        """Metrics whose poll is running right now."""
        self._pg: PgSessions | None = None
        """The PostgreSQL sources' kept connections (made on the first SQL poll)."""
        self._windows: dict[str, tuple[datetime, list[Sample]]] = {}
        """Rate metrics' last read window: (its start, its samples); see ``_rate_window``."""
        self.publisher = Publisher(history, rollout.plan, str(rollout.actor), str(rollout.loaded.path))
        """Publishes each judging round (and the arm checks) for ``cockpit fleet``."""

    @property
    def client(self) -> httpx.AsyncClient:
        """The shared client, made on the first poll: judging needs no network (nor httpx)."""
        if self._client is None:
            from cockpit.http_client import new_client  # lazy: httpx only once something is polled

            self._client = new_client()
        return self._client

    @property
    def metrics(self) -> dict[str, Metric]:
        return self.rollout.plan.metrics

    def _metric(self, name: str) -> Metric:
        try:
            return self.metrics[name]
        except KeyError:
            raise KeyError(f"unknown metric {name!r}; metrics are: {', '.join(self.metrics)}") from None

    # ----------------------------------------------------------------- polling

    async def poll_metric(self, name: str) -> Sample:
        """Poll one metric once and store the sample; a failure is a sample with a (redacted) error."""
        from cockpit.sources.remote import read_metric  # lazy: httpx only once something is polled

        metric = self._metric(name)
        if metric.unwired:  # nothing to poll: judged NOT WIRED, and nothing goes into the history
            return Sample(name, self.rollout.now(), None, "not wired")
        self.in_flight.add(name)
        try:
            value: float | str | None = await read_metric(
                self.client, self.rollout.loaded, metric, self.shared, self._sessions(metric)
            )
            error = ""
        except NoData:
            value, error = None, ""
        except SourceError as exc:
            value, error = None, str(exc) or type(exc).__name__
        except Exception as exc:  # never let one source take the cockpit down
            value, error = None, f"unexpected {type(exc).__name__}: {exc}"
        finally:
            self.in_flight.discard(name)
        redact = self.rollout.loaded.env.redact  # a service that echoes the token back: scrubbed here, once
        kept = cut_text(redact(value)) if isinstance(value, str) else value  # cut after the secrets are masked
        sample = Sample(name, self.rollout.now(), kept, redact(error))
        self.history.add(sample)
        return sample

    async def poll_once(self, names: Iterable[str] | None = None) -> dict[str, Sample]:
        """Poll ``names`` (default: every metric) concurrently, once each."""
        wanted = list(dict.fromkeys(names if names is not None else self.metrics))
        samples = await asyncio.gather(*(self.poll_metric(n) for n in wanted))
        return dict(zip(wanted, samples, strict=True))

    async def run(
        self, on_sample: Callable[[Sample], None] | None = None, *, spread: float = SPREAD, speed: float = 1.0
    ) -> None:
        """Poll every metric forever, each on its own interval, re-arming after each poll.

        Metric ``i`` of ``n`` runs on the grid ``start + phase + k * interval`` with its phase
        ``i / n`` of ``min(interval, spread)``: the same load, spread out instead of in one burst
        (as Prometheus offsets its scrape targets). ``on_sample`` is called on the event loop after
        each poll, once the sample is in the history. ``speed`` > 1 divides every interval (the demo's
        accelerated clock: plan seconds pass ``speed`` times faster than real ones).
        """
        start = time.monotonic()
        async with asyncio.TaskGroup() as group:
            for name, (phase, interval) in self.schedule(spread=spread, speed=speed).items():
                group.create_task(self._loop(name, on_sample, start + phase, interval), name=f"poll:{name}")

    def schedule(self, *, spread: float = SPREAD, speed: float = 1.0) -> dict[str, tuple[float, float]]:
        """``{metric: (phase, interval)}`` in real seconds: metric ``i`` of ``n`` starts ``i / n`` of
        ``min(interval, spread)`` late, then polls every ``interval`` (the plan's, divided by ``speed``)."""
        names = [name for name, metric in self.metrics.items() if not metric.unwired]
        out = {}
        for i, name in enumerate(names):
            interval = self.rollout.plan.interval(self.metrics[name]).total_seconds() / max(speed, 1e-9)
            out[name] = (i / len(names) * min(interval, spread), interval)
        if out:  # metrics of one endpoint poll within ``spread`` of each other: one request serves them
            self.shared.max_age = min(spread, min(interval for _, interval in out.values()) / 2)
        return out

    async def _loop(self, name: str, on_sample: Callable[[Sample], None] | None, due: float, interval: float) -> None:
        await asyncio.sleep(max(due - time.monotonic(), 0))
        while True:
            sample = await self.poll_metric(name)
            if on_sample is not None:
                try:
                    on_sample(sample)
                except Exception:  # a display bug must not stop the polling: log it
                    log.exception("on_sample failed for %s", name)
            # re-arm on a fixed grid (no drift); a poll that overran its slot starts the grid again now
            due += interval
            now = time.monotonic()
            if due < now:
                due = now
            await asyncio.sleep(due - now)

    def _sessions(self, metric: Metric) -> PgSessions | None:
        if self._pg is None and isinstance(self.rollout.plan.sources.get(metric.source), PostgresSource):
            self._pg = PgSessions()
        return self._pg

    async def aclose(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
        if self._pg is not None:
            await self._pg.aclose()

    # ----------------------------------------------------------------- judging

    def stage(self, stage_id: str | None = None) -> Stage:
        """The named stage, else the current one, else stage 0 (before the rollout starts)."""
        if stage_id is not None:
            return self.rollout.stage_or_error(stage_id)
        return self.rollout.current_stage or self.rollout.plan.stages[0]

    @functools.cached_property
    def rate_metrics(self) -> frozenset[str]:
        """Metrics some stage judges as a rate ("< 5/hour"): only those need their whole rate window."""
        stages = self.rollout.plan.stages
        return frozenset(rule.metric for stage in stages for rule in stage.thresholds if rule.threshold.kind == "rate")

    def recent(self, name: str) -> list[Sample]:
        """The samples ``judge`` needs: a run of ``consecutive`` (with room for failed polls between them),
        the stale limit, and for a rate its window. Judging runs every second: an hour of samples for a
        metric that needs its last few would make a soak's second hour cost ten times its first minutes."""
        metric = self.metrics[name]
        plan = self.rollout.plan
        now = self.rollout.now()
        reach = max(plan.stale_after(metric), plan.interval(metric) * (2 * metric.consecutive + 2))
        if name in self.rate_metrics:
            reach = max(reach, metric.rate_window + plan.interval(metric) * metric.consecutive)
        since = now - reach - plan.interval(metric)
        samples = self._rate_window(name, since, now) if name in self.rate_metrics else None
        if samples is None:
            samples = self.history.samples(name, since, now)
        if not samples:
            latest = self.history.latest(name)
            good = self.history.latest_good(name)
            samples = [s for s in (good, latest) if s is not None]
            samples = sorted(dict.fromkeys(samples), key=lambda s: s.at)
        return samples

    def _rate_window(self, name: str, since: datetime, now: datetime) -> list[Sample] | None:
        """A rate's hour of samples as last read, its too-old front dropped, while no newer sample has come
        (judging runs every second, polls every few); None: read them again."""
        newest = self.history.latest(name)
        kept = self._windows.get(name)
        if newest is None or kept is None or kept[0] > since or not kept[1] or kept[1][-1].at != newest.at:
            self._windows.pop(name, None)
            if newest is not None and newest.at <= now:
                samples = self.history.samples(name, since, now)
                self._windows[name] = (since, samples)
                return samples
            return None
        samples = kept[1]
        return samples[bisect.bisect_left(samples, since, key=lambda s: s.at) :]

    def _judge(self, stage: Stage, only: str | None = None) -> list[Judgement]:
        plan = self.rollout.plan
        state = self.rollout.state
        now = self.rollout.now()
        out = []
        read: dict[str, list[Sample]] = {}  # two rows on one metric read its samples once
        for rule in stage.thresholds:
            if only is not None and rule.metric != only:
                continue
            metric = plan.metrics[rule.metric]
            if rule.metric not in read:
                read[rule.metric] = self.recent(rule.metric)
            samples = read[rule.metric]
            out.append(judge(rule, metric, samples, state.baseline.get(rule.metric), now, plan.stale_after(metric)))
        return out

    def judge(self, stage_id: str | None = None, *, only: str | None = None) -> list[Judgement]:
        """The stage's threshold rows, judged from history (default: the current stage); with ``only``,
        just the rows of that metric (in the stage's order)."""
        return self._judge(self.stage(stage_id), only)

    def evaluate(self, stage_id: str | None = None) -> list[Judgement]:
        """Judge, then open breaches (BREACH) and close them (every row of the metric OK); end soaks.

        STALE, ERROR, NO DATA and INCONCLUSIVE neither open nor close a breach.
        """
        stage = self.stage(stage_id)
        judgements = self._judge(stage)
        by_metric: dict[str, list[Judgement]] = {}
        for j in judgements:
            by_metric.setdefault(j.metric, []).append(j)
        open_now = self.rollout.state.breaches
        for metric, rows in by_metric.items():
            breach = next((j for j in rows if j.status is Status.BREACH), None)
            if breach is not None:
                if metric not in open_now:
                    self.rollout.open_breach(metric, json_safe(breach.value), breach.threshold, stage=stage.id)
            elif all(j.status is Status.OK for j in rows) and metric in open_now:
                self.rollout.close_breach(metric, json_safe(rows[0].value))
        self.rollout.complete_soaks()
        self.publisher.judged(stage.id, judgements, self.rollout.now())
        return judgements

    # ----------------------------------------------------------------- baseline

    def baseline_values(self) -> dict[str, dict[str, Any]]:
        """``{metric: {"value", "window", "query", "samples"}}`` for every numeric metric with fresh data.

        The value is the mean of the good samples of the last ``BASELINE_WINDOW`` (at least the latest
        good sample); counters and stale metrics are left out.
        """
        plan = self.rollout.plan
        now = self.rollout.now()
        out: dict[str, dict[str, Any]] = {}
        for name, metric in self.metrics.items():
            if metric.kind != "gauge":
                continue
            latest = self.history.latest_good(name)
            if latest is None or not isinstance(latest.value, float) or now - latest.at > plan.stale_after(metric):
                continue
            window = max(BASELINE_WINDOW, plan.interval(metric))
            values = [
                float(s.value)
                for s in self.history.samples(name, now - window, now)
                if s.ok and isinstance(s.value, float)
            ] or [latest.value]
            out[name] = {
                "value": sum(values) / len(values),
                "window": format_duration(window),
                "samples": len(values),
                "query": metric.query or f"{metric.path} {metric.json_path}".strip(),
            }
        return out

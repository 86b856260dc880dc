"""Metric history in the shared PostgreSQL: :class:`cockpit.store.history.History`'s methods, for many cockpits.

Every cockpit watching the rollout adds its polls; all of them see the same charts and soak figures. The
table stays bounded as the SQLite history does: every ``COMPACT_EVERY`` inserts a writing cockpit thins
its rollout's samples older than ``full_resolution`` to one per metric and minute (a failed poll kept over
a good one) and deletes those past ``retention``.

**Outage**: every sample is also kept locally (``local``: the SQLite history in the state directory for
a writer, memory for a ``--readonly`` viewer, whose own polls are all it has then). While the cockpit's
:class:`~cockpit.store.pg_link.Link` is down, reads answer from that local copy (the panels keep judging
this cockpit's live polls), samples for the shared table wait in a bounded queue and are inserted when
the database answers again; no database error reaches the caller.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from cockpit.store.history import (
    COMPACT_EVERY,
    History,
    Point,
    Sample,
    SqliteHistory,
    Stats,
    bucket_width,
    encode_value,
    percentile,
)
from cockpit.store.pg_link import Conn, Link, Linked
from cockpit.store.pg_schema import RECORDS_CHANNEL, DatabaseUnavailable
from cockpit.store.records import Record, decode, encode

_COLUMNS = "metric, at, num, txt, error"
_INSERT = "INSERT INTO cockpit_samples (rollout, metric, at, num, txt, error) VALUES (%s, %s, %s, %s, %s, %s)"

QUEUE_LIMIT = 100_000
"""Samples kept for the shared table while the database is down (about 5 h of 30 metrics polled every 5 s)."""

T = TypeVar("T")


class PgHistory:
    """Samples of one rollout's metrics in ``cockpit_samples``; safe to share between threads."""

    def __init__(
        self,
        dsn: str,
        rollout_id: str,
        *,
        readonly: bool = False,
        retention: timedelta = timedelta(days=14),
        full_resolution: timedelta = timedelta(hours=1),
        local: History | None = None,
        link: Link | None = None,
    ) -> None:
        self.dsn = dsn
        self.rollout_id = rollout_id
        self.readonly = readonly
        self.retention = retention
        self.full_resolution = full_resolution
        self.local = local or SqliteHistory(":memory:", retention=retention, full_resolution=full_resolution)
        """This cockpit's own samples: what reads answer from while the database is down."""
        self.link = link or Link(dsn, readonly=readonly)
        self.db = Linked(self.link, dsn, what="history")
        self._lock = threading.Lock()
        self._inserts = 0
        self._queue: deque[Sample] = deque(maxlen=QUEUE_LIMIT)
        """Samples for the shared table that wait for the database."""
        self._draining = threading.Lock()
        self.link.on_up.append(self._reconnected)

    @property
    def degraded(self) -> bool:
        """Reads come from this cockpit's own samples (the database is unreachable)."""
        return not self.link.up

    @property
    def queued(self) -> int:
        return len(self._queue)

    def _execute(self, sql: str, args: tuple[object, ...]) -> list[tuple[Any, ...]]:
        """Run one statement; an unreachable database raises :class:`DatabaseUnavailable` (and marks the link down)."""

        def work(conn: Conn) -> list[tuple[Any, ...]]:
            cur = conn.execute(sql, args)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

        with self._lock:
            return self.db.run(work)

    def _execute_many(self, rows: list[tuple[object, ...]]) -> None:
        def work(conn: Conn) -> None:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(_INSERT, rows)

        with self._lock:
            self.db.run(work)

    def _either(self, shared: Callable[[], T], local: Callable[[History], T]) -> T:
        """The shared table's answer, or this cockpit's own while the database is unreachable."""
        if self.link.up:
            try:
                return shared()
            except DatabaseUnavailable:
                pass
        return local(self.local)

    # ----------------------------------------------------------------- writing

    def add(self, sample: Sample) -> None:
        """Keep the sample locally; a writer also inserts it into the shared table (queued while down)."""
        self.local.add(sample)
        if self.readonly:
            return  # a read-only viewer sees the writers' samples and adds none
        self._queue.append(sample)
        if not self.link.up:
            return
        try:
            self._drain()
        except DatabaseUnavailable:
            return
        self._inserts += 1
        if self._inserts % COMPACT_EVERY == 0:
            try:
                self.compact(sample.at)
            except DatabaseUnavailable:
                pass

    def _reconnected(self) -> None:
        """The database answers again (the probe's thread): insert what waited."""
        if not self.readonly:
            self._drain()

    def _drain(self) -> None:
        """Insert the queued samples, oldest first (those inserted leave the queue)."""
        with self._draining:
            self._drain_queue()

    def _drain_queue(self) -> None:
        while self._queue:
            batch = [self._queue[i] for i in range(min(len(self._queue), 1000))]
            if len(batch) == 1:
                self._execute(_INSERT, self._row(batch[0]))
            else:
                self._execute_many([self._row(s) for s in batch])
            for _ in batch:
                self._queue.popleft()

    def _row(self, sample: Sample) -> tuple[object, ...]:
        num, txt = encode_value(sample.value)
        return (self.rollout_id, sample.metric, sample.at, num, txt, sample.error)

    def compact(self, now: datetime | None = None) -> None:
        """Thin this rollout's samples older than ``full_resolution`` (before ``now``, the current time when
        not given) to one per metric and minute, a failed poll kept over a good one; delete those older
        than ``retention``."""
        if self.readonly:
            return
        now = now if now is not None else datetime.now(UTC)
        self._execute(
            "DELETE FROM cockpit_samples WHERE rollout = %s AND at < %s", (self.rollout_id, now - self.retention)
        )
        self._execute(
            "DELETE FROM cockpit_samples s USING (SELECT ctid, row_number() OVER ("
            "  PARTITION BY metric, date_trunc('minute', at) ORDER BY (error <> '') DESC, at DESC) AS n"
            " FROM cockpit_samples WHERE rollout = %s AND at < %s) t WHERE s.ctid = t.ctid AND t.n > 1",
            (self.rollout_id, now - self.full_resolution),
        )

    # ----------------------------------------------------------------- reading

    def _samples(self, where: str, args: tuple[object, ...], tail: str = "ORDER BY at") -> list[Sample]:
        rows = self._execute(
            f"SELECT {_COLUMNS} FROM cockpit_samples WHERE rollout = %s AND {where} {tail}",
            (self.rollout_id, *args),
        )
        return [_sample(r) for r in rows]

    def samples(self, metric: str, since: datetime, until: datetime | None = None) -> list[Sample]:
        """Samples of ``metric`` with ``since <= at <= until``, oldest first."""
        return self._either(lambda: self._pg_samples(metric, since, until), lambda h: h.samples(metric, since, until))

    def _pg_samples(self, metric: str, since: datetime, until: datetime | None) -> list[Sample]:
        if until is None:
            return self._samples("metric = %s AND at >= %s", (metric, since))
        return self._samples("metric = %s AND at >= %s AND at <= %s", (metric, since, until))

    def latest(self, metric: str) -> Sample | None:
        def shared() -> Sample | None:
            rows = self._samples("metric = %s", (metric,), "ORDER BY at DESC LIMIT 1")
            return rows[0] if rows else None

        return self._either(shared, lambda h: h.latest(metric))

    def latest_good(self, metric: str) -> Sample | None:
        """The newest sample with a value (not a failed poll, not an empty result)."""

        def shared() -> Sample | None:
            rows = self._samples(
                "metric = %s AND error = '' AND (num IS NOT NULL OR txt IS NOT NULL)",
                (metric,),
                "ORDER BY at DESC LIMIT 1",
            )
            return rows[0] if rows else None

        return self._either(shared, lambda h: h.latest_good(metric))

    def series(self, metric: str, since: datetime, until: datetime, buckets: int) -> list[Point]:
        """Per bucket of time the lowest and highest numeric good sample (``History.series``)."""
        return self._either(
            lambda: self._pg_series(metric, since, until, buckets), lambda h: h.series(metric, since, until, buckets)
        )

    def _pg_series(self, metric: str, since: datetime, until: datetime, buckets: int) -> list[Point]:
        """:meth:`cockpit.store.history.History.series`: per bucket of time its lowest and highest numeric good
        sample, oldest first (what a chart ``buckets`` dots wide can show)."""
        rows = self._execute(
            "SELECT at, num FROM (SELECT at, num,"
            " row_number() OVER (PARTITION BY b ORDER BY num, at) AS low,"
            " row_number() OVER (PARTITION BY b ORDER BY num DESC, at) AS high"
            " FROM (SELECT at, num, floor(extract(epoch FROM at - %s) / %s) AS b FROM cockpit_samples"
            "  WHERE rollout = %s AND metric = %s AND at >= %s AND at <= %s AND num IS NOT NULL AND error = '') s"
            ") t WHERE low = 1 OR high = 1 ORDER BY at",
            (since, bucket_width(since, until, buckets), self.rollout_id, metric, since, until),
        )
        return [Point(at, float(num)) for at, num in rows]

    def stats(self, metric: str, start: datetime, end: datetime) -> Stats | None:
        """Count, min, max, p50, p99 of the numeric good samples in ``[start, end]``; None without any."""
        return self._either(lambda: self._pg_stats(metric, start, end), lambda h: h.stats(metric, start, end))

    def _pg_stats(self, metric: str, start: datetime, end: datetime) -> Stats | None:
        rows = self._execute(
            "SELECT num FROM cockpit_samples WHERE rollout = %s AND metric = %s AND at >= %s AND at <= %s"
            " AND num IS NOT NULL AND error = '' ORDER BY num",
            (self.rollout_id, metric, start, end),
        )
        values = [float(r[0]) for r in rows]
        if not values:
            return None
        return Stats(len(values), values[0], values[-1], percentile(values, 50), percentile(values, 99))

    def count(self, metric: str | None = None) -> int:
        return self._either(lambda: self._pg_count(metric), lambda h: h.count(metric))

    def _pg_count(self, metric: str | None) -> int:
        if metric is None:
            rows = self._execute("SELECT count(*) FROM cockpit_samples WHERE rollout = %s", (self.rollout_id,))
        else:
            rows = self._execute(
                "SELECT count(*) FROM cockpit_samples WHERE rollout = %s AND metric = %s", (self.rollout_id, metric)
            )
        return int(rows[0][0])

    def put_record(self, kind: str, at: datetime, body: dict[str, Any], *, news: bool = True) -> None:
        """Upsert this rollout's record of ``kind``; with ``news``, NOTIFY the fleets in the same statement."""
        if self.readonly:
            return
        upsert = (
            "INSERT INTO cockpit_records (rollout, kind, at, body) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (rollout, kind) DO UPDATE SET at = excluded.at, body = excluded.body"
        )
        args: tuple[object, ...] = (self.rollout_id, kind, at, encode(body))
        if news:  # one statement: the fleets hear of it exactly when it is committed
            upsert = f"WITH up AS ({upsert} RETURNING 1) SELECT pg_notify(%s, %s) FROM up"
            args += (RECORDS_CHANNEL, json.dumps({"rollout": self.rollout_id, "kind": kind}))
        try:
            self._execute(upsert, args)
        except DatabaseUnavailable:  # DEGRADED already; the next judging round publishes again once it is back
            pass

    def records(self) -> dict[str, Record]:
        rows = self._execute("SELECT kind, at, body FROM cockpit_records WHERE rollout = %s", (self.rollout_id,))
        out = {}
        for kind, at, text in rows:
            body = decode(text)
            if body is not None:
                out[str(kind)] = Record(str(kind), at, body)
        return out

    def close(self) -> None:
        if not self.readonly and self._queue and self.link.up:
            try:
                self._drain()
            except DatabaseUnavailable:
                pass
        with self._lock:
            self.db.close()
        self.local.close()


def _sample(row: tuple[Any, ...]) -> Sample:
    metric, at, num, txt, error = row
    value: float | str | None = float(num) if num is not None else txt
    return Sample(str(metric), at, value, error or "")

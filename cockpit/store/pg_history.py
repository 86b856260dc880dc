"""Metric history in the shared PostgreSQL: :class:`cockpit.store.history.History`'s methods, for many cockpits.

Every cockpit watching the rollout adds its polls; all of them see the same charts and soak figures. The
table stays bounded as the SQLite history does: every ``COMPACT_EVERY`` inserts a writing cockpit thins
its rollout's samples older than ``full_resolution`` to one per metric and minute (a failed poll kept over
a good one) and deletes those past ``retention``.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from cockpit.store.audit import AuditError
from cockpit.store.history import COMPACT_EVERY, Point, Sample, Stats, bucket_width, encode_value, percentile
from cockpit.store.pg_schema import RECORDS_CHANNEL, connect, safe_message
from cockpit.store.records import Record, decode, encode

_COLUMNS = "metric, at, num, txt, error"


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
    ) -> None:
        self.dsn = dsn
        self.rollout_id = rollout_id
        self.readonly = readonly
        self.retention = retention
        self.full_resolution = full_resolution
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._inserts = 0

    def _execute(self, sql: str, args: tuple[object, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = connect(self.dsn, readonly=self.readonly, autocommit=True)
            try:
                cur = self._conn.execute(sql, args)  # type: ignore[arg-type]
                return cur.fetchall() if cur.description else []
            except psycopg.Error as exc:
                if isinstance(exc, psycopg.OperationalError):
                    self._conn.close()
                    self._conn = None
                raise AuditError(f"history: {safe_message(exc, self.dsn)}") from None

    # ----------------------------------------------------------------- writing

    def add(self, sample: Sample) -> None:
        if self.readonly:
            return  # a read-only viewer sees the writers' samples and adds none
        num, txt = encode_value(sample.value)
        self._execute(
            "INSERT INTO cockpit_samples (rollout, metric, at, num, txt, error) VALUES (%s, %s, %s, %s, %s, %s)",
            (self.rollout_id, sample.metric, sample.at, num, txt, sample.error),
        )
        self._inserts += 1
        if self._inserts % COMPACT_EVERY == 0:
            self.compact(sample.at)

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
        if until is None:
            return self._samples("metric = %s AND at >= %s", (metric, since))
        return self._samples("metric = %s AND at >= %s AND at <= %s", (metric, since, until))

    def latest(self, metric: str) -> Sample | None:
        rows = self._samples("metric = %s", (metric,), "ORDER BY at DESC LIMIT 1")
        return rows[0] if rows else None

    def latest_good(self, metric: str) -> Sample | None:
        """The newest sample with a value (not a failed poll, not an empty result)."""
        rows = self._samples(
            "metric = %s AND error = '' AND (num IS NOT NULL OR txt IS NOT NULL)", (metric,), "ORDER BY at DESC LIMIT 1"
        )
        return rows[0] if rows else None

    def series(self, metric: str, since: datetime, until: datetime, buckets: int) -> list[Point]:
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
        self._execute(upsert, args)

    def records(self) -> dict[str, Record]:
        rows = self._execute("SELECT kind, at, body FROM cockpit_records WHERE rollout = %s", (self.rollout_id,))
        out = {}
        for kind, at, text in rows:
            body = decode(text)
            if body is not None:
                out[str(kind)] = Record(str(kind), at, body)
        return out

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _sample(row: tuple[Any, ...]) -> Sample:
    metric, at, num, txt, error = row
    value: float | str | None = float(num) if num is not None else txt
    return Sample(str(metric), at, value, error or "")

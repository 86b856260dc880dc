"""Persisted metric history: every poll of every metric, in SQLite in the rollout's state directory.

A restart keeps the charts and the soak's figures. Memory and disk stay bounded over a 24 h soak:
samples older than ``full_resolution`` (1 h) are thinned to one per metric per minute (a failed poll
is kept over a good one, so outages stay visible), and samples past ``retention`` are deleted.

A sample with ``value`` None and an ``error`` is a failed poll. A sample with ``value`` None and no
error means the source answered with *no data* (an empty Prometheus result): never a zero.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from cockpit.store.files import open_regular
from cockpit.store.records import Record, decode, encode

COMPACT_EVERY = 500
"""Thin and expire after this many inserts (and on open)."""


@dataclass(frozen=True)
class Sample:
    """One poll of one metric. ``value`` None with ``error`` set: the poll failed."""

    metric: str
    at: datetime
    value: float | str | None
    error: str = ""

    @property
    def ok(self) -> bool:
        """A usable value (not a failed poll, not an empty result)."""
        return self.value is not None and not self.error


class Point(NamedTuple):
    """A numeric good sample, as a chart draws it."""

    at: datetime
    value: float


@dataclass(frozen=True)
class Stats:
    """Figures over the numeric good samples of a period (the export's per-soak table)."""

    count: int
    min: float
    max: float
    p50: float
    p99: float


_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    metric TEXT NOT NULL,
    at REAL NOT NULL,
    num REAL,
    txt TEXT,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS samples_metric_at ON samples (metric, at);
CREATE TABLE IF NOT EXISTS records (kind TEXT PRIMARY KEY, at REAL NOT NULL, body TEXT NOT NULL);
"""


def _ts(when: datetime) -> float:
    return when.timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def encode_value(value: float | str | bool | None) -> tuple[float | None, str | None]:
    """A sample's value as the (num, txt) columns both history stores use: numbers as numbers, text,
    booleans and non-finite numbers as text (so NaN is shown as NaN, never judged as a number)."""
    if isinstance(value, bool):
        return None, str(value).lower()
    if isinstance(value, int | float):
        return (float(value), None) if math.isfinite(value) else (None, str(value))
    if isinstance(value, str):
        return None, value
    return None, None


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``values`` (``q`` in 0..100)."""
    if not values:
        raise ValueError("no values")
    rank = max(1, math.ceil(q / 100 * len(values)))
    return values[min(rank, len(values)) - 1]


class History(Protocol):
    """Samples of every metric over time: :class:`SqliteHistory` here, ``PgHistory`` on PostgreSQL."""

    def add(self, sample: Sample) -> None:
        """Store one sample (a failed poll too: it is a sample with an error)."""
        ...

    def compact(self, now: datetime | None = None) -> None:
        """Thin old samples to one a minute and drop those past the retention."""
        ...

    def samples(self, metric: str, since: datetime, until: datetime | None = None) -> list[Sample]:
        """The metric's samples in ``[since, until]``, oldest first."""
        ...

    def latest(self, metric: str) -> Sample | None:
        """The newest sample, good or failed."""
        ...

    def latest_good(self, metric: str) -> Sample | None:
        """The newest sample with a value."""
        ...

    def series(self, metric: str, since: datetime, until: datetime, buckets: int) -> list[Point]:
        """At most ``buckets`` points over the window, for a chart."""
        ...

    def stats(self, metric: str, start: datetime, end: datetime) -> Stats | None:
        """Min, max and percentiles over the window; ``None`` without samples."""
        ...

    def count(self, metric: str | None = None) -> int:
        """How many samples are stored (of one metric, or of all)."""
        ...

    def put_record(self, kind: str, at: datetime, body: dict[str, Any], *, news: bool = True) -> None:
        """Publish the latest record of ``kind`` for the fleet view (:mod:`cockpit.store.records`);
        ``news``: something changed (PostgreSQL NOTIFYs the fleets), not only its time."""
        ...

    def records(self) -> dict[str, Record]:
        """The published records by kind."""
        ...

    @property
    def degraded(self) -> bool:
        """Reads come from a local copy (the shared database is unreachable); never for SQLite."""
        ...

    def close(self) -> None: ...


class SqliteHistory:
    """The sample history in a local SQLite file; safe to share between threads of one process."""

    def __init__(
        self,
        path: Path | str,
        *,
        retention: timedelta = timedelta(days=14),
        full_resolution: timedelta = timedelta(hours=1),
        readonly: bool = False,
        mode: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.readonly = readonly
        """A read-only history (``cockpit --readonly``) is a copy in memory of the file's samples: new
        samples are judged with the others but never written, and the file is not touched."""
        self.retention = retention
        self.full_resolution = full_resolution
        self._lock = threading.Lock()
        if readonly:
            self._db = self._snapshot(self.path)
        else:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
                _check_regular(self.path)
                if mode is not None:
                    _create(self.path, mode)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        self._inserts = 0
        self._newest = 0.0
        row = self._db.execute("SELECT MAX(at) FROM samples").fetchone()
        if row and row[0] is not None:
            self._newest = float(row[0])
            self.compact()

    @staticmethod
    def _snapshot(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None, uri=True)
        db.executescript(_SCHEMA)
        if str(path) != ":memory:" and path.exists():
            _check_regular(path)
            # immutable: no lock, no -wal/-shm file created next to it; the file is only read
            db.execute("ATTACH DATABASE ? AS disk", (f"file:{path}?mode=ro&immutable=1",))
            try:
                db.execute("INSERT INTO samples SELECT metric, at, num, txt, error FROM disk.samples")
            except sqlite3.OperationalError:  # no samples table yet
                pass
            db.execute("DETACH DATABASE disk")
        return db

    # ----------------------------------------------------------------- writing

    @property
    def degraded(self) -> bool:
        return False

    def add(self, sample: Sample) -> None:
        num, txt = encode_value(sample.value)
        at = _ts(sample.at)
        with self._lock:
            self._db.execute(
                "INSERT INTO samples (metric, at, num, txt, error) VALUES (?, ?, ?, ?, ?)",
                (sample.metric, at, num, txt, sample.error),
            )
            self._newest = max(self._newest, at)
            self._inserts += 1
            due = self._inserts % COMPACT_EVERY == 0
        if due:
            self.compact()

    def compact(self, now: datetime | None = None) -> None:
        """Thin samples older than ``full_resolution`` to one per minute; delete those past retention."""
        newest = _ts(now) if now else self._newest
        thin_before = newest - self.full_resolution.total_seconds()
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM samples WHERE at < ?", (newest - self.retention.total_seconds(),))
            # keep per (metric, minute) the latest failed poll if any, else the latest sample
            self._db.execute(
                """DELETE FROM samples WHERE at < ? AND rowid NOT IN (
                       SELECT (SELECT s2.rowid FROM samples s2
                               WHERE s2.metric = s1.metric AND CAST(s2.at / 60 AS INTEGER) = s1.minute
                               ORDER BY (s2.error != '') DESC, s2.at DESC LIMIT 1)
                       FROM (SELECT DISTINCT metric, CAST(at / 60 AS INTEGER) AS minute
                             FROM samples WHERE at < ?) s1)""",
                (thin_before, thin_before),
            )
            self._db.execute("COMMIT")

    # ----------------------------------------------------------------- reading

    def _rows(self, sql: str, args: tuple[object, ...]) -> list[Sample]:
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_sample(r) for r in rows]

    def samples(self, metric: str, since: datetime, until: datetime | None = None) -> list[Sample]:
        """Samples of ``metric`` with ``since <= at <= until``, oldest first."""
        end = _ts(until) if until else math.inf
        return self._rows(
            "SELECT metric, at, num, txt, error FROM samples WHERE metric = ? AND at >= ? AND at <= ? ORDER BY at",
            (metric, _ts(since), end),
        )

    def latest(self, metric: str) -> Sample | None:
        rows = self._rows(
            "SELECT metric, at, num, txt, error FROM samples WHERE metric = ? ORDER BY at DESC LIMIT 1", (metric,)
        )
        return rows[0] if rows else None

    def latest_good(self, metric: str) -> Sample | None:
        """The newest sample with a value (not a failed poll, not an empty result)."""
        rows = self._rows(
            "SELECT metric, at, num, txt, error FROM samples WHERE metric = ? AND error = '' "
            "AND (num IS NOT NULL OR txt IS NOT NULL) ORDER BY at DESC LIMIT 1",
            (metric,),
        )
        return rows[0] if rows else None

    def series(self, metric: str, since: datetime, until: datetime, buckets: int) -> list[Point]:
        """The numeric good samples in ``[since, until]`` as a chart ``buckets`` dots wide can show them: per
        bucket of time its lowest and its highest (so a spike survives), oldest first. A 48 h soak is
        thousands of samples; the chart needs a few hundred, and SQLite picks them."""
        start, width = _ts(since), bucket_width(since, until, buckets)
        where = "metric = ? AND at >= ? AND at <= ? AND num IS NOT NULL AND error = ''"
        args = (metric, start, _ts(until), start, width)
        bucket = "GROUP BY CAST((at - ?) / ? AS INTEGER)"  # SQLite: the bare ``at`` is the min's / max's row
        with self._lock:
            rows = self._db.execute(
                f"SELECT at, MIN(num) FROM samples WHERE {where} {bucket} "
                f"UNION SELECT at, MAX(num) FROM samples WHERE {where} {bucket} ORDER BY 1",
                args + args,
            ).fetchall()
        return [Point(_dt(at), float(num)) for at, num in rows]

    def stats(self, metric: str, start: datetime, end: datetime) -> Stats | None:
        """Count, min, max, p50, p99 of the numeric good samples in ``[start, end]``; None without any."""
        with self._lock:
            rows = self._db.execute(
                "SELECT num FROM samples WHERE metric = ? AND at >= ? AND at <= ? AND num IS NOT NULL "
                "AND error = '' ORDER BY num",
                (metric, _ts(start), _ts(end)),
            ).fetchall()
        values = [float(r[0]) for r in rows]
        if not values:
            return None
        return Stats(len(values), values[0], values[-1], percentile(values, 50), percentile(values, 99))

    def count(self, metric: str | None = None) -> int:
        with self._lock:
            if metric is None:
                return int(self._db.execute("SELECT COUNT(*) FROM samples").fetchone()[0])
            return int(self._db.execute("SELECT COUNT(*) FROM samples WHERE metric = ?", (metric,)).fetchone()[0])

    def put_record(self, kind: str, at: datetime, body: dict[str, Any], *, news: bool = True) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO records (kind, at, body) VALUES (?, ?, ?)", (kind, _ts(at), encode(body))
            )

    def records(self) -> dict[str, Record]:
        with self._lock:
            rows = self._db.execute("SELECT kind, at, body FROM records").fetchall()
        return read_records(rows)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _check_regular(path: Path) -> None:
    """Refuse a history that is a symbolic link or not a regular file (one line, UnsafeFile)."""
    try:
        os.close(open_regular(path, os.O_RDONLY))
    except FileNotFoundError:
        pass


def _create(path: Path, mode: int) -> None:
    """Create the database file with ``mode`` (SQLite gives its -wal and -shm files the same)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        return
    os.fchmod(fd, mode)
    os.close(fd)
def read_records(rows: list[tuple[str, float, str]]) -> dict[str, Record]:
    """``records`` rows (kind, unix time, body) as :class:`Record` by kind, unreadable bodies left out."""
    out = {}
    for kind, at, text in rows:
        body = decode(text)
        if body is not None:
            out[str(kind)] = Record(str(kind), _dt(float(at)), body)
    return out


def bucket_width(since: datetime, until: datetime, buckets: int) -> float:
    """Seconds per bucket when ``[since, until]`` is cut into ``buckets`` (``series``)."""
    return max((until - since).total_seconds() / max(buckets, 1), 1e-6)


def _sample(row: tuple[str, float, float | None, str | None, str]) -> Sample:
    metric, at, num, txt, error = row
    value: float | str | None = num if num is not None else txt
    return Sample(metric, _dt(at), value, error or "")

"""The SQLite history: persistence across restarts, stats for the export, bounded size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cockpit.store.backend import open_history
from cockpit.store.history import History, Sample, SqliteHistory, Stats
from cockpit.store.paths import history_path
from tests.core_helpers import example_plan, example_text

T0 = datetime(2024, 12, 12, 9, 0, tzinfo=UTC)


def test_samples_latest_and_restart(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    h = SqliteHistory(path)
    h.add(Sample("lat", T0, 120.0))
    h.add(Sample("lat", T0 + timedelta(seconds=5), None, "timed out after 5s"))
    h.add(Sample("health", T0, "healthy"))
    h.add(Sample("err", T0, None))  # no data
    h.close()
    h = SqliteHistory(path)  # a restart keeps everything
    assert h.samples("lat", T0) == [
        Sample("lat", T0, 120.0),
        Sample("lat", T0 + timedelta(seconds=5), None, "timed out after 5s"),
    ]
    assert h.latest("lat") == Sample("lat", T0 + timedelta(seconds=5), None, "timed out after 5s")
    assert h.latest_good("lat") == Sample("lat", T0, 120.0)
    assert h.latest("health") == Sample("health", T0, "healthy")
    assert h.latest("err") == Sample("err", T0, None) and h.latest_good("err") is None
    assert h.latest("nothing") is None
    assert h.samples("lat", T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)) == []
    h.close()


def test_stats_over_good_numeric_samples(tmp_path: Path) -> None:
    h = SqliteHistory(tmp_path / "h.sqlite3")
    for i in range(1, 101):
        h.add(Sample("lat", T0 + timedelta(seconds=i), float(i)))
    h.add(Sample("lat", T0 + timedelta(seconds=50, milliseconds=1), None, "boom"))
    assert h.stats("lat", T0, T0 + timedelta(minutes=5)) == Stats(100, 1.0, 100.0, 50.0, 99.0)
    assert h.stats("lat", T0 + timedelta(hours=1), T0 + timedelta(hours=2)) is None
    h.close()


def test_downsampling_and_retention_bound_the_size(tmp_path: Path) -> None:
    h = SqliteHistory(tmp_path / "h.sqlite3", retention=timedelta(hours=6))
    # 24 h of a 5 s poll: 17280 samples, with a failed poll in minute 600
    for i in range(24 * 720):
        at = T0 + timedelta(seconds=5 * i)
        h.add(Sample("m", at, None, "refused") if i == 600 * 12 + 3 else Sample("m", at, float(i)))
    h.compact()
    # last hour full resolution (720), the 5 h before at one per minute (300), older deleted
    assert 1000 <= h.count("m") <= 1030
    newest = h.latest("m")
    assert newest is not None and newest.value == float(24 * 720 - 1)
    assert h.samples("m", T0, T0 + timedelta(hours=17)) == []
    old = h.samples("m", T0 + timedelta(hours=20), T0 + timedelta(hours=20, minutes=10))
    assert len(old) == 10  # one per minute
    h.close()


def test_downsampling_keeps_failed_polls_visible(tmp_path: Path) -> None:
    h = SqliteHistory(tmp_path / "h.sqlite3")
    for i in range(12):
        at = T0 + timedelta(seconds=5 * i)
        h.add(Sample("m", at, None, "refused") if i == 4 else Sample("m", at, 1.0))
    h.add(Sample("m", T0 + timedelta(hours=3), 1.0))
    h.compact()
    first_minute = h.samples("m", T0, T0 + timedelta(minutes=1))
    assert [s.error for s in first_minute] == ["refused"]
    h.close()


def test_retention_comes_from_the_plan(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path))
    text = example_text().replace('history_retention = "14d"', 'history_retention = "2d"')
    loaded = example_plan(text=text)
    assert history_path(loaded).is_relative_to(tmp_path)
    assert loaded.plan.defaults.history_retention.days == 2
    history = open_history(loaded)
    try:
        assert history.retention.days == 2
    finally:
        history.close()


def check_series(history: History | Any) -> None:
    """``series`` as the charts read it (shared with the PostgreSQL history's test)."""
    for i in range(1000):  # 1000 s of samples
        history.add(Sample("lat", T0 + timedelta(seconds=i), 100.0 + i % 7))
    history.add(Sample("lat", T0 + timedelta(seconds=700, milliseconds=500), 999.0))  # a spike
    history.add(Sample("lat", T0 + timedelta(seconds=300, milliseconds=500), 1.0))  # a dip
    history.add(Sample("lat", T0 + timedelta(seconds=400, milliseconds=500), None, "timed out"))
    history.add(Sample("lat", T0 + timedelta(seconds=400, milliseconds=600), "weird text"))
    points = history.series("lat", T0, T0 + timedelta(seconds=1000), 10)
    assert 10 <= len(points) <= 20  # the lowest and the highest of each of 10 buckets
    assert [p.at for p in points] == sorted(p.at for p in points)
    assert (T0 + timedelta(seconds=700, milliseconds=500), 999.0) in points
    assert (T0 + timedelta(seconds=300, milliseconds=500), 1.0) in points
    assert all(isinstance(p.value, float) and 1.0 <= p.value <= 999.0 for p in points)
    assert history.series("lat", T0 + timedelta(hours=2), T0 + timedelta(hours=3), 10) == []
    wide = history.series("lat", T0, T0 + timedelta(seconds=1000), 10_000)  # more buckets than samples
    assert len(wide) == 1002  # every numeric good sample, once


def test_series_thins_for_a_chart_and_keeps_spikes(tmp_path: Path) -> None:
    history = SqliteHistory(tmp_path / "h.sqlite3")
    check_series(history)
    history.close()

"""One unit per row of the export: a relative row's figures are changes, its absolute range apart; text counts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.clock import FakeClock
from cockpit.export.markdown import render_markdown
from cockpit.export.model import build_record
from cockpit.rollout import Rollout
from cockpit.store.history import SqliteHistory
from tests.rollout_script import drive_full_rollout, make_rollout


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:  # type: ignore[type-arg]
    tmp = tmp_path_factory.mktemp("units")
    clock = FakeClock()
    rollout = make_rollout(tmp, clock)
    history = SqliteHistory(tmp / "history.sqlite3")
    drive_full_rollout(rollout, clock, history)
    yield build_record(rollout, history)
    history.close()


def _row(record: dict, stage: str, metric: str) -> dict:  # type: ignore[type-arg]
    (found,) = [t for s in record["stages"] if s["id"] == stage for t in s["thresholds"] if t["metric"] == metric]
    return found  # type: ignore[no-any-return]


def test_a_relative_row_shows_changes_and_its_absolute_range_apart(record: dict) -> None:  # type: ignore[type-arg]
    row = _row(record, "stage-2", "error_rate")  # "< +5%" against a baseline of 0.4 %
    assert row["unit"] == "% change"
    # the samples are 0.4 % +- 10 %: the change runs from -10 % to +10 %, the absolute values 0.36 to 0.44
    assert row["min"] == pytest.approx(-10.0) and row["max"] == pytest.approx(10.0)
    assert row["absolute"] == {"min": 0.36, "max": 0.44, "unit": "%"}
    assert -10.0 <= row["at_gate"] <= 10.0
    line = next(ln for ln in render_markdown(record).splitlines() if ln.startswith("| Error rate change |"))
    assert "| % change |" in line and "| 0.36 – 0.44 % |" in line
    assert "| -10 | 10 |" in line  # Min and Max in the row's unit


def test_a_rate_row_shows_rates(record: dict) -> None:  # type: ignore[type-arg]
    row = _row(record, "stage-3", "heartbeat_misses")  # "< 5/hour" over a counter
    assert row["unit"] == "/hour" and row["absolute"]["unit"] == "count"
    assert row["max"] >= 8.0  # the spike: 4 more every 30 minutes is 8/hour, the counter itself is far higher
    assert row["absolute"]["max"] > row["max"]


def test_a_text_row_counts_its_samples(record: dict) -> None:  # type: ignore[type-arg]
    row = _row(record, "stage-0", "health")
    assert row["count"] > 0 and row["unit"] == "" and row["min"] == ""
    line = next(ln for ln in render_markdown(record).splitlines() if ln.startswith("| Health status |"))
    assert "| — | — | — | — |" in line and f"| {row['count']} |" in line


def test_a_flag_never_changed_reads_off_unchanged(tmp_path: Path) -> None:
    rollout: Rollout = make_rollout(tmp_path, FakeClock())
    rollout.note("nothing changed yet")
    record = build_record(rollout)
    assert [f["state"] for f in record["flags"]] == ["off (unchanged since the rollout began)"] * 2
    text = render_markdown(record)
    assert "| FEATURE_FLAG_DLQ_ENABLED | off (unchanged) | 0% | since the rollout began |" in text
    assert "unknown" not in text and "| pending |" not in text.split("## Feature Flags")[1].split("##")[0]

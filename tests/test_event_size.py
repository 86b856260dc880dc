"""A monitored service cannot brick the record with one long value. A text metric's value could be as long as
its body (1 MB): a breach recorded it whole, and a line over the log's line limit (1 MiB, more once controls
are escaped) made every later read of the log fail ("a line longer than … not a cockpit audit log"). A text
value is now cut to what a status word needs, and no event longer than the record takes is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit import events as ev
from cockpit.plan.model import Metric
from cockpit.rollout import RolloutError
from cockpit.sources.values import MAX_TEXT_VALUE, cut_text, to_value
from cockpit.store.filelog import FileStore
from tests.core_helpers import make_rollout


def test_a_text_value_is_cut_to_a_status_words_length() -> None:
    value = cut_text(str(to_value("\x01" * 900_000, Metric(title="Health", source="app", kind="text"))))
    assert len(value) <= MAX_TEXT_VALUE + 40 and "more characters" in value
    assert cut_text("healthy") == "healthy"


def test_a_secret_is_masked_before_the_value_is_cut(tmp_path: Path) -> None:
    """Cut first, a token straddling the cut would be left half-shown where the whole would have been masked."""
    loaded = make_rollout(tmp_path).loaded
    token = "tok-s3cr3t-value"  # the example plan's APP_TOKEN in these tests
    echoed = "x" * (MAX_TEXT_VALUE - 5) + token + "y" * 50
    kept = cut_text(loaded.env.redact(echoed))
    assert "tok-s" not in kept and "s3cr3t" not in kept


def test_an_event_larger_than_the_record_takes_is_refused_and_the_log_stays_readable(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path)
    rollout.note("before")
    with pytest.raises(RolloutError, match="larger than the record takes"):
        rollout.record(
            ev.BREACH_OPENED, {"metric": "health", "value": "\x01" * 300_000, "threshold": "== ok", "stage": ""}
        )
    assert len(FileStore(tmp_path / "audit.jsonl").read(0)) == 2  # plan.changed, the note: still readable
    rollout.note("after")
    assert rollout.state.count == 3

"""The sign-off export: golden files of a full rollout, round-trips, partial exports, redaction, --verify."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w

from cockpit import events as ev
from cockpit.clock import FakeClock
from cockpit.export.model import build_record
from cockpit.export.render import FORMATS, Format, export_text
from cockpit.export.verify import Recorded, first_difference, read_recorded
from cockpit.rollout import Rollout
from cockpit.store.history import History, SqliteHistory
from tests.rollout_script import SECRET, drive_full_rollout, make_rollout

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Rollout, History]]:
    tmp = tmp_path_factory.mktemp("full")
    clock = FakeClock()
    rollout = make_rollout(tmp, clock)
    history = SqliteHistory(tmp / "history.sqlite3")
    drive_full_rollout(rollout, clock, history)
    yield rollout, history
    history.close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_golden(full: tuple[Rollout, History], fmt: Format) -> None:
    rollout, history = full
    text = export_text(rollout, fmt, history)
    golden = GOLDEN / f"full-rollout.{fmt}"
    if os.environ.get("COCKPIT_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"{golden} missing: run with COCKPIT_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8")


def test_toml_and_json_round_trip_to_the_same_record(full: tuple[Rollout, History]) -> None:
    rollout, history = full
    record = build_record(rollout, history)
    assert json.loads(export_text(rollout, "json", history)) == record
    assert tomllib.loads(export_text(rollout, "toml", history)) == record
    assert tomllib.loads(tomli_w.dumps(record)) == json.loads(json.dumps(record))


def test_full_record_has_the_breach_kill_override_and_note(full: tuple[Rollout, History]) -> None:
    record = build_record(*full)
    assert record["export"]["status"] == "complete"
    assert [b["metric"] for b in record["breaches"]] == ["dlq_entries", "heartbeat_misses"]
    stage2 = next(s for s in record["stages"] if s["id"] == "stage-2")
    assert stage2["canary"][0]["soak"]["broken"] is True
    assert stage2["canary"][1]["soak"]["broken"] is False
    assert [t["type"] for t in record["kills"][0]["timeline"]] == [
        ev.KILL_REQUESTED,
        ev.KILL_FLAG_RESULT,
        ev.KILL_RESULT,
    ]
    assert record["overrides"][0]["reason"].startswith("health script not deployed")
    incident = record["incidents"][0]
    assert [s["met"] for s in incident["steps"]] == [True, False, True, True]  # the ticket came at 7 minutes
    assert "Handoff" in record["notes"][0]["text"]
    assert all(s["signed"] for s in record["signoff"])
    count, head = full[0].store.head()
    assert count == record["audit"]["count"] and head == record["audit"]["head"]


def test_markdown_carries_a_chart_with_its_threshold(full: tuple[Rollout, History]) -> None:
    text = export_text(full[0], "md", full[1])
    assert "DLQ entries (< 10), hours since" in text
    assert "\x1b[" not in text  # colorless
    assert text.count("```") % 2 == 0


def test_partial_rollout_shows_done_and_pending(tmp_path: Path) -> None:
    clock = FakeClock()
    rollout = make_rollout(tmp_path, clock)
    rollout.approve("dev-lead")
    record = build_record(rollout)
    assert record["export"]["status"] == "not started"
    assert [a["signed"] for a in record["approvals"]] == [True, False, False]
    assert all(s["status"] == "pending" for s in record["stages"])
    assert tomllib.loads(tomli_w.dumps(record)) == record
    text = export_text(rollout, "md")
    assert "| @alok | Dev Lead | ☑ |" in text and "| @product | Product Owner | ☐ |" in text
    assert "- [ ] Deploy code to production (feature flags OFF) — pending" in text
    assert "- [ ] Wait 24 hours before increasing to 100% — pending" in text


def test_partial_rollout_mid_soak(tmp_path: Path) -> None:
    clock = FakeClock()
    rollout = make_rollout(tmp_path, clock)
    for role, user in (("dev-lead", "a"), ("ops-oncall", "b"), ("product-owner", "c")):
        rollout.actor = ev.Actor(user, 1, "h")
        rollout.approve(role)
    rollout.advance()
    rollout.tick("stage-0", "deploy")
    record = build_record(rollout)
    stage0 = record["stages"][0]
    assert record["export"]["status"] == "in progress" and stage0["status"] == "current"
    assert [i["done"] for i in stage0["items"]] == [True, False, False]
    assert stage0["thresholds"][0]["at_gate"] == ""  # no gate yet
    assert json.loads(json.dumps(record)) == record


def test_no_secret_in_any_format(tmp_path: Path) -> None:
    clock = FakeClock()
    url = "http://127.0.0.1:8700/a-plain-path"
    rollout = make_rollout(tmp_path, clock, {"APP_URL": url})
    rollout.loaded.env.resolve("${APP_URL}")  # a base URL, not a credential: used, never masked
    history = SqliteHistory(tmp_path / "history.sqlite3")
    drive_full_rollout(rollout, clock, history)
    rollout.note(f"token was {SECRET} and url {url}")
    for fmt in FORMATS:
        text = export_text(rollout, fmt, history)
        assert SECRET not in text, fmt
        assert "***" in text and "a-plain-path" in text
    assert SECRET not in (tmp_path / "audit.jsonl").read_text()


def test_verify_accepts_a_matching_log_and_later_events(tmp_path: Path) -> None:
    clock = FakeClock()
    rollout = make_rollout(tmp_path, clock)
    drive_full_rollout(rollout, clock)
    for fmt in FORMATS:
        path = tmp_path / f"export.{fmt}"
        path.write_text(export_text(rollout, fmt))
        recorded = read_recorded(path)
        assert (recorded.count, recorded.head) == rollout.store.head() and len(recorded.sha256) == 64
        assert first_difference(recorded, rollout.store) is None
    rollout.note("after the export")
    assert first_difference(read_recorded(tmp_path / "export.md"), rollout.store) is None


def test_verify_finds_a_changed_log(tmp_path: Path) -> None:
    clock = FakeClock()
    rollout = make_rollout(tmp_path, clock)
    drive_full_rollout(rollout, clock)
    path = tmp_path / "export.json"
    path.write_text(export_text(rollout, "json"))
    log = tmp_path / "audit.jsonl"
    log.write_text(_edit_note(log.read_text()))
    problem = first_difference(read_recorded(path), make_rollout(tmp_path, clock).store)
    assert problem is not None and "was changed" in problem and "note.added" in problem


def test_verify_finds_a_different_log(tmp_path: Path) -> None:
    clock = FakeClock()
    rollout = make_rollout(tmp_path / "a", clock)
    drive_full_rollout(rollout, clock)
    path = tmp_path / "export.md"
    path.write_text(export_text(rollout, "md"))
    other_clock = FakeClock()
    other = make_rollout(tmp_path / "b", other_clock)
    other.note("a log that starts differently")
    drive_full_rollout(other, other_clock)
    problem = first_difference(read_recorded(path), other.store)
    assert problem is not None and "differs" in problem


def test_verify_finds_a_shorter_log(tmp_path: Path) -> None:
    clock = FakeClock()
    rollout = make_rollout(tmp_path, clock)
    rollout.approve("dev-lead")
    rollout.note("one")
    recorded = Recorded(5, "0" * 64)
    problem = first_difference(recorded, rollout.store)
    assert problem is not None and "only 3" in problem  # plan.changed, approval, note


def _edit_note(text: str) -> str:
    """Rewrite the handoff note in place, keeping the line's hash (as a forger would try)."""
    assert "retaking 5%" in text
    return text.replace("retaking 5%", "retaking 50%", 1)

"""A failed check is never a ticked box: ✗ FAILED, with the override's reason and who gave it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from textual.app import App, ComposeResult

from cockpit.clock import FakeClock
from cockpit.export.markdown import render_markdown
from cockpit.export.model import build_record
from cockpit.rollout import Rollout
from cockpit.status import status_dict
from tests.core_helpers import OPS, as_actor, make_rollout
from widgets.gate import Gate

REASON = "DB unreachable from bastion-1; job_dlq checked by hand in psql"


def _failed_then_overridden(tmp_path: Path, *, override: bool = True) -> Rollout:
    rollout = make_rollout(tmp_path, FakeClock(datetime(2024, 12, 12, 9, 0, tzinfo=UTC)))
    rollout.advance(override="test: to stage 0")
    rollout.advance(override="test: to stage 1")
    rollout.record_check("stage-1", "dlq-table", False, "", "connection refused")
    if override:
        as_actor(rollout, OPS).advance(override=REASON)
    return rollout


def test_the_export_shows_a_failed_check_as_failed_with_the_override(tmp_path: Path) -> None:
    record = build_record(_failed_then_overridden(tmp_path))
    (check,) = [c for c in record["stages"][1]["checks"] if c["id"] == "dlq-table"]
    assert check["status"] == "FAILED" and check["done"] is False
    assert check["override"]["reason"] == REASON and check["override"]["user"] == "oncall"
    text = render_markdown(record)
    (line,) = [ln for ln in text.splitlines() if "Check DLQ table" in ln and ln.startswith("- [")]
    assert line.startswith("- [ ] ✗ FAILED") and "[x]" not in line
    assert "connection refused" in line and f'overridden by oncall@bastion-2, 2024-12-12 09:00 UTC: "{REASON}"' in line


def test_status_names_the_failed_check_and_who_overrode_it(tmp_path: Path) -> None:
    data = status_dict(_failed_then_overridden(tmp_path))
    (check,) = [c for c in data["checks"] if c["id"] == "dlq-table"]
    assert check["status"] == "FAILED" and check["override_reason"] == REASON
    assert check["overridden_by"] == "oncall@bastion-2"
    assert check["line"].startswith("✗ FAILED Check DLQ table")


class GateApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Gate()


async def test_the_gate_widget_shows_a_failed_check(tmp_path: Path) -> None:
    rollout = _failed_then_overridden(tmp_path, override=False)
    app = GateApp()
    async with app.run_test(size=(100, 30)) as pilot:
        gate = app.query_one(Gate)
        gate.show(rollout.plan, rollout.state, rollout.blockers(), rollout.now(), "enter Stage 2")
        await pilot.pause()
        plain = str(gate.content)
        assert "✗ FAILED Check DLQ table" in plain and "connection refused" in plain

"""Every checkable cell of the user's seed checklist is filled by the export of a completed rollout."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from cockpit.clock import FakeClock
from cockpit.export.model import build_record
from cockpit.export.render import export_text
from cockpit.store.history import SqliteHistory
from tests.rollout_script import drive_full_rollout, make_rollout


def seed_path() -> Path:
    """shared/ is a sibling of the clone (CI) or of main/ (sessions); $COCKPIT_SEED overrides."""
    candidates = [Path(__file__).resolve().parents[2] / "shared/seed/rollout-checklist.md"]
    if os.environ.get("COCKPIT_SEED"):
        candidates.insert(0, Path(os.environ["COCKPIT_SEED"]))
    for path in candidates:
        if path.is_file():
            return path
    if os.environ.get("CI") == "true":
        pytest.fail("seed checklist not found: set COCKPIT_SEED or check out shared/ beside the clone")
    pytest.skip("seed checklist not found")


def seed_cells(text: str) -> dict[str, list[tuple[str, str]]]:
    """The seed's checkable cells as (section heading, text) by kind."""
    cells: dict[str, list[tuple[str, str]]] = {"approval": [], "item": [], "actual": [], "signoff": []}
    stage = subsection = ""
    for line in text.splitlines():
        if line.startswith("## "):
            stage, subsection = line[3:].strip(), ""
        elif line.startswith("### "):
            subsection = line[4:].strip()
        elif line.startswith("- [ ] "):
            cells["item"].append((stage, line[6:].strip()))
        elif line.startswith("| ") and not re.match(r"\|\s*(Approver|Metric|Role|Issue)\s*\|", line):
            cols = [c.strip() for c in line.strip().strip("|").split("|")]
            if stage == "Pre-Rollout Approvals" and "☐" in cols:
                cells["approval"].append((stage, cols[1]))
            elif subsection == "Metrics Thresholds":
                cells["actual"].append((stage, cols[0]))
            elif subsection == "Sign-Off":
                cells["signoff"].append((stage, cols[0]))
    return cells


def test_completed_export_fills_every_seed_cell(tmp_path: Path) -> None:
    cells = seed_cells(seed_path().read_text(encoding="utf-8"))
    counts = {kind: len(found) for kind, found in cells.items()}
    assert counts == {"approval": 3, "item": 33, "actual": 9, "signoff": 3}

    clock = FakeClock()
    rollout = make_rollout(tmp_path, clock)
    history = SqliteHistory(tmp_path / "history.sqlite3")
    drive_full_rollout(rollout, clock, history)
    record = build_record(rollout, history)
    md = export_text(rollout, "md", history).splitlines()

    for _, role in cells["approval"]:
        row = next(a for a in record["approvals"] if a["title"] == role)
        assert row["signed"] and row["user"] and row["at"] and row["digest_current"], role
        assert any(line.startswith("| ") and f"| {role} | ☑ |" in line and row["digest"][:12] in line for line in md)

    for stage, text in cells["item"]:  # actions, verifications, wait periods, the final checklist
        done = [line for line in md if line.startswith(f"- [x] {text}") and "UTC" in line]
        assert done, f"{stage}: not filled: {text}"

    stages = {s["title"]: s for s in record["stages"]}
    for stage, label in cells["actual"]:
        row = next(t for t in stages[stage]["thresholds"] if t["label"] == label)
        assert row["at_gate"] != "" and row["at_gate_time"] and row["ok"] is True, (stage, label)
        if row["kind"] != "text":
            assert row["count"] > 0 and row["min"] != "" and row["p99"] != "", (stage, label)
        assert any(line.startswith(f"| {label} |") and "at gate" in line for line in md), label

    for stage_record in record["stages"]:  # every wait period: actual start, end, duration, breaks
        for step in stage_record["canary"]:
            soak = step["soak"]
            assert soak["status"] == "completed" and soak["start"] and soak["end"] and soak["actual"], step["id"]

    for _, role in cells["signoff"]:
        row = next(s for s in record["signoff"] if s["title"] == role)
        assert row["signed"] and row["user"] and row["at"], role
        assert any(re.match(rf"\| {re.escape(role)} \| \S+@\S+ \| \d{{4}}-", line) for line in md), role

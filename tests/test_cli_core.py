"""The headless commands an approver runs from their own SSH session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cockpit.cli.main import main
from cockpit.cli.tui import UI_GROUP, entry_point_value, load_ui
from tests.core_helpers import ENV, EXAMPLE


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COCKPIT_CONFIG", str(EXAMPLE))


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_validate_summarises_the_plan(capsys) -> None:
    code, out, _ = _run(capsys, "validate")
    assert code == 0
    assert "valid plan" in out and "Stage 2: Enable DLQ (5% → 100%)" in out
    assert "5% soak 24h → 100% soak 24h" in out
    assert "point of no return" in out


def test_status_before_anything(capsys) -> None:
    code, out, _ = _run(capsys, "status")
    assert code == 0
    assert "stage: Pre-rollout approvals" in out
    assert "gate: CLOSED — to enter Stage 0: Baseline Deployment" in out
    assert "approval missing: Dev Lead (@alok)" in out


def test_approve_tick_note_advance_status_json(capsys, tmp_path: Path) -> None:
    assert _run(capsys, "approve", "dev-lead")[0] == 0
    code, _, err = _run(capsys, "approve", "ops-oncall")
    assert code == 1 and "cannot sign two roles" in err
    code, _, err = _run(capsys, "advance")
    assert code == 1 and "gate closed, cannot enter Stage 0" in err and "Ops On-Call" in err
    code, _, err = _run(capsys, "advance", "--override", " ")
    assert code == 1 and "typed reason" in err
    assert _run(capsys, "advance", "--override", "drill: two approvers on leave")[0] == 0
    assert _run(capsys, "tick", "stage-0", "deploy")[0] == 0
    code, _, err = _run(capsys, "tick", "stage-0", "deploy")
    assert code == 1 and "already ticked" in err
    code, _, err = _run(capsys, "tick", "stage-0", "nope")
    assert code == 1 and "has no item 'nope'" in err
    assert _run(capsys, "note", "handing", "over")[0] == 0
    code, out, _ = _run(capsys, "status", "--json")
    data = json.loads(out)
    assert data["stage"]["id"] == "stage-0"
    assert data["overrides"][0]["reason"] == "drill: two approvers on leave"
    assert data["approvals"][0]["valid"] is True and data["approvals"][1]["signed_by"] is None
    assert "not ticked: Verify build successful on Render" in data["gate"]["blockers"]
    code, _, err = _run(capsys, "advance")  # in a stage, its live thresholds are polled and judged too
    assert code == 1 and "Health status: ERROR" in err and "not ticked: Deploy" not in err
    assert data["audit"]["events"] == 6  # plan.changed, then what was done
    code, out, _ = _run(capsys, "audit", "show")
    assert code == 0 and len(out.splitlines()) == 6 and "note.added" in out and "stages" not in out
    code, out, _ = _run(capsys, "audit", "verify")
    assert code == 0 and "OK, 6 events" in out
    audit = tmp_path / "state" / "alokickflow-phase2" / "audit.jsonl"
    assert audit.exists()


def test_unknown_role_is_a_clear_error(capsys) -> None:
    code, _, err = _run(capsys, "approve", "cto")
    assert code == 1
    assert err.strip() == "cockpit: unknown role 'cto'; roles are: dev-lead, ops-oncall, product-owner"


def test_usage_error_exits_2(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["tick", "stage-0"])
    assert exc.value.code == 2
    assert "required: item" in capsys.readouterr().err


def test_torn_log_is_reported_by_commands(capsys, tmp_path: Path) -> None:
    assert _run(capsys, "note", "first")[0] == 0
    audit = tmp_path / "state" / "alokickflow-phase2" / "audit.jsonl"
    with audit.open("a") as fh:
        fh.write('{"seq": 2, "ti')
    code, _, err = _run(capsys, "note", "second")
    assert code == 1 and "torn last line" in err and "cockpit audit repair" in err
    code, out, _ = _run(capsys, "status")
    assert code == 0 and "AUDIT LOG:" in out and "torn last line" in out
    code, _, err = _run(capsys, "audit", "show")
    assert code == 1 and "torn last line" in err
    code, out, _ = _run(capsys, "audit", "repair")
    assert code == 0 and "torn line moved to" in out
    code, out, _ = _run(capsys, "audit", "verify")
    assert code == 0 and "OK, 3 events" in out


def test_readonly_refuses_writes(capsys) -> None:
    code, _, err = _run(capsys, "--readonly", "note", "hello")
    assert code == 1 and "read-only" in err


def test_the_dashboard_is_found_through_its_entry_point(tmp_path: Path) -> None:
    """``cockpit`` finds the UI by the ``rollout_cockpit.ui`` entry point, read straight from dist-info."""

    assert entry_point_value(UI_GROUP, "dashboard") == "screens.main:run"  # this install's pyproject.toml
    site = tmp_path / "site"
    (site / "other-1.0.dist-info").mkdir(parents=True)
    (site / "other-1.0.dist-info" / "entry_points.txt").write_text("[console_scripts]\ndashboard = nope:run\n")
    (site / "ui-2.0.dist-info").mkdir()
    (site / "ui-2.0.dist-info" / "entry_points.txt").write_text(f"[{UI_GROUP}]\n  dashboard = pkg.ui : run \n")
    assert entry_point_value(UI_GROUP, "dashboard", [str(site), str(tmp_path / "missing")]) == "pkg.ui : run"
    assert entry_point_value(UI_GROUP, "other", [str(site)]) is None
    run = load_ui("dashboard")
    assert callable(run) and run.__module__ == "screens.main"

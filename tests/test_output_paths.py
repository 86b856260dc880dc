"""No command's ``-o`` lands on the record. ``export -o``, ``db export -o`` and ``incident capture --out`` were
guarded; ``plan import -o FILE --force`` overwrote the audit log with TOML (through a link, or named directly),
and ``audit anchor -o FILE`` appended a line to it, breaking the chain. Every output path now goes through one
check: not inside any rollout's state directory (the state root) or this plan's record, not a link, not a
device; and the record is byte-identical afterwards."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cockpit.cli.main import main
from tests.core_helpers import ENV, EXAMPLE

ROOT = Path(__file__).resolve().parent.parent
CHECKLIST = ROOT.parent / "shared" / "seed" / "rollout-checklist.md"


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COCKPIT_CONFIG", str(EXAMPLE))
    monkeypatch.chdir(tmp_path)
    assert main(["note", "the record"]) == 0
    path = tmp_path / "state" / "alokickflow-phase2" / "audit.jsonl"
    assert path.is_file()
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def checklist(tmp_path: Path) -> Path:
    path = tmp_path / "checklist.md"
    path.write_text(CHECKLIST.read_text() if CHECKLIST.is_file() else "# Rollout\n\n## Stage 0\n\n- [ ] Deploy\n")
    return path


@pytest.mark.parametrize("via_link", [False, True], ids=["named", "through-a-link"])
def test_plan_import_never_overwrites_the_log(
    log: Path, tmp_path: Path, via_link: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    before = digest(log)
    target = log
    if via_link:
        target = tmp_path / "plan.toml"
        target.symlink_to(log)
    assert main(["plan", "import", str(checklist(tmp_path)), "-o", str(target), "--force"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "refusing to write" in err or "where the rollout's record lives" in err, err
    assert digest(log) == before
    assert main(["audit", "verify"]) == 0


@pytest.mark.parametrize("via_link", [False, True], ids=["named", "through-a-link"])
def test_audit_anchor_never_appends_to_the_log(
    log: Path, tmp_path: Path, via_link: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    before = digest(log)
    target = log
    if via_link:
        target = tmp_path / "anchors.jsonl"
        target.symlink_to(log)
    assert main(["audit", "anchor", "--no-post", "-o", str(target)]) == 2
    assert digest(log) == before
    assert main(["audit", "verify"]) == 0


def test_no_output_lands_in_another_rollouts_state_directory(log: Path, tmp_path: Path) -> None:
    other = tmp_path / "state" / "another-rollout"
    other.mkdir()
    (other / "audit.jsonl").write_text("")
    for argv in (
        ["export", "-o", str(other / "audit.jsonl"), "--force"],
        ["plan", "import", str(checklist(tmp_path)), "-o", str(other / "audit.jsonl"), "--force"],
        ["audit", "anchor", "--no-post", "-o", str(other / "audit.jsonl")],
    ):
        assert main(argv) == 2, argv
        assert (other / "audit.jsonl").read_text() == "", argv


def test_the_outputs_still_work_where_they_belong(log: Path, tmp_path: Path) -> None:
    draft = tmp_path / "draft.toml"
    assert main(["plan", "import", str(checklist(tmp_path)), "-o", str(draft)]) == 0
    assert draft.read_text().startswith("# Draft rollout plan")
    assert main(["plan", "import", str(checklist(tmp_path)), "-o", str(draft)]) == 0  # a draft may be re-imported
    anchors = tmp_path / "anchors.jsonl"
    assert main(["audit", "anchor", "--no-post", "-o", str(anchors)]) == 0
    assert main(["audit", "anchor", "--no-post", "-o", str(anchors)]) == 0  # appended: one line each
    assert len(anchors.read_text().splitlines()) == 2

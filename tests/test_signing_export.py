"""The export shows each signed decision's principal and key; ``export --verify`` re-checks them (real keys)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core_helpers import ENV, EXAMPLE
from tests.signing_support import Keys, write_plan
from tests.test_signing_cli import approve_as, run


@pytest.fixture
def plan(tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch) -> Path:
    allowed = tmp_path / "allowed_signers"  # a copy: a test takes a key out of it
    allowed.write_text(keys.allowed.read_text())
    return write_plan(tmp_path, allowed, monkeypatch)


def test_export_shows_principal_and_fingerprint_and_verify_rechecks(
    plan: Path,
    keys: Keys,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    approve_as(capsys, monkeypatch, keys, "alice", "dev-lead")
    approve_as(capsys, monkeypatch, keys, "bob", "ops-oncall")
    assert run(capsys, "approve", "product-owner")[0] == 0  # no agent: unsigned
    out_dir = tmp_path_factory.mktemp("exports")  # not under the log's directory: no export may land there
    md, js = out_dir / "signoff.md", out_dir / "signoff.json"
    assert run(capsys, "export", "-o", str(md))[0] == 0
    assert run(capsys, "export", "-o", str(js))[0] == 0
    text = md.read_text()
    section = text[text.index("## Signed Decisions") : text.index("## Audit")]
    alice = next(line for line in section.splitlines() if "alice@example.com" in line)
    assert alice.startswith("| 2 | approval.signed |") and "`SHA256:" in alice and "🔏 signed" in alice
    assert "| 4 | approval.signed |" in section and "| unsigned |" in section
    rows = json.loads(js.read_text())["signatures"]
    assert [(r["seq"], r["principal"], r["status"]) for r in rows] == [
        (2, "alice@example.com", "signed"),  # 1 is the plan.changed the first write records
        (3, "bob@example.com", "signed"),
        (4, "", "unsigned"),
    ]
    assert rows[0]["fingerprint"].startswith("SHA256:")
    for export in (md, js):
        code, out, err = run(capsys, "export", "--verify", str(export))
        assert code == 0, err
        assert "3 decision(s) shown with the principal and key the log has; signatures re-checked" in out
    # a reviewer's copy of the log, anywhere
    copy = tmp_path / "reviewer" / "audit.jsonl"
    copy.parent.mkdir()
    copy.write_bytes((tmp_path / "audit.jsonl").read_bytes())
    code, out, err = run(capsys, "export", "--verify", str(md), "--log", str(copy))
    assert code == 0 and "signatures re-checked" in out, err
    # the export edited to show another key: caught
    md.write_text(text.replace(rows[0]["fingerprint"], "SHA256:" + "A" * 43))
    code, _, err = run(capsys, "export", "--verify", str(md))
    assert code == 1 and "event 2 (approval.signed): the export shows alice@example.com SHA256:AAAA" in err
    # bob's key taken out of allowed_signers since: his signed approval no longer checks
    allowed = tmp_path / "allowed_signers"
    allowed.write_text("".join(line + "\n" for line in allowed.read_text().splitlines() if not line.startswith("bob")))
    code, _, err = run(capsys, "export", "--verify", str(js))
    assert code == 1 and "event 3 (approval.signed): not allowed: key SHA256:" in err


def test_an_export_without_signatures_has_no_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COCKPIT_CONFIG", str(EXAMPLE))
    assert run(capsys, "approve", "dev-lead")[0] == 0
    code, out, _ = run(capsys, "export", "--format", "json")
    assert code == 0 and "signatures" not in json.loads(out)

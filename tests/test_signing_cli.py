"""``cockpit audit verify`` with signatures and anchors, ``cockpit audit anchor``, ``--key``: real keys and agents."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cockpit import events as ev
from cockpit.cli.main import main
from cockpit.events import Event
from tests.signing_support import Keys, fingerprint, rewrite, write_plan
from tests.test_notify import Receiver


@pytest.fixture
def plan(tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch) -> Path:
    return write_plan(tmp_path, keys.allowed, monkeypatch)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def approve_as(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, keys: Keys, person: str, role: str
) -> str:
    monkeypatch.setenv("SSH_AUTH_SOCK", keys.sock(person))
    code, out, err = run(capsys, "approve", role)
    monkeypatch.delenv("SSH_AUTH_SOCK")
    assert code == 0, err
    return out


def test_approve_says_who_signed_and_verify_checks_every_decision(
    plan: Path, keys: Keys, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = approve_as(capsys, monkeypatch, keys, "alice", "dev-lead")
    assert "signed dev-lead (event 2" in out  # event 1: the plan, recorded with the first write and "signed by alice@example.com SHA256:" in out
    approve_as(capsys, monkeypatch, keys, "bob", "ops-oncall")
    code, out, err = run(capsys, "audit", "verify")
    assert code == 0, err
    assert "chain intact" in out and "signatures: 2 decisions, 2 signed by an allowed key" in out
    # a bare log and an allowed_signers file, no plan: what a reviewer holds
    monkeypatch.delenv("COCKPIT_CONFIG")
    code, out, err = run(
        capsys, "audit", "verify", str(tmp_path / "audit.jsonl"), "--allowed-signers", str(keys.allowed)
    )
    assert code == 0 and "2 signed by an allowed key" in out


def test_verify_names_unsigned_not_allowed_and_bad_signatures(
    plan: Path, keys: Keys, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    approve_as(capsys, monkeypatch, keys, "bob", "dev-lead")  # bob's key, Dev Lead's role: not allowed
    code, out, err = run(capsys, "approve", "ops-oncall")  # no agent, no key: recorded unsigned, said so
    assert code == 0 and "recorded unsigned: no SSH agent ($SSH_AUTH_SOCK is not set) and no --key FILE" in err
    monkeypatch.setenv("SSH_AUTH_SOCK", keys.sock("mallory"))  # a key allowed_signers does not list
    assert run(capsys, "advance", "--override", "mallory says go")[0] == 0
    monkeypatch.delenv("SSH_AUTH_SOCK")
    code, out, err = run(capsys, "audit", "verify")
    assert code == 1
    assert "event 2 (approval.signed): not allowed: bob@example.com may not sign this role" in err
    assert "event 3 (approval.signed): unsigned" in out  # not a failure unless signatures are required
    assert "event 4 (gate.overridden): not allowed: key SHA256:" in err
    code, _, err = run(capsys, "audit", "verify", "--require-signatures")
    assert code == 1 and "event 3 (approval.signed): unsigned" in err
    # the override's reason rewritten, every hash recomputed: the chain is fine, the signature is not
    log = tmp_path / "audit.jsonl"
    rewrite(log, lambda e: Event(e.seq, e.time, e.actor, e.type, {**e.payload, "reason": "planned"}, e.prev, sig=e.sig)
            if e.type == ev.GATE_OVERRIDDEN else None)  # fmt: skip
    code, out, err = run(capsys, "audit", "verify")
    assert code == 1 and "chain intact" in out
    assert "event 4 (gate.overridden): bad signature: signature by" in err and "does not match the event" in err


def test_key_option_signs_with_a_key_file(plan: Path, keys: Keys, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--key", str(keys.key("carol")), "approve", "product-owner")
    assert code == 0, err
    assert "signed by carol@example.com" in out and err == ""
    assert "COCKPIT_SIGNING_KEY" not in os.environ  # the key was that command's, not the process's


def test_required_signatures_refuse_without_an_agent_in_one_line(
    plan: Path, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    plan.write_text(
        plan.read_text().replace(
            "allow_multiple_roles = true", "allow_multiple_roles = true\nrequire_signatures = true"
        )
    )
    code, out, err = run(capsys, "approve", "dev-lead")
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        "cockpit: signatures are required (rollout.require_signatures) and cannot be made: "
        "no SSH agent ($SSH_AUTH_SOCK is not set) and no --key FILE"
    ]


def test_anchor_catches_truncation_and_a_rewrite_before_it(
    plan: Path,
    keys: Keys,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    for text in ("one", "two", "three"):
        assert run(capsys, "note", text)[0] == 0
    kept = tmp_path_factory.mktemp("anchors")  # away from the log: its directory (tmp_path here) is the record's
    monkeypatch.setenv("SSH_AUTH_SOCK", keys.sock("alice"))
    code, out, err = run(capsys, "audit", "anchor", "-o", str(kept / "anchors.jsonl"), "--no-post")
    monkeypatch.delenv("SSH_AUTH_SOCK")
    assert code == 0 and "signed by alice@example.com" in err
    seq_hash = out.strip()
    assert seq_hash.startswith("4:") and len(seq_hash) == 66  # the plan.changed, then three notes
    saved = json.loads((kept / "anchors.jsonl").read_text())
    assert saved["seq"] == 4 and saved["sig"]["principal"] == "alice@example.com"
    assert run(capsys, "note", "four")[0] == 0
    code, out, _ = run(capsys, "audit", "verify", "--anchor", seq_hash, "--anchor", str(kept / "anchors.jsonl"))
    assert code == 0 and "still holds 2 anchor(s)" in out
    log = tmp_path / "audit.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:3]))  # cut short: the chain that is left is intact
    code, out, err = run(capsys, "audit", "verify", "--anchor", seq_hash)
    assert code == 1
    assert "log ends at event 3" in err  # the head's witness says so first; the anchor would too
    log.write_text("".join(lines))
    rewrite(log, lambda e: Event(e.seq, e.time, e.actor, e.type, {"text": "ONE"}, e.prev) if e.seq == 2 else None)
    code, _, err = run(capsys, "audit", "verify", "--anchor", str(kept / "anchors.jsonl"))
    assert code == 1 and "the log was rewritten at or before event 4" in err
    code, _, err = run(capsys, "audit", "verify", "--anchor", "nonsense")
    assert code == 2 and "neither SEQ:HASH nor a readable file" in err


def test_stage_change_anchors_automatically(
    plan: Path, keys: Keys, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(capsys, "advance", "--override", "drill")[0] == 0
    anchors = (tmp_path / "state" / "alokickflow-phase2" / "anchors.jsonl").read_text().splitlines()
    entered = json.loads(anchors[-1])
    events = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert events[-1]["type"] == ev.STAGE_ENTERED
    assert (entered["seq"], entered["hash"]) == (events[-1]["seq"], events[-1]["hash"])
    code, out, _ = run(
        capsys, "audit", "verify", "--anchor", str(tmp_path / "state" / "alokickflow-phase2" / "anchors.jsonl")
    )
    assert code == 0 and "still holds 1 anchor(s), up to event" in out


def test_validate_names_the_signing_policy_and_a_missing_allowed_signers(
    plan: Path, keys: Keys, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "validate")
    assert code == 0 and f"signatures: recorded when a key is at hand; allowed_signers {keys.allowed} (3 keys)" in out
    plan.write_text(plan.read_text().replace(str(keys.allowed), str(tmp_path / "missing")))
    code, _, err = run(capsys, "validate")
    line = next(i for i, text in enumerate(plan.read_text().splitlines(), 1) if text.startswith("allowed_signers"))
    assert err.strip() == f"{plan}:{line}: rollout.allowed_signers: {tmp_path / 'missing'}: No such file or directory"
    assert code == 2


def test_a_hostile_principal_in_the_log_reaches_the_terminal_escaped(
    plan: Path, keys: Keys, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    approve_as(capsys, monkeypatch, keys, "alice", "dev-lead")
    log = tmp_path / "audit.jsonl"

    def hostile(e: Event) -> Event:
        if e.sig is None:  # the plan.changed before the approval
            return e
        sig = ev.Signature("\x1b]52;c;cHduZWQ=\x07\u202eevil", e.sig.fingerprint, e.sig.signature, e.sig.namespace)
        return Event(e.seq, e.time, e.actor, e.type, e.payload, e.prev, sig=sig)

    rewrite(log, hostile)
    code, out, err = run(capsys, "audit", "verify")
    assert code == 1 and "event 2 (approval.signed): not allowed" in err
    assert "\x1b" not in out + err and "\x07" not in out + err and "\u202e" not in out + err


def test_audit_anchor_posts_the_signed_head_to_the_webhooks(
    plan: Path, keys: Keys, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    receiver = Receiver()
    try:
        plan.write_text(plan.read_text().replace("webhooks = []", 'webhooks = ["${HOOK}"]'))
        monkeypatch.setenv("HOOK", receiver.url)
        assert run(capsys, "note", "one")[0] == 0
        monkeypatch.setenv("SSH_AUTH_SOCK", keys.sock("carol"))
        code, out, err = run(capsys, "audit", "anchor")
        assert code == 0 and "posted to 1 webhook(s)" in err
        head = out.strip()
        texts = [str(m["text"]) for m in receiver.received]
        assert texts == [
            f"[alokickflow-phase2] anchor {head} signed by carol@example.com ({fingerprint_of(keys, 'carol')})"
        ]
        saved = (tmp_path / "state" / "alokickflow-phase2" / "anchors.jsonl").read_text().splitlines()
        assert json.loads(saved[-1])["hash"] == head.split(":")[1]
    finally:
        receiver.stop()
    code, _, err = run(capsys, "audit", "anchor")  # the webhook is gone: said, exit 1, no secret URL shown
    assert code == 1 and "anchor not posted" in err and receiver.url not in err


def fingerprint_of(keys: Keys, person: str) -> str:
    return fingerprint(keys.key(f"{person}.pub"))

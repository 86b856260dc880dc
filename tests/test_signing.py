"""Signed decisions with real keys: ssh-keygen makes ed25519 and RSA keys, real ssh-agents hold them.

Sign and verify; a key not allowed for the role; a tampered payload; a whole-log rewrite with recomputed
hashes; a stripped or relabelled signature (what the policy requires and may never hold up:
tests/test_signing_required.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cockpit import events as ev
from cockpit.events import Event, seal, signed_bytes
from cockpit.incident import close_incident, open_incident
from cockpit.signing import Status
from cockpit.signing.audit import check_decisions
from cockpit.signing.check import check_event
from cockpit.store.audit import verify_file
from cockpit.store.filelog import FileStore
from tests.core_helpers import ALOK, OPS, PRODUCT
from tests.signing_support import Keys, fingerprint, rewrite, rollout_as, signed_plan


def test_approvals_signed_by_the_agents_key_verify(tmp_path: Path, keys: Keys) -> None:
    loaded = signed_plan(keys)
    alice = rollout_as(tmp_path, loaded, ALOK, keys.agent_env("alice"))  # ed25519
    bob = rollout_as(tmp_path, loaded, OPS, keys.agent_env("bob"))  # RSA
    first = alice.approve("dev-lead")
    second = bob.approve("ops-oncall")
    assert first.sig is not None and second.sig is not None
    assert first.sig.principal == "alice@example.com" and first.sig.fingerprint == fingerprint(keys.key("alice.pub"))
    assert second.sig.principal == "bob@example.com" and second.sig.fingerprint == fingerprint(keys.key("bob.pub"))
    assert first.sig.namespace == "rollout-cockpit"
    assert alice.signatures.warning == ""
    # the signature covers the previous event's hash: bob's approval is bound to alice's
    assert second.prev == first.hash and first.hash in signed_bytes(second).decode()
    assert verify_file(tmp_path / "audit.jsonl").ok
    events = FileStore(tmp_path / "audit.jsonl").read()
    report = check_decisions(events, loaded.plan, keys.allowed)
    assert (report.decisions, report.valid, report.findings) == (2, 2, [])
    # an OpenSSH user can check it by hand: the payload is the event without hash and sig
    approval = next(e for e in events if e.type == ev.APPROVAL_SIGNED)  # after the plan.changed the first write records
    data = signed_bytes(approval)
    sig = tmp_path / "e1.sig"
    sig.write_text(approval.sig.signature)  # type: ignore[union-attr]
    proc = subprocess.run(
        ["ssh-keygen", "-Y", "verify", "-f", str(keys.allowed), "-I", "alice@example.com", "-n", "rollout-cockpit",
         "-s", str(sig)],
        input=data, capture_output=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_only_decisions_are_signed(tmp_path: Path, keys: Keys) -> None:
    alice = rollout_as(tmp_path, signed_plan(keys), ALOK, keys.agent_env("alice"))
    note = alice.note("a note is not a decision")
    revoke_target = alice.approve("dev-lead")
    revoked = alice.revoke("dev-lead")
    assert note.sig is None and revoke_target.sig is not None and revoked.sig is not None


def test_a_key_file_signs_without_an_agent(tmp_path: Path, keys: Keys) -> None:
    loaded = signed_plan(keys)
    carol = rollout_as(tmp_path, loaded, PRODUCT, {"COCKPIT_SIGNING_KEY": str(keys.key("carol"))})
    event = carol.approve("product-owner")
    assert event.sig is not None and event.sig.principal == "carol@example.com"
    assert check_event(event, keys.allowed, ("carol@example.com",)).status is Status.VALID


def test_a_key_not_allowed_for_the_role_is_named(tmp_path: Path, keys: Keys) -> None:
    loaded = signed_plan(keys)
    bob = rollout_as(tmp_path, loaded, OPS, keys.agent_env("bob"))
    event = bob.approve("dev-lead")  # bob's key is allowed, but not for Dev Lead
    assert event.sig is not None and event.sig.principal == "bob@example.com"
    mallory = rollout_as(tmp_path, loaded, PRODUCT, keys.agent_env("mallory"))
    override = mallory.record(ev.GATE_OVERRIDDEN, {"stage": "stage-0", "reason": "trust me", "blockers": []})
    assert override.sig is not None  # signed, by a key allowed_signers does not list
    report = check_decisions(FileStore(tmp_path / "audit.jsonl").read(), loaded.plan, keys.allowed)
    found = {f.seq: f.verdict for f in report.findings}
    assert found[event.seq].status is Status.NOT_ALLOWED
    assert "bob@example.com may not sign this role" in found[event.seq].message
    assert found[override.seq].status is Status.NOT_ALLOWED
    assert "not allowed" in found[override.seq].message


def test_a_tampered_payload_with_a_recomputed_hash_fails_its_signature(tmp_path: Path, keys: Keys) -> None:
    loaded = signed_plan(keys)
    alice = rollout_as(tmp_path, loaded, ALOK, keys.agent_env("alice"))
    alice.approve("dev-lead")
    log = tmp_path / "audit.jsonl"

    def forge(event: Event) -> Event:  # the approval now claims another plan
        return Event(event.seq, event.time, event.actor, event.type, {**event.payload, "digest": "f" * 64},
                     event.prev, sig=event.sig)  # fmt: skip

    rewrite(log, forge)
    assert verify_file(log).ok  # the chain alone cannot tell
    report = check_decisions(FileStore(log).read(), loaded.plan, keys.allowed)
    assert [(f.seq, f.verdict.status) for f in report.findings] == [(2, Status.BAD)]  # 1 is plan.changed
    assert "does not match the event" in report.findings[0].verdict.message


def test_a_whole_log_rewrite_with_recomputed_hashes_is_caught(tmp_path: Path, keys: Keys) -> None:
    loaded = signed_plan(keys)
    alice = rollout_as(tmp_path, loaded, ALOK, keys.agent_env("alice"))
    alice.note("deploy window agreed with support")
    alice.approve("dev-lead")
    bob = rollout_as(tmp_path, loaded, OPS, keys.agent_env("bob"))
    bob.approve("ops-oncall")
    log = tmp_path / "audit.jsonl"

    def reword(event: Event) -> Event | None:  # an unsigned note *before* the signed decisions is changed
        if event.type == ev.NOTE_ADDED:
            return Event(event.seq, event.time, event.actor, event.type, {"text": "no window needed"}, event.prev)
        return None

    rewrite(log, reword)
    assert verify_file(log).ok
    report = check_decisions(FileStore(log).read(), loaded.plan, keys.allowed)
    assert [(f.seq, f.verdict.status) for f in report.findings] == [(3, Status.BAD), (4, Status.BAD)]  # after plan.changed, the note

    # a forged approval slipped in (all hashes recomputed) has no signature by an allowed key
    lines = log.read_text().splitlines()
    last = Event.from_dict(json.loads(lines[-1]))
    forged = seal(last.seq + 1, last.time, ALOK, ev.APPROVAL_SIGNED,
                  {"role": "product-owner", "title": "Product Owner", "handle": "@product", "digest": loaded.plan.digest},
                  last.hash)  # fmt: skip
    log.write_text(log.read_text() + forged.to_line() + "\n")
    assert verify_file(log).ok
    report = check_decisions(FileStore(log).read(), loaded.plan, keys.allowed)
    assert (forged.seq, Status.UNSIGNED) in [(f.seq, f.verdict.status) for f in report.findings]
    assert report.failed(required=True) and all(f.seq != forged.seq for f in report.failed(required=False))


def test_stripping_a_signature_leaves_the_decision_unsigned(tmp_path: Path, keys: Keys) -> None:
    loaded = signed_plan(keys)
    rollout_as(tmp_path, loaded, ALOK, keys.agent_env("alice")).approve("dev-lead")
    log = tmp_path / "audit.jsonl"
    rewrite(log, lambda e: Event(e.seq, e.time, e.actor, e.type, e.payload, e.prev))
    report = check_decisions(FileStore(log).read(), loaded.plan, keys.allowed)
    assert [f.verdict.status for f in report.findings] == [Status.UNSIGNED]


def test_a_signature_relabelled_to_another_person_is_caught(tmp_path: Path, keys: Keys) -> None:
    loaded = signed_plan(keys, principals=False)
    rollout_as(tmp_path, loaded, ALOK, keys.agent_env("alice")).approve("dev-lead")
    log = tmp_path / "audit.jsonl"
    carol = fingerprint(keys.key("carol.pub"))

    def relabel(principal: str, fp: str):  # type: ignore[no-untyped-def]
        def change(e: Event) -> Event:
            if e.sig is None:  # the plan.changed before the approval
                return e
            sig = ev.Signature(principal, fp, e.sig.signature, e.sig.namespace)
            return Event(e.seq, e.time, e.actor, e.type, e.payload, e.prev, sig=sig)

        return change

    rewrite(log, relabel("carol@example.com", carol))  # carol's name and key, alice's signature
    verdict = check_decisions(FileStore(log).read(), loaded.plan, keys.allowed).findings[0].verdict
    assert verdict.status is Status.BAD and "is not the signing key" in verdict.message
    rewrite(log, relabel("carol@example.com", fingerprint(keys.key("alice.pub"))))  # carol's name only
    verdict = check_decisions(FileStore(log).read(), loaded.plan, keys.allowed).findings[0].verdict
    assert verdict.status is Status.NOT_ALLOWED and "is not allowed for carol@example.com" in verdict.message


def test_canary_steps_overrides_kills_sign_offs_and_incident_closes_are_signed(tmp_path: Path, keys: Keys) -> None:
    alice = rollout_as(tmp_path, signed_plan(keys), ALOK, keys.agent_env("alice"))
    stage = next(s for s in alice.plan.stages if s.canary)
    step = alice.record_flag_change(stage.canary[0].flag, {"percent": 0}, {"enabled": True, "percent": 5},
                                    stage=stage.id, step=stage.canary[0].id)  # fmt: skip
    plain = alice.record_flag_change(stage.canary[0].flag, {"percent": 5}, {"enabled": False, "percent": 0})
    override = alice.advance(override="drill")
    kill = alice.record(ev.KILL_REQUESTED, {"reason": "drill", "flags": []})
    opened = open_incident(alice, "drill")
    closed = close_incident(alice, "resolved")
    assert step.sig is not None and plain.sig is None  # a canary step is a decision; any flag change is not
    overridden = next(e for e in alice.store.read() if e.type == ev.GATE_OVERRIDDEN)
    assert overridden.sig is not None and override.sig is None  # the override, not the stage entry it allowed
    assert kill.sig is not None and closed.sig is not None and opened.sig is None
    report = check_decisions(alice.store.read(), alice.plan, keys.allowed)
    assert report.findings == [] and report.valid == 4


def test_a_sign_off_is_signed_and_anchored(tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    alice = rollout_as(tmp_path, signed_plan(keys), ALOK, keys.agent_env("alice"))
    while alice.current_stage is None or alice.current_stage.id != alice.plan.stages[-1].id:
        alice.advance(override="drill")
    event = alice.sign_off("dev-lead")
    assert event.sig is not None and event.sig.principal == "alice@example.com"
    anchors = [json.loads(line) for line in alice.signatures.anchors_path.read_text().splitlines()]
    assert (anchors[-1]["seq"], anchors[-1]["hash"]) == (event.seq, event.hash)
    assert anchors[-1]["sig"]["principal"] == "alice@example.com"  # signed: a key was at hand
    assert len(anchors) == len(alice.plan.stages) + 1  # one per stage entered, one for the sign-off


def test_a_wildcard_allowed_signers_entry_signs_under_the_keys_comment(tmp_path: Path, keys: Keys) -> None:
    allowed = tmp_path / "allowed_signers"
    public = keys.key("alice.pub").read_text().split()
    allowed.write_text(f'*@example.com namespaces="rollout-cockpit" {public[0]} {public[1]}\n')
    loaded = signed_plan(keys, require=True, principals=False, allowed=allowed)
    event = rollout_as(tmp_path, loaded, ALOK, keys.agent_env("alice")).approve("dev-lead")
    assert event.sig is not None and event.sig.principal == "alice@example.com"
    assert check_event(event, allowed).status is Status.VALID


"""Signed decisions with real keys: ssh-keygen makes ed25519 and RSA keys, real ssh-agents hold them.

Sign and verify; a key not allowed for the role; a tampered payload; a whole-log rewrite with recomputed
hashes; require_signatures with and without an agent; no agent and no key.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit import events as ev
from cockpit.clock import FakeClock
from cockpit.events import Actor, Event, seal, signed_bytes
from cockpit.plan.load import LoadedPlan
from cockpit.rollout import Rollout, RolloutError
from cockpit.signing import Signatures, Status
from cockpit.signing.audit import check_decisions
from cockpit.signing.check import check_event
from cockpit.store.audit import verify_file
from cockpit.store.filelog import FileStore
from cockpit.store.witness import Head, record_in_db, write_witness
from tests.core_helpers import ALOK, OPS, PRODUCT
from tests.signing_support import Keys, make_keys, signed_plan


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    keys = make_keys(tmp_path_factory.mktemp("keys"))
    yield keys
    keys.stop()


def rollout_as(
    tmp_path: Path, loaded: LoadedPlan, actor: Actor, environ: dict[str, str], clock: FakeClock | None = None
) -> Rollout:
    """One person's cockpit on the shared log: their OS user, their agent (or none)."""
    return Rollout(
        loaded,
        FileStore(tmp_path / "audit.jsonl"),
        clock=clock or FakeClock(),
        actor=actor,
        signatures=Signatures(loaded, environ=environ),
    )


def fingerprint(pub: Path) -> str:
    return subprocess.run(
        ["ssh-keygen", "-l", "-f", str(pub)], capture_output=True, text=True, check=True
    ).stdout.split()[1]


def rewrite(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    """What someone with write access can do: change events, then recompute every hash of the chain."""
    events = [Event.from_dict(json.loads(line)) for line in path.read_text().splitlines()]
    prev = ev.GENESIS
    out = []
    for event in events:
        event = change(event) or event
        event = Event(event.seq, event.time, event.actor, event.type, event.payload, prev, "", event.sig)
        event = Event(
            event.seq, event.time, event.actor, event.type, event.payload, prev, ev.event_hash(event), event.sig
        )
        out.append(event.to_line() + "\n")
        prev = event.hash
    path.write_text("".join(out))
    # and, as that attacker can, the head's witnesses (the sidecar, every history database near the log):
    # what is left to catch the rewrite is the signatures (the witness alone would say "not the event acknowledged")
    head = Head(event.seq, event.hash, ev.format_time(event.time))
    write_witness(path, head)
    for db in path.parent.rglob("history.sqlite3"):
        record_in_db(db, path, head)


# --------------------------------------------------------------------------- sign and verify


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


# --------------------------------------------------------------------------- whose key may sign what


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


def test_required_signatures_refuse_a_key_not_allowed_for_the_role(tmp_path: Path, keys: Keys) -> None:
    bob = rollout_as(tmp_path, signed_plan(keys, require=True), OPS, keys.agent_env("bob"))
    with pytest.raises(RolloutError, match=r"may not sign this \(allowed principals: alice@example.com\)"):
        bob.approve("dev-lead")
    assert not (tmp_path / "audit.jsonl").exists() or FileStore(tmp_path / "audit.jsonl").read() == []


# --------------------------------------------------------------------------- tampering


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


# --------------------------------------------------------------------------- require_signatures


def _approve_all(tmp_path: Path, loaded: LoadedPlan, keys: Keys) -> None:
    for actor, person, role in (
        (ALOK, "alice", "dev-lead"),
        (OPS, "bob", "ops-oncall"),
        (PRODUCT, "carol", "product-owner"),
    ):
        rollout_as(tmp_path, loaded, actor, keys.agent_env(person)).approve(role)


def test_required_signatures_with_agents_open_the_gate(tmp_path: Path, keys: Keys) -> None:
    loaded = signed_plan(keys, require=True)
    _approve_all(tmp_path, loaded, keys)
    rollout = rollout_as(tmp_path, loaded, ALOK, keys.agent_env("alice"))
    assert [b for b in rollout.blockers() if b.kind == "approval"] == []
    override = rollout.advance()  # no override needed: the gate is open
    assert override.type == ev.STAGE_ENTERED


def test_required_signatures_without_an_agent_refuse_and_unsigned_approvals_do_not_count(
    tmp_path: Path, keys: Keys
) -> None:
    loaded = signed_plan(keys, require=True)
    nobody = rollout_as(tmp_path, loaded, ALOK, {})
    with pytest.raises(RolloutError, match=r"signatures are required .*no SSH agent \(\$SSH_AUTH_SOCK is not set\)"):
        nobody.approve("dev-lead")
    with pytest.raises(RolloutError, match="signatures are required"):
        nobody.advance(override="no time to sign")
    assert FileStore(tmp_path / "audit.jsonl").read() == []
    # approvals recorded unsigned (an older cockpit, a hand-appended line) do not count; the gate says why
    payload = {"role": "dev-lead", "title": "Dev Lead", "handle": "@alok", "digest": loaded.plan.digest}
    FileStore(tmp_path / "audit.jsonl").append(ev.APPROVAL_SIGNED, payload, ALOK, FakeClock().now())
    rollout_as(tmp_path, loaded, OPS, keys.agent_env("bob")).approve("ops-oncall")
    rollout_as(tmp_path, loaded, PRODUCT, keys.agent_env("carol")).approve("product-owner")
    blockers = [b.message for b in nobody.blockers() if b.kind == "approval"]
    assert blockers == ["approval not counted: Dev Lead by alok: unsigned (the plan requires signatures)"]


def test_required_signatures_never_hold_up_a_kill(tmp_path: Path, keys: Keys) -> None:
    nobody = rollout_as(tmp_path, signed_plan(keys, require=True), ALOK, {})
    event = nobody.record(ev.KILL_REQUESTED, {"reason": "error rate", "flags": ["dlq"]})
    assert event.sig is None and "recorded unsigned" in nobody.signatures.warning


def test_required_signatures_block_a_canary_step_before_the_flag_changes(tmp_path: Path, keys: Keys) -> None:
    nobody = rollout_as(tmp_path, signed_plan(keys, require=True), ALOK, {})
    stage = next(s for s in nobody.plan.stages if s.canary)
    blockers = nobody.canary_blockers(stage.id, stage.canary[0].id)
    assert any(b.kind == "signature" and "no SSH agent" in b.message for b in blockers)


def test_one_key_signing_two_roles_counts_once(tmp_path: Path, keys: Keys) -> None:
    text_plan = signed_plan(keys, require=True, principals=False)  # any allowed principal may sign any role
    rollout_as(tmp_path, text_plan, ALOK, keys.agent_env("alice")).approve("dev-lead")
    rollout_as(tmp_path, text_plan, OPS, keys.agent_env("alice")).approve("ops-oncall")  # another OS user, same key
    rollout = rollout_as(tmp_path, text_plan, PRODUCT, keys.agent_env("carol"))
    messages = [b.message for b in rollout.blockers() if b.kind == "approval"]
    assert any("signed by alice@example.com, who signed Dev Lead already" in m for m in messages)


# --------------------------------------------------------------------------- no agent, no key


def test_no_agent_and_no_key_records_unsigned_and_says_so(tmp_path: Path, keys: Keys) -> None:
    loaded = signed_plan(keys)
    nobody = rollout_as(tmp_path, loaded, ALOK, {})
    event = nobody.approve("dev-lead")
    assert event.sig is None
    assert nobody.signatures.warning == "recorded unsigned: no SSH agent ($SSH_AUTH_SOCK is not set) and no --key FILE"
    assert "dev-lead" in nobody.state.approvals and not [b for b in nobody.blockers() if "not counted" in b.message]
    empty = rollout_as(tmp_path, loaded, OPS, {"SSH_AUTH_SOCK": str(tmp_path / "no-agent-here")})
    assert empty.approve("ops-oncall").sig is None
    assert "holds no key" in empty.signatures.warning
    missing = rollout_as(tmp_path, loaded, PRODUCT, {"COCKPIT_SIGNING_KEY": str(tmp_path / "nokey")})
    assert missing.approve("product-owner").sig is None
    assert "--key" in missing.signatures.warning and "no such key file" in missing.signatures.warning


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


def test_a_hung_agent_holds_a_kill_about_a_second_at_most(tmp_path: Path, keys: Keys) -> None:
    import socket
    import time

    hung = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # an agent that takes the request, never answers
    hung.bind(str(tmp_path / "hung.sock"))
    hung.listen(8)
    try:
        rollout = rollout_as(
            tmp_path, signed_plan(keys, require=True), ALOK, {"SSH_AUTH_SOCK": str(tmp_path / "hung.sock")}
        )
        started = time.monotonic()
        event = rollout.record(ev.KILL_REQUESTED, {"reason": "error rate", "flags": ["dlq"]})
        assert time.monotonic() - started < 2.0
        assert event.sig is None and "the SSH agent did not answer" in rollout.signatures.warning
    finally:
        hung.close()


def test_the_file_log_asks_the_agent_before_taking_its_lock(tmp_path: Path) -> None:
    import fcntl
    import threading

    store = FileStore(tmp_path / "audit.jsonl")
    store.append(ev.NOTE_ADDED, {"text": "first"}, ALOK, FakeClock().now())
    signing = threading.Event()
    calls: list[bytes] = []

    def sign(data: bytes) -> ev.Signature:
        calls.append(data)
        signing.set()
        return ev.Signature("alice@example.com", "SHA256:x", "-----BEGIN SSH SIGNATURE-----\n")

    with (tmp_path / "audit.jsonl").open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another cockpit is appending (or killing) right now
        done: list[Event] = []
        writer = threading.Thread(
            target=lambda: done.append(
                store.append(ev.APPROVAL_SIGNED, {"role": "r"}, ALOK, FakeClock().now(), sign=sign)
            )
        )
        writer.start()
        assert signing.wait(5)  # signed while the lock is held by someone else
        assert not done
        fcntl.flock(held, fcntl.LOCK_UN)
    writer.join(5)
    assert done and done[0].sig is not None and len(calls) == 1 and signed_bytes(done[0]) == calls[0]


def test_canary_steps_overrides_kills_sign_offs_and_incident_closes_are_signed(tmp_path: Path, keys: Keys) -> None:
    from cockpit.incident import close_incident, open_incident

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

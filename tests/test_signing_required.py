"""What the plan's signing policy requires, and what signing may never hold up: required signatures open or close
the gate and a canary step, one key counts once, no agent records unsigned and says so, a hung agent holds a
kill about a second at most, the file log asks the agent before taking its lock (real keys, real agents)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit import events as ev
from cockpit.clock import FakeClock
from cockpit.events import Event, signed_bytes
from cockpit.plan.load import LoadedPlan
from cockpit.rollout import RolloutError
from cockpit.store.filelog import FileStore
from tests.core_helpers import ALOK, OPS, PRODUCT
from tests.signing_support import Keys, rollout_as, signed_plan


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


def test_required_signatures_refuse_a_key_not_allowed_for_the_role(tmp_path: Path, keys: Keys) -> None:
    bob = rollout_as(tmp_path, signed_plan(keys, require=True), OPS, keys.agent_env("bob"))
    with pytest.raises(RolloutError, match=r"may not sign this \(allowed principals: alice@example.com\)"):
        bob.approve("dev-lead")
    assert not (tmp_path / "audit.jsonl").exists() or FileStore(tmp_path / "audit.jsonl").read() == []


"""Signed decisions on the shared PostgreSQL record: signed in the append's transaction, verified by
``cockpit audit verify``; a decision signed while the database was away keeps a checkable signature
after it is re-sealed on a newer head."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit import events as ev
from cockpit.cli.main import main
from cockpit.clock import FakeClock
from cockpit.rollout import Rollout
from cockpit.signing import Signatures, Status
from cockpit.signing.audit import check_decisions
from cockpit.store.backend import open_store
from cockpit.store.pg import PgStore, init_schema, verify_store
from tests.core_helpers import ALOK, OPS, example_plan, example_text
from tests.servers import free_port
from tests.signing_support import ROLES, Keys, write_plan

pytestmark = pytest.mark.postgres


def pg_rollout(keys: Keys, dsn: str, person: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Rollout:
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    loaded = example_plan({"COCKPIT_DATABASE_URL": dsn}, text=_pg_text(keys))
    return Rollout(loaded, open_store(loaded), clock=FakeClock(), actor=ALOK if person == "alice" else OPS,
                   signatures=Signatures(loaded, environ=keys.agent_env(person)))  # fmt: skip


def _pg_text(keys: Keys) -> str:
    text = example_text().replace(
        'store = "file"',
        f'store = "postgres"\ndsn = "${{COCKPIT_DATABASE_URL}}"\nallowed_signers = "{keys.allowed}"',
        1,
    )
    for role, principal in ROLES.items():
        text = text.replace(f'role = "{role}"', f'role = "{role}"\nprincipals = ["{principal}"]', 1)
    return text


def test_signed_on_postgres_and_verified_by_audit_verify(
    postgres_db: str,
    keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    init_schema(postgres_db)
    event = pg_rollout(keys, postgres_db, "alice", monkeypatch, tmp_path).approve("dev-lead")
    assert event.sig is not None and event.sig.principal == "alice@example.com"
    store = PgStore(postgres_db, "alokickflow-phase2", readonly=True)
    assert verify_store(store).ok
    report = check_decisions(store.read(), None, keys.allowed)
    assert (report.decisions, report.valid) == (1, 1)
    store.close()
    plan = write_plan(tmp_path, keys.allowed, monkeypatch)
    plan.write_text(
        plan.read_text().replace('store = "file"', 'store = "postgres"\ndsn = "${COCKPIT_DATABASE_URL}"', 1)
    )
    monkeypatch.setenv("COCKPIT_DATABASE_URL", postgres_db)
    code = main(["audit", "verify"])
    out = capsys.readouterr().out
    assert code == 0 and "signatures: 1 decisions, 1 signed by an allowed key" in out


def test_a_decision_signed_offline_keeps_its_signature_when_resealed(
    postgres_db: str, keys: Keys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    init_schema(postgres_db)
    dead = f"postgresql://cockpit:x@127.0.0.1:{free_port()}/nowhere"
    rollout = pg_rollout(keys, dead, "alice", monkeypatch, tmp_path)  # this cockpit cannot reach the database
    offline = rollout.store
    assert isinstance(offline, PgStore)
    signed = rollout.approve("dev-lead")
    assert signed.sig is not None and offline.spooled == 2  # the plan.changed, then the approval
    other = PgStore(postgres_db, "alokickflow-phase2")
    other.append(ev.NOTE_ADDED, {"text": "online"}, OPS, rollout.now())
    offline.db.dsn = postgres_db  # the network comes back
    assert offline.flush() == 2
    events = other.read()
    resealed = events[-1]
    assert resealed.sig is None and resealed.payload["spooled"]["seq"] == 2 and resealed.prev == events[1].hash
    assert verify_store(other).ok
    report = check_decisions(events, rollout.plan, keys.allowed)
    assert report.valid == 1, report.findings
    assert "re-sealed after a database outage" in report.verdicts[resealed.seq].message
    # the kept signature is bound to the decision: change the payload and it no longer holds
    forged = ev.Event(resealed.seq, resealed.time, resealed.actor, resealed.type,
                      {**resealed.payload, "role": "ops-oncall"}, resealed.prev)  # fmt: skip
    assert check_decisions([forged], rollout.plan, keys.allowed).findings[0].verdict.status is Status.BAD
    other.close()
    offline.close()


def test_the_agent_is_asked_before_the_advisory_lock_and_once_when_the_head_holds(postgres_db: str, keys: Keys) -> None:
    init_schema(postgres_db)
    calls: list[bytes] = []

    def sign(data: bytes) -> ev.Signature:
        calls.append(data)
        return ev.Signature("alice@example.com", "SHA256:x", "-----BEGIN SSH SIGNATURE-----\n")

    store, other = PgStore(postgres_db, "r1"), PgStore(postgres_db, "r1")
    store.append(ev.APPROVAL_SIGNED, {"role": "dev-lead"}, ALOK, FakeClock().now(), sign=sign)
    store.append(ev.APPROVAL_REVOKED, {"role": "dev-lead"}, ALOK, FakeClock().now(), sign=sign)
    assert len(calls) == 2  # once each: the head known here was the head
    other.append(ev.NOTE_ADDED, {}, OPS, FakeClock().now())  # another cockpit moves the head
    event = store.append(ev.APPROVAL_SIGNED, {"role": "dev-lead"}, ALOK, FakeClock().now(), sign=sign)
    assert len(calls) == 4 and event.seq == 4 and ev.signed_bytes(event) == calls[-1]  # signed again, on the new head
    store.close()
    other.close()

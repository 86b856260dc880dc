"""Which of the dashboard's actions is offered and usable now, and why not (``cockpit.controls``): the
availability half of the one action registry, answered by the core from the record and the session."""

from __future__ import annotations

from pathlib import Path

from cockpit.controls import next_canary, offered, why_not
from cockpit.events import Actor
from cockpit.plan.keys import ACTIONS, WRITES
from cockpit.session import Services
from cockpit.store.history import SqliteHistory
from tests.core_helpers import as_actor, make_rollout


def services(tmp_path: Path) -> Services:
    return Services.build(make_rollout(tmp_path), SqliteHistory(":memory:"))


def test_readonly_offers_no_write_and_every_read(tmp_path: Path) -> None:
    s = services(tmp_path)
    for action in ACTIONS:
        shown = offered(action.id, s, readonly=True, demo=True)
        assert shown is (action.id not in WRITES), action.id


def test_the_demo_fault_is_offered_only_in_the_demo_and_the_kill_only_with_a_switch(tmp_path: Path) -> None:
    s = services(tmp_path)
    assert not offered("demo_flood", s, readonly=False, demo=False)
    assert offered("demo_flood", s, readonly=False, demo=True)
    s.switch, s.connected = None, True  # connected, and no kill switch was built
    assert not offered("kill", s, readonly=False, demo=False)
    assert not offered("canary", s, readonly=False, demo=False)
    s.connected = False  # not connected yet: the switch is built on first use
    assert offered("kill", s, readonly=False, demo=False)


def test_each_refusal_names_its_reason_and_clears_when_the_record_allows(tmp_path: Path) -> None:
    s = services(tmp_path)
    r = s.rollout
    assert why_not("revoke", s) == "no approval to revoke"
    assert why_not("tick", s).startswith("no stage entered yet")
    assert why_not("canary", s).startswith("no stage entered yet")
    assert why_not("cancel_autokill", s) == "no auto-kill countdown is running"
    assert next_canary(r) is None
    for i, approver in enumerate(r.plan.approvers):  # one person a role
        assert why_not("approve", s) == ""
        as_actor(r, Actor(f"signer{i}", 2000 + i, "bastion")).approve(approver.role)
        r.refresh()
    assert why_not("approve", s) == "every approval role has signed (r revokes one)"
    assert why_not("revoke", s) == ""
    r.advance()
    stage = r.current_stage
    assert stage is not None
    assert why_not("tick", s) == ""
    for item in stage.items:
        r.tick(stage.id, item.id)
    assert why_not("tick", s) == f"every checklist item of {stage.title} is ticked"
    assert not stage.canary  # Stage 0 of the example: a baseline deployment, no canary
    assert why_not("canary", s) == f"{stage.title} has no canary steps"


def test_on_a_broken_record_every_write_but_the_kill_says_why(tmp_path: Path) -> None:
    s = services(tmp_path)
    s.rollout.note("later edited")
    log = tmp_path / "audit.jsonl"
    log.write_text(log.read_text().replace('"later edited"', '"all approved"'))
    s = services(tmp_path)  # a cockpit opened on it
    assert why_not("kill", s) == ""
    for action in WRITES - {"kill"}:
        assert why_not(action, s).startswith("nothing can be recorded: the audit log's chain is broken at event 2"), action
    assert why_not("audit", s) == ""  # reading it still works: l shows the log

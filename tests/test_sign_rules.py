"""What approvers sign and who may sign: the plan digest, plan.changed, one rule for approve/revoke/sign-off."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from cockpit import events as ev
from cockpit.clock import FakeClock
from cockpit.events import Actor
from cockpit.export.model import build_record
from cockpit.plan.load import LoadedPlan
from cockpit.rollout import Rollout, RolloutError
from cockpit.status import status_dict
from cockpit.store.filelog import FileStore
from cockpit.store.pg import PgStore, init_schema
from tests.core_helpers import ALOK, OPS, PRODUCT, as_actor, example_plan, example_text, make_rollout
from widgets.gate import Gate

ROOT_USER = Actor("root", 0, "bastion-1")
DAEMON = Actor("daemon", 1, "bastion-1")


def _approve_all(rollout: Rollout) -> None:
    for actor, role in ((ALOK, "dev-lead"), (OPS, "ops-oncall"), (PRODUCT, "product-owner")):
        as_actor(rollout, actor).approve(role)


def _edited(old: str, new: str) -> LoadedPlan:
    text = example_text()
    assert old in text, old
    return example_plan(text=text.replace(old, new, 1))


# each edit changes what was approved; the path is what status names
REWIRINGS = [
    (
        'off = { method = "POST", url = "${APP_URL:-http://127.0.0.1:8700}/api/flags/{flag}/off" }',
        'off = { method = "POST", url = "http://10.9.9.9/api/flags/{flag}/off" }',
        "providers.app.off.url",
    ),
    ('base_url = "${APP_URL:-http://127.0.0.1:8700}"', 'base_url = "http://evil.example:8700"', "sources.app.base_url"),
    ('poll_interval = "5s"\n', 'poll_interval = "5s"\nstale_after = "30d"\n', "defaults.stale_after"),
    ('deadline = "5m"', 'deadline = "5d"', "incident.within-5m.deadline"),
    (
        'name = "FEATURE_FLAG_DLQ_ENABLED"\nprovider = "app"\n',
        'name = "FEATURE_FLAG_DLQ_ENABLED"\nprovider = "app"\nkey = "other_flag"\n',
        "flags.FEATURE_FLAG_DLQ_ENABLED.key",
    ),
    ('json_path = "total"', 'json_path = "count"', "metrics.dlq_entries.json_path"),
    ('timeout = "60s"', 'timeout = "1s"', "sources.shell.timeout"),
    ('handle = "@product"\n', 'handle = "@product"\nusers = ["mallory"]\n', "approvers.product-owner.users"),
    ('soak = "48h"', 'soak = "48h1s"', "stages.stage-3.canary.heartbeat-100.soak"),
]


@pytest.mark.parametrize(("old", "new", "path"), REWIRINGS, ids=[r[2] for r in REWIRINGS])
def test_rewiring_after_approvals_voids_them_and_status_names_it(
    tmp_path: Path, old: str, new: str, path: str
) -> None:
    rollout = make_rollout(tmp_path)
    _approve_all(rollout)
    assert rollout.blockers() == []
    changed = make_rollout(tmp_path, loaded=_edited(old, new))
    data = status_dict(changed)
    assert [a["valid"] for a in data["approvals"]] == [False, False, False]
    assert data["gate"]["open"] is False
    assert any(f"{path} changed since the approvals" in b for b in data["gate"]["blockers"]), data["gate"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('title = "Stage 0: Baseline Deployment"', 'title = "Stage 0: Baseline"'),
        ("# [keys]\n# kill = \"K\"", '[keys]\nkill = "ctrl+k"'),
    ],
    ids=["stage title", "key map"],
)
def test_presentation_does_not_void_approvals(tmp_path: Path, old: str, new: str) -> None:
    rollout = make_rollout(tmp_path)
    _approve_all(rollout)
    assert make_rollout(tmp_path, loaded=_edited(old, new)).blockers() == []


def test_each_new_digest_is_a_plan_changed_event_and_the_export_lists_the_versions(tmp_path: Path) -> None:
    """Two plans with one rollout id: plan B's events come after a plan.changed naming what differs."""
    plan_a = make_rollout(tmp_path)
    plan_a.note("from plan A")
    plan_b = make_rollout(tmp_path, loaded=_edited('deadline = "5m"', 'deadline = "5d"'))
    plan_b.note("from plan B")
    plan_a.note("A again")
    types = [(e.type, e.payload.get("text") or e.payload.get("changes")) for e in plan_a.store.read(0)]
    assert types == [
        (ev.PLAN_CHANGED, []),
        (ev.NOTE_ADDED, "from plan A"),
        (ev.PLAN_CHANGED, ["incident.within-5m.deadline"]),
        (ev.NOTE_ADDED, "from plan B"),
        (ev.PLAN_CHANGED, ["incident.within-5m.deadline"]),
        (ev.NOTE_ADDED, "A again"),
    ]
    versions = build_record(plan_a)["plan_versions"]
    assert [v["digest"] for v in versions] == [plan_a.plan.digest, plan_b.plan.digest, plan_a.plan.digest]
    assert versions[1]["changes"] == ["incident.within-5m.deadline"] and versions[1]["user"] == "alok"


# --------------------------------------------------------------------------- who may sign


def _plan_with_users(users: str = '["daemon"]', multiple: str = "false") -> LoadedPlan:
    text = example_text().replace('# users = ["alok"]', f"users = {users}")
    text = text.replace("allow_multiple_roles = false", f"allow_multiple_roles = {multiple}")
    text = text.replace('handle = "#platform-oncall"', f'handle = "#platform-oncall"\nusers = {users}')
    return example_plan(text=text)


def _to_the_end(tmp_path: Path, loaded: LoadedPlan) -> Rollout:
    """A rollout overridden through to the last stage (the sign-off comes at the end)."""
    rollout = make_rollout(tmp_path, loaded=loaded, actor=DAEMON)
    for _ in rollout.plan.stages:
        rollout.advance(override="test: straight to the end")
    return rollout


def test_signoff_obeys_users_and_one_role_per_person(tmp_path: Path) -> None:
    rollout = _to_the_end(tmp_path, _plan_with_users())
    with pytest.raises(RolloutError, match="root may not sign Dev Lead: allowed are daemon"):
        as_actor(rollout, ROOT_USER).sign_off("dev-lead")
    as_actor(rollout, ROOT_USER).sign_off("product-owner")  # no users: anyone may sign it
    daemon = as_actor(rollout, DAEMON)
    daemon.sign_off("dev-lead")
    with pytest.raises(RolloutError, match="daemon already signed Dev Lead; one person cannot sign two roles"):
        daemon.sign_off("ops-oncall")
    assert [r["user"] for r in build_record(rollout)["signoff"]] == ["daemon", "", "root"]


def test_signoff_of_a_role_twice_is_refused(tmp_path: Path) -> None:
    rollout = _to_the_end(tmp_path, _plan_with_users('["daemon", "root"]', "true"))
    as_actor(rollout, DAEMON).sign_off("dev-lead")
    with pytest.raises(RolloutError, match="already signed off"):
        as_actor(rollout, ROOT_USER).sign_off("dev-lead")


def test_only_who_may_sign_a_role_may_revoke_it(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path, loaded=_plan_with_users(), actor=DAEMON)
    rollout.approve("dev-lead")
    with pytest.raises(RolloutError, match="root may not revoke Dev Lead"):
        as_actor(rollout, ROOT_USER).revoke("dev-lead")
    assert "dev-lead" in rollout.state.approvals
    as_actor(rollout, DAEMON).revoke("dev-lead")
    assert "dev-lead" not in rollout.state.approvals


def test_a_role_already_approved_is_not_approved_again(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path)
    rollout.approve("dev-lead")
    with pytest.raises(RolloutError, match="Dev Lead has already approved"):
        as_actor(rollout, OPS).approve("dev-lead")


TRIES = 70


def _try_approve(log: str, role: str, start: multiprocessing.synchronize.Barrier) -> None:  # type: ignore[name-defined]
    rollout = Rollout(_LOADED, FileStore(log), clock=FakeClock(), actor=ALOK)
    rollout.refresh()
    start.wait()
    try:
        rollout.approve(role)
    except RolloutError:
        raise SystemExit(1) from None
    raise SystemExit(0)


_LOADED = example_plan()


def test_seventy_concurrent_tries_by_one_person_for_two_roles_give_one_approval(tmp_path: Path) -> None:
    """The rule is checked inside the append lock: processes racing on the file log cannot both pass it."""
    log = tmp_path / "audit.jsonl"
    seed = Rollout(_LOADED, FileStore(log), clock=FakeClock(), actor=OPS)
    seed.note("the plan is on record")  # plan.changed comes first, so the racers only race for the roles
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(TRIES)
    procs = [
        ctx.Process(target=_try_approve, args=(str(log), ("dev-lead", "ops-oncall")[i % 2], start))
        for i in range(TRIES)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs].count(0) == 1
    signed = [e for e in seed.store.read(0) if e.type == ev.APPROVAL_SIGNED]
    assert len(signed) == 1 and signed[0].actor.user == "alok"


class _GateApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Gate()


async def test_the_dashboard_gate_names_what_changed(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path)
    _approve_all(rollout)
    old, new, path = REWIRINGS[0]
    changed = make_rollout(tmp_path, loaded=_edited(old, new))
    app = _GateApp()
    async with app.run_test(size=(120, 30)) as pilot:
        gate = app.query_one(Gate)
        gate.show(changed.plan, changed.state, changed.blockers(), changed.now(), "enter Stage 0")
        await pilot.pause()
        assert f"✘ Dev Lead: void, {path} changed since the approvals" in str(gate.content)


def _try_approve_pg(dsn: str, role: str, start: multiprocessing.synchronize.Barrier) -> None:  # type: ignore[name-defined]
    rollout = Rollout(_LOADED, PgStore(dsn, "race"), clock=FakeClock(), actor=ALOK)
    rollout.refresh()
    start.wait()
    try:
        rollout.approve(role)
    except RolloutError:
        raise SystemExit(1) from None
    finally:
        rollout.store.close()
    raise SystemExit(0)


def test_concurrent_tries_on_postgres_give_one_approval(postgres_db: str) -> None:
    """The same rule under PostgreSQL's per-rollout advisory lock (cockpits on different bastions)."""
    init_schema(postgres_db)
    seed = Rollout(_LOADED, PgStore(postgres_db, "race"), clock=FakeClock(), actor=OPS)
    seed.note("the plan is on record")
    tries = 20
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(tries)
    procs = [
        ctx.Process(target=_try_approve_pg, args=(postgres_db, ("dev-lead", "ops-oncall")[i % 2], start))
        for i in range(tries)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs].count(0) == 1
    assert len([e for e in seed.store.read(0) if e.type == ev.APPROVAL_SIGNED]) == 1
    seed.store.close()

"""The fleet's core: one line per rollout in every state, who it waits on, the order, live reading."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cockpit.clock import FakeClock
from cockpit.fleet.row import FleetRow, cannot_sign, fold_row, row_json
from cockpit.fleet.watch import Fleet
from cockpit.monitor import Monitor
from cockpit.plan.build import build_plan
from cockpit.plan.data import plan_data
from cockpit.rules import Status
from cockpit.store.filelog import FileStore
from cockpit.store.history import SqliteHistory
from cockpit.store.publish import HEARTBEAT, Publisher
from cockpit.store.records import ARMED, JUDGED, MAX_BODY, PLAN
from tests.core_helpers import OPS, example_plan, make_rollout
from tests.fleet_support import NOW, as_actor, build_fleet, judgement, make_state, plan_for


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every state, written once for the module (the tests only read it)."""
    root = tmp_path_factory.mktemp("fleet")
    build_fleet(root)
    return root


@pytest.fixture
def fleet(built: Path) -> Fleet:
    f = Fleet(dirs=[built], user="alok", clock=FakeClock(NOW))
    f.refresh()
    return f


def rows_by_id(fleet: Fleet) -> dict[str, FleetRow]:
    return {row.id: row for row in fleet.rows()}


def kinds(row: FleetRow) -> list[str]:
    return [w.kind for w in row.waiting]


def test_every_state_has_one_line(fleet: Fleet) -> None:
    rows = rows_by_id(fleet)
    assert set(rows) == {
        "unsigned", "signed", "ticking", "gate-open", "soaking", "breached", "incident", "killed", "kill-failed",
        "complete", "readonly", "stale", "no-plan",
    }  # fmt: skip
    assert all(
        row.service == "AlokickFlow Hardening Features" and row.version for row in rows.values() if row.id != "no-plan"
    )


def test_waiting_on_approvals_names_the_missing_roles(fleet: Fleet) -> None:
    row = rows_by_id(fleet)["unsigned"]
    assert row.stage == "not started" and row.gate == "CLOSED"
    assert row.waiting[0].text == "approval: dev-lead, ops-oncall, product-owner"
    assert row.needs_human


def test_gate_open_waits_on_a_person_to_advance(fleet: Fleet) -> None:
    rows = rows_by_id(fleet)
    assert rows["signed"].gate == "OPEN"
    assert rows["signed"].waiting[0].text == "gate open: advance to Stage 0: Baseline Deployment"
    assert rows["gate-open"].stage.startswith("Stage 1") and kinds(rows["gate-open"]) == ["advance"]


def test_items_checks_and_baseline_to_do(fleet: Fleet) -> None:
    row = rows_by_id(fleet)["ticking"]
    assert [w.text for w in row.waiting] == ["tick deploy (+2 more)", "run check health-script", "capture the baseline"]


def test_a_soak_is_not_waiting_on_a_person(fleet: Fleet) -> None:
    row = rows_by_id(fleet)["soaking"]
    assert row.soak == "◷ 5% 13h/24h"
    assert [w.text for w in row.waiting] == ["soak: 10h48m left at 5%"]  # not "take the 100% step" yet
    assert not row.needs_human
    assert {f.name: (f.enabled, f.percent) for f in row.flags} == {
        "FEATURE_FLAG_DLQ_ENABLED": (True, 5),
        "FEATURE_FLAG_JOB_HEARTBEAT": (False, 0),
    }
    assert row.metric == "OK" and not row.metric_stale and row.age(row.metric_at) == timedelta(seconds=2)
    assert row.kill == "ARMED"


def test_a_breach_and_an_incident_with_its_next_deadline(fleet: Fleet) -> None:
    rows = rows_by_id(fleet)
    assert kinds(rows["breached"])[:1] == ["breach"] and rows["breached"].metric == "BREACH"
    assert "prerequisite" not in kinds(rows["breached"])  # the same breach, said once
    incident = rows["incident"].waiting[0]
    assert incident.kind == "incident"
    assert incident.text == "incident #1 open: Immediately by 08:57Z (overdue 3m)"


def test_kill_states(fleet: Fleet) -> None:
    rows = rows_by_id(fleet)
    assert rows["killed"].kill == "KILLED"
    failed = rows["kill-failed"]
    assert failed.kill == "KILL FAILED" and "FEATURE_FLAG_DLQ_ENABLED" in failed.kill_reason
    assert failed.waiting[0].kind == "kill"
    assert rows["no-plan"].kill == "NOT CHECKED"


def test_complete_waits_for_the_sign_off(fleet: Fleet) -> None:
    row = rows_by_id(fleet)["complete"]
    assert row.gate == "COMPLETE" and row.stage == "complete"
    assert [w.text for w in row.waiting] == ["sign-off: ops-oncall, product-owner"]


def test_a_stale_judgement_is_shown_stale_and_is_no_green_gate(fleet: Fleet) -> None:
    row = rows_by_id(fleet)["stale"]
    assert row.metric == "OK" and row.metric_stale and row.age(row.metric_at) == timedelta(minutes=5)
    assert ("metric", "thresholds not judged now: the last judgement is 5m old") in [
        (w.kind, w.text) for w in row.waiting
    ]


def test_a_gate_is_open_only_on_fresh_judgements_of_the_current_stage(tmp_path: Path) -> None:
    r = make_state("soaking", FileStore(tmp_path / "audit.jsonl"), None)
    state = r.state
    state.soaks[("stage-2", "dlq-5")].completed_at = NOW  # the soak is over: only the thresholds remain
    history = SqliteHistory(tmp_path / "history.sqlite3")
    rows = [judgement(t.metric, t.label, Status.OK) for t in r.plan.stage("stage-2").thresholds]
    Publisher(history, r.plan, "alok@bastion-1").judged("stage-2", rows, NOW - timedelta(seconds=5))
    fresh = fold_row("soaking", "x", r.plan, state, history.records(), NOW, "alok")
    # the item bound to the soak can be ticked now, then the 100% step: nothing else
    assert fresh.gate == "CLOSED" and [w.kind for w in fresh.waiting] == ["item", "canary"]
    later = fold_row("soaking", "x", r.plan, state, history.records(), NOW + timedelta(minutes=2), "alok")
    assert "metric" in [w.kind for w in later.waiting]


def test_without_a_published_plan_the_row_says_so(fleet: Fleet) -> None:
    row = rows_by_id(fleet)["no-plan"]
    assert row.gate == "?" and row.waiting[0].kind == "plan" and row.readonly
    assert not row.needs_human


def test_rows_needing_a_human_come_first_the_most_urgent_at_the_top(fleet: Fleet) -> None:
    order = [row.id for row in fleet.rows()]
    assert order[0] == "kill-failed"
    assert set(order[1:4]) == {"breached", "incident", "killed"}
    assert set(order[-3:]) == {"soaking", "stale", "no-plan"}
    first_machine = next(i for i, row in enumerate(fleet.rows()) if not row.needs_human)
    assert all(not row.needs_human for row in fleet.rows()[first_machine:])


def test_read_only_for_a_user_who_may_sign_nothing(fleet: Fleet) -> None:
    rows = rows_by_id(fleet)
    assert rows["readonly"].readonly == (
        "read-only: alok may sign no approval (dev-lead: alice; ops-oncall: alice; product-owner: alice)"
    )
    assert rows["unsigned"].readonly == ""
    assert cannot_sign(plan_for("x", users=("alice",)).plan, "alice") == ""


def test_json_line(fleet: Fleet) -> None:
    data = row_json(rows_by_id(fleet)["soaking"])
    assert data["flags"] == {"FEATURE_FLAG_DLQ_ENABLED": 5, "FEATURE_FLAG_JOB_HEARTBEAT": None}
    assert data["metric"] == {"worst": "OK", "age_s": 2, "stale": False}
    assert data["last_event_age_s"] == 13 * 3600 + 12 * 60
    assert data["needs_human"] is False


# --------------------------------------------------------------------------- live, incrementally


def test_refresh_reads_only_what_changed(tmp_path: Path) -> None:
    rollouts = build_fleet(tmp_path, ("unsigned", "soaking"))
    fleet = Fleet(dirs=[tmp_path], user="alok", clock=FakeClock(NOW))
    assert len(fleet.refresh()) == 3
    assert fleet.refresh() == set()  # nothing changed: nothing read
    r = rollouts["unsigned"]
    other = as_actor(r, OPS)  # another cockpit, another process's approval
    other.store = FileStore(r.store.path)  # type: ignore[attr-defined]
    other.approve("ops-oncall")
    changed = fleet.refresh()
    assert changed == {f"file:{tmp_path / 'unsigned' / 'audit.jsonl'}"}
    assert rows_by_id(fleet)["unsigned"].waiting[0].text == "approval: dev-lead, product-owner"


def test_a_new_log_is_found(tmp_path: Path) -> None:
    fleet = Fleet(dirs=[tmp_path], user="alok", clock=FakeClock(NOW))
    fleet.refresh()
    assert fleet.rows() == []
    build_fleet(tmp_path, ("signed",))
    fleet._scanned = -1e9  # the next look for new logs is due
    fleet.refresh()
    assert [row.id for row in fleet.rows()] == ["signed", "no-plan"]


# --------------------------------------------------------------------------- what cockpits publish


def test_plan_data_reads_back_as_the_same_plan() -> None:
    plan = example_plan().plan
    again, problems = build_plan(plan_data(plan))
    assert problems == [] and again is not None and again.digest == plan.digest


def test_a_published_plan_with_the_wrong_digest_is_not_used(tmp_path: Path) -> None:
    build_fleet(tmp_path, ("signed",))
    history = SqliteHistory(tmp_path / "signed" / "history.sqlite3")
    body = history.records()[PLAN].body
    history.put_record(PLAN, NOW, {**body, "digest": "0" * 64})
    history.close()
    fleet = Fleet(dirs=[tmp_path], user="alok", clock=FakeClock(NOW))
    fleet.refresh()
    assert rows_by_id(fleet)["signed"].gate == "?"


def test_publisher_writes_on_change_and_on_the_heartbeat(tmp_path: Path) -> None:
    history = SqliteHistory(tmp_path / "h.sqlite3")
    plan = example_plan().plan
    puts: list[tuple[str, bool]] = []
    original = history.put_record

    def spy(kind, at, body, *, news=True):  # type: ignore[no-untyped-def]
        puts.append((kind, news))
        original(kind, at, body, news=news)

    history.put_record = spy  # type: ignore[method-assign]
    publisher = Publisher(history, plan, "alok@bastion-1")
    ok = [judgement("dlq_entries", "DLQ entries", Status.OK)]
    assert publisher.judged("stage-2", ok, NOW)
    assert not publisher.judged("stage-2", ok, NOW + timedelta(seconds=1))  # unchanged, heartbeat not due
    assert publisher.judged("stage-2", ok, NOW + HEARTBEAT)  # the heartbeat: written, no news
    assert publisher.judged("stage-2", [judgement("dlq_entries", "DLQ entries", Status.BREACH)], NOW + HEARTBEAT)
    assert puts == [(JUDGED, True), (PLAN, True), (JUDGED, False), (JUDGED, True)]
    assert history.records()[JUDGED].body["rows"][0]["status"] == "BREACH"


def test_publishing_never_stops_judging(tmp_path: Path) -> None:
    history = SqliteHistory(tmp_path / "h.sqlite3")
    history.close()  # every write now fails
    publisher = Publisher(history, example_plan().plan, "alok@bastion-1")
    assert not publisher.judged("stage-0", [], NOW)
    assert "publishing judged" in publisher.error
    tries = []
    history.put_record = lambda *a, **k: tries.append(a)  # type: ignore[method-assign]
    assert not publisher.judged("stage-0", [], NOW + timedelta(seconds=1))  # not retried every second
    assert tries == []
    assert publisher.judged("stage-0", [], NOW + HEARTBEAT)  # but after a while
    assert publisher.error == "" and len(tries) == 2  # the judgements, then the plan


def test_the_monitor_publishes_each_judging_round(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path)
    history = SqliteHistory(tmp_path / "history.sqlite3")
    Monitor(rollout, history).evaluate()
    records = history.records()
    assert set(records) == {JUDGED, PLAN}
    assert records[JUDGED].body["stage"] == "stage-0"
    assert {row["status"] for row in records[JUDGED].body["rows"]} == {"NO DATA"}
    assert records[PLAN].body["digest"] == rollout.plan.digest
    assert ARMED not in records  # only a cockpit that checked its flags says ARMED


def test_a_torn_log_is_said_first(tmp_path: Path) -> None:
    build_fleet(tmp_path, ("soaking",))
    with (tmp_path / "soaking" / "audit.jsonl").open("ab") as log:
        log.write(b'{"seq": 99, "ti')  # a crash mid-write
    fleet = Fleet(dirs=[tmp_path], user="alok", clock=FakeClock(NOW))
    fleet.refresh()
    row = rows_by_id(fleet)["soaking"]
    assert row.waiting[0].kind == "record" and "torn at line" in row.waiting[0].text
    assert row.needs_human and row.soak == "◷ 5% 13h/24h"  # the state as of the line before


def test_a_soak_failed_by_a_breach_waits_on_a_person(tmp_path: Path) -> None:
    r = make_state("soaking", FileStore(tmp_path / "audit.jsonl"), None)
    state = r.state
    state.soaks[("stage-2", "dlq-5")].failed = True  # a step with on_breach = "fail", after its breach
    row = fold_row("soaking", "x", r.plan, state, {}, NOW, "alok")
    assert [(w.kind, w.text) for w in row.waiting] == [
        ("soak-failed", "soak failed by a breach: redo the 5% step"),
        ("metric", "thresholds not judged: no cockpit has judged Stage 2: Enable DLQ (5% → 100%)"),
    ]
    assert row.needs_human and row.soak == "✘ 5% soak failed"  # the soak column says what happened to it


def test_an_oversized_record_is_not_read(tmp_path: Path) -> None:
    build_fleet(tmp_path, ("soaking",))
    history = SqliteHistory(tmp_path / "soaking" / "history.sqlite3")
    history.put_record(JUDGED, NOW, {"stage": "stage-2", "rows": [], "junk": "x" * MAX_BODY})
    history.close()
    fleet = Fleet(dirs=[tmp_path], user="alok", clock=FakeClock(NOW))
    fleet.refresh()
    row = rows_by_id(fleet)["soaking"]
    assert row.metric == "" and row.metric_at is None  # bounded: left out, as if never published
    assert row.gate == "CLOSED" and row.soak == "◷ 5% 13h/24h"  # the rest of the line is intact


def test_a_soak_says_what_really_happened_to_it(fleet: Fleet) -> None:
    """A kill stops the soak and a breach breaks it: the fleet never shows either as running on."""
    rows = rows_by_id(fleet)
    assert rows["killed"].soak == "■ 5% soak stopped"
    assert ("soak-stopped", "soak stopped by the kill: take the 5% step again, or back out") in [
        (w.kind, w.text) for w in rows["killed"].waiting
    ]
    assert rows["breached"].soak == "✘ 5% soak broken"
    assert ("soak", "soak broken by dlq_entries: restarts when OK") in [(w.kind, w.text) for w in rows["breached"].waiting]
    assert rows["soaking"].soak == "◷ 5% 13h/24h"

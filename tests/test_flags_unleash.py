"""The Unleash provider against a real Unleash server (npm ``unleash-server``, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.kill import FlagSwitch
from tests.servers import Postgres
from tests.servers_unleash import Unleash
from tests.unleash_setup import editor_token, switch_on, unleash_rollout

pytestmark = pytest.mark.unleash
DLQ, HB = "FEATURE_FLAG_DLQ_ENABLED", "FEATURE_FLAG_JOB_HEARTBEAT"


@pytest.fixture
def flags_on(unleash: Unleash) -> Unleash:
    for name in (DLQ, HB):
        unleash.create_flag(name)
        switch_on(unleash, name)
    return unleash


async def test_canary_percent_then_bulk_kill_verified(tmp_path: Path, flags_on: Unleash) -> None:
    switch_on(flags_on, DLQ, "development")
    rollout = unleash_rollout(tmp_path, flags_on)
    async with FlagSwitch(rollout) as switch:
        impl = switch.providers["app"]
        await impl.set_percent(rollout.plan.flag(DLQ), 5)
        assert flags_on.flag_state(DLQ) == (True, [5])
        readings = await switch.read_all()
        assert (readings[DLQ].enabled, readings[DLQ].percent) == (True, 5)
        assert (await switch.arm()).armed
        report = await switch.kill("error rate breach")
    assert report.all_off, report.summary()
    assert flags_on.flag_state(DLQ)[0] is False and flags_on.flag_state(HB)[0] is False
    assert flags_on.flag_state(DLQ, "development")[0] is True  # only the plan's environment is killed
    types = [e.type for e in rollout.store.read(0)]
    assert types[0] == "kill.requested" and types.count("kill.flag_result") == 2


async def test_bulk_off_succeeds_for_one_flag_and_fails_for_another(tmp_path: Path, flags_on: Unleash) -> None:
    rollout = unleash_rollout(tmp_path, flags_on, keys={HB: "NO_SUCH_FLAG_IN_UNLEASH"})
    async with FlagSwitch(rollout) as switch:
        armed = await switch.arm()
        report = await switch.kill("breach")
    assert not armed.armed and f"{HB}: flag missing (HTTP 404" in armed.reason
    assert report.verdict == "PARTIAL"
    assert report.outcomes[0].verified_off and flags_on.flag_state(DLQ)[0] is False
    assert not report.outcomes[1].verified_off and report.outcomes[1].error.startswith("HTTP 404")
    assert f"{HB}: {HB}=false" in report.backout
    results = {e.payload["flag"]: e.payload for e in rollout.store.read(0) if e.type == "kill.flag_result"}
    assert results[DLQ]["verified_off"] is True and results[HB]["verified_off"] is False


async def test_bad_token_not_armed_and_never_shown(tmp_path: Path, flags_on: Unleash) -> None:
    token = "*:*.not-the-real-admin-token"
    rollout = unleash_rollout(tmp_path, flags_on, token=token)
    async with FlagSwitch(rollout) as switch:
        armed = await switch.arm()
        report = await switch.kill("breach")
    assert not armed.armed and "credentials refused (HTTP 401" in armed.reason
    assert report.may_be_on == [DLQ, HB]
    assert flags_on.flag_state(DLQ)[0] is True
    shown = armed.reason + "\n".join(report.summary())
    assert token not in shown and token not in (tmp_path / "audit.jsonl").read_text()


@pytest.fixture
def change_requests(flags_on: Unleash, postgres: Postgres) -> Iterator[Unleash]:
    """Change requests switched on for production (the table Unleash consults before a change)."""
    postgres.execute(
        "INSERT INTO change_request_settings (project, environment, required_approvals) "
        f"VALUES ('{flags_on.project}', 'production', 1)",
        dbname="unleash",
    )
    yield flags_on
    postgres.execute("DELETE FROM change_request_settings", dbname="unleash")


async def test_change_requests_refuse_the_kill(tmp_path: Path, change_requests: Unleash) -> None:
    token = editor_token(change_requests)  # an admin token may skip change requests; an editor may not
    rollout = unleash_rollout(tmp_path, change_requests, token=token)
    async with FlagSwitch(rollout) as switch:
        report = await switch.kill("breach")
    assert not report.all_off
    assert all(o.error.startswith("HTTP 403") for o in report.outcomes), report.summary()
    assert change_requests.flag_state(DLQ)[0] is True
    assert report.backout[0] == f"{DLQ}: {DLQ}=false"
    assert all("change request" in o.error.lower() or "SKIP_CHANGE_REQUEST" in o.error for o in report.outcomes)
    assert token not in (tmp_path / "audit.jsonl").read_text()

"""The kill switch against the simulator's flag API (the example plan's ``[providers.app]``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cockpit.canary import take_step
from cockpit.clock import FakeClock
from cockpit.events import Event
from cockpit.kill import FlagSwitch
from cockpit.rollout import GateClosed, Rollout, RolloutError
from cockpit.sim.server import SimServer
from cockpit.store.filelog import FileStore
from tests.core_helpers import ALOK, example_plan, example_text
from tests.servers import free_port

DLQ, HB = "FEATURE_FLAG_DLQ_ENABLED", "FEATURE_FLAG_JOB_HEARTBEAT"


def sim_rollout(tmp_path: Path, url: str, token: str, text: str | None = None) -> Rollout:
    loaded = example_plan({"APP_URL": url, "APP_TOKEN": token}, text=text)
    return Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), clock=FakeClock(), actor=ALOK)


def events(rollout: Rollout) -> list[Event]:
    return rollout.store.read(0)


def control(url: str, path: str, body: dict[str, object]) -> None:
    httpx.post(f"{url}/api/sim/{path}", json=body, timeout=5).raise_for_status()


def flag_state(url: str, token: str, name: str) -> dict[str, object]:
    r = httpx.get(f"{url}/api/flags/{name}", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    r.raise_for_status()
    return dict(r.json())


def turn_on(url: str, token: str, *names: str) -> None:
    for name in names:
        r = httpx.put(f"{url}/api/flags/{name}", json={"enabled": True, "percent": 5},
                      headers={"Authorization": f"Bearer {token}"}, timeout=5)  # fmt: skip
        r.raise_for_status()


@pytest.fixture
def sim(sim_server: SimServer, sim_token: str) -> Iterator[SimServer]:
    """The session simulator, flags ON at 5 %, faults cleared before and after."""
    control(sim_server.url, "faults", {"reset": True})
    turn_on(sim_server.url, sim_token, DLQ, HB)
    yield sim_server
    control(sim_server.url, "faults", {"reset": True})
    for name in (DLQ, HB):
        httpx.post(f"{sim_server.url}/api/flags/{name}/off", headers={"Authorization": f"Bearer {sim_token}"})


async def test_kill_turns_every_flag_off_and_audits_first(tmp_path: Path, sim: SimServer, sim_token: str) -> None:
    rollout = sim_rollout(tmp_path, sim.url, sim_token)
    async with FlagSwitch(rollout) as switch:
        report = await switch.kill("error rate breach")
    assert report.all_off and report.verdict == "ALL OFF (verified)"
    assert report.summary() == [f"{DLQ}: OFF (verified)", f"{HB}: OFF (verified)"]
    assert flag_state(sim.url, sim_token, DLQ)["enabled"] is False
    assert flag_state(sim.url, sim_token, HB)["enabled"] is False
    types = [e.type for e in events(rollout)]
    assert types[:4] == ["kill.requested", "kill.flag_result", "kill.flag_result", "kill.result"]
    assert "incident.opened" in types
    first = events(rollout)[0]
    assert first.payload == {"reason": "error rate breach", "flags": [DLQ, HB]}
    assert first.actor.user == "alok"
    assert rollout.state.flags[DLQ].enabled is False


async def test_kill_twice_is_harmless(tmp_path: Path, sim: SimServer, sim_token: str) -> None:
    rollout = sim_rollout(tmp_path, sim.url, sim_token)
    async with FlagSwitch(rollout) as switch:
        first = await switch.kill("one")
        second = await switch.kill("two")
    assert first.all_off and second.all_off
    assert [o.attempts for o in second.outcomes] == [1, 1]
    assert [e.type for e in events(rollout)].count("incident.opened") == 1  # the open incident is reused


async def test_503_twice_then_success_retries_and_audits_attempts(
    tmp_path: Path, sim: SimServer, sim_token: str
) -> None:
    control(sim.url, "faults", {"flag_fail": 2, "status": 503})
    rollout = sim_rollout(tmp_path, sim.url, sim_token)
    async with FlagSwitch(rollout) as switch:
        report = await switch.kill("breach")
    assert report.all_off
    assert max(o.attempts for o in report.outcomes) == 2
    results = [e.payload for e in events(rollout) if e.type == "kill.flag_result"]
    assert {r["flag"]: r["verified_off"] for r in results} == {DLQ: True, HB: True}
    assert max(int(r["attempts"]) for r in results) == 2


async def test_timeout_is_bounded_and_names_flags_still_on(tmp_path: Path, sim: SimServer, sim_token: str) -> None:
    text = example_text().replace('read_url = "${APP_URL', 'timeout = "0.2s"\nread_url = "${APP_URL', 1)
    control(sim.url, "faults", {"latency_ms": 600})
    rollout = sim_rollout(tmp_path, sim.url, sim_token, text)
    started = time.monotonic()
    async with FlagSwitch(rollout) as switch:
        report = await switch.kill("breach")
    elapsed = time.monotonic() - started
    assert elapsed < 3.0  # 3 attempts x (0.2 s off + 0.2 s read) + 0.4 s backoff, concurrently
    assert not report.all_off and report.verdict == "FAILED"
    assert report.summary()[0] == f"{DLQ}: MAY STILL BE ON: timed out after 3 attempts"
    assert f"{DLQ}: {DLQ}=false" in report.backout
    results = [e.payload for e in events(rollout) if e.type == "kill.flag_result"]
    assert [(r["verified_off"], r["attempts"], r["error"]) for r in results] == [(False, 3, "timed out")] * 2
    assert [e for e in events(rollout) if e.type == "kill.result"][-1].payload["may_be_on"] == [DLQ, HB]


async def test_connection_refused(tmp_path: Path, sim_token: str) -> None:
    rollout = sim_rollout(tmp_path, f"http://127.0.0.1:{free_port()}", sim_token)
    async with FlagSwitch(rollout) as switch:
        armed = await switch.arm()
        report = await switch.kill("breach")
    assert not armed.armed and "connection refused" in armed.reason
    assert report.may_be_on == [DLQ, HB]
    assert all(o.error == "connection refused" and o.attempts == 3 for o in report.outcomes)
    assert events(rollout)[0].type == "kill.requested"


async def test_bad_token_is_not_armed_and_never_printed(tmp_path: Path, sim: SimServer) -> None:
    secret = "wrong-token-value-123"
    rollout = sim_rollout(tmp_path, sim.url, secret)
    async with FlagSwitch(rollout) as switch:
        armed = await switch.arm()
        report = await switch.kill("breach")
    assert not armed.armed
    assert "credentials refused (HTTP 401" in armed.reason
    assert report.may_be_on == [DLQ, HB]
    assert all(o.attempts == 1 and o.error.startswith("HTTP 401") for o in report.outcomes)  # not retried
    shown = armed.reason + "\n".join(report.summary() + list(report.backout))
    assert secret not in shown
    assert secret not in (tmp_path / "audit.jsonl").read_text()
    assert flag_state(sim.url, "sim-token", DLQ)["enabled"] is True  # really still on, as reported


async def test_flag_missing_is_partial_with_backout(tmp_path: Path, sim: SimServer, sim_token: str) -> None:
    control(sim.url, "faults", {"flag_missing": HB})
    rollout = sim_rollout(tmp_path, sim.url, sim_token)
    async with FlagSwitch(rollout) as switch:
        armed = await switch.arm()
        report = await switch.kill("breach")
    assert not armed.armed and f"{HB}: flag missing (HTTP 404" in armed.reason
    assert report.verdict == "PARTIAL" and report.may_be_on == [HB]
    assert report.summary()[1].startswith(f"{HB}: MAY STILL BE ON: HTTP 404")
    assert f"{HB}: {HB}=false" in report.backout
    assert not any(DLQ in line for line in report.backout)
    result = events(rollout)[3]
    assert result.type == "kill.result" and result.payload["all_off"] is False


async def test_audit_failure_still_kills_and_is_reported(tmp_path: Path, sim: SimServer, sim_token: str) -> None:
    (tmp_path / "audit.jsonl").write_bytes(b'{"seq": 1, "torn')  # a crash mid-write: appends refuse
    rollout = sim_rollout(tmp_path, sim.url, sim_token)
    async with FlagSwitch(rollout) as switch:
        report = await switch.kill("breach")
    assert report.all_off
    assert flag_state(sim.url, sim_token, DLQ)["enabled"] is False
    assert report.audit_errors and report.audit_errors[0].startswith("kill.requested: TornTail")
    assert any(line.startswith("AUDIT LOG NOT WRITTEN") for line in report.summary())


async def test_readonly_cockpit_refuses_to_kill(tmp_path: Path, sim: SimServer, sim_token: str) -> None:
    loaded = example_plan({"APP_URL": sim.url, "APP_TOKEN": sim_token})
    FileStore(tmp_path / "audit.jsonl").close()
    rollout = Rollout(loaded, FileStore(tmp_path / "audit.jsonl", readonly=True), clock=FakeClock(), actor=ALOK)
    async with FlagSwitch(rollout) as switch:
        with pytest.raises(RolloutError, match="read-only"):
            await switch.kill("breach")
    assert flag_state(sim.url, sim_token, DLQ)["enabled"] is True


async def test_canary_step_is_gated_confirmed_and_audited(tmp_path: Path, sim: SimServer, sim_token: str) -> None:
    httpx.post(f"{sim.url}/api/flags/{DLQ}/off", headers={"Authorization": f"Bearer {sim_token}"})
    rollout = sim_rollout(tmp_path, sim.url, sim_token)
    async with FlagSwitch(rollout) as switch:
        with pytest.raises(GateClosed):
            await take_step(switch, DLQ, 5, stage="stage-2", step="dlq-5", confirm=DLQ)
        for _ in range(3):
            rollout.advance(override="test: straight to stage 2")
        with pytest.raises(RolloutError, match="type the flag name"):
            await take_step(switch, DLQ, 5, stage="stage-2", step="dlq-5", confirm="yes")
        with pytest.raises(RolloutError, match="no canary step"):
            await take_step(switch, DLQ, 50, stage="stage-2", step="dlq-5", confirm=DLQ)
        after = await take_step(switch, DLQ, 5, stage="stage-2", step="dlq-5", confirm=DLQ)
    assert (after.enabled, after.percent) == (True, 5)
    assert flag_state(sim.url, sim_token, DLQ) == {"name": DLQ, "enabled": True, "percent": 5}
    changed = [e for e in events(rollout) if e.type == "flag.changed"][-1]
    assert changed.payload["before"]["enabled"] is False and changed.payload["after"]["percent"] == 5
    assert ("stage-2", "dlq-5") in rollout.state.soaks

"""A canary step on the real Unleash sets exactly the exposure asked for, or refuses (nothing changed).

The cockpit manages one flexibleRollout strategy per flag and environment and changes only its rollout
percentage: constraints, segments, variants, stickiness and groupId stay as they are. Each test maps the
plan's DLQ flag onto a fresh Unleash flag (``key``), so the session's server is shared safely.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from cockpit.canary import take_step as canary_step
from cockpit.kill import FlagSwitch
from cockpit.rollout import Rollout, RolloutError
from tests.servers_unleash import Unleash
from tests.unleash_setup import switch_on, unleash_rollout

pytestmark = pytest.mark.unleash
DLQ = "FEATURE_FLAG_DLQ_ENABLED"
STAGE, STEP = "stage-2", "dlq-5"


def fresh_flag(unleash: Unleash, prefix: str) -> str:
    key = f"{prefix}_{uuid.uuid4().hex[:8]}"
    unleash.create_flag(key)
    return key


def add_strategy(unleash: Unleash, key: str, body: dict[str, Any], environment: str = "production") -> dict[str, Any]:
    url = f"{unleash.feature_path(key)}/environments/{environment}/strategies"
    r = httpx.post(url, headers=unleash.headers, json=body, timeout=10)
    assert r.status_code < 300, r.text
    return dict(r.json())


def strategies(unleash: Unleash, key: str, environment: str = "production") -> list[dict[str, Any]]:
    r = httpx.get(unleash.feature_path(key), headers=unleash.headers, timeout=10)
    r.raise_for_status()
    env = next(e for e in r.json()["environments"] if e["name"] == environment)
    return list(env["strategies"])


def at_stage_2(tmp_path: Path, unleash: Unleash, key: str) -> Rollout:
    rollout = unleash_rollout(tmp_path, unleash, keys={DLQ: key})
    for _ in range(3):
        rollout.advance(override="test: straight to stage 2")
    return rollout


async def take_step(rollout: Rollout) -> Any:
    async with FlagSwitch(rollout) as switch:
        return await canary_step(switch, DLQ, 5, stage=STAGE, step=STEP, confirm=DLQ)


def flexible(rollout: int = 100, **extra: Any) -> dict[str, Any]:
    params = {"rollout": str(rollout), "stickiness": extra.pop("stickiness", "default"),
              "groupId": extra.pop("groupId", "grp")}  # fmt: skip
    return {"name": "flexibleRollout", "parameters": params, **extra}


async def test_default_strategy_present_refuses_and_changes_nothing(tmp_path: Path, unleash: Unleash) -> None:
    key = fresh_flag(unleash, "CANARY_DEFAULT")
    add_strategy(unleash, key, {"name": "default", "parameters": {}})
    switch_on(unleash, key)
    before = strategies(unleash, key)
    rollout = at_stage_2(tmp_path, unleash, key)
    with pytest.raises(RolloutError) as refused:
        await take_step(rollout)
    message = str(refused.value)
    assert "other strategies" in message and "default" in message and "production" in message
    assert strategies(unleash, key) == before  # no 5 % strategy added beside the 100 % one
    assert (STAGE, STEP) not in rollout.state.soaks and (STAGE, STEP) not in rollout.state.canary


async def test_constraints_variants_stickiness_group_kept(tmp_path: Path, unleash: Unleash) -> None:
    key = fresh_flag(unleash, "CANARY_CONSTRAINED")
    constraints = [{"contextName": "userId", "operator": "IN", "values": ["alice"], "caseInsensitive": False,
                    "inverted": False}]  # fmt: skip
    variants = [{"name": "blue", "weight": 1000, "weightType": "variable", "stickiness": "userId"}]
    created = add_strategy(unleash, key, flexible(100, stickiness="userId", groupId="checkout",
                                                  constraints=constraints, variants=variants))  # fmt: skip
    switch_on(unleash, key)
    rollout = at_stage_2(tmp_path, unleash, key)
    after = await take_step(rollout)
    assert (after.enabled, after.percent) == (True, 5)
    [strategy] = strategies(unleash, key)
    assert strategy["id"] == created["id"]
    assert strategy["parameters"] == {"rollout": "5", "stickiness": "userId", "groupId": "checkout"}
    assert [c["values"] for c in strategy["constraints"]] == [["alice"]]
    assert strategy["constraints"][0]["contextName"] == "userId"
    assert [v["name"] for v in strategy["variants"]] == ["blue"]
    assert (STAGE, STEP) in rollout.state.soaks


async def test_segment_kept(tmp_path: Path, unleash: Unleash) -> None:
    key = fresh_flag(unleash, "CANARY_SEGMENT")
    body = {"name": f"beta-{uuid.uuid4().hex[:6]}", "constraints": [
        {"contextName": "userId", "operator": "IN", "values": ["bob"]}]}  # fmt: skip
    r = httpx.post(f"{unleash.url}/api/admin/segments", headers=unleash.headers, json=body, timeout=10)
    assert r.status_code < 300, r.text
    segment = r.json()["id"]
    add_strategy(unleash, key, flexible(50, segments=[segment]))
    switch_on(unleash, key)
    await take_step(at_stage_2(tmp_path, unleash, key))
    [strategy] = strategies(unleash, key)
    assert strategy["parameters"]["rollout"] == "5" and strategy["segments"] == [segment]


async def test_two_environments_only_the_plans_changes(tmp_path: Path, unleash: Unleash) -> None:
    key = fresh_flag(unleash, "CANARY_TWO_ENVS")
    add_strategy(unleash, key, flexible(50), environment="development")
    switch_on(unleash, key, "development")
    dev_before = strategies(unleash, key, "development")
    rollout = at_stage_2(tmp_path, unleash, key)
    after = await take_step(rollout)
    assert (after.enabled, after.percent) == (True, 5)
    assert unleash.flag_state(key) == (True, [5])
    assert strategies(unleash, key, "development") == dev_before
    assert unleash.flag_state(key, "development") == (True, [50])


async def test_no_strategy_yet_gets_one_at_the_percentage(tmp_path: Path, unleash: Unleash) -> None:
    key = fresh_flag(unleash, "CANARY_NEW")
    rollout = at_stage_2(tmp_path, unleash, key)
    after = await take_step(rollout)
    assert (after.enabled, after.percent) == (True, 5)
    assert unleash.flag_state(key) == (True, [5])
    changed = [e for e in rollout.store.read(0) if e.type == "flag.changed"][-1]
    assert changed.payload["after"]["percent"] == 5 and changed.payload["step"] == STEP


async def test_two_rollout_strategies_refuse(tmp_path: Path, unleash: Unleash) -> None:
    key = fresh_flag(unleash, "CANARY_TWO_ROLLOUTS")
    add_strategy(unleash, key, flexible(10))
    add_strategy(
        unleash, key, flexible(100, constraints=[{"contextName": "userId", "operator": "IN", "values": ["x"]}])
    )
    switch_on(unleash, key)
    before = strategies(unleash, key)
    with pytest.raises(RolloutError, match="other strategies"):
        await take_step(at_stage_2(tmp_path, unleash, key))
    assert strategies(unleash, key) == before

"""What the operator reads: NOT ARMED says a shared reason once, with the number of flags it applies to."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.kill import FlagSwitch
from tests.servers_unleash import Unleash
from tests.unleash_setup import unleash_rollout

pytestmark = pytest.mark.unleash


async def test_not_armed_collapses_identical_errors(tmp_path: Path, unleash: Unleash) -> None:
    rollout = unleash_rollout(tmp_path, unleash, token="*:*.not-the-real-admin-token")
    async with FlagSwitch(rollout) as switch:
        armed = await switch.arm()
    assert not armed.armed
    assert armed.reason.startswith("app: 2 flags: credentials refused (HTTP 401"), armed.reason
    assert armed.reason.count("HTTP 401") == 1 and len(armed.reason) < 250


async def test_not_armed_names_a_single_flag_and_an_unresolved_provider(tmp_path: Path, unleash: Unleash) -> None:
    rollout = unleash_rollout(tmp_path, unleash, keys={"FEATURE_FLAG_JOB_HEARTBEAT": "NO_SUCH_FLAG"})
    async with FlagSwitch(rollout, unresolved={"app": "UNLEASH_TOKEN is not set"}) as switch:
        unresolved = await switch.arm()
    assert unresolved.reason == "app: 2 flags: UNLEASH_TOKEN is not set"
    async with FlagSwitch(rollout) as switch:
        armed = await switch.arm()
    assert armed.reason.startswith("app: FEATURE_FLAG_JOB_HEARTBEAT: flag missing (HTTP 404"), armed.reason

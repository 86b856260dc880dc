"""A kill, once begun, finishes: its flags driven and read back, its result recorded, even when whoever asked
for it is gone. Before, ``K`` then ``q`` within a second (or an SSH session dropping right after ``K``)
cancelled the kill half-way: the log held ``kill.requested`` and nothing else, and every flag stayed ON."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from cockpit.clock import FakeClock
from cockpit.kill import FlagSwitch
from cockpit.plan.load import LoadedPlan, parse_plan
from cockpit.rollout import Rollout
from cockpit.session import Services
from cockpit.store.filelog import FileStore
from cockpit.store.history import SqliteHistory
from screens.app import CockpitApp
from screens.prompts import ConfirmPrompt
from tests.core_helpers import ALOK, ENV, EXAMPLE, example_text

FLAGS = ("FEATURE_FLAG_DLQ_ENABLED", "FEATURE_FLAG_JOB_HEARTBEAT")


def slow_plan(state: Path) -> LoadedPlan:
    """Flags in files; turning one off takes a second (a provider 1 s away)."""
    state.mkdir()
    for name in FLAGS:
        (state / name).write_text("true\n")
    provider = (
        f"[providers.app]\nkind = \"command\"\noff = 'sleep 1; echo false > {state}/{{flag}}'\n"
        f"read = 'cat {state}/{{flag}}'\npercent = 'echo {{percent}} > {state}/{{flag}}'\ntimeout = \"3s\"\n\n"
    )
    text = re.sub(r"\[providers\.app\].*?(?=# An Unleash server instead)", provider, example_text(), flags=re.S)
    return parse_plan(text, str(EXAMPLE), ENV, base=EXAMPLE)


def types(log: Path) -> list[str]:
    return [json.loads(line)["type"] for line in log.read_text().splitlines()]


def flags_off(state: Path) -> bool:
    return all((state / name).read_text() == "false\n" for name in FLAGS)


async def test_a_cancelled_caller_leaves_the_kill_running_and_closing_waits_for_it(tmp_path: Path) -> None:
    state, log = tmp_path / "flags", tmp_path / "audit.jsonl"
    rollout = Rollout(slow_plan(state), FileStore(log), clock=FakeClock(), actor=ALOK)
    switch = FlagSwitch(rollout)
    caller = asyncio.create_task(switch.kill("breach"))
    await asyncio.sleep(0.2)
    assert switch.killing
    caller.cancel()  # the worker that asked is gone
    await asyncio.gather(caller, return_exceptions=True)
    assert switch.killing  # the kill is not
    await switch.aclose()  # what the cockpit does on its way out
    assert not switch.killing
    assert flags_off(state)
    assert types(log).count("kill.flag_result") == 2 and "kill.result" in types(log)
    result = next(json.loads(line) for line in log.read_text().splitlines() if '"kill.result"' in line)
    assert result["payload"]["all_off"] is True


async def test_quitting_right_after_the_kill_key_waits_for_the_kill(tmp_path: Path) -> None:
    state, log = tmp_path / "flags", tmp_path / "audit.jsonl"
    rollout = Rollout(slow_plan(state), FileStore(log), clock=FakeClock(), actor=ALOK)
    app = CockpitApp(Services.build(rollout, SqliteHistory(tmp_path / "history.sqlite3"), live=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("K")
        await pilot.pause(0.2)
        await pilot.press("q")  # at once, before any flag has answered
        await pilot.pause(0.1)
        assert app.is_running and not flags_off(state)  # not gone: waiting for the kill
        for _ in range(100):  # the kill ends (~1 s), an incident is open: the usual question comes
            if isinstance(app.screen, ConfirmPrompt):
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, ConfirmPrompt)
        assert flags_off(state) and "kill.result" in types(log)
        await pilot.press("y")
        await pilot.pause(0.1)
    assert not app.is_running

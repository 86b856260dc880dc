"""The command provider: templated commands with timeouts; a hanging command cannot hold the kill."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from cockpit.clock import FakeClock
from cockpit.kill import FlagSwitch
from cockpit.plan.load import LoadedPlan
from cockpit.rollout import Rollout
from cockpit.store.filelog import FileStore
from tests.core_helpers import ALOK, example_plan, example_text

DLQ, HB = "FEATURE_FLAG_DLQ_ENABLED", "FEATURE_FLAG_JOB_HEARTBEAT"


def command_plan(off: str, read: str, timeout: str = "2s") -> LoadedPlan:
    provider = (
        f"[providers.app]\nkind = \"command\"\noff = '{off}'\nread = '{read}'\n"
        f"percent = 'echo {{percent}} > {{flag}}'\ntimeout = \"{timeout}\"\n\n"
    )
    text = re.sub(r"\[providers\.app\].*?(?=# An Unleash server instead)", provider, example_text(), flags=re.S)
    return example_plan(text=text)


def rollout_on(tmp_path: Path, loaded: LoadedPlan) -> Rollout:
    return Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), clock=FakeClock(), actor=ALOK)


async def test_commands_turn_flags_off(tmp_path: Path) -> None:
    state = tmp_path / "flags"
    state.mkdir()
    for name in (DLQ, HB):
        (state / name).write_text("true\n")
    loaded = command_plan(off=f"echo false > {state}/{{flag}}", read=f"cat {state}/{{flag}}")
    switch = FlagSwitch(rollout_on(tmp_path, loaded))
    assert (await switch.arm()).armed
    report = await switch.kill("breach")
    assert report.all_off
    assert (state / DLQ).read_text() == "false\n"


async def test_hanging_command_is_killed_at_its_timeout(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    loaded = command_plan(off=f"echo $$ >> {pids}; exec sleep 30", read="echo true", timeout="0.3s")
    rollout = rollout_on(tmp_path, loaded)
    switch = FlagSwitch(rollout)
    started = time.monotonic()
    report = await switch.kill("breach")
    elapsed = time.monotonic() - started
    assert elapsed < 4.0  # 3 attempts x 0.3 s + 0.4 s backoff, the two flags concurrently
    assert not report.all_off
    assert [o.error for o in report.outcomes] == ["timed out after 0.3s"] * 2
    assert [o.attempts for o in report.outcomes] == [3, 3]
    assert report.backout[0] == f"{DLQ}: {DLQ}=false"
    for pid in pids.read_text().split():
        try:
            os.kill(int(pid), 0)
            alive = True
        except ProcessLookupError:
            alive = False
        assert not alive, f"the hanging command {pid} was left running"
    results = [e.payload for e in rollout.store.read(0) if e.type == "kill.flag_result"]
    assert [(r["flag"], r["attempts"]) for r in results] == [(DLQ, 3), (HB, 3)]


async def test_failing_command_reports_exit_and_stderr(tmp_path: Path) -> None:
    loaded = command_plan(off="echo nope >&2; exit 4", read="echo on")
    report = await FlagSwitch(rollout_on(tmp_path, loaded)).kill("breach")
    assert report.outcomes[0].error == "exit 4: nope"
    assert report.outcomes[0].attempts == 1

"""A canary step counts only when the read-back shows the percentage asked; ``flag set --override``.

The flags live in files driven by the command provider (real shell commands): a provider whose percent
command writes the wrong value stands for any API that accepts a change and applies another.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.canary import take_step
from cockpit.kill import FlagSwitch
from cockpit.rollout import RolloutError
from tests.core_helpers import example_plan, example_text, make_rollout

DLQ = "FEATURE_FLAG_DLQ_ENABLED"


def plan_text(state: Path, percent_cmd: str) -> str:
    provider = (
        f"[providers.app]\nkind = \"command\"\noff = 'echo false > {state}/{{flag}}'\n"
        f"read = 'cat {state}/{{flag}}'\npercent = '{percent_cmd}'\ntimeout = \"2s\"\n\n"
    )
    return re.sub(r"\[providers\.app\].*?(?=# An Unleash server instead)", provider, example_text(), flags=re.S)


def flag_dir(tmp_path: Path) -> Path:
    state = tmp_path / "flags"
    state.mkdir()
    for name in (DLQ, "FEATURE_FLAG_JOB_HEARTBEAT"):
        (state / name).write_text("false\n")
    return state


async def test_read_back_not_at_the_percentage_is_a_failed_step(tmp_path: Path) -> None:
    state = flag_dir(tmp_path)
    loaded = example_plan(text=plan_text(state, f"echo 50 > {state}/{{flag}}"))  # asked 5, applies 50
    rollout = make_rollout(tmp_path, loaded=loaded)
    for _ in range(3):
        rollout.advance(override="test: straight to stage 2")
    async with FlagSwitch(rollout) as switch:
        with pytest.raises(RolloutError, match=r"read back as ON 50%.*the step is not taken"):
            await take_step(switch, DLQ, 5, stage="stage-2", step="dlq-5", confirm=DLQ)
    changed = [e for e in rollout.store.read(0) if e.type == "flag.changed"][-1]
    assert changed.payload["failed_step"] == "dlq-5" and changed.payload["step"] == ""
    assert changed.payload["after"]["percent"] == 50
    assert ("stage-2", "dlq-5") not in rollout.state.canary and ("stage-2", "dlq-5") not in rollout.state.soaks


def cockpit(tmp_path: Path, plan: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "COCKPIT_STATE_DIR": str(tmp_path / "state"), "USER": "oncall",
           "APP_TOKEN": "t0ken-value"}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "cockpit", "--config", str(plan), *args],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=60, check=False,
    )  # fmt: skip


def test_flag_set_override_is_audited(tmp_path: Path) -> None:
    state = flag_dir(tmp_path)
    plan = tmp_path / "cockpit.toml"
    plan.write_text(plan_text(state, f"echo {{percent}} > {state}/{{flag}}"))
    gated = cockpit(tmp_path, plan, "flag", "set", DLQ, "5", "--confirm", DLQ)
    assert gated.returncode == 1 and "gate closed" in gated.stderr and "--override REASON" in gated.stderr
    assert (state / DLQ).read_text() == "false\n"
    empty = cockpit(tmp_path, plan, "flag", "set", DLQ, "5", "--confirm", DLQ, "--override", " ")
    assert empty.returncode == 1 and "typed reason" in empty.stderr
    done = cockpit(tmp_path, plan, "flag", "set", DLQ, "5", "--confirm", DLQ, "--override", "CAB approved by phone")
    assert done.returncode == 0, done.stderr
    assert (state / DLQ).read_text() == "5\n"
    log = tmp_path / "state" / "alokickflow-phase2" / "audit.jsonl"
    events = [json.loads(line) for line in log.read_text().splitlines()]
    overridden = next(e["payload"] for e in events if e["type"] == "gate.overridden")
    assert overridden["reason"] == "CAB approved by phone" and overridden["step"] == "dlq-5"
    changed = next(e["payload"] for e in events if e["type"] == "flag.changed")
    assert changed["reason"] == "gate overridden: CAB approved by phone" and changed["after"]["percent"] == 5


@pytest.mark.parametrize("damage", ["torn", "edited"])
async def test_no_flag_is_exposed_when_the_step_cannot_be_recorded(tmp_path: Path, damage: str) -> None:
    """Before, the flag was driven first and recorded after: on a log that refuses appends (a torn last line)
    or a record that is not believed (an edited event) the flag went to 5 % and nothing said so."""
    state = flag_dir(tmp_path)
    loaded = example_plan(text=plan_text(state, f"echo {{percent}} > {state}/{{flag}}"))
    rollout = make_rollout(tmp_path, loaded=loaded)
    for _ in range(3):
        rollout.advance(override="test: straight to stage 2")
    rollout.note("in stage 2")
    log = tmp_path / "audit.jsonl"
    if damage == "torn":
        with log.open("a") as fh:
            fh.write('{"seq": 99, "trunc')  # a crash mid-write
    else:
        log.write_text(log.read_text().replace('"in stage 2"', '"approved by everyone"'))
    reader = make_rollout(tmp_path, loaded=loaded)  # a cockpit opened on it
    async with FlagSwitch(reader) as switch:
        with pytest.raises(RolloutError, match="not changed"):
            await take_step(switch, DLQ, 5, stage="stage-2", step="dlq-5", confirm=DLQ)
    assert (state / DLQ).read_text() == "false\n"  # never exposed
    assert any(b.kind == "record" for b in reader.canary_blockers("stage-2", "dlq-5"))

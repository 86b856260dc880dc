"""``cockpit kill``, ``flags``, ``flag set`` and ``incident`` as real processes on an env-file plan."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.core_helpers import example_text
from tests.test_flags_envfile import ENV_TEXT

DLQ, HB = "FEATURE_FLAG_DLQ_ENABLED", "FEATURE_FLAG_JOB_HEARTBEAT"


def write_plan(tmp_path: Path, env_path: Path) -> Path:
    provider = f'[providers.app]\nkind = "envfile"\npath = "{env_path}"\n\n'
    text = re.sub(r"\[providers\.app\].*?(?=# An Unleash server instead)", provider, example_text(), flags=re.S)
    plan = tmp_path / "cockpit.toml"
    plan.write_text(text)
    return plan


def cockpit(tmp_path: Path, plan: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "APP_TOKEN": "tok-s3cr3t-value",
        "COCKPIT_STATE_DIR": str(tmp_path / "state"),
        "USER": "oncall",
    }
    return subprocess.run(
        [sys.executable, "-m", "cockpit", "--config", str(plan), *args],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=60, check=False,
    )  # fmt: skip


def test_kill_prints_verified_state_and_exits_0(tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text(ENV_TEXT)
    plan = write_plan(tmp_path, env_file)
    before = cockpit(tmp_path, plan, "flags")
    assert before.returncode == 0, before.stderr
    assert re.search(rf"{DLQ}\s+app\s+ON 100%", before.stdout) and before.stdout.rstrip().endswith("ARMED")
    done = cockpit(tmp_path, plan, "kill", "--reason", "error rate 2%")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:3] == [f"{DLQ}: OFF (verified)", f"{HB}: OFF (verified)", "ALL OFF (verified)"]
    incident = cockpit(tmp_path, plan, "incident")
    assert "kill: error rate 2%" in incident.stdout and "[ ] Page on-call" in incident.stdout
    assert cockpit(tmp_path, plan, "incident", "done", "page").returncode == 0
    assert "[x] Page on-call" in cockpit(tmp_path, plan, "incident").stdout
    audit = (tmp_path / "state" / "alokickflow-phase2" / "audit.jsonl").read_text()
    assert '"type":"kill.requested"' in audit and "tok-s3cr3t-value" not in audit


def test_kill_that_cannot_verify_exits_1_with_backout(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, tmp_path / "missing.env")
    done = cockpit(tmp_path, plan, "kill", "--flag", DLQ)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{DLQ}: MAY STILL BE ON: {tmp_path / 'missing.env'}: no such file after 1 attempt")
    assert lines[1] == "FAILED"
    assert f"  {DLQ}: {DLQ}=false" in lines and "Traceback" not in done.stderr
    flags = cockpit(tmp_path, plan, "flags")
    assert flags.returncode == 1 and "NOT ARMED: app: " in flags.stdout


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text(ENV_TEXT)
    plan = write_plan(tmp_path, env_file)
    unknown = cockpit(tmp_path, plan, "kill", "--flag", "NOPE")
    assert unknown.returncode == 2 and unknown.stderr.startswith("cockpit kill: unknown flag 'NOPE'")
    assert env_file.read_text() == ENV_TEXT
    unconfirmed = cockpit(tmp_path, plan, "flag", "set", DLQ, "5")
    assert unconfirmed.returncode == 1 and f"pass --confirm {DLQ}" in unconfirmed.stderr
    gated = cockpit(tmp_path, plan, "flag", "set", DLQ, "5", "--confirm", DLQ)
    assert gated.returncode == 1 and "gate closed" in gated.stderr and "Traceback" not in gated.stderr
    no_step = cockpit(tmp_path, plan, "flag", "set", DLQ, "42", "--confirm", DLQ)
    assert no_step.returncode == 1 and "no canary step sets" in no_step.stderr
    assert env_file.read_text() == ENV_TEXT

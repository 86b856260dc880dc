"""``cockpit kill`` needs only ``[[flags]]`` and ``[providers]``: the rest of the plan may be broken.

Real processes on an env-file plan (the flags are lines of a file the test reads back), plus a second
provider whose token is unset.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.test_flags_envfile import ENV_TEXT
from tests.test_kill_cli import write_plan

DLQ, HB = "FEATURE_FLAG_DLQ_ENABLED", "FEATURE_FLAG_JOB_HEARTBEAT"
ROLLOUT_ID = "alokickflow-phase2"


def kill(tmp_path: Path, plan: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "APP_TOKEN": "tok-s3cr3t-value",
        "COCKPIT_STATE_DIR": str(tmp_path / "state"),
        "USER": "oncall",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "cockpit", "--config", str(plan), "kill", "--reason", "breach", *args],
        capture_output=True, text=True, env=environ, stdin=subprocess.DEVNULL, timeout=60, check=False,
    )  # fmt: skip


def envfile_plan(tmp_path: Path, extra: str = "", replace: tuple[str, str] | None = None) -> tuple[Path, Path]:
    env_file = tmp_path / "app.env"
    env_file.write_text(ENV_TEXT)
    plan = write_plan(tmp_path, env_file)
    text = plan.read_text()
    if replace:
        assert replace[0] in text
        text = text.replace(replace[0], replace[1], 1)
    plan.write_text(text + extra)
    return plan, env_file


def audit_events(tmp_path: Path) -> list[dict[str, object]]:
    log = tmp_path / "state" / ROLLOUT_ID / "audit.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()]


def assert_both_off_verified_and_audited(
    tmp_path: Path, env_file: Path, done: subprocess.CompletedProcess[str]
) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert f"{DLQ}: OFF (verified)" in done.stdout.splitlines(), done.stdout + done.stderr
    assert f"{HB}: OFF (verified)" in done.stdout.splitlines()
    assert f"{DLQ}=false" in env_file.read_text() and f"export {HB}=false" in env_file.read_text()
    events = audit_events(tmp_path)
    types = [e["type"] for e in events]
    assert types[0] == "kill.requested" and "kill.result" in types
    results = {e["payload"]["flag"]: e["payload"] for e in events if e["type"] == "kill.flag_result"}  # type: ignore[index]
    assert results[DLQ]["verified_off"] is True and results[HB]["verified_off"] is True  # type: ignore[index]


def test_syntax_error_outside_flags_and_providers(tmp_path: Path) -> None:
    # a broken stage (an unclosed array) and a broken [notify]: the whole plan is not TOML
    plan, env_file = envfile_plan(
        tmp_path, extra='\n[notify]\nwebhooks = ["https://hooks.example/x"\n',
        replace=('[[stages]]\nid = "stage-0"', '[[stages]]\nid = "stage-0"\nitems = [ { id = "x", text = '),
    )  # fmt: skip
    done = kill(tmp_path, plan)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_both_off_verified_and_audited(tmp_path, env_file, done)
    ignored = [line for line in done.stderr.splitlines() if "ignored" in line]
    assert len(ignored) == 1 and "[notify] (invalid TOML at line" in ignored[0] and "[stages]" in ignored[0]
    assert done.stdout.splitlines()[-1] == "ALL OFF (verified)" or "ALL OFF (verified)" in done.stdout


def test_unset_variables_in_unrelated_tables(tmp_path: Path) -> None:
    plan, env_file = envfile_plan(tmp_path, replace=("webhooks = []", 'webhooks = ["${SLACK_WEBHOOK_URL}"]'))
    text = plan.read_text().replace("${DATABASE_URL:-postgresql://127.0.0.1:5432/alokickflow}", "${DATABASE_URL}")
    plan.write_text(text)
    done = kill(tmp_path, plan)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_both_off_verified_and_audited(tmp_path, env_file, done)
    ignored = [line for line in done.stderr.splitlines() if "ignored" in line]
    assert len(ignored) == 1 and "SLACK_WEBHOOK_URL is not set" in ignored[0]
    assert "DATABASE_URL" not in done.stdout


UNLEASH = """
[providers.unleash]
kind = "unleash"
url = "${UNLEASH_URL}"
token = "${UNLEASH_TOKEN}"

[[flags]]
name = "NEW_CHECKOUT"
provider = "unleash"
backout = "unleash-cli off NEW_CHECKOUT"
"""


def test_one_provider_of_two_unresolvable(tmp_path: Path) -> None:
    plan, env_file = envfile_plan(tmp_path, replace=("# An Unleash server instead", UNLEASH + "\n# An Unleash"))
    done = kill(tmp_path, plan, env={"UNLEASH_URL": "http://127.0.0.1:9"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert_both_off_verified_and_audited(tmp_path, env_file, done)
    lines = done.stdout.splitlines()
    assert "NEW_CHECKOUT: MAY STILL BE ON: UNLEASH_TOKEN is not set" in lines
    assert "PARTIAL" in lines and "  NEW_CHECKOUT: unleash-cli off NEW_CHECKOUT" in lines
    events = audit_events(tmp_path)
    result = next(e["payload"] for e in events if e["type"] == "kill.result")
    assert result["may_be_on"] == ["NEW_CHECKOUT"]  # type: ignore[index]
    failed = [
        e["payload"] for e in events if e["type"] == "kill.flag_result" and e["payload"]["flag"] == "NEW_CHECKOUT"
    ]  # type: ignore[index]
    assert failed and failed[0]["error"] == "UNLEASH_TOKEN is not set"  # type: ignore[index]


def test_only_the_named_flag_needs_its_provider(tmp_path: Path) -> None:
    plan, env_file = envfile_plan(tmp_path, replace=("# An Unleash server instead", UNLEASH + "\n# An Unleash"))
    done = kill(tmp_path, plan, "--flag", DLQ)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[:2] == [f"{DLQ}: OFF (verified)", "ALL OFF (verified)"]
    assert f'export {HB}="true"' in env_file.read_text()


def test_no_flags_at_all_is_a_plan_error(tmp_path: Path) -> None:
    plan = tmp_path / "cockpit.toml"
    plan.write_text("[rollout]\nid = 'x'\n[[stages]\n")
    done = kill(tmp_path, plan)
    assert done.returncode == 2 and "invalid TOML" in done.stderr and "Traceback" not in done.stderr


def test_flags_reads_the_plan_as_the_kill_does(tmp_path: Path) -> None:
    plan, _ = envfile_plan(tmp_path, replace=("# An Unleash server instead", UNLEASH + "\n# An Unleash"))
    text = plan.read_text().replace("webhooks = []", 'webhooks = ["${SLACK_WEBHOOK_URL}"]')
    plan.write_text(text)
    environ = {"PATH": os.environ.get("PATH", ""), "APP_TOKEN": "t", "COCKPIT_STATE_DIR": str(tmp_path / "s"),
               "UNLEASH_URL": "http://127.0.0.1:9"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "cockpit", "--config", str(plan), "flags"],
        capture_output=True, text=True, env=environ, stdin=subprocess.DEVNULL, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "SLACK_WEBHOOK_URL is not set" in done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith(DLQ) and "ON 100%" in line for line in lines), done.stdout
    assert lines[-1] == "NOT ARMED: unleash: NEW_CHECKOUT: UNLEASH_TOKEN is not set"
    assert not (tmp_path / "s").exists()  # reading flags writes nothing


def test_a_broken_flag_entry_costs_only_itself_and_is_never_all_off(tmp_path: Path) -> None:
    broken = '\n[[flags]]\nname = "HALF_WRITTEN\nprovider = "app"\n\n[providers.bad]\nkind = "http\n'
    plan, env_file = envfile_plan(tmp_path, replace=("# An Unleash server instead", broken + "# An Unleash"))
    text = plan.read_text()
    line = text.splitlines().index('name = "HALF_WRITTEN') + 1
    done = kill(tmp_path, plan)
    assert done.returncode == 1, done.stdout + done.stderr
    assert_both_off_verified_and_audited(tmp_path, env_file, done)
    lines = done.stdout.splitlines()
    assert f"MAY STILL BE ON: the [[flags]] entry at line {line - 1} is not valid TOML (line {line})" in lines
    assert "PARTIAL (not every flag of the plan could be read)" in lines and "ALL OFF (verified)" not in lines
    notes = [e["payload"]["text"] for e in audit_events(tmp_path) if e["type"] == "note.added"]  # type: ignore[index]
    assert any("could not be read" in n for n in notes)

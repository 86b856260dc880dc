"""The whole kill returns by ``kill_deadline`` whatever a provider does; results print as they arrive.

A real local HTTP server whose off endpoint hangs stands for a flag API that accepts the connection and
never answers; the other flag is an env-file line that turns off at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cockpit.kill import FlagSwitch
from cockpit.rollout import Rollout
from cockpit.store.filelog import FileStore
from tests.core_helpers import ALOK, example_plan
from tests.test_flags_envfile import ENV_TEXT
from tests.test_kill_cli import write_plan

DLQ, HB = "FEATURE_FLAG_DLQ_ENABLED", "FEATURE_FLAG_JOB_HEARTBEAT"


class Hanging:
    """An HTTP flag API: reads answer ``{"enabled": true}``; ``/off`` never answers (until the test ends)."""

    def __init__(self) -> None:
        release = self.release = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps({"enabled": True}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                release.wait(60)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hanging() -> Iterator[Hanging]:
    server = Hanging()
    yield server
    server.stop()


def hung_plan(tmp_path: Path, url: str, deadline: str = "1s") -> tuple[Path, Path]:
    env_file = tmp_path / "app.env"
    env_file.write_text(ENV_TEXT)
    plan = write_plan(tmp_path, env_file)
    provider = (
        f'[providers.hung]\nkind = "http"\nread_url = "{url}/flags/{{flag}}"\n'
        f'off = {{ method = "POST", url = "{url}/flags/{{flag}}/off" }}\ntimeout = "5s"\n\n'
    )
    text = plan.read_text().replace("# An Unleash server instead", provider + "# An Unleash server instead", 1)
    text = text.replace(f'name = "{HB}"\nprovider = "app"', f'name = "{HB}"\nprovider = "hung"', 1)
    text = text.replace("[defaults]\n", f'[defaults]\nkill_deadline = "{deadline}"\n', 1)
    plan.write_text(text)
    return plan, env_file


def test_cli_kill_returns_by_the_deadline_printing_as_it_goes(tmp_path: Path, hanging: Hanging) -> None:
    plan, env_file = hung_plan(tmp_path, hanging.url)
    env = {"PATH": os.environ.get("PATH", ""), "COCKPIT_STATE_DIR": str(tmp_path / "state"), "USER": "oncall",
           "APP_TOKEN": "t0ken-value"}  # fmt: skip
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cockpit", "--config", str(plan), "kill", "--reason", "breach"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    first = proc.stdout.readline().rstrip("\n")
    first_at = time.monotonic() - started
    rest, err = proc.communicate(timeout=30)
    ended = time.monotonic() - started
    assert first == f"{DLQ}: OFF (verified)", (first, rest, err)
    assert proc.returncode == 1, err
    # the start of the process costs ~0.3 s; the hung flag holds nothing beyond the 1 s deadline
    assert ended < 1.0 + 1.5, ended
    assert first_at < ended - 0.5, (first_at, ended)  # printed as it arrived, well before the deadline
    lines = rest.splitlines()
    assert f"{HB}: MAY STILL BE ON: no answer within the 1 s kill deadline (still trying in the background)" in [
        line.split(" after ")[0] for line in lines
    ], rest
    assert "PARTIAL" in lines and f"  {HB}: {HB}=false" in lines
    assert f"{DLQ}=false" in env_file.read_text()
    log = tmp_path / "state" / "alokickflow-phase2" / "audit.jsonl"
    events = [json.loads(line) for line in log.read_text().splitlines()]
    result = next(e["payload"] for e in events if e["type"] == "kill.result")
    assert result["may_be_on"] == [HB] and result["unanswered"] == [HB]
    late = [e["payload"] for e in events if e["type"] == "kill.flag_result" and e["payload"]["flag"] == HB]
    assert len(late) == 1 and late[0]["after_deadline"] is True and "abandoned" in late[0]["error"]


async def test_late_outcome_is_audited_when_it_comes(tmp_path: Path, hanging: Hanging) -> None:
    plan, _ = hung_plan(tmp_path, hanging.url, deadline="0.5s")
    loaded = example_plan(text=plan.read_text())
    rollout = Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), actor=ALOK)
    seen: list[str] = []
    async with FlagSwitch(rollout) as switch:
        started = time.monotonic()
        report = await switch.kill("breach", on_result=lambda o: seen.append(o.line()))
        elapsed = time.monotonic() - started
        assert elapsed < 0.5 + 0.2, elapsed
        assert report.may_be_on == [HB] and seen == [f"{DLQ}: OFF (verified)"]
        hanging.release.set()  # the provider answers at last (its read still says on)
        for _ in range(100):
            late = [e for e in rollout.store.read(0) if e.type == "kill.flag_result" and e.payload["flag"] == HB]
            if late:
                break
            await asyncio.sleep(0.05)
    assert late and late[0].payload["after_deadline"] is True
    assert seen[-1].startswith(f"{HB}: MAY STILL BE ON")

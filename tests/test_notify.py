"""Webhook notifications: posted in the background; a failing or hanging webhook never slows a kill."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cockpit import events as ev
from cockpit.cli.main import main
from cockpit.clock import FakeClock
from cockpit.kill import FlagSwitch
from cockpit.notify import Notifier, Outbox
from cockpit.rollout import Rollout
from cockpit.store.filelog import FileStore
from tests.core_helpers import ALOK, example_text
from tests.test_flags_envfile import ENV_TEXT, envfile_plan


class Receiver:
    """A real Slack-style incoming-webhook endpoint on 127.0.0.1 that records what it is sent."""

    def __init__(self) -> None:
        received: list[dict[str, object]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def silent_socket() -> Iterator[str]:
    """Accepts connections and never answers: a hanging webhook."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    sock.close()


def poll(check: Callable[[], bool], deadline: float = 5.0) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.02)
    return check()


def rollout_with_hooks(tmp_path: Path, hooks: list[str]) -> Rollout:
    env = tmp_path / "app.env"
    env.write_text(ENV_TEXT)
    listed = ", ".join(f'"${{HOOK_{i}}}"' for i in range(len(hooks)))
    text = example_text().replace("webhooks = []", f"webhooks = [{listed}]")
    loaded = envfile_plan(env, text, {f"HOOK_{i}": url for i, url in enumerate(hooks)})
    return Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), clock=FakeClock(), actor=ALOK)


async def test_kill_and_approval_are_posted(tmp_path: Path, receiver: Receiver) -> None:
    rollout = rollout_with_hooks(tmp_path, [receiver.url])
    notifier = Notifier(rollout.loaded)
    rollout.listeners.append(notifier)
    rollout.approve("dev-lead")
    rollout.note("not notified")
    await FlagSwitch(rollout).kill("error rate breach")
    assert poll(lambda: len(receiver.received) >= 3)
    notifier.close()
    texts = [str(m["text"]) for m in receiver.received]
    assert texts[0].startswith("[alokickflow-phase2] approval: Dev Lead signed by alok@bastion-1 · audit head 2:")  # 1: the plan.changed
    assert texts[1].startswith("[alokickflow-phase2] KILL requested by alok@bastion-1: error rate breach")
    kill = [e for e in rollout.store.read() if e.type == "kill.result"][-1]
    assert texts[2] == f"[alokickflow-phase2] kill result: ALL OFF (verified) · anchor {kill.seq}:{kill.hash}"
    events = {e.seq: e.hash for e in rollout.store.read(0)}
    for text in texts:  # each carries the head as of its event (an anchor in full): a witness outside the host
        seq, digest = re.split(r" · (?:audit head|anchor) ", text)[-1].split(":")
        assert events[int(seq)].startswith(digest)
    assert not any("not notified" in t for t in texts)
    assert notifier.sent == 3 and notifier.failed == 0


async def test_failing_webhooks_never_slow_the_kill(
    tmp_path: Path, silent_socket: str, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    rollout = rollout_with_hooks(tmp_path, [silent_socket, refused, receiver.url])
    notifier = Notifier(rollout.loaded, timeout=0.5)
    rollout.listeners.append(notifier)
    started = time.monotonic()
    report = await FlagSwitch(rollout).kill("breach")
    elapsed = time.monotonic() - started
    assert report.all_off
    assert elapsed < 0.3  # the hanging webhook (0.5 s timeout per post) is not waited for
    assert poll(lambda: len(receiver.received) == 2, deadline=0.4)  # not queued behind the hanging hook
    assert poll(lambda: notifier.failed >= 4)
    assert "webhook" in caplog.text and silent_socket not in caplog.text  # the URL is a secret: redacted
    notifier.close()


# ---------------------------------------------------------------- one path for every decision, CLI included


@pytest.fixture
def hooked_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Path]]:
    """A plan file whose webhook is ``${HOOK}`` (set per call), on an env-file provider, its own state dir."""
    env = tmp_path / "app.env"
    env.write_text(ENV_TEXT)
    monkeypatch.setenv("APP_TOKEN", "tok-s3cr3t-value")
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    provider = f'[providers.app]\nkind = "envfile"\npath = "{env}"\n\n'
    text = re.sub(r"\[providers\.app\].*?(?=# An Unleash server instead)", provider, example_text(), flags=re.S)
    text = text.replace("webhooks = []", 'webhooks = ["${HOOK}"]')
    plan = tmp_path / "cockpit.toml"
    plan.write_text(text)

    def with_hook(url: str) -> Path:
        monkeypatch.setenv("HOOK", url)
        return plan

    yield with_hook


def test_cli_decisions_are_posted_as_the_dashboards_are(
    hooked_plan: Callable[[str], Path], receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = str(hooked_plan(receiver.url))
    assert main(["-c", plan, "approve", "dev-lead"]) == 0
    assert main(["-c", plan, "advance", "--override", "drill: approvers on leave"]) == 0
    assert main(["-c", plan, "revoke", "dev-lead"]) == 0
    assert poll(lambda: len(receiver.received) >= 4)
    texts = [str(m["text"]) for m in receiver.received]
    assert any("approval: Dev Lead signed by" in t for t in texts), texts
    assert any("GATE OVERRIDDEN into stage-0" in t for t in texts), texts
    assert any("stage entered: stage-0" in t for t in texts), texts
    assert any("approval revoked: dev-lead" in t for t in texts), texts
    assert "not sent" not in capsys.readouterr().err


def test_autokill_cancelled_is_posted(tmp_path: Path, receiver: Receiver) -> None:
    rollout = rollout_with_hooks(tmp_path, [receiver.url])
    notifier = Notifier(rollout.loaded)
    rollout.listeners.append(notifier)
    rollout.record(ev.AUTOKILL_CANCELLED, {"all": True, "metrics": ["error_rate"], "reason": "operator"})
    assert poll(lambda: len(receiver.received) >= 1)
    assert "auto-kill cancelled" in str(receiver.received[0]["text"])
    notifier.close()


def test_a_post_dropped_at_exit_is_said_and_the_next_process_sends_it(
    hooked_plan: Callable[[str], Path], silent_socket: str, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = str(hooked_plan(silent_socket))  # the webhook hangs
    started = time.monotonic()
    assert main(["-c", plan, "kill", "--reason", "drill"]) == 0
    assert time.monotonic() - started < 6  # the kill did not wait on the hook: at most 2 s at exit
    err = capsys.readouterr().err
    assert "not sent" in err and "retr" in err, err
    assert silent_socket not in err  # a webhook URL is a secret
    plan = str(hooked_plan(receiver.url))  # the channel is back; any later command retries the outbox
    assert main(["-c", plan, "status"]) == 0
    assert poll(lambda: any("kill result: ALL OFF" in str(m["text"]) for m in receiver.received))
    texts = [str(m["text"]) for m in receiver.received]
    assert sum("kill result" in t for t in texts) == 1 and sum("KILL requested" in t for t in texts) == 1
    capsys.readouterr()
    assert main(["-c", plan, "status"]) == 0  # posted once: nothing is sent again
    time.sleep(0.3)
    assert sum("kill result" in str(m["text"]) for m in receiver.received) == 1


def test_the_outbox_hands_a_message_to_one_process_at_a_time(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.json")
    box.add("7 ${HOOK}", "kill result")
    assert box.take() == []  # just queued by its own process: not taken by another
    data = json.loads((tmp_path / "outbox.json").read_text())
    data["7 ${HOOK}"]["lease"] = 0  # that process died long ago
    (tmp_path / "outbox.json").write_text(json.dumps(data))
    assert box.take() == [("7 ${HOOK}", "kill result")]
    assert box.take() == []  # leased to the taker
    box.done("7 ${HOOK}")
    assert json.loads((tmp_path / "outbox.json").read_text()) == {}

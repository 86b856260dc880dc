"""Services wiring (webhooks attached, none in read-only) and ``cockpit --readonly`` in the dashboard."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.clock import FakeClock
from cockpit.demo import next_hint
from cockpit.plan.load import parse_plan
from cockpit.rollout import Rollout
from cockpit.session import Services
from cockpit.store.filelog import FileStore
from cockpit.store.history import SqliteHistory
from tests.core_helpers import ALOK, ENV, EXAMPLE, example_text, make_rollout
from tests.test_notify import Receiver
from tests.tui_support import make_app, sign_all, to_stage
from widgets.key_bar import KeyBar

SIZE = (120, 40)
WRITING_KEYS = ("a", "t", "g", "K")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def hooked_rollout(tmp_path: Path, url: str, *, readonly: bool = False) -> Rollout:
    text = example_text().replace("webhooks = []", 'webhooks = ["${HOOK_URL}"]', 1)
    loaded = parse_plan(text, str(EXAMPLE), {**ENV, "HOOK_URL": url}, base=EXAMPLE)
    log = tmp_path / "audit.jsonl"
    FileStore(log).read(0)
    return Rollout(loaded, FileStore(log, readonly=readonly), clock=FakeClock(), actor=ALOK)


async def test_webhooks_are_attached_and_closed(tmp_path: Path, receiver: Receiver) -> None:
    rollout = hooked_rollout(tmp_path, receiver.url)
    services = Services.build(rollout, SqliteHistory(tmp_path / "h.sqlite3"))
    notifier = services.notifier
    assert notifier is not None and notifier in rollout.listeners
    rollout.approve("dev-lead")
    deadline = time.monotonic() + 5
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.02)
    head = rollout.state.head
    assert [m["text"] for m in receiver.received] == [
        f"[alokickflow-phase2] approval: Dev Lead signed by alok@bastion-1 · audit head 2:{head[:16]}"  # 1: the plan.changed
    ]
    await services.aclose()
    assert services.notifier is None and notifier not in rollout.listeners
    rollout.note("after close")  # no listener left to post it
    assert len(receiver.received) == 1


def test_no_webhooks_no_notifier_and_readonly_attaches_no_writer(tmp_path: Path, receiver: Receiver) -> None:
    plain = Services.build(make_rollout(tmp_path / "plain"), SqliteHistory(":memory:"))
    assert plain.notifier is None and len(plain.rollout.listeners) == 1  # breach incidents only
    viewer = Services.build(hooked_rollout(tmp_path, receiver.url, readonly=True), SqliteHistory(":memory:"))
    assert viewer.notifier is None and viewer.rollout.listeners == []
    assert viewer.switch is not None  # a viewer still sees whether the kill switch is armed


class Hints:
    """The demo's hooks without the demo's servers: only the hint is used here."""

    header: list[str] = []
    notes: dict[str, str] = {}

    def hint(self, rollout: object, blockers: list[object] | None = None) -> str:
        return next_hint(rollout, None, blockers)  # type: ignore[arg-type]

    def flood(self, rollout: object) -> str:
        raise AssertionError("read-only never floods")

    def keep(self, path: object) -> object:
        return path

    def after_kill(self) -> None:
        raise AssertionError("read-only never kills")


async def test_readonly_keys_write_nothing_and_are_not_in_the_footer(tmp_path: Path) -> None:
    writer = make_rollout(tmp_path)  # another cockpit on the same log took the rollout into Stage 0
    sign_all(writer)
    to_stage(writer, "stage-0")
    before = writer.state.count
    app = make_app(tmp_path, readonly=True)
    app.demo = Hints()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        footer = set(app.screen.query_one(KeyBar).keys)  # what the key bar lists
        assert footer and not footer & set(WRITING_KEYS)
        assert "l" in footer  # the audit view is still offered
        for key in WRITING_KEYS:
            await pilot.press(key)
            await pilot.pause()
            assert app.screen.id == "dashboard", f"{key} opened a prompt"
        await app.workers.wait_for_complete()
        assert FileStore(tmp_path / "audit.jsonl").read(0)[-1].seq == before
        assert app.services.rollout.state.count == before
        guide = str(app.screen.query_one("#guide").render())
        assert "read-only: watching" in guide and "press" not in guide.lower()


async def test_a_deferred_kill_switch_is_built_when_asked_for(tmp_path: Path) -> None:
    """``cockpit`` builds the kill switch after the first frame; a kill asked for sooner builds it at once."""
    services = Services.build(make_rollout(tmp_path), SqliteHistory(":memory:"), connect=False)
    assert services.switch is None and services.offers_kill and services.monitor is not None
    switch = services.need_switch()
    assert services.connected and services.switch is switch and services.autokill is not None
    assert services.need_switch() is switch  # once
    await services.aclose()


def test_the_first_frame_loads_neither_httpx_nor_plotext() -> None:
    """What the dashboard imports before its first frame: the network and chart code come after it."""
    import subprocess
    import sys

    code = (
        "import sys, screens.main, cockpit.cli.tui;"
        "print(sorted(m for m in ('httpx', 'plotext', 'textual_plotext', 'cockpit.kill') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=EXAMPLE.parent)
    assert out.stdout.strip() == "[]"

"""The TUI with signed decisions: approving asks nothing more when the agent holds a key; the gate says "signed" (one-cell glyphs only)."""

from __future__ import annotations

from pathlib import Path

from cockpit.clock import FakeClock
from cockpit.rollout import Rollout
from cockpit.session import Services
from cockpit.signing import Signatures
from cockpit.store.filelog import FileStore
from cockpit.store.history import SqliteHistory
from screens.app import CockpitApp
from screens.prompts import PickPrompt
from tests.core_helpers import OPS
from tests.signing_support import Keys, signed_plan
from tests.tui_support import ALOK, result_text, until_started
from widgets.gate import Gate

SIZE = (120, 40)


def app_for(tmp_path: Path, keys: Keys, person: str, *, require: bool = False) -> CockpitApp:
    loaded = signed_plan(keys, require=require)
    signatures = Signatures(loaded, environ=keys.agent_env(person))
    rollout = Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), clock=FakeClock(), actor=ALOK, signatures=signatures)
    return CockpitApp(Services.build(rollout, SqliteHistory(tmp_path / "history.sqlite3"), live=False, connect=False))


async def test_approving_with_an_agent_key_prompts_for_nothing_more_and_the_gate_shows_the_seal(
    tmp_path: Path, keys: Keys
) -> None:
    app = app_for(tmp_path, keys, "alice")
    async with app.run_test(size=SIZE) as pilot:
        await until_started(pilot)
        await pilot.press("a")
        assert isinstance(app.screen, PickPrompt)
        await pilot.press("enter")  # the first role: Dev Lead
        await pilot.pause()
        assert not isinstance(app.screen, PickPrompt)  # no passphrase, no second question
        approval = app.services.rollout.state.approvals["dev-lead"]
        assert approval.event is not None and approval.event.sig is not None
        await pilot.pause(0.3)
        gate = app.screen.query_one(Gate)
        line = next(line for line in gate._plain.splitlines() if "Dev Lead" in line)
        assert line.startswith("✔ Dev Lead: alok") and line.endswith("· signed alice@example.com")


async def test_the_gate_shows_an_approval_that_does_not_count(tmp_path: Path, keys: Keys) -> None:
    loaded = signed_plan(keys, require=True)
    bob = Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), clock=FakeClock(), actor=OPS,
                  signatures=Signatures(loaded, environ=keys.agent_env("bob")))  # fmt: skip
    bob.approve("ops-oncall")
    payload = {"role": "dev-lead", "title": "Dev Lead", "handle": "@alok", "digest": loaded.plan.digest}
    FileStore(tmp_path / "audit.jsonl").append("approval.signed", payload, ALOK, FakeClock().now())  # unsigned
    app = app_for(tmp_path, keys, "alice", require=True)
    async with app.run_test(size=SIZE) as pilot:
        await until_started(pilot)
        await pilot.pause(0.3)
        plain = app.screen.query_one(Gate)._plain
        assert "✘ Dev Lead: alok, not counted" in plain
        assert "✔ Ops On-Call: oncall" in plain and "· signed bob@example.com" in plain


async def test_approving_without_an_agent_says_it_was_recorded_unsigned(tmp_path: Path, keys: Keys) -> None:
    loaded = signed_plan(keys)
    rollout = Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), clock=FakeClock(), actor=ALOK,
                      signatures=Signatures(loaded, environ={}))  # fmt: skip
    app = CockpitApp(Services.build(rollout, SqliteHistory(tmp_path / "history.sqlite3"), live=False, connect=False))
    async with app.run_test(size=SIZE) as pilot:
        await until_started(pilot)
        await pilot.press("a")
        await pilot.press("enter")
        await pilot.pause()
        assert "recorded unsigned: no SSH agent ($SSH_AUTH_SOCK is not set)" in result_text(app)

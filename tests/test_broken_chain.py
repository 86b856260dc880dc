"""A record whose chain does not hold is not believed. Before, only ``cockpit audit verify`` walked the chain:
an edited line (an approval's role changed, a note rewritten) was folded into the state, counted by the gate,
shown on every screen and written into the sign-off as the record. Now every reader checks each event it
folds against its hash and the one before it: at the first break nothing more is believed, the gate is closed
naming the break, nothing more is recorded, and no sign-off is written (the kill still drives the flags)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cockpit.events import Event
from cockpit.export.render import export_text
from cockpit.kill import FlagSwitch
from cockpit.rollout import Rollout, RolloutError
from cockpit.session import Services
from cockpit.store.audit import AuditError, verify_file
from cockpit.store.filelog import FileStore
from cockpit.store.history import SqliteHistory
from tests.core_helpers import ALOK, OPS, as_actor, example_plan, example_text, make_rollout
from widgets.banner import banner_lines

LOGS = Path(__file__).parent / "golden" / "logs"


def edit(log: Path, seq: int, change: dict[str, object]) -> None:
    """Change event ``seq``'s payload in place, its hash left as it was (what a hand edit does)."""
    lines = log.read_text().splitlines(keepends=True)
    body = json.loads(lines[seq - 1])
    body["payload"] = {**body["payload"], **change}
    lines[seq - 1] = json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n"
    log.write_text("".join(lines))


def signed(tmp_path: Path) -> Rollout:
    rollout = make_rollout(tmp_path)
    rollout.approve("dev-lead")  # event 1 is plan.changed, 2 this approval
    as_actor(rollout, OPS).approve("ops-oncall")
    rollout.note("handover")
    return rollout


def test_an_edited_event_and_everything_after_it_is_not_believed(tmp_path: Path) -> None:
    signed(tmp_path)
    log = tmp_path / "audit.jsonl"
    edit(log, 2, {"role": "product-owner"})  # a forged approval: the role that was never signed
    reader = Rollout(make_rollout(tmp_path).loaded, FileStore(log), actor=ALOK)
    state = reader.state
    assert reader.broken is not None and reader.broken.line == 2 and reader.broken.kind == "edited"
    assert state.count == 1 and not state.approvals  # as of the event before the break
    assert not verify_file(log).ok  # what audit verify says too


def test_the_gate_closes_nothing_is_recorded_and_no_sign_off_is_written(tmp_path: Path) -> None:
    signed(tmp_path)
    log = tmp_path / "audit.jsonl"
    edit(log, 3, {"role": "product-owner"})
    reader = Rollout(make_rollout(tmp_path).loaded, FileStore(log), actor=ALOK)
    blockers = reader.blockers()
    assert blockers[0].kind == "record" and "chain is broken at event 3" in blockers[0].message
    before = log.read_bytes()
    with pytest.raises(RolloutError, match="not recorded: the audit log's chain is broken at event 3"):
        reader.note("on top of a forged record")
    with pytest.raises(AuditError, match="no sign-off"):
        export_text(reader, "md")
    assert log.read_bytes() == before


def test_the_dashboard_says_so_in_its_banner(tmp_path: Path) -> None:
    signed(tmp_path)
    log = tmp_path / "audit.jsonl"
    edit(log, 4, {"text": "all good, ship it"})
    services = Services.build(
        Rollout(make_rollout(tmp_path).loaded, FileStore(log), actor=ALOK), SqliteHistory(":memory:")
    )
    lines = banner_lines(services, services.rollout.now())
    assert any(
        line.startswith("✘ AUDIT LOG BROKEN: the audit log's chain is broken at event 4 (edited") for line in lines
    )
    services.history.close()


def test_a_spliced_chain_is_broken_too(tmp_path: Path) -> None:
    signed(tmp_path)
    log = tmp_path / "audit.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join([lines[0], *lines[2:]]))  # event 2 removed whole
    reader = Rollout(make_rollout(tmp_path).loaded, FileStore(log), actor=ALOK)
    assert reader.state.count == 1 and reader.broken is not None and reader.broken.kind == "deleted"


@pytest.mark.parametrize("name", ["release-2024-12-before-typed-events.jsonl", "release-2026-11-typed-events.jsonl"])
def test_logs_of_earlier_releases_hold(name: str, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_bytes((LOGS / name).read_bytes())
    events = FileStore(log).read()
    reader = Rollout(make_rollout(tmp_path / "plan").loaded, FileStore(log), actor=ALOK)
    assert reader.state.count == len(events) and reader.broken is None


def test_a_chain_that_holds_is_folded_as_before(tmp_path: Path) -> None:
    rollout = signed(tmp_path)
    assert (
        rollout.broken is None
        and rollout.state.count == 4
        and set(rollout.state.approvals) == {"dev-lead", "ops-oncall"}
    )
    assert isinstance(rollout.store.read(0)[-1], Event)


async def test_the_kill_still_drives_every_flag_on_a_broken_record(tmp_path: Path) -> None:
    flags = tmp_path / "flags"
    flags.mkdir()
    for name in ("FEATURE_FLAG_DLQ_ENABLED", "FEATURE_FLAG_JOB_HEARTBEAT"):
        (flags / name).write_text("true\n")
    provider = (
        f"[providers.app]\nkind = \"command\"\noff = 'echo false > {flags}/{{flag}}'\nread = 'cat {flags}/{{flag}}'\n\n"
    )
    text = re.sub(r"\[providers\.app\].*?(?=# An Unleash server instead)", provider, example_text(), flags=re.S)
    loaded = example_plan(text=text)
    writer = Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), actor=ALOK)
    writer.note("before")
    writer.note("edited later")
    edit(tmp_path / "audit.jsonl", 3, {"text": "rewritten"})
    reader = Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), actor=ALOK)
    async with FlagSwitch(reader) as switch:
        report = await switch.kill("breach")
    assert report.all_off and all(
        (flags / n).read_text() == "false\n" for n in ("FEATURE_FLAG_DLQ_ENABLED", "FEATURE_FLAG_JOB_HEARTBEAT")
    )
    assert any("AUDIT LOG NOT WRITTEN" in line and "chain is broken at event 3" in line for line in report.summary())

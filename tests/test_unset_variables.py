"""One missing token does not lock an operator out (the restructure's rule: the kill works whenever it physically
can, and so does the record). ``cockpit validate`` still refuses a plan with an unset ``${VAR}``; every other
command and the dashboard load it, say each unset variable once, and only what uses one fails, naming it:
the polls of its source read ERROR, its provider's flags are not driven (MAY STILL BE ON), the rest works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cockpit.cli.main import main
from cockpit.clock import FakeClock
from cockpit.errors import RolloutError
from cockpit.fleet.open import plan_file
from cockpit.fleet.watch import Tracked
from cockpit.kill import FlagSwitch
from cockpit.plan.load import ConfigError, load_plan, parse_plan, unset_by_var
from cockpit.rollout import Rollout
from cockpit.session import Services
from cockpit.store.filelog import FileStore
from cockpit.store.history import SqliteHistory
from cockpit.store.records import PLAN, Record
from tests.core_helpers import ALOK, ENV, example_text
from widgets.banner import banner_lines

MISSING = "NO_SUCH_TOKEN_VAR"


@pytest.fixture
def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv(MISSING, raising=False)
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    path = tmp_path / "plan.toml"
    path.write_text(example_text().replace("${APP_TOKEN}", "${" + MISSING + "}"))
    return path


def test_loading_defers_an_unset_variable_only_when_asked(plan: Path) -> None:
    with pytest.raises(ConfigError, match=f"environment variable {MISSING} is not set"):
        load_plan(plan)
    loaded = load_plan(plan, defer_unset=True)
    uses = unset_by_var(loaded)[MISSING]
    assert [u.key for u in uses] == ["sources.app.headers.Authorization", "providers.app.headers.Authorization"]
    assert [u.part for u in uses] == ["sources.app", "providers.app"]
    assert all(u.line > 0 for u in uses)
    assert (
        load_plan(plan, defer_unset=True).plan.digest
        == parse_plan(plan.read_text(), environ={MISSING: "x"}).plan.digest
    )


def test_validate_still_refuses_it(plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(plan), "validate"]) == 2
    err = capsys.readouterr().err
    assert f"sources.app.headers.Authorization: environment variable {MISSING} is not set" in err


def test_the_record_works_and_the_variable_is_named_once(plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(plan), "note", "handing over to the next shift"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"cockpit: {plan}:") and f"environment variable {MISSING} is not set" in err[0]
    assert "used by sources.app.headers.Authorization, providers.app.headers.Authorization" in err[0]
    assert main(["--config", str(plan), "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["audit"]["events"] == 2  # plan.changed, then the note
    assert main(["--config", str(plan), "audit", "verify"]) == 0


async def test_the_kill_drives_what_it_can_and_names_the_variable_for_the_rest(plan: Path, tmp_path: Path) -> None:
    loaded = load_plan(plan, defer_unset=True)
    rollout = Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), actor=ALOK)
    async with FlagSwitch(rollout) as switch:
        assert switch.unresolved == {"app": f"{MISSING} is not set"}
        report = await switch.kill("drill")
    assert not report.all_off
    named = [line for line in report.summary() if f"MAY STILL BE ON: {MISSING} is not set" in line]
    assert len(named) == 2, report.summary()  # each flag, with the reason


def test_the_dashboard_banner_names_the_variable_and_what_cannot_work(plan: Path, tmp_path: Path) -> None:
    loaded = load_plan(plan, defer_unset=True)
    services = Services.build(
        Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), actor=ALOK), SqliteHistory(":memory:")
    )
    lines = banner_lines(services, services.rollout.now())
    assert (
        f"⚠ {MISSING} IS NOT SET: sources.app, providers.app cannot work here (set it and restart the cockpit)" in lines
    )
    services.history.close()


def test_the_fleet_opens_a_plan_with_an_unset_variable_but_not_a_broken_one(plan: Path, tmp_path: Path) -> None:
    now = FakeClock().now()
    tracked = Tracked(key="k", where=str(tmp_path), name="alokickflow-phase2")
    tracked.plan = load_plan(plan, defer_unset=True).plan
    tracked.records = {PLAN: Record(PLAN, now, {"path": str(plan)})}
    assert [u.var for u in plan_file(tracked).unset] == [MISSING, MISSING]
    broken = tmp_path / "broken.toml"
    broken.write_text("[rollout\n")
    tracked.records = {PLAN: Record(PLAN, now, {"path": str(broken)})}
    with pytest.raises(RolloutError, match=r"its plan does not load here: .*invalid TOML"):
        plan_file(tracked)

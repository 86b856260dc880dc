"""The env-file provider: atomic rewrites of ``KEY=value`` lines, and an unwritable file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.clock import FakeClock
from cockpit.kill import FlagSwitch
from cockpit.plan.load import LoadedPlan
from cockpit.rollout import Rollout
from cockpit.store.filelog import FileStore
from tests.core_helpers import ALOK, example_plan, example_text

DLQ, HB = "FEATURE_FLAG_DLQ_ENABLED", "FEATURE_FLAG_JOB_HEARTBEAT"
ENV_TEXT = f"# production env\nDATABASE_URL=postgres://db/prod\n{DLQ}=true\nexport {HB}=\"true\"\nOTHER=1\n"


def envfile_plan(path: Path, text: str | None = None, environ: dict[str, str] | None = None) -> LoadedPlan:
    """The example plan (or ``text``) with ``[providers.app]`` replaced by an env file."""
    provider = f'[providers.app]\nkind = "envfile"\npath = "{path}"\n\n'
    text = re.sub(r"\[providers\.app\].*?(?=# An Unleash server instead)", provider, text or example_text(), flags=re.S)
    return example_plan(environ, text=text)


def rollout_on(tmp_path: Path, loaded: LoadedPlan) -> Rollout:
    return Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), clock=FakeClock(), actor=ALOK)


@pytest.fixture
def envfile(tmp_path: Path) -> Path:
    path = tmp_path / "app.env"
    path.write_text(ENV_TEXT)
    path.chmod(0o640)
    return path


async def test_kill_rewrites_only_the_flag_lines(tmp_path: Path, envfile: Path) -> None:
    rollout = rollout_on(tmp_path, envfile_plan(envfile))
    switch = FlagSwitch(rollout)
    before = await switch.read_all()
    report = await switch.kill("breach")
    assert before[DLQ].enabled is True and before[HB].enabled is True
    assert report.all_off
    assert envfile.read_text() == ENV_TEXT.replace(f"{DLQ}=true", f"{DLQ}=false").replace(
        f'{HB}="true"', f"{HB}=false"
    )
    assert envfile.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".app.env")] == []  # no temp left behind
    assert (await switch.arm()).armed


async def test_absent_variable_reads_off_and_missing_file_is_not_armed(tmp_path: Path) -> None:
    path = tmp_path / "app.env"
    rollout = rollout_on(tmp_path, envfile_plan(path))
    switch = FlagSwitch(rollout)
    status = await switch.arm()
    assert not status.armed and "no such file" in status.reason
    path.write_text("OTHER=1")
    readings = await switch.read_all()
    assert readings[DLQ].off and readings[DLQ].enabled is False


@pytest.fixture
def locked_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory nobody can create files in (immutable as root, mode 555 otherwise)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "app.env").write_text(ENV_TEXT)
    if os.geteuid() == 0:
        # root ignores file modes: only an immutable directory refuses it (CI: a failure, not a skip)
        unable = pytest.fail if os.environ.get("CI") == "true" else pytest.skip
        if shutil.which("chattr") is None:
            unable("running as root without chattr: cannot make a file unwritable")
        done = subprocess.run(["chattr", "+i", str(locked)], capture_output=True, check=False)
        if done.returncode != 0:
            unable(f"chattr +i not supported here: {done.stderr.decode().strip()}")
        yield locked
        subprocess.run(["chattr", "-i", str(locked)], check=False)
    else:
        locked.chmod(0o555)
        yield locked
        locked.chmod(0o755)


async def test_unwritable_env_file_is_reported_with_backout(tmp_path: Path, locked_dir: Path) -> None:
    rollout = rollout_on(tmp_path, envfile_plan(locked_dir / "app.env"))
    switch = FlagSwitch(rollout)
    status = await switch.arm()
    report = await switch.kill("breach")
    assert not status.armed and "not writable" in status.reason
    assert not report.all_off and report.may_be_on == [DLQ, HB]
    assert all(o.error.startswith(f"cannot write {locked_dir / 'app.env'}") for o in report.outcomes)
    assert all(o.attempts == 1 for o in report.outcomes)  # a permission problem is not retried
    assert f"{DLQ}: {DLQ}=false" in report.backout and f"{HB}: {HB}=false" in report.backout
    assert (locked_dir / "app.env").read_text() == ENV_TEXT
    results = [e.payload for e in rollout.store.read(0) if e.type == "kill.flag_result"]
    assert [r["verified_off"] for r in results] == [False, False]
    assert all("cannot write" in r["error"] for r in results)


async def test_keep_armed_reports_each_check_until_cancelled(tmp_path: Path, envfile: Path) -> None:
    import asyncio

    switch = FlagSwitch(rollout_on(tmp_path, envfile_plan(envfile)))
    seen: list[bool] = []
    second = asyncio.Event()

    def on_status(status: object) -> None:
        seen.append(bool(getattr(status, "armed", False)))
        if len(seen) == 1:
            envfile.unlink()  # the file disappears between two checks
        else:
            second.set()

    task = asyncio.create_task(switch.keep_armed(on_status, interval=0.01))
    await asyncio.wait_for(second.wait(), 5)
    task.cancel()
    assert seen[:2] == [True, False]
    assert switch.armed is not None and "no such file" in switch.armed.reason

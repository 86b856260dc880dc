"""Several OS users on one bastion share a rollout through the plan's ``[rollout] group``.

Real OS users, made for the test (root only: ``groupadd``/``useradd``, removed afterwards). Each
command runs in a forked child that has dropped to that user's uid, gid and groups, so the kernel
checks every open, lock and rename as it would for that operator.
"""

from __future__ import annotations

import contextlib
import grp
import io
import multiprocessing
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cockpit.cli.main import main
from cockpit.store.audit import verify_file
from cockpit.store.filelog import FileStore
from tests.rollout_script import EXAMPLE, SECRET

SUFFIX = f"{os.getpid() % 100000}"
GROUP = f"ckt-oncall{SUFFIX}"
USERS = {"a": f"ckt-a{SUFFIX}", "b": f"ckt-b{SUFFIX}", "out": f"ckt-out{SUFFIX}"}

pytestmark = pytest.mark.skipif(os.geteuid() != 0 and os.environ.get("CI") != "true", reason="needs root")


@pytest.fixture(scope="module")
def users() -> Iterator[dict[str, str]]:
    if os.geteuid() != 0:
        pytest.fail("creating OS users needs root (CI runs as root)")
    made: list[list[str]] = []
    try:
        subprocess.run(["groupadd", GROUP], check=True, capture_output=True)
        made.append(["groupdel", GROUP])
        for key, name in USERS.items():
            extra = ["-G", GROUP] if key != "out" else []
            subprocess.run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", *extra, name], check=True)
            made.append(["userdel", name])
        yield USERS
    finally:
        for command in reversed(made):
            subprocess.run(command, check=False, capture_output=True)


def _child(name: str, argv: list[str], queue: Any) -> None:
    import pwd

    entry = pwd.getpwnam(name)
    os.setgroups(os.getgrouplist(name, entry.pw_gid))
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    os.umask(0o022)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except BaseException as exc:  # reported to the test, which fails on it (Traceback-like)
            code = -1
            err.write(f"Traceback-like: {type(exc).__name__}: {exc}")
    queue.put((code, out.getvalue(), err.getvalue()))


def as_user(name: str, argv: list[str]) -> tuple[int, str, str]:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, argv, queue))
    proc.start()
    result = queue.get(timeout=60)
    proc.join(30)
    return result  # type: ignore[no-any-return]


@pytest.fixture
def shared(users: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A plan with ``group``, its state directory under a directory every user can reach."""
    top = Path(tempfile.mkdtemp(prefix="cockpit-group-", dir="/tmp"))
    top.chmod(0o755)
    monkeypatch.setenv("APP_TOKEN", SECRET)
    monkeypatch.delenv("COCKPIT_STATE_DIR", raising=False)
    config = top / "cockpit.toml"
    config.write_text(
        EXAMPLE.read_text().replace(
            'store = "file"', f'store = "file"\ngroup = "{GROUP}"\nstate_dir = "{top}/state/rollout"', 1
        )
    )
    config.chmod(0o644)
    (top / "state").mkdir()  # what an admin prepares once: install -d -g oncall -m 2770 /var/lib/cockpit
    os.chown(top / "state", -1, grp.getgrnam(GROUP).gr_gid)
    (top / "state").chmod(0o2770)
    # the modules the commands import when they run, loaded before a child drops root (the interpreter's
    # own files may sit where only root can read)
    scratch = Path(tempfile.mkdtemp())
    scratch_config = scratch / "cockpit.toml"
    scratch_config.write_text(
        EXAMPLE.read_text().replace('store = "file"', f'store = "file"\nstate_dir = "{scratch}/s"', 1)
    )
    for warm in (["status"], ["note", "warm"], ["approve", "dev-lead"], ["audit", "verify"], ["audit", "show"]):
        main(["--config", str(scratch_config), *warm])
    shutil.rmtree(scratch)
    try:
        yield config
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_two_operators_approve_in_turn_in_a_shared_state_directory(shared: Path, users: dict[str, str]) -> None:
    config = str(shared)
    code, out, err = as_user(users["a"], ["--config", config, "approve", "dev-lead"])
    assert code == 0 and err.startswith("cockpit: recorded unsigned: no SSH agent"), err  # no key: said, not refused
    assert f"by {users['a']}@" in out
    code, out, err = as_user(users["b"], ["--config", config, "approve", "ops-oncall"])
    assert code == 0 and "Traceback" not in err and "ermission" not in err, err
    code, out, err = as_user(users["a"], ["--config", config, "status"])
    assert code == 0 and "✔ Dev Lead" in out and "✔ Ops On-Call" in out, err
    code, out, err = as_user(users["b"], ["--config", config, "note", "handoff to a"])
    assert code == 0, err

    state = shared.parent / "state" / "rollout"
    info = state.stat()
    gid = grp.getgrnam(GROUP).gr_gid
    assert info.st_gid == gid and stat.S_IMODE(info.st_mode) == 0o2770
    for path in state.iterdir():
        mode = stat.S_IMODE(path.stat().st_mode)
        assert path.stat().st_gid == gid, path.name
        assert mode & 0o660 == 0o660 and mode & 0o007 == 0, f"{path.name}: {oct(mode)}"
    events = FileStore(state / "audit.jsonl").read(0)
    decisions = [e for e in events if e.type != "plan.changed"]  # the first write records the plan digest too
    assert [e.actor.user for e in decisions] == [users["a"], users["b"], users["b"]]
    assert verify_file(state / "audit.jsonl").ok


def test_a_user_outside_the_group_gets_one_line(shared: Path, users: dict[str, str]) -> None:
    config = str(shared)
    assert as_user(users["a"], ["--config", config, "approve", "dev-lead"])[0] == 0
    for command in (["status"], ["approve", "product-owner"]):
        code, out, err = as_user(users["out"], ["--config", config, *command])
        assert code == 2, (out, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert f"{users['out']} is not in group {GROUP}" in err


def test_without_a_group_another_user_gets_one_line_not_a_traceback(
    users: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    top = Path(tempfile.mkdtemp(prefix="cockpit-nogroup-", dir="/tmp"))
    try:
        top.chmod(0o1777)  # like /tmp: a can make the state directory, b can reach it
        monkeypatch.setenv("APP_TOKEN", SECRET)
        config = top / "cockpit.toml"
        config.write_text(EXAMPLE.read_text().replace('store = "file"', f'store = "file"\nstate_dir = "{top}/s"', 1))
        config.chmod(0o644)
        assert as_user(users["a"], ["--config", str(config), "approve", "dev-lead"])[0] == 0
        code, out, err = as_user(users["b"], ["--config", str(config), "approve", "ops-oncall"])
        assert code in (1, 2) and len(err.strip().splitlines()) == 1 and "permission denied" in err, (out, err)
        assert "[rollout] group" in err
        assert "Traceback" not in err
    finally:
        shutil.rmtree(top, ignore_errors=True)

"""Where a rollout's files live: the XDG state directory by default, overridable in the plan.

``$COCKPIT_STATE_DIR`` (read when called, never at import) moves the default state directory;
the demo and the tests use it for a throwaway directory.

Opening the record itself is :mod:`cockpit.store.backend`'s job.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path

from cockpit.plan.load import ConfigError, LoadedPlan, Problem

APP_NAME = "rollout-cockpit"


def state_root() -> Path:
    """The directory holding one directory per rollout: ``$COCKPIT_STATE_DIR``, else the XDG state directory."""
    if os.environ.get("COCKPIT_STATE_DIR"):
        return Path(os.environ["COCKPIT_STATE_DIR"])
    import platformdirs  # only when no directory is given (the tests and the demo always give one)

    return Path(platformdirs.user_state_dir(APP_NAME))


def state_dir(loaded: LoadedPlan) -> Path:
    """Directory for history, captures and (by default) the audit log of this rollout."""
    rollout = loaded.plan.rollout
    if rollout.state_dir:
        return _relative(loaded, rollout.state_dir)
    return state_root() / rollout.id


def audit_log_path(loaded: LoadedPlan) -> Path:
    rollout = loaded.plan.rollout
    if rollout.audit_log:
        return _relative(loaded, rollout.audit_log)
    return state_dir(loaded) / "audit.jsonl"


def history_path(loaded: LoadedPlan) -> Path:
    return state_dir(loaded) / "history.sqlite3"


SHARED_DIR, SHARED_FILE = 0o2770, 0o660
"""With ``[rollout] group``: directories setgid to the group, rwx for it; files rw for it."""


def share(loaded: LoadedPlan, *, create: bool = True) -> None:
    """With ``[rollout] group = "oncall"``: the state directory (and the log's) belong to that group, setgid
    (so everything created in them does too), 2770; this process creates files 0660 and directories 2770
    (umask 007), the history's, the witness's and the captures' included. An operator outside the group is
    told so in one line (ConfigError, exit 2) before anything fails with a bare permission error."""
    group = loaded.group
    if not group:
        return
    where = str(loaded.path)
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise ConfigError(
            [Problem(where, loaded.group_line, "rollout.group", f"no group {group!r} on this host")]
        ) from None
    if os.geteuid() != 0 and gid not in os.getgroups() and gid != os.getegid():
        user = pwd.getpwuid(os.getuid()).pw_name
        message = (
            f"{user} is not in group {group}, which shares this rollout's state directory; "
            f"ask an admin to add you (usermod -aG {group} {user}) and log in again"
        )
        raise ConfigError([Problem(where, loaded.group_line, "rollout.group", message)])
    os.umask(0o007)
    if not create:
        return
    dirs = [state_dir(loaded)]
    if loaded.plan.rollout.store == "file":
        dirs.append(audit_log_path(loaded).parent)
    for directory in dirs:
        missing = [d for d in (directory, *directory.parents) if not d.exists()]
        directory.mkdir(parents=True, exist_ok=True)
        for made in [directory, *missing]:  # and every level created for it, so the group can reach it
            info = made.stat()
            if info.st_uid == os.geteuid() and (info.st_gid != gid or stat.S_IMODE(info.st_mode) != SHARED_DIR):
                os.chown(made, -1, gid)
                os.chmod(made, SHARED_DIR)
    history = history_path(loaded)
    try:  # SQLite creates its file 0644 less the umask: create it 0660 first (its -wal and -shm follow it)
        fd = os.open(history, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, SHARED_FILE)
    except FileExistsError:
        return
    os.fchmod(fd, SHARED_FILE)
    os.close(fd)


def protected_dirs(loaded: LoadedPlan | None = None) -> list[Path]:
    """Where nothing the cockpit writes on request (``-o FILE``) may land: every rollout's state directory (the
    state root), and this plan's state directory and log's directory wherever the plan puts them."""
    dirs = [state_root()]
    if loaded is None:
        return dirs
    dirs.append(state_dir(loaded))
    if loaded.plan.rollout.store == "file":
        dirs.append(audit_log_path(loaded).parent)
    return dirs


def _relative(loaded: LoadedPlan, text: str) -> Path:
    path = Path(os.path.expanduser(loaded.env.resolve(text)))
    return path if path.is_absolute() else loaded.base_dir / path

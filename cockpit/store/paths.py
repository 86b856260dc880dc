"""Where a rollout's files live: the XDG state directory by default, overridable in the plan.

``$COCKPIT_STATE_DIR`` (read when called, never at import) moves the default state directory;
the demo and the tests use it for a throwaway directory.

Opening the record itself is :mod:`cockpit.store.backend`'s job.
"""

from __future__ import annotations

import os
from pathlib import Path

from cockpit.plan.load import LoadedPlan

APP_NAME = "rollout-cockpit"


def state_dir(loaded: LoadedPlan) -> Path:
    """Directory for history, captures and (by default) the audit log of this rollout."""
    rollout = loaded.plan.rollout
    if rollout.state_dir:
        return _relative(loaded, rollout.state_dir)
    if os.environ.get("COCKPIT_STATE_DIR"):
        return Path(os.environ["COCKPIT_STATE_DIR"]) / rollout.id
    import platformdirs

    return Path(platformdirs.user_state_dir(APP_NAME)) / rollout.id


def audit_log_path(loaded: LoadedPlan) -> Path:
    rollout = loaded.plan.rollout
    if rollout.audit_log:
        return _relative(loaded, rollout.audit_log)
    return state_dir(loaded) / "audit.jsonl"


def history_path(loaded: LoadedPlan) -> Path:
    return state_dir(loaded) / "history.sqlite3"


def _relative(loaded: LoadedPlan, text: str) -> Path:
    path = Path(os.path.expanduser(loaded.env.resolve(text)))
    return path if path.is_absolute() else loaded.base_dir / path

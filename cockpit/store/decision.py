"""One decision at a time across cockpits: the lock a shared decision (an auto-kill's start or fire) is
taken under, so two cockpits watching one rollout never both decide.

* File store: an exclusive ``flock`` on ``<audit log>.decide.lock`` beside the log (every cockpit on the
  host shares the log, so they share this lock).
* PostgreSQL: a session advisory lock on the store's connection (:meth:`PgStore.decision_lock`); with the
  database unreachable the decision is taken locally (the kill must never wait for the database).

Under the lock the caller refreshes its state from the record, checks that the decision is still to be
made, and records it; the lock is released before anything slow (the kill itself) runs.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any


def decision_lock(store: Any) -> AbstractContextManager[None]:
    """The store's decision lock (see the module docstring); no lock for a store without one."""
    own = getattr(store, "decision_lock", None)
    if callable(own):
        return own()  # type: ignore[no-any-return]
    path = getattr(store, "path", None)
    if isinstance(path, Path):
        return _file_lock(path.with_name(path.name + ".decide.lock"))
    return nullcontext()


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    except OSError:
        yield  # cannot lock (a read-only directory): decide alone rather than not at all
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)

"""The file log: the audit log as append-only JSON Lines, one hash-chained event per line.

* An append takes an exclusive ``flock`` on the file, reads the chain head under the lock, writes one
  line and ``fsync``s it before returning, so two cockpits on one host never interleave or fork the
  chain and an acknowledged event survives a crash.
* After each acknowledged append the head (sequence number, hash, time) is also kept outside the log:
  in a *witness* file next to it (``<log>.head``) and, when given, in the history database. A log that
  ends before its witnessed head was cut short: :func:`verify_file` says so, and appends refuse to
  continue such a chain until ``cockpit audit repair`` records what was lost.
* A last line without its newline (a crash mid-write), or a last line that is not a JSON event, is a
  *torn tail*: reads report it and appends refuse to continue the chain until ``cockpit audit repair``
  moves the fragment aside (audited).
* The log and its witness are opened without following symbolic links, must be regular files, and are
  read line by line with a maximum line length (:mod:`cockpit.store.files`).
* :func:`cockpit.store.audit.verify_file` walks the chain and names the first bad line.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from cockpit.events import GENESIS, Actor, Event, Sign, format_time, seal
from cockpit.store.audit import (
    AuditError,
    CutShort,
    ReadOnlyStore,
    TornTail,
    cut_short_message,
    parse_line,
    witness_ahead,
)
from cockpit.store.files import MAX_LINE, UnsafeFile, describe_os_error, open_regular, read_lines
from cockpit.store.witness import Head, read_witness, record_in_db, write_witness


class FileStore:
    """The embedded audit log: one JSON Lines file per rollout.

    ``witness_db``: the history database that also keeps the head (see :mod:`cockpit.store.witness`);
    ``mode``: permissions of the files it creates (0660 when the plan shares the state with a group).
    """

    def __init__(
        self, path: Path | str, *, readonly: bool = False, witness_db: Path | None = None, mode: int = 0o640
    ) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.witness_db = witness_db
        self.mode = mode
        self._offset = 0  # bytes of the file already parsed by read()
        self._line = 0  # lines already parsed by read()
        self._last_seq = 0
        self._last_hash = GENESIS
        self.torn: TornTail | CutShort | None = None
        """Set by :meth:`read` while the last line is torn, or the log ends before its witnessed head:
        reads return the complete events, appends refuse, and the CLI and the dashboard say so until
        ``cockpit audit repair``."""

    # ----------------------------------------------------------------- opening

    def _open(self, flags: int) -> int:
        try:
            return open_regular(self.path, flags, self.mode)
        except UnsafeFile as exc:
            raise AuditError(str(exc)) from None

    # ----------------------------------------------------------------- writing

    def append(
        self,
        type: str,
        payload: dict[str, Any],
        actor: Actor,
        time: datetime,
        *,
        guard: Callable[[], None] | None = None,
        sign: Sign | None = None,
    ) -> Event:
        if self.readonly:
            raise ReadOnlyStore()
        return self._guarded(type, payload, actor, time, guard=guard, sign=sign)

    def _guarded(
        self,
        type: str,
        payload: dict[str, Any],
        actor: Actor,
        time: datetime,
        *,
        accept_cut: bool = False,
        guard: Callable[[], None] | None = None,
        sign: Sign | None = None,
    ) -> Event:
        try:
            return self._append(type, payload, actor, time, accept_cut, guard, sign)
        except UnsafeFile as exc:
            raise AuditError(str(exc)) from None
        except OSError as exc:  # a full disk, a read-only mount, no permission: said, not raised raw
            raise AuditError(f"{self.path}: cannot append: {describe_os_error(exc)}{_hint(exc)}") from None

    def _append(
        self,
        type: str,
        payload: dict[str, Any],
        actor: Actor,
        time: datetime,
        accept_cut: bool,
        guard: Callable[[], None] | None,
        sign: Sign | None = None,
    ) -> Event:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = open_regular(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, self.mode)
        try:
            info = os.fstat(fd)
            if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != self.mode:
                os.fchmod(fd, self.mode)  # created under a umask, or shared with a group since
            signed = None
            if sign is not None:  # sign on the head as read without the lock: a slow agent holds up no kill
                try:
                    seq, prev = self._tail(fd)
                except (AuditError, ValueError):  # another cockpit mid-write: sign under the lock instead
                    pass
                else:
                    signed = seal(seq + 1, time, actor, type, payload, prev, sign)
            fcntl.flock(fd, fcntl.LOCK_EX)
            seq, prev = self._tail(fd)
            witnessed = read_witness(self.path)
            if witnessed is not None and not accept_cut and witness_ahead(seq, prev, witnessed):
                raise CutShort(self.path, seq, witnessed)
            if guard is not None:
                guard()  # reads the log through its own descriptor; the lock keeps other appends out
            if signed is not None and signed.prev == prev:
                event = signed
            else:  # no signature asked for, or another cockpit appended meanwhile: seal (sign) on the head
                event = seal(seq + 1, time, actor, type, payload, prev, sign)
            data = (event.to_line() + "\n").encode()
            if len(data) > MAX_LINE:  # a line the log could not read back would make every later read fail
                raise AuditError(f"{self.path}: an event of {len(data)} bytes is longer than the log's lines")
            size = os.fstat(fd).st_size
            try:
                written = os.write(fd, data)
                if written != len(data):
                    raise OSError(errno.ENOSPC, f"short write ({written} of {len(data)} bytes)")
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, size)  # never leave half an event (or an unacknowledged one) behind
                raise
            self._witness(Head(event.seq, event.hash, format_time(event.time)))
            return event
        finally:
            os.close(fd)  # closing releases the lock

    def _witness(self, head: Head) -> None:
        """Keep the acknowledged head outside the log. The event is durable already: a witness that
        cannot be written (a full disk) only leaves the older head witnessed, never a wrong one."""
        try:
            write_witness(self.path, head, self.mode)
        except OSError:
            pass
        if self.witness_db is not None:
            try:
                record_in_db(self.witness_db, self.path, head)
            except (OSError, UnsafeFile, sqlite3.Error):
                pass

    def _tail(self, fd: int) -> tuple[int, str]:
        """``(seq, hash)`` of the last complete line; raise :class:`TornTail` on a torn one (or one
        that is not a JSON event)."""
        size = os.fstat(fd).st_size
        if size == 0:
            return 0, GENESIS
        chunk = 4096
        while True:
            start = max(0, size - chunk)
            data = os.pread(fd, size - start, start)
            if not data.endswith(b"\n"):
                if b"\n" not in data and start > 0 and chunk <= MAX_LINE:
                    chunk *= 4  # the whole fragment, so that repair sets all of it aside
                    continue
                fragment = data[data.rfind(b"\n") + 1 :]
                raise TornTail(self.path, self._count_lines(fd) + 1, fragment)
            body = data[:-1]
            cut = body.rfind(b"\n")
            if cut >= 0 or start == 0:
                last = body[cut + 1 :]
                try:
                    record = json.loads(last)
                    return int(record["seq"]), str(record["hash"])
                except (ValueError, KeyError, TypeError):
                    why = f"the last line is not a JSON event ({len(last)} bytes)"
                    raise TornTail(self.path, self._count_lines(fd), last + b"\n", why) from None
            if chunk > MAX_LINE:
                raise AuditError(f"{self.path}: a line longer than {MAX_LINE} bytes: not a cockpit audit log")
            chunk *= 4

    def _count_lines(self, fd: int) -> int:
        return sum(1 for _line, complete in read_lines(fd, self.path) if complete)

    def repair(self, actor: Actor, time: datetime) -> Path | None:
        """Set a torn (or non-JSON) last line aside to ``<log>.torn-<n>``, or record that the log was cut
        short of its witnessed head; audit either. None when there is nothing to do."""
        if self.readonly:
            raise ReadOnlyStore()
        if not self.path.exists():
            return None
        fd = self._open(os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                seq, prev = self._tail(fd)
            except TornTail as torn:
                return self._set_aside(fd, torn, actor, time)
            witnessed = read_witness(self.path)
        except UnsafeFile as exc:
            raise AuditError(str(exc)) from None
        finally:
            os.close(fd)
        if witnessed is None or not witness_ahead(seq, prev, witnessed):
            return None
        self._guarded(
            "audit.repaired",
            {
                "cut_short": cut_short_message(seq, witnessed),
                "witnessed_seq": witnessed.seq,
                "witnessed_hash": witnessed.hash,
                "witnessed_time": witnessed.time,
                "log_seq": seq,
            },
            actor,
            time,
            accept_cut=True,
        )
        return self.path

    def _set_aside(self, fd: int, torn: TornTail, actor: Actor, time: datetime) -> Path:
        fragment = torn.fragment
        keep = os.fstat(fd).st_size - len(fragment)
        n = 1
        while (aside := self.path.with_name(f"{self.path.name}.torn-{n}")).exists():
            n += 1
        aside.write_bytes(fragment)
        os.ftruncate(fd, keep)
        os.fsync(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)  # the append below takes the lock again
        self._guarded(
            "audit.repaired",
            {"torn_bytes": len(fragment), "sha256": hashlib.sha256(fragment).hexdigest(), "moved_to": aside.name},
            actor,
            time,
        )
        return aside

    # ----------------------------------------------------------------- reading

    def read(self, after: int = 0) -> list[Event]:
        """Events after ``after`` (complete lines only; see :attr:`torn`). Reads only what is new
        since the last call when asked for it."""
        if after < self._last_seq:
            self._offset, self._line, self._last_seq, self._last_hash = 0, 0, 0, GENESIS
        elif after == self._last_seq and self.torn is None:
            try:  # the usual case on every redraw: nothing appended since the last read, a stat suffices
                info = self.path.lstat()  # a link or a device goes on to be refused by the open below
                if stat.S_ISREG(info.st_mode) and info.st_size == self._offset:
                    return []
            except FileNotFoundError:
                return []
            except OSError as exc:
                raise AuditError(f"{self.path}: {describe_os_error(exc)}") from None
        events: list[Event] = []
        witnessed = self._witnessed()  # before the log: a witness is written after its event, never ahead
        try:
            fd = self._open(os.O_RDONLY)
        except FileNotFoundError:
            self.torn = CutShort(self.path, 0, witnessed) if witnessed is not None else None
            return []
        except OSError as exc:
            raise AuditError(f"{self.path}: cannot read: {describe_os_error(exc)}{_hint(exc)}") from None
        torn: TornTail | CutShort | None = None
        if os.fstat(fd).st_size < self._offset:  # the log shrank under us: read it again from the start
            self._offset, self._line, self._last_seq, self._last_hash = 0, 0, 0, GENESIS
        try:
            pending: tuple[bytes, int] | None = None  # a complete line that is not JSON: torn if it is the last
            for raw, complete in read_lines(fd, self.path, self._offset):
                if pending is not None:
                    line = pending[1]
                    raise AuditError(f"{self.path}:{line}: unreadable event; run 'cockpit audit verify'")
                if not complete:
                    torn = TornTail(self.path, self._line + 1, raw)
                    break
                try:
                    event = Event.from_dict(parse_line(raw))
                except (ValueError, KeyError, TypeError):
                    pending = (raw, self._line + 1)
                    continue
                self._line += 1
                self._offset += len(raw) + 1
                self._last_seq, self._last_hash = event.seq, event.hash
                if event.seq > after:
                    events.append(event)
            if pending is not None:
                bad, line = pending
                torn = TornTail(self.path, line, bad + b"\n", f"the last line is not a JSON event ({len(bad)} bytes)")
        except UnsafeFile as exc:
            raise AuditError(str(exc)) from None
        finally:
            os.close(fd)
        if torn is None and witnessed is not None and witness_ahead(self._last_seq, self._last_hash, witnessed):
            torn = CutShort(self.path, self._last_seq, witnessed)
        self.torn = torn
        return events

    def _witnessed(self) -> Head | None:
        """The head witnessed next to the log; None without one, or with one that cannot be read (a
        reader says nothing then: ``cockpit audit verify`` names an unreadable witness)."""
        try:
            return read_witness(self.path)
        except (UnsafeFile, OSError):
            return None

    def head(self) -> tuple[int, str]:
        try:
            fd = self._open(os.O_RDONLY)
        except FileNotFoundError:
            return 0, GENESIS
        try:
            return self._tail(fd)
        finally:
            os.close(fd)

    @property
    def degraded(self) -> bool:
        """Never: the file log is local."""
        return False

    @property
    def spooled(self) -> int:
        """Nothing waits: the file log is written directly."""
        return 0

    @property
    def reachable(self) -> bool:
        return True

    @property
    def last_contact(self) -> datetime | None:
        return None

    @contextmanager
    def decision_lock(self) -> Iterator[None]:
        """An exclusive ``flock`` on ``<log>.decide.lock`` beside the log (every cockpit on the host shares the
        log, so they share this lock); a directory that cannot hold it: decide alone rather than not at all."""
        path = self.path.with_name(self.path.name + ".decide.lock")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, self.mode)
        except OSError:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def subscribe(self, callback: Callable[[int], None]) -> Callable[[], None]:
        """No push channel: readers of the file log re-read it on a timer."""
        return _no_unsubscribe

    def close(self) -> None:
        pass


def _hint(exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return " (another user's file: to share a rollout between OS users, set [rollout] group in the plan)"
    return ""


def _no_unsubscribe() -> None:
    """What :meth:`FileStore.subscribe` returns: nothing to undo."""

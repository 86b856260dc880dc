"""The witness of the audit log's head: kept outside the log, so a log cut short is noticed.

After each acknowledged append the file store writes the new head (sequence number, hash, time) to a
sidecar file next to the log (``audit.jsonl.head``, replaced atomically) and, when the rollout has a
history database, to its ``audit_head`` table. Removing acknowledged events from the end of the log
then leaves a witness that names an event the log no longer has. Someone who can rewrite the log, the
sidecar and the history database together is not detected this way: ``cockpit audit verify --head
SEQ:HASH`` with a head kept elsewhere (a notification, a ticket, an export) is the check for that.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from cockpit.store.files import UnsafeFile, open_regular

_MAX_WITNESS = 4096

_SCHEMA = """CREATE TABLE IF NOT EXISTS audit_head (
    log TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash TEXT NOT NULL, time TEXT NOT NULL
)"""


@dataclass(frozen=True)
class Head:
    """An acknowledged head of a chain: event ``seq`` with ``hash``, written at ``time`` (where: where it was kept)."""

    seq: int
    hash: str
    time: str = ""
    where: str = ""


def witness_path(log: Path) -> Path:
    """The sidecar file next to ``log``."""
    return log.with_name(log.name + ".head")


def parse_head(text: str) -> Head:
    """``SEQ:HASH`` (``audit verify --head``) as a Head; ValueError with a reason otherwise."""
    seq, sep, digest = text.strip().partition(":")
    digest = digest.strip().lower()
    if not sep or not seq.strip().isdigit() or len(digest) < 8 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"--head {text!r}: expected SEQ:HASH, e.g. 22:329cd74a… (at least 8 hex digits)")
    return Head(int(seq), digest, "", "--head")


def read_witness(log: Path) -> Head | None:
    """The head kept in ``log``'s sidecar; None without one. An unreadable sidecar is an UnsafeFile."""
    path = witness_path(log)
    try:
        fd = open_regular(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        data = os.read(fd, _MAX_WITNESS)
    finally:
        os.close(fd)
    try:
        record = json.loads(data)
        return Head(int(record["seq"]), str(record["hash"]), str(record.get("time", "")), str(path))
    except (ValueError, KeyError, TypeError):
        raise UnsafeFile(f"{path}: not a head witness (expected one JSON line with seq and hash)") from None


def write_witness(log: Path, head: Head, mode: int = 0o640) -> None:
    """Replace ``log``'s sidecar with ``head`` (temporary file, fsync, rename)."""
    path = witness_path(log)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = json.dumps({"seq": head.seq, "hash": head.hash, "time": head.time}, sort_keys=True) + "\n"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _connect(db: Path) -> sqlite3.Connection:
    if db.exists():
        os.close(open_regular(db, os.O_RDONLY))  # refuses a link or a non-regular file before SQLite opens it
    conn = sqlite3.connect(str(db), timeout=5.0, isolation_level=None)
    conn.execute(_SCHEMA)
    return conn


def record_in_db(db: Path, log: Path, head: Head) -> None:
    """Keep ``head`` as the witnessed head of ``log`` in the history database ``db``."""
    conn = _connect(db)
    try:
        conn.execute(
            "INSERT INTO audit_head (log, seq, hash, time) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (log) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, time = excluded.time",
            (str(log.resolve()), head.seq, head.hash, head.time),
        )
    finally:
        conn.close()


def read_from_db(db: Path, log: Path) -> Head | None:
    """The head of ``log`` witnessed in ``db``; None without one (or without the database)."""
    if not db.exists():
        return None
    os.close(open_regular(db, os.O_RDONLY))
    # immutable: read without locks or creating -wal/-shm files (a --readonly cockpit writes nothing); a
    # head still in another cockpit's WAL is missed, which only makes this witness older, never wrong
    conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True, timeout=5.0)
    try:
        row = conn.execute("SELECT seq, hash, time FROM audit_head WHERE log = ?", (str(log.resolve()),)).fetchone()
    except sqlite3.OperationalError:  # no such table: nothing witnessed here yet
        return None
    finally:
        conn.close()
    return Head(int(row[0]), str(row[1]), str(row[2]), str(db)) if row else None

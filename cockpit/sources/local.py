"""PostgreSQL and command sources.

PostgreSQL: psycopg 3, one kept connection per source for polls (``PgSessions``; a check opens its own),
each query in a read-only transaction (``SET TRANSACTION READ ONLY`` on top of
``default_transaction_read_only``) that is rolled back, ``statement_timeout`` and ``connect_timeout``. A
write statement is refused by the database itself, never by pattern matching on the SQL.

Commands run in their own process group (``start_new_session``); a timeout kills the whole group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from dataclasses import dataclass
from typing import Any, SupportsFloat

from cockpit.plan.load import LoadedPlan
from cockpit.plan.model import CommandSource, Metric, PostgresSource, format_duration
from cockpit.secrets import UnsetVariable
from cockpit.sources.errors import SourceError
from cockpit.sources.values import json_path, parse_json, to_number

OUTPUT_CAP = 64 * 1024
"""Bytes of command output kept (the rest is read and dropped)."""


def _dsn_password(dsn: str) -> str:
    try:
        from psycopg.conninfo import conninfo_to_dict

        return str(conninfo_to_dict(dsn).get("password") or "")
    except Exception:
        return ""


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " / ".join(lines[:2]) if lines else ""


@dataclass(frozen=True)
class _PgTarget:
    dsn: str
    password: str
    connect_s: int
    statement_ms: int
    overall: float
    """Seconds one poll may take in all: connecting, the query and the slack."""


def _target(loaded: LoadedPlan, src: PostgresSource) -> _PgTarget:
    try:
        dsn = loaded.env.resolve(src.dsn)
    except UnsetVariable as exc:
        raise SourceError(str(exc)) from None
    return _PgTarget(
        dsn=dsn,
        password=_dsn_password(dsn),
        connect_s=max(round(src.connect_timeout.total_seconds()), 2),  # libpq's minimum is 2 s
        statement_ms=max(int(src.statement_timeout.total_seconds() * 1000), 1),
        overall=src.connect_timeout.total_seconds() + src.statement_timeout.total_seconds() + 2,
    )


async def _connect(target: _PgTarget) -> Any:
    import psycopg

    return await psycopg.AsyncConnection.connect(
        target.dsn,
        connect_timeout=target.connect_s,
        options=f"-c default_transaction_read_only=on -c statement_timeout={target.statement_ms}",
        application_name="rollout-cockpit",
    )


async def _run(conn: Any, query: str) -> list[tuple[Any, ...]]:
    """``query`` in a READ ONLY transaction that is rolled back: whatever it SETs dies with it. (Cancelled
    mid-query, nothing more is awaited here: the caller discards the connection.)"""
    import psycopg

    async with conn.cursor() as cur:
        try:
            await cur.execute("SET TRANSACTION READ ONLY")
            await cur.execute(query.encode())
            rows = await cur.fetchall() if cur.description is not None else []
        except psycopg.Error:
            if not (conn.closed or conn.broken):
                await conn.rollback()
            raise
    await conn.rollback()
    return list(rows)


def _discard(conn: Any) -> None:
    """Close ``conn`` without awaiting anything (it may belong to another event loop, or be mid-query)."""
    with contextlib.suppress(Exception):
        conn.pgconn.finish()


def _source_error(exc: BaseException, target: _PgTarget) -> SourceError:
    import psycopg

    if isinstance(exc, TimeoutError):
        return SourceError(f"PostgreSQL did not answer within {target.overall:.0f}s")
    reason = _pg_reason(exc) if isinstance(exc, psycopg.Error) else str(exc)
    if target.password:
        reason = reason.replace(target.password, "***")
    return SourceError(f"PostgreSQL: {reason}")


async def query_postgres(loaded: LoadedPlan, src: PostgresSource, query: str) -> list[tuple[Any, ...]]:
    """Run ``query`` read-only on a connection of its own; return all rows. SourceError (password
    removed) on any failure. Polls use ``PgSessions`` instead, which keeps the connection."""
    import psycopg

    target = _target(loaded, src)
    conn = None
    try:
        async with asyncio.timeout(target.overall):
            conn = await _connect(target)
            return await _run(conn, query)
    except (TimeoutError, psycopg.Error, OSError) as exc:
        raise _source_error(exc, target) from None
    finally:
        if conn is not None:
            _discard(conn)


class PgSessions:
    """One open read-only connection per PostgreSQL source, kept from poll to poll (a DSN polled every
    5 s is one backend, not a connection every 5 s).

    A connection found broken (the server restarted, or a DBA terminated it) is replaced at once and the
    query tried once more; one that timed out is dropped, and the next poll reconnects. Queries on one
    source take turns, so their transactions never interleave. A connection belongs to the event loop
    that opened it: a poll on another loop opens its own.
    """

    def __init__(self) -> None:
        self._open: dict[tuple[str, int], tuple[Any, asyncio.AbstractEventLoop]] = {}
        self._turns: dict[tuple[str, int], tuple[asyncio.Lock, asyncio.AbstractEventLoop]] = {}

    def _turn(self, key: tuple[str, int], loop: asyncio.AbstractEventLoop) -> asyncio.Lock:
        held = self._turns.get(key)
        if held is None or held[1] is not loop:
            held = self._turns[key] = (asyncio.Lock(), loop)
        return held[0]

    def _take(self, key: tuple[str, int], loop: asyncio.AbstractEventLoop) -> Any:
        held = self._open.get(key)
        if held is not None and (held[1] is not loop or held[0].closed):
            _discard(self._open.pop(key)[0])
            held = None
        return held[0] if held is not None else None

    async def query(self, loaded: LoadedPlan, src: PostgresSource, query: str) -> list[tuple[Any, ...]]:
        """Like ``query_postgres``, on the source's kept connection."""
        import psycopg

        target = _target(loaded, src)
        key = (target.dsn, target.statement_ms)
        loop = asyncio.get_running_loop()
        async with self._turn(key, loop):
            conn = self._take(key, loop)
            try:
                async with asyncio.timeout(target.overall):
                    if conn is not None:
                        try:
                            return await _run(conn, query)
                        except psycopg.Error:
                            if not (conn.broken or conn.closed):
                                raise  # the query's own failure: the connection is fine
                            _discard(self._open.pop(key)[0])  # lost since the last poll: once more
                    conn = await _connect(target)
                    self._open[key] = (conn, loop)
                    return await _run(conn, query)
            except (TimeoutError, psycopg.Error, OSError) as exc:
                held = self._open.get(key)
                if held is not None and (isinstance(exc, TimeoutError) or held[0].broken or held[0].closed):
                    _discard(self._open.pop(key)[0])
                raise _source_error(exc, target) from None
            except asyncio.CancelledError:  # the cockpit is closing mid-query: the connection's state is unknown
                if key in self._open:
                    _discard(self._open.pop(key)[0])
                raise

    async def aclose(self) -> None:
        """Close every kept connection (those of other loops without awaiting)."""
        loop = asyncio.get_running_loop()
        for conn, owner in self._open.values():
            if owner is loop:
                with contextlib.suppress(Exception):
                    await conn.close()
            else:
                _discard(conn)
        self._open.clear()
        self._turns.clear()


def _pg_reason(exc: Any) -> str:
    import psycopg

    if isinstance(exc, psycopg.errors.QueryCanceled):
        return "statement timeout: the query was cancelled"
    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        return "refused: the cockpit's transaction is read-only"
    text = _first_line(str(exc))
    if "password authentication failed" in text:
        return "password authentication failed (check the DSN's credentials)"
    if "Connection refused" in text or "connection refused" in text.lower():
        return "connection refused (is the database up?)"
    return text or type(exc).__name__


async def read_postgres(
    loaded: LoadedPlan, src: PostgresSource, query: str, result: str, sessions: PgSessions | None = None
) -> Any:
    """``result="scalar"``: the first column of the first row; ``"rows"``: the number of rows.
    With ``sessions``, on the source's kept connection; without, on one of its own."""
    rows = await (sessions.query(loaded, src, query) if sessions else query_postgres(loaded, src, query))
    if result == "rows":
        return len(rows)
    if not rows:
        raise SourceError("the query returned no rows")
    value = rows[0][0]
    if value is None:
        raise SourceError("the query returned NULL")
    if isinstance(value, SupportsFloat) and not isinstance(value, bool | str):
        return float(value)
    return value


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    output: str


async def run_command(loaded: LoadedPlan, src: CommandSource, command: str) -> CommandResult:
    """Run ``command`` with ``sh -c`` in the source's cwd; kill its process group on timeout."""
    cwd = loaded.base_dir / src.cwd
    try:
        env = {**os.environ, **loaded.env.resolve_all(src.env)}
    except UnsetVariable as exc:
        raise SourceError(str(exc)) from None
    if not cwd.is_dir():
        raise SourceError(f"working directory {cwd} does not exist")
    proc = await asyncio.create_subprocess_shell(
        command,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(src.timeout.total_seconds()):
            output = await _read_capped(proc)
            code = await proc.wait()
    except TimeoutError:
        _kill_group(proc.pid)
        await proc.wait()
        raise SourceError(f"command timed out after {format_duration(src.timeout)} (process group killed)") from None
    except BaseException:
        _kill_group(proc.pid)
        await proc.wait()
        raise
    return CommandResult(code, output)


async def _read_capped(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    kept = bytearray()
    while chunk := await proc.stdout.read(65536):
        if len(kept) < OUTPUT_CAP:
            kept += chunk[: OUTPUT_CAP - len(kept)]
    return kept.decode("utf-8", "replace")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def command_verdict(result: CommandResult, expect_regex: str) -> tuple[bool, str]:
    """(healthy?, reason): exit 0 and, when given, ``expect_regex`` found in the output."""
    last = _first_line(result.output.strip().splitlines()[-1] if result.output.strip() else "")
    if result.exit_code in (126, 127):
        raise SourceError(f"command not found or not executable (exit {result.exit_code}): {last}")
    if result.exit_code != 0:
        return False, f"exit {result.exit_code}" + (f": {last}" if last else "")
    if expect_regex and not re.search(expect_regex, result.output, re.MULTILINE):
        return False, f"output does not match {expect_regex!r}" + (f" (last line: {last})" if last else "")
    return True, f"exit 0{f', matched {expect_regex!r}' if expect_regex else ''}"


async def command_health(loaded: LoadedPlan, src: CommandSource, command: str, expect_regex: str) -> str:
    """``"healthy"`` or ``"unhealthy"``; SourceError when the command cannot be run, times out or prints
    something that is not text (empty, not UTF-8, control characters: the first bytes shown escaped)."""
    if not command.strip():
        raise SourceError("no command configured")
    result = await run_command(loaded, src, command)
    if result.exit_code == 0 and (expect_regex or result.output):  # without a regex, exit 0 alone may say it
        _require_text(result.output)
    healthy, _reason = command_verdict(result, expect_regex)
    return "healthy" if healthy else "unhealthy"


async def command_number(loaded: LoadedPlan, src: CommandSource, metric: Metric) -> float:
    """A gauge or counter from a command: ``value_regex`` (its one group) or ``json_path`` into the output.

    Anything else is a SourceError (the panel shows ERROR): a failed command, output the rule does not find
    a number in (its first bytes shown escaped).
    """
    if not metric.command.strip():
        raise SourceError("no command configured")
    result = await run_command(loaded, src, metric.command)
    last = _first_line(result.output.strip().splitlines()[-1] if result.output.strip() else "")
    if result.exit_code != 0:
        raise SourceError(f"exit {result.exit_code}" + (f": {shown(last)}" if last else ""))
    _require_text(result.output)
    if metric.value_regex:
        found = re.search(metric.value_regex, result.output, re.MULTILINE)
        if found is None or found.lastindex is None:
            raise SourceError(f"output not understood: no match for {metric.value_regex!r} in {shown(result.output)}")
        try:
            return to_number(found.group(1).strip())
        except SourceError:
            raise SourceError(f"output not understood: {shown(found.group(1))} is not a number") from None
    if metric.json_path:
        return to_number(json_path(parse_json(result.output.encode()), metric.json_path))
    raise SourceError("a numeric command metric needs value_regex or json_path")


def _require_text(output: str) -> None:
    """Output a command means as text: not empty, valid UTF-8, no control characters but tab and newlines."""
    if not output.strip():
        raise SourceError("output not understood: the command printed nothing")
    if "\ufffd" in output or any((ord(c) < 32 and c not in "\t\n\r") or 0x7F <= ord(c) < 0xA0 for c in output):
        raise SourceError(f"output not understood (not text): {shown(output)}")


def shown(text: str, limit: int = 60) -> str:
    """The first ``limit`` characters of untrusted output, quoted, every control and bidi character escaped."""
    head = repr(text[:limit])
    return head + ("..." if len(text) > limit else "")

"""PostgreSQL and command sources.

PostgreSQL: psycopg 3, one short connection per poll, a read-only transaction (``SET TRANSACTION READ
ONLY`` on top of ``default_transaction_read_only``), ``statement_timeout`` and ``connect_timeout``. A
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
from typing import Any

from cockpit.config import LoadedPlan
from cockpit.plan import CommandSource, PostgresSource, format_duration
from cockpit.secrets import UnsetVariable
from cockpit.sources import SourceError

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


async def query_postgres(loaded: LoadedPlan, src: PostgresSource, query: str) -> list[tuple[Any, ...]]:
    """Run ``query`` read-only; return all rows. SourceError (password removed) on any failure."""
    import psycopg

    try:
        dsn = loaded.env.resolve(src.dsn)
    except UnsetVariable as exc:
        raise SourceError(str(exc)) from None
    password = _dsn_password(dsn)
    statement_ms = max(int(src.statement_timeout.total_seconds() * 1000), 1)
    connect_s = max(round(src.connect_timeout.total_seconds()), 2)  # libpq's minimum is 2 s
    overall = src.connect_timeout.total_seconds() + src.statement_timeout.total_seconds() + 2
    try:
        async with asyncio.timeout(overall):
            conn = await psycopg.AsyncConnection.connect(
                dsn,
                connect_timeout=connect_s,
                options=f"-c default_transaction_read_only=on -c statement_timeout={statement_ms}",
                application_name="rollout-cockpit",
            )
            async with conn:
                async with conn.cursor() as cur:
                    await cur.execute("SET TRANSACTION READ ONLY")
                    await cur.execute(query.encode())
                    rows = await cur.fetchall() if cur.description is not None else []
                await conn.rollback()
                return list(rows)
    except TimeoutError:
        raise SourceError(f"PostgreSQL did not answer within {overall:.0f}s") from None
    except psycopg.Error as exc:
        reason = _pg_reason(exc)
        if password:
            reason = reason.replace(password, "***")
        raise SourceError(f"PostgreSQL: {reason}") from None
    except OSError as exc:
        raise SourceError(f"PostgreSQL: {exc}") from None


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


async def read_postgres(loaded: LoadedPlan, src: PostgresSource, query: str, result: str) -> Any:
    """``result="scalar"``: the first column of the first row; ``"rows"``: the number of rows."""
    rows = await query_postgres(loaded, src, query)
    if result == "rows":
        return len(rows)
    if not rows:
        raise SourceError("the query returned no rows")
    value = rows[0][0]
    if value is None:
        raise SourceError("the query returned NULL")
    if hasattr(value, "__float__") and not isinstance(value, bool | str):
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
    """``"healthy"`` or ``"unhealthy"``; SourceError when the command cannot be run or times out."""
    if not command.strip():
        raise SourceError("no command configured")
    healthy, _reason = command_verdict(await run_command(loaded, src, command), expect_regex)
    return "healthy" if healthy else "unhealthy"

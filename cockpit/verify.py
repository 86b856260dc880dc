"""Running a stage's verification checks (``[[stages.checks]]``) and recording each as ``check.result``.

A check is a command with an expected output (the seed's health script), SQL with an expected scalar or
row count (read-only, as every PostgreSQL source), or an HTTP request with an expected status. A check
that cannot run is a failed check with the reason; it never raises.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from cockpit.plan.model import Check, CommandSource, HttpSource, PostgresSource
from cockpit.rollout import Rollout
from cockpit.secrets import UnsetVariable
from cockpit.sources.errors import SourceError
from cockpit.sources.local import command_verdict, query_postgres, run_command
from cockpit.sources.remote import fetch_json, json_path, new_client


@dataclass(frozen=True)
class CheckOutcome:
    check_id: str
    ok: bool
    value: Any
    """Exit code, scalar or row count, HTTP status; None when the check could not run."""
    detail: str


async def _command(rollout: Rollout, check: Check, src: CommandSource) -> CheckOutcome:
    regex = check.expect_regex or check.expect
    result = await run_command(rollout.loaded, src, check.command or check.text)
    ok, reason = command_verdict(result, regex)
    return CheckOutcome(check.id, ok, result.exit_code, reason)


async def _sql(rollout: Rollout, check: Check, src: PostgresSource) -> CheckOutcome:
    rows = await query_postgres(rollout.loaded, src, check.query)
    if check.expect_rows is not None:
        ok = len(rows) == check.expect_rows
        return CheckOutcome(check.id, ok, len(rows), f"{len(rows)} row(s), expected {check.expect_rows}")
    if check.expect_value is not None:
        if not rows or not rows[0]:
            return CheckOutcome(check.id, False, None, f"no rows, expected {check.expect_value:g}")
        value = rows[0][0]
        try:
            ok = float(value) == check.expect_value
        except (TypeError, ValueError):
            ok = False
        shown = value if isinstance(value, int | float | str | None) else str(value)
        return CheckOutcome(check.id, ok, shown, f"returned {value}, expected {check.expect_value:g}")
    return CheckOutcome(check.id, True, len(rows), f"ran, {len(rows)} row(s)")


async def _http(rollout: Rollout, check: Check, src: HttpSource, client: httpx.AsyncClient) -> CheckOutcome:
    env = rollout.loaded.env
    try:
        url = env.resolve(src.base_url).rstrip("/") + "/" + env.resolve(check.path).lstrip("/")
        headers = env.resolve_all(src.headers)
    except UnsetVariable as exc:
        raise SourceError(str(exc)) from None
    reply = await fetch_json(
        client, url, headers=headers, timeout=src.timeout, max_bytes=src.max_bytes, expect_status=check.expect_status
    )
    if check.json_path:
        json_path(reply.body, check.json_path)
        return CheckOutcome(check.id, True, reply.status, f"HTTP {reply.status} with {check.json_path}")
    return CheckOutcome(check.id, True, reply.status, f"HTTP {reply.status}")


async def run_check(rollout: Rollout, check: Check, client: httpx.AsyncClient) -> CheckOutcome:
    """Run one check; any failure to run becomes a failed outcome with a redacted reason."""
    src = rollout.plan.sources.get(check.source)
    if src is None:  # source = "unwired": the imported plan does not say where this check runs yet
        return CheckOutcome(check.id, False, None, f"not wired: set source for this {check.kind} check in the plan")
    try:
        if check.kind == "command" and isinstance(src, CommandSource):
            outcome = await _command(rollout, check, src)
        elif check.kind == "sql" and isinstance(src, PostgresSource):
            outcome = await _sql(rollout, check, src)
        elif check.kind == "http" and isinstance(src, HttpSource):
            outcome = await _http(rollout, check, src, client)
        else:
            outcome = CheckOutcome(check.id, False, None, f"a {check.kind} check cannot use a {src.kind} source")
    except SourceError as exc:
        outcome = CheckOutcome(check.id, False, None, str(exc))
    except Exception as exc:
        outcome = CheckOutcome(check.id, False, None, f"unexpected {type(exc).__name__}: {exc}")
    redact = rollout.loaded.env.redact
    return CheckOutcome(outcome.check_id, outcome.ok, redact(outcome.value), redact(outcome.detail))


async def run_checks(rollout: Rollout, stage_id: str, *, client: httpx.AsyncClient | None = None) -> list[CheckOutcome]:
    """Run the stage's checks concurrently and record a ``check.result`` event for each, in plan order."""
    stage = rollout.stage_or_error(stage_id)
    own = client is None
    http = client or new_client()
    try:
        outcomes = await asyncio.gather(*(run_check(rollout, c, http) for c in stage.checks))
    finally:
        if own:
            await http.aclose()
    for outcome in outcomes:
        rollout.record_check(stage_id, outcome.check_id, outcome.ok, outcome.value, outcome.detail)
    return list(outcomes)

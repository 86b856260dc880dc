"""The kill switch: every flag of the rollout off, verified, audited first.

:meth:`FlagSwitch.kill` appends ``kill.requested`` *before* any network call, drives every provider
concurrently (bulk where the provider has it), reads every flag back, retries transient failures
(timeouts, 5xx, refused connections) with a short bounded backoff, and appends one
``kill.flag_result`` per flag (as each arrives) and a ``kill.result``. If the audit log cannot be written
the flags are still driven and the failure is reported. Nothing here waits on notifications.

The whole kill returns by the plan's ``kill_deadline``: a flag still unanswered is reported MAY STILL BE ON
(with its backout) and tried on in the background. A flag whose provider cannot be used (an unset
``${VAR}``, an unreadable provider table: :attr:`FlagSwitch.unresolved`) is reported with the reason
while the others are driven. The round trips per provider: one bulk (or concurrent) off, one read-back
(Unleash: one list call), on connections the arm checks keep open.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from cockpit import events as ev
from cockpit.flags import (
    ArmStatus,
    FlagProvider,
    FlagReading,
    collapse,
    is_transient,
    unresolved_providers,
)
from cockpit.flags.providers import providers_for
from cockpit.http_client import new_client
from cockpit.incident import complete_by_kill, open_incident
from cockpit.kill_report import FlagOutcome, KillReport, manual_backout
from cockpit.plan.model import Flag
from cockpit.rollout import Rollout, RolloutError
from cockpit.store.audit import ReadOnlyStore

ATTEMPTS = 3
BACKOFF = (0.1, 0.3)
"""Seconds to wait before the 2nd and 3rd attempts."""
KEEP_WARM = 4.0
"""Seconds between keep-warm requests while armed (Node, behind Unleash, closes idle connections after 5 s)."""
KEEPALIVE_MARGIN = 30.0
"""Idle connections are kept this much longer than the arm interval, so a kill finds them open."""

__all__ = ["ArmStatus", "FlagOutcome", "FlagSwitch", "KillReport"]


class FlagSwitch:
    """The rollout's flags across all their providers."""

    def __init__(
        self,
        rollout: Rollout,
        *,
        client: httpx.AsyncClient | None = None,
        unresolved: Mapping[str, str] | None = None,
    ) -> None:
        """``unresolved``: providers known to be unusable (name -> why), besides those with unset ``${VAR}``s."""
        self.rollout = rollout
        self._own_client = client is None
        keepalive = rollout.plan.defaults.arm_interval.total_seconds() + KEEPALIVE_MARGIN
        self.client = client or new_client(max_connections=64, keepalive_expiry=keepalive)
        self.unresolved: dict[str, str] = {**unresolved_providers(rollout.loaded), **(unresolved or {})}
        """Provider name -> why its flags cannot be driven; they are reported, never called."""
        every = providers_for(rollout.loaded, self.client)
        self.providers: dict[str, FlagProvider] = {n: p for n, p in every.items() if n not in self.unresolved}
        self.armed: ArmStatus | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._warmer: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[KillReport]] = set()
        """Kills running: each finishes (within its deadline) even when its caller is cancelled."""

    @property
    def killing(self) -> bool:
        """A kill is running (a quit, or a dropped session, waits for it: see :meth:`aclose`)."""
        return any(not task.done() for task in self._inflight)

    async def settle(self) -> None:
        """Wait for the kills running to finish: each returns by its deadline, whatever the providers do."""
        running = [task for task in self._inflight if not task.done()]
        if running:
            await asyncio.wait(running, timeout=self.rollout.plan.defaults.kill_deadline.total_seconds() + 1.0)

    async def aclose(self) -> None:
        """Let a kill that is running finish (its flags driven, its result audited), then stop the attempts
        still running past a kill's deadline (audited as abandoned) and close the client."""
        await self.settle()
        background = list(self._background)
        if self._warmer is not None:
            background.append(self._warmer)
        for task in background:
            task.cancel()
        if background:
            await asyncio.gather(*background, return_exceptions=True)
        if self._own_client:
            await self.client.aclose()

    async def __aenter__(self) -> FlagSwitch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ----------------------------------------------------------------- lookups

    def flag(self, name: str) -> Flag:
        try:
            return self.rollout.plan.flag(name)
        except KeyError:
            names = ", ".join(f.name for f in self.rollout.plan.flags) or "none"
            raise RolloutError(f"unknown flag {name!r}; flags are: {names}") from None

    def _by_provider(self, flags: list[Flag]) -> dict[str, list[Flag]]:
        groups: dict[str, list[Flag]] = defaultdict(list)
        for flag in flags:
            groups[flag.provider].append(flag)
        return groups

    # ----------------------------------------------------------------- reading and arming

    async def read_all(self) -> dict[str, FlagReading]:
        groups = self._by_provider(list(self.rollout.plan.flags))
        results = await asyncio.gather(*(self._read(p, fs) for p, fs in groups.items()))
        merged = {k: v for r in results for k, v in r.items()}
        return {f.name: merged[f.name] for f in self.rollout.plan.flags if f.name in merged}

    async def read_flag(self, name: str) -> FlagReading:
        """One flag, read now from its provider."""
        target = self.flag(name)
        return (await self._read(target.provider, [target]))[name]

    async def _read(self, provider: str, flags: list[Flag]) -> dict[str, FlagReading]:
        if provider in self.unresolved:
            return {f.name: FlagReading(f.name, None, None, self.unresolved[provider]) for f in flags}
        try:
            return await self.providers[provider].read(flags)
        except Exception as exc:  # a provider bug must not hide the others
            why = self.rollout.loaded.env.redact(f"{type(exc).__name__}: {exc}")
            return {f.name: FlagReading(f.name, None, None, why) for f in flags}

    async def arm(self) -> ArmStatus:
        """Check every provider without changing anything; the result is also kept as ``.armed``.

        The first check also starts keeping the connections warm until the switch is closed.
        """
        if self._warmer is None:
            self._warmer = asyncio.create_task(self._keep_warm())
        flags = list(self.rollout.plan.flags)
        if not flags:
            self.armed = ArmStatus(False, "the plan has no flags", {})
            return self.armed
        groups = self._by_provider(flags)
        results = await asyncio.gather(*(self._arm(p, fs) for p, fs in groups.items()))
        readings = {k: v for r in results for k, v in r.readings.items()}
        reasons = [f"{p}: {r.reason}" for p, r in zip(groups, results, strict=True) if not r.armed]
        self.armed = ArmStatus(not reasons, "; ".join(reasons) or "all flags readable", readings)
        return self.armed

    async def keep_armed(self, on_status: Callable[[ArmStatus], object], interval: float | None = None) -> None:
        """Re-check every ``interval`` seconds (default: the plan's ``arm_interval``) until cancelled,
        handing each status to ``on_status`` (a TUI worker's body; re-armed after each check)."""
        period = interval if interval is not None else self.rollout.plan.defaults.arm_interval.total_seconds()
        while True:
            on_status(await self.arm())
            await asyncio.sleep(period)

    async def _keep_warm(self) -> None:
        """Every :data:`KEEP_WARM` seconds, each provider keeps its connections open (servers close idle
        ones after a few seconds), so a kill starts on an open connection. Started by the first arm check."""
        while True:
            await asyncio.sleep(KEEP_WARM)
            await self.warm()

    async def warm(self) -> None:
        """Each provider's :meth:`FlagProvider.warm`, concurrently (best effort)."""
        await asyncio.gather(*(p.warm() for p in self.providers.values()), return_exceptions=True)

    async def _arm(self, provider: str, flags: list[Flag]) -> ArmStatus:
        if provider in self.unresolved:
            why = self.unresolved[provider]
            readings = {f.name: FlagReading(f.name, None, None, why) for f in flags}
            return ArmStatus(False, collapse([f.name for f in flags], why), readings)
        try:
            return await self.providers[provider].arm(flags)
        except Exception as exc:
            why = self.rollout.loaded.env.redact(f"{type(exc).__name__}: {exc}")
            return ArmStatus(False, why, {f.name: FlagReading(f.name, None, None, why) for f in flags})

    # ----------------------------------------------------------------- the kill

    async def kill(
        self,
        reason: str,
        flags: list[str] | None = None,
        *,
        on_result: Callable[[FlagOutcome], object] | None = None,
        deadline: float | None = None,
    ) -> KillReport:
        """Turn the flags (default: all of the rollout's) off and verify; see the module docstring.

        Returns within ``deadline`` seconds (default: the plan's ``kill_deadline``) whatever the
        providers do; ``on_result`` gets each flag's outcome as it arrives (the CLI prints it). A flag
        with no outcome by then is reported MAY STILL BE ON and tried on in the background: its outcome
        is audited when it comes (``after_deadline``), or as abandoned when the switch is closed.

        Once begun, the kill is not stopped by its caller: a cancelled caller (the operator quit, or the SSH
        session dropped, right after pressing the key) leaves it running, and :meth:`aclose` waits for it.
        """
        task = asyncio.create_task(self._kill(reason, flags, on_result, deadline), name="cockpit-kill")
        self._inflight.add(task)
        task.add_done_callback(_settled)
        task.add_done_callback(self._inflight.discard)
        return await asyncio.shield(task)

    async def _kill(
        self,
        reason: str,
        flags: list[str] | None,
        on_result: Callable[[FlagOutcome], object] | None,
        deadline: float | None,
    ) -> KillReport:
        loop = asyncio.get_running_loop()
        limit = self.rollout.plan.defaults.kill_deadline.total_seconds() if deadline is None else deadline
        until = loop.time() + limit
        targets = [self.flag(n) for n in dict.fromkeys(flags)] if flags else list(self.rollout.plan.flags)
        if not targets:
            raise RolloutError("the plan has no flags to kill")
        reason = reason.strip() or "kill switch"
        audit_errors: list[str] = []
        requested = {"reason": reason, "flags": [f.name for f in targets]}
        # a failed append is reported in the result; the flags are driven all the same
        self._record(ev.KILL_REQUESTED, requested, audit_errors, refuse_readonly=True)
        run = _KillRun(self, audit_errors, on_result)
        for flag in targets:
            if flag.provider in self.unresolved:
                run.arrive(FlagOutcome(flag.name, False, 0, self.unresolved[flag.provider]))
        groups = self._by_provider([f for f in targets if f.provider not in self.unresolved])
        tasks = [asyncio.create_task(self._kill_provider(p, fs, run)) for p, fs in groups.items()]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=max(0.0, until - loop.time()))
            self._background |= pending
            for task in pending:
                task.add_done_callback(self._background.discard)
        run.closed = True
        for flag in targets:
            if flag.name not in run.outcomes:
                why = f"no answer within the {limit:g} s kill deadline (still trying in the background)"
                run.outcomes[flag.name] = FlagOutcome(flag.name, False, run.attempts.get(flag.name, 1), why)
        outcomes = tuple(run.outcomes[f.name] for f in targets)
        all_off = all(o.verified_off for o in outcomes)
        may_be_on = [o.flag for o in outcomes if not o.verified_off]
        late = [o.flag for o in outcomes if o.flag not in run.recorded]
        result = {"all_off": all_off, "may_be_on": may_be_on, "reason": reason, "unanswered": late}
        self._record(ev.KILL_RESULT, result, audit_errors)
        try:
            open_incident(self.rollout, f"kill: {reason}")
            if all_off and not flags:  # every flag of the rollout verified off: "Immediately" is done
                complete_by_kill(self.rollout)
        except Exception as exc:
            audit_errors.append(self.rollout.loaded.env.redact(f"incident not opened: {exc}"))
        redact = self.rollout.loaded.env.redact
        backout = manual_backout(self.rollout.plan, lambda: self.rollout.state, may_be_on)
        return KillReport(outcomes, all_off, backout, tuple(redact(e) for e in audit_errors))

    def _record(self, type: str, payload: dict[str, Any], errors: list[str], *, refuse_readonly: bool = False) -> bool:
        try:
            self.rollout.record(type, payload)
            return True
        except ReadOnlyStore as exc:
            if refuse_readonly:
                raise RolloutError(str(exc)) from None
            errors.append(f"{type}: {exc}")
        except Exception as exc:  # torn tail, full disk, database down: report, keep going
            errors.append(f"{type}: {type_name(exc)}: {exc}")
        return False

    async def _kill_provider(self, provider: str, flags: list[Flag], run: _KillRun) -> None:
        """Off, then read back, for one provider's flags; retry transient failures; report each flag to ``run``."""
        impl = self.providers[provider]
        pending = list(flags)
        try:
            for attempt in range(1, ATTEMPTS + 1):
                for flag in pending:
                    run.attempts[flag.name] = attempt
                errors = await _guard(impl.off(pending), pending)
                readings = await self._read(provider, pending)
                retry = []
                for flag in pending:
                    reading = readings.get(flag.name)
                    if reading is not None and reading.off:
                        run.arrive(FlagOutcome(flag.name, True, attempt, ""))
                        continue
                    why = errors.get(flag.name) or (reading.error if reading else "") or "no read-back"
                    if not errors.get(flag.name) and reading is not None and not reading.error:
                        why = f"still {reading.describe()} after the off call"
                    transient = is_transient(why) or why.startswith("still ")
                    if transient and attempt < ATTEMPTS:
                        retry.append(flag)
                    else:
                        run.arrive(FlagOutcome(flag.name, False, attempt, why))
                if not retry:
                    break
                await asyncio.sleep(BACKOFF[min(attempt - 1, len(BACKOFF) - 1)])
                pending = retry
        except asyncio.CancelledError:
            for flag in flags:
                if flag.name not in run.recorded:
                    why = "abandoned: the cockpit exited before the provider answered"
                    run.arrive(FlagOutcome(flag.name, False, run.attempts.get(flag.name, 1), why))
            raise

class _KillRun:
    """One kill's outcomes as they arrive: each audited at once and handed to the caller's ``on_result``."""

    def __init__(
        self, switch: FlagSwitch, audit_errors: list[str], on_result: Callable[[FlagOutcome], object] | None
    ) -> None:
        self.switch = switch
        self.audit_errors = audit_errors
        self.on_result = on_result
        self.outcomes: dict[str, FlagOutcome] = {}
        self.recorded: set[str] = set()
        self.attempts: dict[str, int] = {}
        self.closed = False
        """The deadline passed: the report is out; later outcomes are audited as ``after_deadline``."""

    def arrive(self, outcome: FlagOutcome) -> None:
        if outcome.flag in self.recorded:
            return
        self.recorded.add(outcome.flag)
        late = self.closed
        if not late:
            self.outcomes[outcome.flag] = outcome
        payload: dict[str, Any] = {
            "flag": outcome.flag,
            "verified_off": outcome.verified_off,
            "attempts": outcome.attempts,
            "error": outcome.error,
        }
        if late:
            payload["after_deadline"] = True
        self.switch._record(ev.KILL_FLAG_RESULT, payload, [] if late else self.audit_errors)
        if self.on_result is not None:
            try:
                self.on_result(outcome)
            except Exception:  # a display problem never stops the kill
                pass


async def _guard(call: Any, flags: list[Flag]) -> dict[str, str | None]:
    """A provider's ``off``; an unexpected exception becomes every flag's error."""
    try:
        result: dict[str, str | None] = await call
        return result
    except Exception as exc:
        return {f.name: f"{type_name(exc)}: {exc}" for f in flags}


def type_name(exc: BaseException) -> str:
    return type(exc).__name__


def _settled(task: asyncio.Task[KillReport]) -> None:
    """A kill whose caller was gone: its error is in its report and the log, not an unretrieved exception."""
    if not task.cancelled():
        task.exception()

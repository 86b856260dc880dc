"""Flags driven by local commands (``{flag}``, ``{percent}``, ``{enabled}`` substituted, shell-quoted).

Each command runs in its own process group with the provider's timeout; on timeout the whole group
is killed, so a hanging command never holds the kill switch.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal

from cockpit.flags import ArmStatus, FlagError, FlagReading, arm_from_readings
from cockpit.flags.http import as_enabled, as_percent
from cockpit.plan.load import LoadedPlan
from cockpit.plan.model import CommandProvider, Flag
from cockpit.secrets import Env, UnsetVariable, cut


class CommandFlags:
    """The ``kind = "command"`` provider."""

    def __init__(self, spec: CommandProvider, loaded: LoadedPlan) -> None:
        self.spec = spec
        self.env: Env = loaded.env
        self.cwd = loaded.base_dir

    async def run(self, template: str, flag: Flag, percent: int = 0, enabled: bool = False) -> str:
        """Run one command; its stdout, or FlagError (non-zero exit, timeout) with the reason."""
        if not template:
            raise FlagError("the provider has no command for this action")
        line = (
            template.replace("{flag}", shlex.quote(flag.provider_key))
            .replace("{percent}", str(percent))
            .replace("{enabled}", "true" if enabled else "false")
        )
        try:
            line = self.env.resolve(line)
        except UnsetVariable as exc:
            raise FlagError(str(exc)) from None
        timeout = self.spec.timeout.total_seconds()
        proc = await asyncio.create_subprocess_shell(
            line,
            cwd=self.cwd if self.cwd.is_dir() else None,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except (TimeoutError, asyncio.CancelledError):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            await proc.wait()
            raise FlagError(f"timed out after {timeout:g}s") from None
        if proc.returncode != 0:
            tail = cut(" ".join(err.decode(errors="replace").split()), 160, keep_end=True)
            raise FlagError(self.env.redact(f"exit {proc.returncode}" + (f": {tail}" if tail else "")))
        return out.decode(errors="replace").strip()

    async def _read_one(self, flag: Flag) -> FlagReading:
        try:
            text = await self.run(self.spec.read, flag)
        except FlagError as exc:
            return FlagReading(flag.name, None, None, str(exc))
        word = text.split()[0] if text.split() else ""
        if word.rstrip("%").isdigit():
            percent = as_percent(word.rstrip("%"))
            return FlagReading(flag.name, bool(percent), percent)
        enabled = as_enabled(word)
        if enabled is None:
            return FlagReading(flag.name, None, None, f"cannot tell on/off from {cut(text, 40)!r}")
        return FlagReading(flag.name, enabled, 100 if enabled else 0)

    async def read(self, flags: list[Flag]) -> dict[str, FlagReading]:
        readings = await asyncio.gather(*(self._read_one(f) for f in flags))
        return {r.flag: r for r in readings}

    async def _off_one(self, flag: Flag) -> str | None:
        try:
            await self.run(self.spec.off, flag)
        except FlagError as exc:
            return str(exc)
        return None

    async def off(self, flags: list[Flag]) -> dict[str, str | None]:
        errors = await asyncio.gather(*(self._off_one(f) for f in flags))
        return {f.name: e for f, e in zip(flags, errors, strict=True)}

    async def set_percent(self, flag: Flag, percent: int) -> None:
        if percent <= 0:
            await self.run(self.spec.off, flag)
        elif self.spec.percent:
            await self.run(self.spec.percent, flag, percent, True)
        elif percent == 100 and self.spec.on:
            await self.run(self.spec.on, flag, 100, True)
        else:
            raise FlagError("this provider has no 'percent' command; only 0 or 100 (with 'on') can be set")

    async def arm(self, flags: list[Flag]) -> ArmStatus:
        return arm_from_readings(await self.read(flags))

    async def warm(self) -> None:
        """Nothing to keep open."""

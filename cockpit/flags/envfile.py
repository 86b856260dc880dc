"""A dotenv / systemd ``EnvironmentFile``: ``KEY=value`` lines, rewritten atomically.

The new file is written next to the old one, fsynced and renamed over it (then the directory is
fsynced), with the old file's mode; every other line is kept byte for byte. All flags of one kill are
changed in one rewrite.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path

from cockpit.flags import ArmStatus, FlagError, FlagReading, arm_from_readings
from cockpit.flags.http import as_enabled, as_percent
from cockpit.plan.load import LoadedPlan
from cockpit.plan.model import EnvFileProvider, Flag

_LINE = re.compile(r"^(?P<lead>\s*(?:export\s+)?)(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=(?P<value>.*?)(?P<nl>\r?\n?)$")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


class EnvFileFlags:
    """The ``kind = "envfile"`` provider."""

    def __init__(self, spec: EnvFileProvider, loaded: LoadedPlan) -> None:
        self.spec = spec
        path = Path(os.path.expanduser(loaded.env.resolve(spec.path)))
        self.path = path if path.is_absolute() else loaded.base_dir / path
        self._lock = asyncio.Lock()

    def _lines(self) -> list[str]:
        try:
            return self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        except FileNotFoundError:
            raise FlagError(f"{self.path}: no such file") from None
        except OSError as exc:
            raise FlagError(f"{self.path}: {exc.strerror or exc}") from None

    def _values(self) -> dict[str, str]:
        values = {}
        for line in self._lines():
            m = _LINE.match(line)
            if m:
                values[m["key"]] = _unquote(m["value"])
        return values

    async def read(self, flags: list[Flag]) -> dict[str, FlagReading]:
        try:
            values = self._values()
        except FlagError as exc:
            return {f.name: FlagReading(f.name, None, None, str(exc)) for f in flags}
        result = {}
        for flag in flags:
            raw = values.get(flag.provider_key)
            if raw is None:
                result[flag.name] = FlagReading(flag.name, False, 0)  # an absent variable is off
                continue
            percent = as_percent(raw) if raw.strip().isdigit() else None
            enabled = raw == self.spec.on_value or (raw != self.spec.off_value and bool(as_enabled(raw)))
            if percent is not None:
                enabled = percent > 0
            result[flag.name] = FlagReading(flag.name, enabled, percent if percent is not None else 100 * enabled)
        return result

    async def off(self, flags: list[Flag]) -> dict[str, str | None]:
        try:
            await self._write({f.provider_key: self.spec.off_value for f in flags})
        except FlagError as exc:
            return {f.name: str(exc) for f in flags}
        return {f.name: None for f in flags}

    async def set_percent(self, flag: Flag, percent: int) -> None:
        if percent not in (0, 100):
            raise FlagError("an env file flag is on or off: only 0 or 100 can be set")
        await self._write({flag.provider_key: self.spec.on_value if percent else self.spec.off_value})

    async def arm(self, flags: list[Flag]) -> ArmStatus:
        readings = await self.read(flags)
        extra = []
        if self.path.exists() and not os.access(self.path.parent, os.W_OK):
            extra.append(f"{self.path.parent}: directory not writable")
        return arm_from_readings(readings, extra)

    async def warm(self) -> None:
        """Nothing to keep open."""

    async def _write(self, changes: dict[str, str]) -> None:
        async with self._lock:
            await asyncio.to_thread(self._rewrite, changes)

    def _rewrite(self, changes: dict[str, str]) -> None:
        lines = self._lines()
        pending = dict(changes)
        out = []
        for line in lines:
            m = _LINE.match(line)
            if m and m["key"] in pending:
                line = f"{m['lead']}{m['key']}={pending.pop(m['key'])}{m['nl'] or ''}"
            out.append(line)
        if pending and out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out += [f"{k}={v}\n" for k, v in pending.items()]
        try:
            mode = self.path.stat().st_mode & 0o7777
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        except OSError as exc:
            raise FlagError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write("".join(out))
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise FlagError(f"cannot write {self.path}: {exc.strerror or exc}") from None

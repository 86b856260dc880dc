"""``${VAR}`` references: resolved only at the moment of use, and scrubbed from everything shown.

Secrets come only from environment variables. The plan keeps the template text (``Bearer ${TOKEN}``);
:class:`Env` resolves it for a request and :meth:`Env.redact` removes every resolved value from text
that leaves the process: audit payloads, exports, the screen, error messages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
MASK = "***"
_MIN_SECRET = 4  # shorter values would mask ordinary words


def references(text: str) -> list[tuple[str, str | None]]:
    """The ``(name, default)`` pairs referenced in ``text``."""
    return [(m["name"], m["default"]) for m in REF.finditer(text)]


class UnsetVariable(KeyError):
    """A ``${VAR}`` with no value in the environment and no default."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"environment variable {self.name} is not set"


class Env:
    """Resolves ``${VAR}`` references against one environment and redacts their values."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = dict(os.environ if environ is None else environ)
        self._secrets: set[str] = set()

    def resolve(self, template: str) -> str:
        """Substitute every reference; raise :class:`UnsetVariable` for a missing one."""

        def sub(m: re.Match[str]) -> str:
            name, default = m["name"], m["default"]
            if name in self._environ:
                value = self._environ[name]
                if len(value) >= _MIN_SECRET:
                    self._secrets.add(value)
                return value
            if default is not None:
                return default
            raise UnsetVariable(name)

        return REF.sub(sub, template)

    def resolve_all(self, mapping: Mapping[str, str]) -> dict[str, str]:
        return {k: self.resolve(v) for k, v in mapping.items()}

    def check(self, template: str) -> list[str]:
        """Names referenced by ``template`` that are unset and have no default."""
        return [n for n, d in references(template) if n not in self._environ and d is None]

    def learn(self, names: Iterable[str]) -> None:
        """Treat the current values of ``names`` as secrets even before they are resolved."""
        for name in names:
            value = self._environ.get(name, "")
            if len(value) >= _MIN_SECRET:
                self._secrets.add(value)

    def redact(self, value: Any) -> Any:
        """``value`` with every known secret replaced by ``***`` (recursing into dicts and lists)."""
        if isinstance(value, str):
            for secret in sorted(self._secrets, key=len, reverse=True):
                value = value.replace(secret, MASK)
            return value
        if isinstance(value, dict):
            return {k: self.redact(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact(v) for v in value]
        return value

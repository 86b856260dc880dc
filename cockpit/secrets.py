"""``${VAR}`` references: resolved only at the moment of use; credentials scrubbed from everything shown.

Secrets come only from environment variables. The plan keeps the template text (``Bearer ${TOKEN}``);
:class:`Env` resolves it for a request and :meth:`Env.redact` removes every *credential* from text that
leaves the process: audit payloads, samples, exports, the screen, error messages, even when a service
echoes it back. A variable is a credential when the plan uses it as one (:func:`credential_names`): in
``headers``, as a ``token``, ``password`` or ``api_key``, in a webhook URL, in a table marked
``secret = true``; and the password inside any URL or DSN a variable holds. Other values (a base URL, a
database host) are not secrets and are never masked: a note that mentions the service's URL keeps it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
CREDENTIAL_KEYS = frozenset({"token", "password", "passwd", "api_key", "apikey", "secret", "webhooks", "headers"})
"""A ``${VAR}`` under one of these keys (at any depth) is a credential."""
SECRET_MARK = "secret"
"""``secret = true`` in a plan table: every ``${VAR}`` of that table is a credential."""
_URL_PASSWORD = re.compile(r"://[^/\s:@]*:(?P<password>[^@/\s]+)@")
_KEYWORD_PASSWORD = re.compile(r"\bpassword\s*=\s*(?P<password>'[^']*'|[^\s]+)")
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
        self._credentials: set[str] = set()

    def resolve(self, template: str) -> str:
        """Substitute every reference; raise :class:`UnsetVariable` for a missing one."""

        def sub(m: re.Match[str]) -> str:
            name, default = m["name"], m["default"]
            if name in self._environ:
                value = self._environ[name]
                if name in self._credentials:
                    self._keep(value)
                self._keep_embedded(value)
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

    def learn(self, names: Iterable[str], *, referenced: Iterable[str] = ()) -> None:
        """Treat the current values of ``names`` as secrets (credentials) even before they are resolved;
        of the ``referenced`` others, only a password inside a URL or DSN is one."""
        for name in names:
            self._credentials.add(name)
            self._keep(self._environ.get(name, ""))
        for name in referenced:
            self._keep_embedded(self._environ.get(name, ""))

    def _keep(self, value: str) -> None:
        if len(value) >= _MIN_SECRET:
            self._secrets.add(value)

    def _keep_embedded(self, value: str) -> None:
        """The password of a URL (``postgresql://u:PASSWORD@host``) or a DSN (``password=PASSWORD``)."""
        for pattern in (_URL_PASSWORD, _KEYWORD_PASSWORD):
            for m in pattern.finditer(value):
                self._keep(m["password"].strip("'"))

    def redact(self, value: Any) -> Any:
        """``value`` with every known secret replaced by ``***`` (recursing into dicts and lists)."""
        if isinstance(value, str):
            for secret in sorted(self._secrets, key=len, reverse=True):
                value = value.replace(secret, MASK)
            return _mask_cut_fragments(value, self._secrets) if any(m in value for m in CUT_MARKS) else value
        if isinstance(value, dict):
            return {k: self.redact(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact(v) for v in value]
        return value


CUT_MARKS = ("...", "…")
"""How a service's text that was cut is marked: every place that cuts one puts one of these at the cut."""
_MIN_FRAGMENT = 4
"""A shorter piece of a secret (three characters of it) tells nothing; masking it would garble ordinary text."""


def _mask_cut_fragments(text: str, secrets: set[str]) -> str:
    """A secret cut in half is still a secret: the start of one right before a cut mark, or its end right
    after one, is masked too (only there: elsewhere the same letters are ordinary text)."""
    for secret in secrets:
        for k in range(len(secret) - 1, _MIN_FRAGMENT - 1, -1):
            head, tail = secret[:k], secret[-k:]
            for mark in CUT_MARKS:
                if head + mark in text:
                    text = text.replace(head + mark, MASK + mark)
                if mark + tail in text:
                    text = text.replace(mark + tail, mark + MASK)
    return text


def cut(text: str, limit: int, *, keep_end: bool = False) -> str:
    """``text`` cut to at most ``limit`` characters, the cut marked "…" (so that :meth:`Env.redact` masks a
    secret the cut went through); ``keep_end``: keep the end instead of the start."""
    if len(text) <= limit:
        return text
    return "…" + text[-limit:] if keep_end else text[:limit] + "…"


def credential_names(data: Any, *, under_credential: bool = False) -> set[str]:
    """Names of the ``${VAR}``s the parsed plan ``data`` uses as credentials (see the module docstring)."""
    names: set[str] = set()
    if isinstance(data, dict):
        marked = under_credential or data.get(SECRET_MARK) is True
        for key, value in data.items():
            names |= credential_names(value, under_credential=marked or str(key).lower() in CREDENTIAL_KEYS)
    elif isinstance(data, list):
        for value in data:
            names |= credential_names(value, under_credential=under_credential)
    elif isinstance(data, str) and under_credential:
        names.update(name for name, _default in references(data))
    return names


def pop_secret_marks(data: Any) -> None:
    """Remove every ``secret = true|false`` from the parsed plan (read by :func:`credential_names` first),
    so the plan model need not know the key."""
    if isinstance(data, dict):
        if isinstance(data.get(SECRET_MARK), bool):
            del data[SECRET_MARK]
        for value in data.values():
            pop_secret_marks(value)
    elif isinstance(data, list):
        for value in data:
            pop_secret_marks(value)

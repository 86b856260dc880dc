"""Code blocks of a checklist: shell, SQL and ``GET /path`` lines as verification checks.

A comment above a command is the check's description; an ``Expected: …`` comment after it is what the
check must see; a comment that no command follows is a manual step ("Inject test failure and verify it
appears in DLQ"). Shell lines joined by ``\\`` are one command; SQL runs to its ``;``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cockpit.checklist.draft import UNWIRED_TODO
from cockpit.plan.parts import UNWIRED

_SQL_LANGS = {"sql", "postgres", "postgresql", "psql", "pgsql", "mysql", "sqlite"}
_SQL_START = re.compile(r"^\s*(select|with|show|explain|insert|update|delete|alter|create|drop)\b", re.I)
_EXPECTED = re.compile(r"^\s*expected(?:\s+\w+)?\s*:\s*(.+?)\s*$", re.I)
_GET = re.compile(r"^\s*GET\s+(\S+)\s*$")
_CURL_URL = re.compile(r"""["']?(\$\{?[A-Za-z_]\w*\}?|https?://[^/\s"']+)(/[^\s"']*)?["']?""")
_JQ = re.compile(r"\|\s*jq\s+(?:-\w+\s+)*['\"]?\.([A-Za-z_][\w.]*)['\"]?")
_VAR = re.compile(r"\$\{?([A-Za-z_]\w*)\}?")


@dataclass
class ParsedCheck:
    kind: str
    label: str
    display: str
    lines: list[int]
    command: str = ""
    query: str = ""
    path: str = ""
    json_path: str = ""
    expect: dict[str, Any] = field(default_factory=dict)
    todo: str = ""

    def data(self, ident: str) -> dict[str, Any]:
        del ident  # the id is the caller's (unique within the stage)
        text = self.label or self.display
        if self.label and len(self.display) <= 60:
            text = f"{self.label}: {self.display}"
        out: dict[str, Any] = {
            "text": text,
            "source": "shell" if self.kind == "command" else UNWIRED,
            "kind": self.kind,
        }
        for key, value in (
            ("command", self.command),
            ("query", self.query),
            ("path", self.path),
            ("json_path", self.json_path),
        ):
            if value:
                out[key] = value
        if self.kind == "http" and not self.expect:
            self.expect.update(expectation("http", "200"))
        if self.kind == "http" and self.json_path and self.expect.get("expect") == "200":
            self.expect["expect"] = f"200 with {self.json_path}"
        out.update(self.expect)
        return out


@dataclass
class ParsedCode:
    checks: list[ParsedCheck] = field(default_factory=list)
    manual: list[tuple[str, int]] = field(default_factory=list)
    """Comments that no command follows: manual steps, as (text, line)."""
    commands: list[tuple[str, int]] = field(default_factory=list)
    blank_or_comment: list[int] = field(default_factory=list)


def expectation(kind: str, text: str) -> dict[str, Any]:
    """The check fields an "Expected: …" says: ``0`` -> ``expect_value``, ``1 row`` -> ``expect_rows``,
    ``200`` -> ``expect_status``, other text -> the output a command must print."""
    text = text.strip().strip("`").strip()
    out: dict[str, Any] = {"expect": text}
    if kind == "sql":
        rows = re.fullmatch(r"(\d+|no)\s+rows?(?:\s+.*)?", text, re.I)
        if rows:
            out["expect_rows"] = 0 if rows[1].lower() == "no" else int(rows[1])
        elif re.fullmatch(r"-?\d+(?:\.\d+)?", text):
            out["expect_value"] = float(text) if "." in text else int(text)
    elif kind == "http":
        status = re.match(r"(?:HTTP\s*)?([1-5]\d\d)\b", text)
        if status:
            out["expect_status"] = int(status[1])
    else:
        out["expect_regex"] = re.escape(text).replace("\\ ", " ")
    return out


def comment_line(line: str) -> bool:
    """A shell, SQL or C-style comment line."""
    return line.strip().startswith(("#", "--", "//"))


def _comment_text(line: str) -> str:
    return re.sub(r"^\s*(?:#+|--|//)\s?", "", line).strip()


def _is_comment(line: str, sql: bool) -> bool:
    stripped = line.strip()
    return stripped.startswith(("--", "//")) if sql else stripped.startswith(("#", "//"))


def parse_code(text: str, lang: str, first_line: int) -> ParsedCode:
    """Checks, manual steps and commands of a code block whose first content line is ``first_line``."""
    raw = text.splitlines()
    sql = lang in _SQL_LANGS or (
        lang == "" and any(_SQL_START.match(ln) for ln in raw if ln.strip() and not ln.strip().startswith("--"))
    )
    out = ParsedCode()
    pending: tuple[str, int] | None = None
    statement: list[tuple[str, int]] = []

    def flush_sql() -> None:
        nonlocal pending
        if not statement:
            return
        query = " ".join(s.strip() for s, _ in statement).rstrip(";").strip()
        label = pending[0] if pending else ""
        lines = ([pending[1]] if pending else []) + [n for _, n in statement]
        todo = f'{UNWIRED_TODO}: set source to a [sources] entry of kind postgres (dsn = "${{DATABASE_URL}}")'
        out.checks.append(ParsedCheck("sql", label, query, lines, query=query, todo=todo))
        out.commands.append((query, statement[0][1]))
        statement.clear()
        pending = None

    i = 0
    while i < len(raw):
        line, number = raw[i], first_line + i
        i += 1
        if not line.strip():
            out.blank_or_comment.append(number)
            if sql:
                flush_sql()
            continue
        if _is_comment(line, sql):
            comment = _comment_text(line)
            expected = _EXPECTED.match(comment)
            if expected and (out.checks or statement):
                if sql:
                    flush_sql()
                check = out.checks[-1]
                check.expect.update(expectation(check.kind, expected[1]))
                check.lines.append(number)
                continue
            if not comment:
                out.blank_or_comment.append(number)
                continue
            if pending is not None:
                out.manual.append(pending)
            pending = (comment, number)
            continue
        if sql:
            statement.append((line, number))
            if line.rstrip().endswith(";"):
                flush_sql()
            continue
        lines = [number]
        command = line.strip()
        while command.endswith("\\") and i < len(raw):
            command = command[:-1].rstrip() + " " + raw[i].strip()
            lines.append(first_line + i)
            i += 1
        label = pending[0] if pending else ""
        if pending is not None:
            lines.insert(0, pending[1])
            pending = None
        out.commands.append((command, number))
        out.checks.append(_shell_check(command, label, lines))
    if sql:
        flush_sql()
    if pending is not None:
        out.manual.append(pending)
    return out


def _shell_check(command: str, label: str, lines: list[int]) -> ParsedCheck:
    get = _GET.match(command)
    if get:
        url = _CURL_URL.match(get[1])
        path = (url[2] or "/") if url else get[1]
        return _http(label, f"GET {get[1]}", lines, path, "", command)
    words = command.split()
    if words and words[0] == "curl" and not re.search(r"\s(?:-X|--request)\s+(?!GET\b)|\s(?:-d|--data\S*)\s", command):
        for token in words[1:]:
            url = _CURL_URL.fullmatch(token)
            if url and url[2]:
                jq = _JQ.search(command)
                shown = f"GET {token.strip(chr(34) + chr(39))}" + (f" | jq '.{jq[1]}'" if jq else "")
                return _http(label, shown, lines, url[2], jq[1] if jq else "", command)
    return ParsedCheck("command", label, command, lines, command=command)


def _http(label: str, shown: str, lines: list[int], path: str, json_path: str, command: str) -> ParsedCheck:
    names = sorted({m[1] for m in _VAR.finditer(command)})
    hint = f" (the checklist uses {', '.join('$' + n for n in names)})" if names else ""
    todo = f"{UNWIRED_TODO}: set source to a [sources] entry of kind http with base_url and headers as ${{VAR}}{hint}"
    return ParsedCheck("http", label, shown, lines, path=path, json_path=json_path, todo=todo)

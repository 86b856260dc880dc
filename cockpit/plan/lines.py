"""Where a key of the plan is written: dotted key paths to line numbers in the TOML text."""

from __future__ import annotations

import re


class KeyLines:
    """Maps dotted key paths (``stages.2.thresholds.1.threshold``) to line numbers in TOML text."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")

    def __init__(self, text: str) -> None:
        self.lines: dict[str, int] = {}
        counters: dict[str, int] = {}
        table = ""
        for number, raw in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(raw)
            if header:
                parts = [p.strip().strip("\"'") for p in header[2].split(".")]
                path = self._resolve(parts, counters)
                if header[1] == "[[":
                    index = counters.get(path, -1) + 1
                    counters[path] = index
                    path = f"{path}.{index}"
                table = path
                self.lines.setdefault(table, number)
                continue
            key = self._KEY.match(raw)
            if key:
                name = ".".join(p.strip().strip("\"'") for p in key[1].split("."))
                self.lines.setdefault(f"{table}.{name}" if table else name, number)

    def _resolve(self, parts: list[str], counters: dict[str, int]) -> str:
        # "[[stages.items]]" belongs to the latest "[[stages]]": stages.<n>.items
        path = ""
        for i, part in enumerate(parts):
            path = f"{path}.{part}" if path else part
            if path in counters and i < len(parts) - 1:
                path = f"{path}.{counters[path]}"
        return path

    def find(self, key: str) -> int:
        """The line of ``key`` or of its nearest enclosing table; 1 when nothing matches."""
        parts = key.split(".")
        while parts:
            line = self.lines.get(".".join(parts))
            if line:
                return line
            parts.pop()
        return 1

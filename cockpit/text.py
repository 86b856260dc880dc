"""Untrusted text made safe for a terminal: one function, :func:`visible`, and a stream that applies it.

Text that came from a user (notes, reasons, names) or from a monitored service (values, error bodies)
can carry control characters that a terminal obeys: ESC and CSI sequences that clear the screen or
retitle the window, OSC 8 links, BEL, a carriage return that overwrites the line before it, the 8-bit
CSI U+009B, and the bidirectional overrides (U+202E) that make text read in another order than it is
stored; and a lone surrogate (bytes that were not UTF-8), which no encoder takes. :func:`visible` replaces
each of them by its ``\\uXXXX`` spelling, which is also how JSON and
TOML write that character, so an escaped JSON line still decodes to the same data.

:class:`VisibleStream` wraps ``sys.stdout`` / ``sys.stderr`` for the headless commands (see
:func:`cockpit.cli.main.main`): every line any command prints goes through :func:`visible`, keeping
only the newline and the tab.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
"""Arabic letter mark, LRM/RLM, the embeddings and overrides (LRE..RLO), the isolates (LRI..PDI)."""

_SURROGATES = "\ud800-\udfff"
"""Lone surrogates: how Python hands over bytes that are not UTF-8 (arguments, a JSON ``\\udcff``)."""
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{BIDI_CONTROLS}\u2028\u2029{_SURROGATES}]")
_UNSAFE_BUT_LINES = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{BIDI_CONTROLS}\u2028\u2029{_SURROGATES}]")
_LONE = re.compile(f"[{_SURROGATES}]")


def _spell(match: re.Match[str]) -> str:
    return f"\\u{ord(match[0]):04x}"


def visible(text: str, *, lines: bool = False) -> str:
    """``text`` with every C0 and C1 control, DEL and bidi control shown as ``\\uXXXX``.

    ``lines``: keep newlines and tabs (a multi-line document such as an export); otherwise they are
    spelled out too, so one field stays on one line.
    """
    return (_UNSAFE_BUT_LINES if lines else _UNSAFE).sub(_spell, text)


def well_formed(text: str) -> str:
    """``text`` with each lone surrogate spelled out as ``\\uXXXX``: text every encoder takes (UTF-8 for the
    record, the history and the terminal), everything else unchanged."""
    return _LONE.sub(_spell, text)


def well_formed_data(data: Any) -> Any:
    """:func:`well_formed` applied to every string (keys too) of JSON-like data."""
    if isinstance(data, str):
        return well_formed(data)
    if isinstance(data, dict):
        return {well_formed_data(k): well_formed_data(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [well_formed_data(v) for v in data]
    return data


def is_visible(text: str, *, lines: bool = False) -> bool:
    """True when :func:`visible` would leave ``text`` unchanged."""
    return (_UNSAFE_BUT_LINES if lines else _UNSAFE).search(text) is None


class VisibleStream:
    """A text stream that writes everything through :func:`visible` (newlines and tabs kept)."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(visible(text, lines=True))
        return len(text)

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    def __getattr__(self, name: str) -> object:  # encoding, errors, buffer, ...: the wrapped stream's
        return getattr(self.inner, name)

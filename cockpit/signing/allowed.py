"""Reading an OpenSSH ``allowed_signers`` file, only to know which principal names a key.

The file decides nothing here: ``ssh-keygen -Y verify`` reads it again for every check. This reading
only chooses the principal a new signature is recorded under (the one allowed for the role being
signed), and is bounded (1 MiB, 10,000 lines).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from cockpit.signing.sshsig import PublicKey

MAX_BYTES = 1 << 20
MAX_LINES = 10_000


@dataclass(frozen=True)
class Entry:
    """One line: the principals (patterns allowed) that may sign with ``key``."""

    principals: tuple[str, ...]
    key: PublicKey
    options: str = ""


def read_allowed(path: Path) -> list[Entry]:
    """The entries of ``path``; lines that are not entries are skipped (ssh-keygen judges them)."""
    with path.open("rb") as fh:
        text = fh.read(MAX_BYTES).decode(errors="replace")
    entries = []
    for line in text.splitlines()[:MAX_LINES]:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(line, posix=True)
        except ValueError:
            continue
        if len(words) < 3:
            continue
        principals = tuple(p for p in words[0].split(",") if p)
        rest = words[1:]
        options = ""
        if not _is_key_type(rest[0]):
            options, rest = rest[0], rest[1:]
        if len(rest) < 2 or "cert-authority" in options:
            continue
        entries.append(Entry(principals, PublicKey(rest[0], rest[1], " ".join(rest[2:])), options))
    return entries


def principals_for(entries: list[Entry], key: PublicKey) -> list[str]:
    """The concrete principal names listed for ``key``, in file order; for a pattern, the key's comment when
    it fits (ssh-keygen checks the name against the pattern again)."""
    names: list[str] = []
    for entry in entries:
        if entry.key.blob != key.blob:
            continue
        for pattern in entry.principals:
            if not any(c in pattern for c in "*?!"):
                name = pattern
            elif key.comment and fnmatchcase(key.comment, pattern):  # "*@example.com": the key's comment, if it fits
                name = key.comment
            else:
                continue
            if name not in names:
                names.append(name)
    return names


def allowed_for_role(principal: str, role_principals: tuple[str, ...]) -> bool:
    """``principal`` is one of the role's (an empty list allows any principal of the file); patterns
    (``*@example.com``) as in allowed_signers."""
    if not role_principals:
        return True
    return any(fnmatchcase(principal, pattern) for pattern in role_principals)


def _is_key_type(word: str) -> bool:
    return word.startswith(("ssh-", "ecdsa-", "sk-", "rsa-sha2-"))

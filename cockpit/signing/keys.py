"""The keys the person at the keyboard can sign with: ``--key`` (``$COCKPIT_SIGNING_KEY``), else their agent's.

Nothing is asked for when the agent holds a key: the agent signs (``ssh-keygen -Y sign -f KEY.pub``
finds the private half there). With several keys, the one ``allowed_signers`` lists for the role
being signed is chosen.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cockpit.signing.allowed import Entry, allowed_for_role, principals_for
from cockpit.signing.sshsig import PublicKey, SigningError, agent_keys, public_key_of

KEY_VAR = "COCKPIT_SIGNING_KEY"
"""A key file to sign with (what ``cockpit --key FILE`` sets): a private key, or a ``.pub`` held by the agent."""


@dataclass(frozen=True)
class Key:
    """A key that can sign: ``file`` is what ``ssh-keygen -Y sign -f`` is given."""

    public: PublicKey
    file: Path
    source: str
    """``agent`` or the key file's path, for messages."""


@dataclass(frozen=True)
class Choice:
    """The key and principal a decision is signed with."""

    key: Key
    principal: str
    allowed: bool
    """``principal`` is allowed for the role (always True when the plan names no allowed_signers)."""


class Keyring:
    """The signing keys available to this process, read once (``ssh-add -L`` costs a few milliseconds)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self._keys: list[Key] | None = None
        self.why_none = ""
        """Why there is no key, in the operator's words ("" while there is one)."""
        self._dir: str | None = None

    LIST_TIMEOUT = 5.0
    """Seconds ``ssh-add -L`` may take (a forwarded agent over a slow link)."""

    @property
    def keys(self) -> list[Key]:
        return self.load()

    def load(self, timeout: float | None = None) -> list[Key]:
        """The keys, read on first use; ``timeout`` bounds asking the agent (a kill waits ~1 s at most)."""
        if self._keys is None:
            keys = self._load(self.LIST_TIMEOUT if timeout is None else timeout)
            if keys or not self.why_none.startswith("the SSH agent did not answer"):
                self._keys = keys  # an agent too slow for a kill is asked again next time
        return self._keys if self._keys is not None else []

    def _load(self, timeout: float) -> list[Key]:
        named = self.environ.get(KEY_VAR, "").strip()
        if named:
            path = Path(os.path.expanduser(named))
            try:
                return [Key(public_key_of(path, self.environ), path, str(path))]
            except SigningError as exc:
                self.why_none = f"--key: {exc}"
                return []
        if not self.environ.get("SSH_AUTH_SOCK"):
            self.why_none = "no SSH agent ($SSH_AUTH_SOCK is not set) and no --key FILE"
            return []
        try:
            found = agent_keys(self.environ, timeout)
        except SigningError as exc:
            self.why_none = f"the SSH agent did not answer ({exc})"
            return []
        if not found:
            self.why_none = "the SSH agent holds no key (ssh-add KEY) and no --key FILE was given"
            return []
        return [Key(public, self._pub_file(i, public), "agent") for i, public in enumerate(found)]

    def _pub_file(self, index: int, public: PublicKey) -> Path:
        """A ``.pub`` file for an agent key (ssh-keygen names the key by file), in a private temp dir."""
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="cockpit-keys-")
            weakref.finalize(self, shutil.rmtree, self._dir, True)
        path = Path(self._dir) / f"agent-{index}.pub"
        path.write_text(public.line() + "\n", encoding="utf-8")
        return path

    def choose(
        self, entries: list[Entry] | None, role_principals: tuple[str, ...] = (), *, timeout: float | None = None
    ) -> Choice | None:
        """The key to sign with and its principal: one ``entries`` (allowed_signers) lists for the role if
        any; otherwise the first key, under its first listed principal (or its comment). None: no key."""
        keys = self.load(timeout)
        if not keys:
            return None
        if entries is None:
            first = keys[0]
            return Choice(first, first.public.comment or first.public.fingerprint, True)
        fallback: Choice | None = None
        for key in keys:
            for principal in principals_for(entries, key.public):
                if allowed_for_role(principal, role_principals):
                    return Choice(key, principal, True)
                fallback = fallback or Choice(key, principal, False)
        return fallback or Choice(keys[0], keys[0].public.comment or keys[0].public.fingerprint, False)

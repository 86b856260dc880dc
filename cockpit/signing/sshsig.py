"""OpenSSH's own signing: ``ssh-keygen -Y sign`` / ``-Y verify`` / ``-Y check-novalidate`` and ``ssh-add -L``.

No cryptography happens in Python: every signature is made and checked by ``ssh-keygen`` (the SSHSIG
format git uses for SSH-signed commits), with the operator's key in their agent or a key file. Each call
is bounded by a timeout and runs in a session of its own (no controlling terminal), so a key that
needs a passphrase fails with a message instead of prompting over the dashboard.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

NAMESPACE = "rollout-cockpit"
"""The SSHSIG namespace: a signature made for the cockpit is not valid for git or anything else."""

TIMEOUT = 10.0
"""Seconds a signing or verifying call may take (an agent may ask its owner to confirm)."""

_FINGERPRINT = re.compile(r"(SHA256:[A-Za-z0-9+/]+)")


class SigningError(Exception):
    """A signature could not be made (no agent, no key, a key needing a passphrase, ssh-keygen failed)."""


@dataclass(frozen=True)
class PublicKey:
    """One public key, as ``ssh-add -L`` or a ``.pub`` file gives it."""

    type: str
    blob: str
    """The base64 key blob."""
    comment: str = ""

    @classmethod
    def parse(cls, line: str) -> PublicKey:
        parts = line.strip().split(None, 2)
        if len(parts) < 2:
            raise SigningError(f"not an SSH public key: {line.strip()[:40]!r}")
        return cls(parts[0], parts[1], parts[2] if len(parts) > 2 else "")

    @property
    def fingerprint(self) -> str:
        """``SHA256:...`` as ``ssh-keygen -l`` prints it (the SHA-256 of the key blob, unpadded base64)."""
        try:
            raw = base64.b64decode(self.blob, validate=True)
        except ValueError:
            raise SigningError(f"not an SSH public key blob: {self.blob[:20]!r}...") from None
        return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")

    def line(self) -> str:
        return f"{self.type} {self.blob} {self.comment}".strip()


@dataclass(frozen=True)
class Checked:
    """The outcome of checking one signature."""

    ok: bool
    fingerprint: str = ""
    """The fingerprint of the key inside the signature, when ssh-keygen named it."""
    message: str = ""


def _env(environ: Mapping[str, str] | None) -> dict[str, str]:
    """``environ`` (default: ours) with a ``PATH`` to find OpenSSH by."""
    return {"PATH": os.environ.get("PATH", os.defpath), **(os.environ if environ is None else environ)}


def _run(args: list[str], data: bytes, timeout: float, environ: Mapping[str, str] | None = None) -> tuple[int, str]:
    try:
        proc = subprocess.run(
            args,
            input=data,
            capture_output=True,
            timeout=timeout,
            env=_env(environ),
            start_new_session=True,  # no controlling terminal: a passphrase prompt fails instead of hanging
            check=False,
        )
    except FileNotFoundError:
        raise SigningError(f"{args[0]} not found: install OpenSSH (8.9 or later) to sign or verify") from None
    except subprocess.TimeoutExpired:
        raise SigningError(f"{args[0]} {' '.join(args[1:3])} took more than {timeout:g}s") from None
    out = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
    return proc.returncode, out


def agent_keys(environ: Mapping[str, str] | None = None, timeout: float = 5.0) -> list[PublicKey]:
    """The public keys the SSH agent (``$SSH_AUTH_SOCK``) holds; [] when there is no agent or it is empty."""
    env = os.environ if environ is None else environ
    if not env.get("SSH_AUTH_SOCK"):
        return []
    try:
        proc = subprocess.run(
            ["ssh-add", "-L"], capture_output=True, timeout=timeout, env=_env(env), start_new_session=True, check=False
        )
    except FileNotFoundError:
        return []
    except subprocess.TimeoutExpired:
        raise SigningError(f"ssh-add -L took more than {timeout:g}s") from None
    if proc.returncode != 0:
        return []
    keys = []
    for line in proc.stdout.decode(errors="replace").splitlines():
        try:
            keys.append(PublicKey.parse(line))
        except SigningError:
            continue
    return keys


def public_key_of(key_file: Path, environ: Mapping[str, str] | None = None) -> PublicKey:
    """The public half of a key file: ``KEY.pub`` next to it, else ``ssh-keygen -y`` (no passphrase)."""
    pub = key_file if key_file.suffix == ".pub" else key_file.with_name(key_file.name + ".pub")
    try:
        if pub.is_file():
            with pub.open("rb") as fh:  # a public key is one line: read no more than a few KiB of it
                return PublicKey.parse(fh.read(16384).decode("utf-8", errors="replace"))
    except OSError as exc:
        raise SigningError(f"{pub}: {exc.strerror or exc}") from None
    if not key_file.is_file():
        raise SigningError(f"{key_file}: no such key file")
    code, out = _run(["ssh-keygen", "-y", "-P", "", "-f", str(key_file)], b"", TIMEOUT, environ)
    if code != 0:
        raise SigningError(
            f"{key_file}: cannot read the key without a passphrase; load it into your agent (ssh-add {key_file})"
        )
    return PublicKey.parse(out)


def sign(data: bytes, key_file: Path, *, timeout: float = TIMEOUT, environ: Mapping[str, str] | None = None) -> str:
    """Sign ``data`` with ``key_file`` (a private key, or a ``.pub`` whose private half is in the agent);
    return the armored SSHSIG block."""
    code, out = _run(["ssh-keygen", "-q", "-Y", "sign", "-n", NAMESPACE, "-f", str(key_file)], data, timeout, environ)
    start = out.find("-----BEGIN SSH SIGNATURE-----")
    end = out.find("-----END SSH SIGNATURE-----")
    if code != 0 or start < 0 or end < 0:
        why = " ".join(line for line in out.splitlines() if "SSH SIGNATURE" not in line).strip()
        raise SigningError(f"ssh-keygen could not sign with {key_file.name}: {why[:200] or f'exit {code}'}")
    return out[start : end + len("-----END SSH SIGNATURE-----")] + "\n"


def verify(
    data: bytes,
    signature: str,
    allowed_signers: Path,
    principal: str,
    *,
    at: datetime | None = None,
    timeout: float = TIMEOUT,
) -> Checked:
    """Is ``signature`` over ``data`` good, by a key ``allowed_signers`` lists for ``principal``? ``at``:
    the time the key must have been valid (``valid-after``/``valid-before`` in the file)."""
    with _signature_file(signature) as sig:
        args = ["ssh-keygen", "-Y", "verify", "-f", str(allowed_signers), "-I", principal, "-n", NAMESPACE, "-s", sig]
        if at is not None:
            args += ["-O", f"verify-time={at.astimezone(UTC).strftime('%Y%m%d%H%M%S')}Z"]
        code, out = _run(args, data, timeout)
    found = _FINGERPRINT.search(out)
    return Checked(code == 0, found.group(1) if found else "", out.strip().splitlines()[-1] if out.strip() else "")


def check(data: bytes, signature: str, *, timeout: float = TIMEOUT) -> Checked:
    """Is ``signature`` a good signature over ``data`` by the key inside it (whoever that is)?"""
    with _signature_file(signature) as sig:
        code, out = _run(["ssh-keygen", "-Y", "check-novalidate", "-n", NAMESPACE, "-s", sig], data, timeout)
    found = _FINGERPRINT.search(out)
    return Checked(code == 0, found.group(1) if found else "", out.strip().splitlines()[-1] if out.strip() else "")


class _signature_file:
    """A private temporary file holding one armored signature (ssh-keygen reads signatures from files)."""

    def __init__(self, signature: str) -> None:
        self.signature = signature
        self.path = ""

    def __enter__(self) -> str:
        fd, self.path = tempfile.mkstemp(prefix="cockpit-sig-", suffix=".sig")
        with os.fdopen(fd, "w", encoding="ascii", errors="replace") as fh:
            fh.write(self.signature[:65536])
        return self.path

    def __exit__(self, *exc: object) -> None:
        try:
            os.unlink(self.path)
        except OSError:
            pass

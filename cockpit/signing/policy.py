"""The plan's signing policy, as the rollout applies it: sign decisions, say why one does not count.

* :meth:`Signatures.hook` gives the store what signs a decision at append time (or None): the key and
  principal are chosen first, so a refusal (signatures required, no key) comes before anything is written.
* ``require_signatures = false`` (the default): a decision is signed when a key is available and
  recorded unsigned otherwise, with :attr:`Signatures.warning` saying so.
* ``require_signatures = true``: a decision that cannot be signed by a key allowed for it is refused,
  except a kill (recorded unsigned: the kill works whenever it physically can). An approval that is
  unsigned or wrongly signed does not count: :meth:`Signatures.blockers` says why.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cockpit import events as ev
from cockpit.events import Sign, Signature
from cockpit.gates import Blocker
from cockpit.plan.load import LoadedPlan
from cockpit.signing.allowed import Entry, read_allowed
from cockpit.signing.anchor import AUTO, Anchor, anchor_of, append_anchor
from cockpit.signing.check import NEVER_REFUSED, ROLE_BOUND, Verdict, check_event, is_decision, role_principals
from cockpit.signing.keys import Keyring
from cockpit.signing.sshsig import NAMESPACE, SigningError, sign
from cockpit.store.paths import state_dir

KILL_TIMEOUT = 1.0
"""Seconds a kill waits for the agent (to list its keys, then to sign) before it is recorded unsigned: the
kill event is written before the flags are driven, so this bounds what signing can add to a kill."""


def allowed_signers_path(loaded: LoadedPlan) -> Path | None:
    """The plan's ``rollout.allowed_signers``, relative to the plan file; None when not set."""
    text = loaded.plan.rollout.allowed_signers
    if not text:
        return None
    path = Path(os.path.expanduser(loaded.env.resolve(text)))
    return path if path.is_absolute() else loaded.base_dir / path


def describe(loaded: LoadedPlan) -> tuple[str, str]:
    """``cockpit validate``'s line about signatures, and a problem ("" when none): a missing allowed_signers."""
    rollout = loaded.plan.rollout
    path = allowed_signers_path(loaded)
    mode = "required" if rollout.require_signatures else "recorded when a key is at hand"
    if path is None:
        return f"signatures: {mode}; no allowed_signers (checked against their own keys only)", ""
    try:
        entries = read_allowed(path)
    except OSError as exc:
        return f"signatures: {mode}", f"{path}: {exc.strerror or exc}"
    return f"signatures: {mode}; allowed_signers {path} ({len(entries)} keys)", ""


class Signatures:
    """Signing and checking decisions for one rollout."""

    def __init__(
        self, loaded: LoadedPlan, *, keyring: Keyring | None = None, environ: Mapping[str, str] | None = None
    ) -> None:
        self.loaded = loaded
        self._keyring = keyring
        self._environ = environ
        self.warning = ""
        """Why the last decision was recorded unsigned ("" when it was signed, or was no decision)."""

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:  # read on the first decision: starting the cockpit asks the agent nothing
            self._keyring = Keyring(self._environ)
        return self._keyring

    @property
    def required(self) -> bool:
        return self.loaded.plan.rollout.require_signatures

    @property
    def allowed_signers(self) -> Path | None:
        return allowed_signers_path(self.loaded)

    def _entries(self) -> list[Entry] | None:
        path = self.allowed_signers
        if path is None:
            return None
        try:
            return read_allowed(path)
        except OSError as exc:
            if self.required:
                raise SigningError(f"allowed_signers {path}: {exc.strerror or exc}") from None
            return []

    # ----------------------------------------------------------------- signing

    def hook(self, type: str, payload: dict[str, Any]) -> Sign | None:
        """What signs this event when it is appended, or None (not a decision, or no key: recorded unsigned).

        Raises :class:`SigningError` when signatures are required and this decision cannot be signed.
        """
        if not is_decision(type, payload):
            return None  # the last decision's warning stands (a plan.changed recorded before it is no decision)
        self.warning = ""
        refuse = self.required and type not in NEVER_REFUSED
        principals = role_principals(self.loaded.plan, type, payload)
        timeout = KILL_TIMEOUT if type in NEVER_REFUSED else None
        why = ""
        try:
            choice = self.keyring.choose(self._entries(), principals, timeout=timeout)
        except SigningError as exc:
            if refuse:
                raise
            choice, why = None, str(exc)  # an unreadable allowed_signers: a kill is recorded all the same
        if choice is None:
            why = why or self.keyring.why_none
            if refuse:
                raise SigningError(f"signatures are required (rollout.require_signatures) and cannot be made: {why}")
            self.warning = f"recorded unsigned: {why}"
            return None
        if refuse and not choice.allowed:
            allowed = ", ".join(principals) if type in ROLE_BOUND and principals else "any in allowed_signers"
            raise SigningError(
                f"your key {choice.key.public.fingerprint} ({choice.principal}) may not sign this "
                f"(allowed principals: {allowed}); signatures are required (rollout.require_signatures)"
            )

        def signer(data: bytes) -> Signature | None:
            try:
                armored = sign(data, choice.key.file, environ=self.keyring.environ, **_timeout(timeout))
            except SigningError as exc:
                if refuse:
                    raise
                self.warning = f"recorded unsigned: {exc}"
                return None
            return Signature(choice.principal, choice.key.public.fingerprint, armored, NAMESPACE)

        return signer

    def cannot_sign(self, type: str, payload: dict[str, Any]) -> str:
        """Why a decision would be refused now ("" when it would not): for gates checked before acting."""
        if not self.required or type in NEVER_REFUSED or not is_decision(type, payload):
            return ""
        try:
            choice = self.keyring.choose(self._entries(), role_principals(self.loaded.plan, type, payload))
        except SigningError as exc:
            return str(exc)
        if choice is None:
            return f"signatures are required and cannot be made: {self.keyring.why_none}"
        if not choice.allowed:
            return f"signatures are required: your key ({choice.principal}) is not in allowed_signers"
        return ""

    def any_signer(self, timeout: float | None = None) -> Sign | None:
        """Signs with the first key (an anchor: any principal may sign one); failures give None."""
        try:
            choice = self.keyring.choose(self._entries(), timeout=timeout)
        except SigningError:
            return None
        if choice is None:
            return None

        def signer(data: bytes) -> Signature | None:
            try:
                armored = sign(data, choice.key.file, environ=self.keyring.environ, **_timeout(timeout))
            except SigningError:
                return None
            return Signature(choice.principal, choice.key.public.fingerprint, armored, NAMESPACE)

        return signer

    # ----------------------------------------------------------------- anchors

    @property
    def anchors_path(self) -> Path:
        """Where automatic anchors are kept: ``anchors.jsonl`` in the rollout's state directory."""
        return state_dir(self.loaded) / "anchors.jsonl"

    def after(self, event: ev.Event) -> Anchor | None:
        """Anchor the head after a stage change, a kill or a sign-off (signed, except after a kill: it
        waits for nothing); None after other events."""
        if event.type not in AUTO:
            return None
        signer = None if event.type == ev.KILL_RESULT else self.any_signer(KILL_TIMEOUT)
        anchor = anchor_of(self.loaded.plan.rollout.id, event, signer)
        append_anchor(self.anchors_path, anchor)
        return anchor

    # ----------------------------------------------------------------- checking

    def verdict(self, event: ev.Event) -> Verdict:
        return check_event(event, self.allowed_signers, role_principals(self.loaded.plan, event.type, event.payload))

    def blockers(self, approvals: Mapping[str, Any]) -> list[Blocker]:
        """With ``require_signatures``: the approvals that do not count, and why (none otherwise).

        ``approvals``: :attr:`cockpit.state.RolloutState.approvals`. One principal signing two roles counts
        once, unless the plan allows one person several roles.
        """
        if not self.required:
            return []
        plan = self.loaded.plan
        blockers = []
        by_principal: dict[str, str] = {}
        for approver in plan.approvers:
            approval = approvals.get(approver.role)
            if approval is None or approval.event is None or approval.digest != plan.digest:
                continue  # missing or void: the approval gate says so already
            verdict = self.verdict(approval.event)
            if not verdict.counts:
                blockers.append(
                    Blocker(
                        "approval",
                        approver.role,
                        f"approval not counted: {approver.title} by {approval.mark.actor.user}: "
                        f"{verdict.message} (the plan requires signatures)",
                    )
                )
                continue
            other = by_principal.get(verdict.principal)
            if other is not None and not plan.rollout.allow_multiple_roles:
                blockers.append(
                    Blocker(
                        "approval",
                        approver.role,
                        f"approval not counted: {approver.title} is signed by {verdict.principal}, "
                        f"who signed {other} already (one person, one role)",
                    )
                )
                continue
            by_principal[verdict.principal] = approver.title
        return blockers


def _timeout(seconds: float | None) -> dict[str, float]:
    return {} if seconds is None else {"timeout": seconds}

"""Signed decisions: approvals, overrides, kills and sign-offs signed with the operator's own SSH key.

* :mod:`~cockpit.signing.sshsig`: ``ssh-keygen -Y sign/verify`` (OpenSSH does all the cryptography).
* :mod:`~cockpit.signing.keys`: the keys at hand (``--key FILE`` or the SSH agent) and which signs a role.
* :mod:`~cockpit.signing.allowed`: reading ``allowed_signers`` to name a key's principal.
* :mod:`~cockpit.signing.check`: which events are decisions; the verdict on one's signature.
* :mod:`~cockpit.signing.policy`: the plan's policy as the rollout applies it (sign, refuse, gate).
* :mod:`~cockpit.signing.anchor`: anchors of the log's head.
* :mod:`~cockpit.signing.audit`: checking every decision of a log (``cockpit audit verify``, the export).
"""

from cockpit.signing.check import Status, Verdict, check_event, is_decision
from cockpit.signing.policy import Signatures, allowed_signers_path
from cockpit.signing.sshsig import NAMESPACE, SigningError

__all__ = [
    "NAMESPACE",
    "Signatures",
    "SigningError",
    "Status",
    "Verdict",
    "allowed_signers_path",
    "check_event",
    "is_decision",
]

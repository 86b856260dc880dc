"""Who may sign: the one rule for approve, revoke and sign-off, checked inside the log's append lock.

``users`` limits who may sign (and revoke) a role; with ``allow_multiple_roles = false`` one person signs one
role, of the approvals and of the sign-off alike; a role signed for this plan is not signed twice.
"""

from __future__ import annotations

from cockpit.errors import RolloutError
from cockpit.plan.model import Approver, Plan
from cockpit.state import RolloutState


def approver_of(plan: Plan, role: str) -> Approver:
    """The plan's approver ``role``, or RolloutError naming the roles there are."""
    try:
        return plan.approver(role)
    except KeyError:
        roles = ", ".join(a.role for a in plan.approvers)
        raise RolloutError(f"unknown role {role!r}; roles are: {roles}") from None


def user_may(approver: Approver, user: str, what: str) -> None:
    """Raise unless ``user`` is one the role's ``users`` allow (any user when it names none)."""
    if approver.users and user not in approver.users:
        raise RolloutError(f"{user} may not {what} {approver.title}: allowed are {', '.join(approver.users)}")


def may_sign(plan: Plan, state: RolloutState, user: str, role: str, what: str) -> None:
    """Raise unless ``user`` may sign ``role`` now (``what``: ``approval`` or ``signoff``)."""
    approver = approver_of(plan, role)
    user_may(approver, user, "sign")
    digest = plan.digest
    if what == "approval":
        signed = {r: a.mark.actor.user for r, a in state.approvals.items() if a.digest == digest}
    else:
        signed = dict(state.signoff_by)
    if role in signed:
        kind = "approved" if what == "approval" else "signed off"
        raise RolloutError(f"{approver.title} has already {kind} (by {signed[role]})")
    if not plan.rollout.allow_multiple_roles:
        for other, by in signed.items():
            if by == user:
                raise RolloutError(
                    f"{user} already signed {plan.approver(other).title}; one person cannot sign two "
                    "roles (the plan's rollout.allow_multiple_roles is false)"
                )

"""State is derived, not stored: everything here is rebuilt by replaying the audit log.

:class:`RolloutState` folds events one at a time (``apply``, :mod:`cockpit.state.fold`), so a cockpit that
reads only the new tail of the log stays current cheaply; what it is made of is :mod:`cockpit.state.parts`.
"""

from cockpit.state.fold import RolloutState, replay
from cockpit.state.parts import (
    Approval,
    BaselineValue,
    Breach,
    CheckResult,
    FlagState,
    Incident,
    Mark,
    Override,
    PlanVersion,
    Soak,
    SoakMoment,
)

__all__ = [
    "Approval",
    "BaselineValue",
    "Breach",
    "CheckResult",
    "FlagState",
    "Incident",
    "Mark",
    "Override",
    "PlanVersion",
    "RolloutState",
    "Soak",
    "SoakMoment",
    "replay",
]

"""A canary step: the flag set to exactly the percentage a stage's step names, or refused.

Gated by the stage's canary blockers (or overridden with a typed reason, audited), confirmed by typing the
flag's name, read back after writing: the step counts (and its soak starts) only when the read-back shows
exactly the percentage asked for; otherwise it is audited as a failed step. The providers (``cockpit.flags``)
change only what the step is about (on Unleash, the one flexibleRollout strategy of the plan's environment).
"""

from __future__ import annotations

from typing import Any

from cockpit import events as ev
from cockpit.flags import FlagError, FlagReading
from cockpit.kill import FlagSwitch
from cockpit.rollout import GateClosed, RolloutError
from cockpit.store.audit import ReadOnlyStore


async def take_step(
    switch: FlagSwitch, flag: str, percent: int, *, stage: str, step: str, confirm: str, override: str | None = None
) -> FlagReading:
    """Take a canary step: gated (or overridden with a typed reason, audited), confirmed by the flag's
    name, read back, audited with before/after.

    The step counts (and its soak starts) only when the read-back shows exactly ``percent``; otherwise
    it is audited as a failed step and :class:`RolloutError` says what the flag is at instead.
    """
    rollout = switch.rollout
    target = switch.flag(flag)
    if confirm != flag:
        raise RolloutError(f"not confirmed: type the flag name {flag!r} to change it")
    stage_obj = rollout.stage_or_error(stage)
    canary = next((s for s in stage_obj.canary if s.id == step), None)
    if canary is None or canary.flag != flag or canary.percent != percent:
        steps = ", ".join(f"{s.id} ({s.flag} {s.percent}%)" for s in stage_obj.canary) or "none"
        raise RolloutError(f"{stage} has no canary step {step!r} setting {flag} to {percent}%; steps: {steps}")
    if target.provider in switch.unresolved:
        raise RolloutError(f"{flag}: {switch.unresolved[target.provider]}")
    # the flag is changed first and recorded after: a record that takes nothing now means no change at all
    # (no override: an exposure nobody can see in the record is what the gate exists to prevent)
    if rollout.store.readonly:
        raise RolloutError(f"{flag} not changed: {ReadOnlyStore()}")
    if why := rollout.record_trouble():
        raise RolloutError(f"{flag} not changed: {why}")
    blockers = rollout.canary_blockers(stage, step)
    if blockers:
        if override is None:
            raise GateClosed(f"set {flag} to {percent}%", blockers)
        if not override.strip():
            raise RolloutError("an override needs a typed reason")
        payload = {
            "stage": stage,
            "step": step,
            "reason": override.strip(),
            "blockers": [b.message for b in blockers],
        }
        rollout.record(ev.GATE_OVERRIDDEN, payload)
    impl = switch.providers[target.provider]
    before = await switch.read_flag(flag)
    error = ""
    try:
        await impl.set_percent(target, percent)
    except FlagError as exc:
        error = str(exc)
    after = await switch.read_flag(flag)
    if not error and not _is_at(after, percent):
        error = f"read back as {after.describe()}"
    if error:
        where = f"{flag} to {percent}% ({stage}/{step})"
        if _state(after) == _state(before):
            rollout.note(f"flag change failed: {where}: {error}; unchanged: {after.describe()}")
        else:  # something was written: the flag's new state is recorded, the step is not taken
            rollout.record(
                ev.FLAG_CHANGED,
                {"flag": flag, "before": _state(before), "after": _state(after), "stage": stage, "step": "",
                 "failed_step": step, "reason": f"canary step failed: {error}"},
            )  # fmt: skip
        raise RolloutError(
            f"{flag}: {error}; now {after.describe()} (was {before.describe()}); the step is not taken"
        )
    reason = f"gate overridden: {override.strip()}" if blockers and override else ""
    rollout.record_flag_change(flag, _state(before), _state(after), stage=stage, step=step, reason=reason)
    return after


def _is_at(reading: FlagReading, percent: int) -> bool:
    """The read-back shows exactly ``percent`` (0: off)."""
    if percent <= 0:
        return reading.off
    return not reading.error and reading.enabled is True and reading.percent == percent


def _state(reading: FlagReading) -> dict[str, Any]:
    return {"enabled": bool(reading.enabled), "percent": reading.percent or 0, "error": reading.error}

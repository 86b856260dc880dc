"""Flag subcommands: ``kill``, ``flags``, ``flag set``, ``incident`` (show, done, close, capture).

``cockpit kill`` is the headless kill switch, the same code path as the TUI's key: exit 0 only when
every flag is verified off; otherwise 1, with the flags that may still be on and the manual backout.

Handlers import the flag switch (httpx, asyncio) and the incident code when they run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from cockpit.cli.common import load, rollout_for

if TYPE_CHECKING:
    from cockpit.kill import FlagSwitch, KillReport
    from cockpit.rollout import Rollout

T = TypeVar("T")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("kill", help="turn every flag of the rollout off and verify (exit 0 only if all off)")
    p.add_argument("--reason", default="", help="why (audited)")
    p.add_argument("--flag", action="append", metavar="NAME", help="only this flag (repeatable)")
    p.set_defaults(func=cmd_kill)

    p = sub.add_parser("flags", help="each flag's state and whether the kill switch is ARMED")
    p.set_defaults(func=cmd_flags)

    flag = sub.add_parser("flag", help="take a canary step: cockpit flag set NAME PERCENT --confirm NAME")
    fsub = flag.add_subparsers(dest="flag_command", metavar="ACTION", required=True)
    p = fsub.add_parser("set", help="set a flag's percentage (a canary step of the current stage; gated)")
    p.add_argument("name")
    p.add_argument("percent", type=int)
    p.add_argument("--stage", help="the stage of the canary step (default: the current stage)")
    p.add_argument("--step", help="the canary step id (default: the step setting NAME to PERCENT)")
    p.add_argument("--confirm", metavar="NAME", help="the flag name again (asked for when stdin is a terminal)")
    p.set_defaults(func=cmd_flag_set)

    inc = sub.add_parser("incident", help="the open incident's steps and deadlines")
    isub = inc.add_subparsers(dest="incident_command", metavar="ACTION")
    p = isub.add_parser("done", help="mark an incident action done (exact text or a unique prefix)")
    p.add_argument("action", nargs="+")
    p = isub.add_parser("open", help="open an incident by hand")
    p.add_argument("reason", nargs="+")
    p = isub.add_parser("close", help="close the open incident")
    p.add_argument("note", nargs="*")
    p = isub.add_parser("capture", help="write recent metrics, samples and events to a file")
    p.add_argument("--out", metavar="PATH", help="file to write (default: the state directory)")
    inc.set_defaults(func=cmd_incident)


def _with_switch(
    args: argparse.Namespace, body: Callable[[Rollout, FlagSwitch], Awaitable[T]], rollout: Rollout | None = None
) -> T:
    import asyncio

    from cockpit.kill import FlagSwitch

    rollout = rollout or rollout_for(args)

    async def run() -> T:
        async with FlagSwitch(rollout) as switch:
            return await body(rollout, switch)

    return asyncio.run(run())


def report_lines(report: KillReport) -> list[str]:
    """What the operator reads after a kill: each flag, the verdict, the manual backout."""
    lines = [*report.summary(), report.verdict]
    if report.backout:
        lines += ["manual backout:", *(f"  {line}" for line in report.backout)]
    return lines


def cmd_kill(args: argparse.Namespace) -> int:
    reason = args.reason or "kill from the command line"
    loaded = load(args)
    names = {f.name for f in loaded.plan.flags}
    unknown = [n for n in args.flag or [] if n not in names]
    if unknown:
        print(f"cockpit kill: unknown flag {unknown[0]!r}; flags are: {', '.join(sorted(names))}", file=sys.stderr)
        return 2
    rollout = rollout_for(args, loaded=loaded)  # webhooks attached: posted in the background, never waited for
    report = _with_switch(args, lambda r, s: s.kill(reason, args.flag), rollout)
    print("\n".join(report_lines(report)), flush=True)  # main closes the webhooks after: at most 2 s more
    return 0 if report.all_off else 1


def cmd_flags(args: argparse.Namespace) -> int:
    rollout = rollout_for(args)
    status = _with_switch(args, lambda r, s: s.arm(), rollout)
    width = max((len(f.name) for f in rollout.plan.flags), default=4)
    for flag in rollout.plan.flags:
        reading = status.readings.get(flag.name)
        shown = reading.describe() if reading else "unknown"
        print(f"{flag.name:<{width}}  {flag.provider:<10}  {shown}")
    print("ARMED" if status.armed else f"NOT ARMED: {status.reason}")
    return 0 if status.armed else 1


def cmd_flag_set(args: argparse.Namespace) -> int:
    from cockpit.rollout import RolloutError

    rollout = rollout_for(args)
    stage, step = _find_step(rollout, args.name, args.percent, args.stage, args.step)
    confirm = args.confirm
    if confirm is None:
        if not sys.stdin.isatty():
            raise RolloutError(f"not confirmed: pass --confirm {args.name}")
        confirm = input(f"Set {args.name} to {args.percent}% ({stage}/{step}). Type the flag name to confirm: ")
    after = _with_switch(
        args, lambda r, s: s.set_percent(args.name, args.percent, stage=stage, step=step, confirm=confirm.strip())
    )
    print(f"{args.name}: {after.describe()} ({stage}/{step}; soak started)")
    return 0


def _find_step(rollout: Rollout, name: str, percent: int, stage: str | None, step: str | None) -> tuple[str, str]:
    from cockpit.rollout import RolloutError

    if stage and step:
        return stage, step
    stages = [rollout.plan.stage(stage)] if stage else list(rollout.plan.stages)
    current = rollout.current_stage
    if not stage and current is not None:
        stages.sort(key=lambda s: s.id != current.id)  # the current stage first
    for candidate in stages:
        for canary in candidate.canary:
            if canary.flag == name and canary.percent == percent and (step is None or canary.id == step):
                return candidate.id, canary.id
    raise RolloutError(f"no canary step sets {name} to {percent}%: a flag changes only as a step of the plan")


def cmd_incident(args: argparse.Namespace) -> int:
    from cockpit import incident as inc

    rollout = rollout_for(args)
    action = getattr(args, "incident_command", None)
    if action == "done":
        event = inc.mark_done(rollout, " ".join(args.action))
        print(f"done: {event.payload['action']}")
        return 0
    if action == "open":
        event = inc.open_incident(rollout, " ".join(args.reason))
        print(f"incident open since {event.time:%Y-%m-%d %H:%M:%S} UTC: {event.payload.get('reason')}")
        return 0
    if action == "close":
        inc.close_incident(rollout, " ".join(args.note))
        print("incident closed")
        return 0
    if action == "capture":
        path = inc.capture(rollout, _history(rollout), Path(args.out) if args.out else None)
        print(f"captured to {path}")
        return 0
    return _show_incident(rollout)


def _history(rollout: Rollout) -> object | None:
    from cockpit.store.paths import history_path, open_history

    if rollout.plan.rollout.store != "postgres" and not history_path(rollout.loaded).exists():
        return None
    return open_history(rollout.loaded, readonly=True)


def _show_incident(rollout: Rollout) -> int:
    from cockpit.incident import incident_view
    from cockpit.plan.model import format_duration

    state = rollout.state
    incident = state.open_incident
    if incident is None:
        print("no incident is open")
        return 0
    now = rollout.now()
    print(f"INCIDENT #{incident.id} open since {incident.opened.at:%Y-%m-%d %H:%M:%S} UTC by {incident.opened.actor}")
    print(f"  {incident.reason}")
    for view in incident_view(rollout.plan, state, now):
        left = view.deadline - now
        when = "OVERDUE" if view.overdue else ("done" if view.done else f"{format_duration(left)} left")
        print(f"{view.label} (by {view.deadline:%H:%M:%S} UTC): {when}")
        for action, mark in view.actions:
            box = f"[x] {action} ({mark.actor.user} {mark.at:%H:%M:%S})" if mark else f"[ ] {action}"
            print(f"  {box}")
    contacts = list(rollout.plan.contacts)
    if contacts:
        print("Contacts:")
        for c in contacts:
            print(f"  {c.issue}: {c.contact}" + (f" ({c.method})" if c.method else ""))
    return 0

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

from cockpit import payloads as pl
from cockpit.cli.common import refuse_if_readonly, rollout_for
from cockpit.plan.load import ConfigError, find_config, read_plan_text
from cockpit.plan.model import format_duration
from cockpit.rollout import GateClosed, Rollout, RolloutError, open_store
from cockpit.store.audit import ReadOnlyStore
from cockpit.store.backend import open_history
from cockpit.store.files import check_output
from cockpit.store.paths import history_path, protected_dirs

if TYPE_CHECKING:
    from cockpit.flags import ArmStatus
    from cockpit.http_preconnect import Preconnect
    from cockpit.kill import FlagOutcome, FlagSwitch, KillReport
    from cockpit.notify import Notifier
    from cockpit.plan.kill_plan import KillPlan
    from cockpit.rollout import Rollout
    from cockpit.store.history import History

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
    p.add_argument("--override", metavar="REASON", help="take the step through a closed gate; the reason is audited")
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
    p.add_argument("--force", action="store_true", help="replace PATH if it exists")
    inc.set_defaults(func=cmd_incident)


def _with_switch(
    args: argparse.Namespace, body: Callable[[Rollout, FlagSwitch], Awaitable[T]], rollout: Rollout | None = None
) -> T:
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
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
    """The kill needs only ``[[flags]]`` and ``[providers]``: the rest of the plan may be broken (said on one
    line), a flag whose provider cannot be used is reported with its backout, the others are driven.

    The providers' connections open while the plan loads and the audit log opens (in a thread), so the
    handshake's round trip is not added to the start-up.
    """
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    import asyncio

    refuse_if_readonly(args)  # a viewer drives no flag; the kill is the writer's
    return asyncio.run(_kill(args))


async def _kill(args: argparse.Namespace) -> int:
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    import asyncio

    preconnect = _open_early(args)
    try:
        prepared = await asyncio.to_thread(_prepare_kill, args)
        if isinstance(prepared, int):
            return prepared
        kill_plan, rollout, _notifier = prepared  # the webhooks: closed by main at exit
        # lazy: httpx loads in _prepare_kill's thread, while the connections open
        from cockpit.http_client import new_client
        from cockpit.kill import KEEPALIVE_MARGIN, FlagSwitch

        keepalive = rollout.plan.defaults.arm_interval.total_seconds() + KEEPALIVE_MARGIN
        client = new_client(max_connections=64, keepalive_expiry=keepalive, preconnect=preconnect)
        shown: set[str] = set()
        printed = False

        def show(outcome: FlagOutcome) -> None:
            if not printed and outcome.flag not in shown:  # each flag's result as it arrives
                shown.add(outcome.flag)
                print(outcome.line(), flush=True)

        undriven = [] if args.flag else list(kill_plan.undriven)
        async with client, FlagSwitch(rollout, client=client, unresolved=kill_plan.unresolved) as switch:
            reason = args.reason or "kill from the command line"
            report = await switch.kill(reason, args.flag, on_result=show)
            arrived = {o.line() for o in report.outcomes if o.flag in shown}
            lines = [line for line in report_lines(report) if line not in arrived]
            if undriven:  # flags the plan names but that could not be read: never "ALL OFF"
                lines = [f"MAY STILL BE ON: {u}" for u in undriven] + [
                    "PARTIAL (not every flag of the plan could be read)" if line == report.verdict else line
                    for line in lines
                ]
                _note(rollout, "kill: not driven (the plan entry could not be read): " + "; ".join(undriven))
            print("\n".join(lines), flush=True)
            printed = True  # leaving: attempts still running past the deadline are stopped and audited
        return 0 if report.all_off and not undriven else 1
    finally:
        if preconnect is not None:
            await preconnect.aclose()


def _note(rollout: Rollout, text: str) -> None:
    try:
        rollout.note(text)
    except Exception as exc:  # the log is not writable: the kill result already says so
        print(f"AUDIT LOG NOT WRITTEN: note: {exc}", flush=True)


def _open_early(args: argparse.Namespace) -> Preconnect | None:
    """Start opening the connections the kill will use, from the plan text alone (best effort)."""
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    import os

    from cockpit.plan.origins import provider_origins

    path = getattr(args, "config", None) or os.environ.get("COCKPIT_CONFIG") or "cockpit.toml"
    try:
        wanted = provider_origins(read_plan_text(Path(path)))  # a device, a pipe, a huge file: not read
    except ConfigError:
        return None
    if not wanted:
        return None
    from cockpit.http_preconnect import Preconnect  # lazy: only when the plan names HTTP providers

    preconnect = Preconnect()
    for (host, port), count in wanted.items():
        preconnect.open(host, port, count=count)
    return preconnect


def _prepare_kill(args: argparse.Namespace) -> int | tuple[KillPlan, Rollout, Notifier | None]:
    """The kill's plan, its rollout on the audit log, the webhooks; or an exit code (run in a thread)."""
    _import_httpx_without_its_cli()
    # lazy: loaded in this thread while the provider connections open
    from cockpit.plan.kill_plan import load_kill_plan

    kill_plan = load_kill_plan(find_config(getattr(args, "config", None)))
    loaded = kill_plan.loaded
    names = {f.name for f in loaded.plan.flags}
    unknown = [n for n in args.flag or [] if n not in names]
    if unknown:
        print(f"cockpit kill: unknown flag {unknown[0]!r}; flags are: {', '.join(sorted(names))}", file=sys.stderr)
        return 2
    if kill_plan.ignored:
        print(f"cockpit kill: plan problems ignored (the kill needs only its flags and providers): "
              f"{'; '.join(kill_plan.ignored)}", file=sys.stderr, flush=True)  # fmt: skip
    rollout = _kill_rollout(args, kill_plan)
    notifier = None
    if loaded.plan.notify.webhooks:
        from cockpit.notify import attach  # lazy: only with webhooks

        # posts in the background, the kill never waits for it; main closes it at exit (what is left: said,
        # kept in the outbox, posted by the next command)
        notifier = attach(rollout, timeout=2.0)
    import cockpit.kill  # noqa: F401  (httpx and the providers, while the connections open)

    return kill_plan, rollout, notifier


def _import_httpx_without_its_cli() -> None:
    """Import httpx without its optional command line (click, rich, pygments): ~50 ms of a kill's start.

    httpx imports its CLI only when ``click`` imports; ``click`` is hidden for that one import (a
    deliberate start-up optimisation of ``cockpit kill``, nothing else in the process is affected).
    """
    if "httpx" in sys.modules or "click" in sys.modules:
        return
    sys.modules["click"] = None  # type: ignore[assignment]
    try:
        import httpx  # noqa: F401
    finally:
        if sys.modules.get("click", 0) is None:
            del sys.modules["click"]


def _kill_rollout(args: argparse.Namespace, kill_plan: KillPlan) -> Rollout:
    """The rollout on its audit log; a log the plan cannot say or open is reported by the kill, not fatal."""
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.store.unwritable import UnwritableStore

    why = kill_plan.store_problem
    if not why:
        try:
            store = open_store(kill_plan.loaded, readonly=bool(getattr(args, "readonly", False)))
            return Rollout(kill_plan.loaded, store)
        except Exception as exc:  # the log's directory, the database: the flags are driven all the same
            why = kill_plan.loaded.env.redact(f"{type(exc).__name__}: {exc}")
    return Rollout(kill_plan.loaded, UnwritableStore(why))


def cmd_flags(args: argparse.Namespace) -> int:
    """Whether the kill would work: read like the kill reads the plan (only flags and providers)."""
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    import asyncio

    from cockpit.kill import FlagSwitch
    from cockpit.plan.kill_plan import load_kill_plan
    from cockpit.store.unwritable import UnwritableStore

    kill_plan = load_kill_plan(find_config(getattr(args, "config", None)))
    if kill_plan.ignored:
        print(f"cockpit flags: plan problems ignored (the kill needs only its flags and providers): "
              f"{'; '.join(kill_plan.ignored)}", file=sys.stderr, flush=True)  # fmt: skip
    rollout = Rollout(kill_plan.loaded, UnwritableStore("cockpit flags only reads"))

    async def arm() -> ArmStatus:
        async with FlagSwitch(rollout, unresolved=kill_plan.unresolved) as switch:
            return await switch.arm()

    status = asyncio.run(arm())
    width = max((len(f.name) for f in rollout.plan.flags), default=4)
    for flag in rollout.plan.flags:
        reading = status.readings.get(flag.name)
        shown = reading.describe() if reading else "unknown"
        print(f"{flag.name:<{width}}  {flag.provider:<10}  {shown}")
    print("ARMED" if status.armed else f"NOT ARMED: {status.reason}")
    return 0 if status.armed else 1


def cmd_flag_set(args: argparse.Namespace) -> int:
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.canary import take_step

    refuse_if_readonly(args)
    rollout = rollout_for(args)
    stage, step = _find_step(rollout, args.name, args.percent, args.stage, args.step)
    if args.override is not None and not args.override.strip():
        raise RolloutError("--override needs a typed reason")
    confirm = args.confirm
    if confirm is None:
        if not sys.stdin.isatty():
            raise RolloutError(f"not confirmed: pass --confirm {args.name}")
        confirm = input(f"Set {args.name} to {args.percent}% ({stage}/{step}). Type the flag name to confirm: ")
    try:
        after = _with_switch(
            args,
            lambda r, s: take_step(s,
                args.name, args.percent, stage=stage, step=step, confirm=confirm.strip(), override=args.override
            ),
            rollout,
        )
    except GateClosed as exc:
        lines = "\n".join(f"  - {b.message}" for b in exc.blockers)
        raise RolloutError(
            f"gate closed, cannot set {args.name} to {args.percent}%:\n{lines}\n"
            "(pass --override REASON to take the step anyway; the reason is audited)"
        ) from None
    overridden = "gate overridden; " if args.override else ""
    print(f"{args.name}: {after.describe()} ({stage}/{step}; {overridden}soak started)")
    return 0


def _find_step(rollout: Rollout, name: str, percent: int, stage: str | None, step: str | None) -> tuple[str, str]:

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
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit import incident as inc

    rollout = rollout_for(args)
    action = getattr(args, "incident_command", None)
    if action in ("done", "open", "close"):
        refuse_if_readonly(args)
    if action == "done":
        event = inc.mark_done(rollout, " ".join(args.action))
        print(f"done: {pl.decode(event, pl.IncidentStepDone).action}")
        return 0
    if action == "open":
        event = inc.open_incident(rollout, " ".join(args.reason))
        print(f"incident open since {event.time:%Y-%m-%d %H:%M:%S} UTC: {pl.decode(event, pl.IncidentOpened).reason}")
        return 0
    if action == "close":
        inc.close_incident(rollout, " ".join(args.note))
        print("incident closed")
        return 0
    if action == "capture":

        if args.readonly:
            raise ReadOnlyStore()  # a capture is audited: nothing written, not even the file
        if args.out:
            check_output(Path(args.out), protected_dirs(rollout.loaded), force=args.force)
        path = inc.capture(rollout, _history(rollout), Path(args.out) if args.out else None, force=args.force)
        print(f"captured to {path}")
        return 0
    return _show_incident(rollout)


def _history(rollout: Rollout) -> History | None:

    if rollout.plan.rollout.store != "postgres" and not history_path(rollout.loaded).exists():
        return None
    return open_history(rollout.loaded, readonly=True)


def _show_incident(rollout: Rollout) -> int:
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.incident import incident_view

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
        pending = view.verdict.verdict == "pending"
        when = f"{view.verdict.describe()}, {format_duration(left)} left" if pending else view.verdict.describe()
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

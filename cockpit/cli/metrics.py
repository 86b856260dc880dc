"""Metric subcommands: ``check`` (cron/CI friendly), ``sim``, ``verify``, ``baseline``. No Textual here.

``cockpit check`` exits 0 when every row is OK (or WARN), 1 when any is BREACH, 3 when any is STALE,
NO DATA, INCONCLUSIVE or ERROR and none is BREACH, 2 for usage or plan errors. Its samples go to the
history, so ``cockpit check`` from cron builds up the per-hour rates.

Each handler imports what it uses (httpx and asyncio through the monitor, the simulator) when it
runs; the body of ``check`` lives in :mod:`cockpit.cli.check`.
"""

from __future__ import annotations

import argparse
import sys

from cockpit.cli.common import load, print_json, refuse_if_readonly, rollout_for
from cockpit.cli.exits import EXIT_BREACH, EXIT_OK, EXIT_USAGE
from cockpit.readings import TABLE, format_reading
from cockpit.rollout import RolloutError
from cockpit.store.backend import open_history


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("check", help="poll the stage's metrics once; exit 0 OK, 1 breach, 3 stale/no data/error")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--stage", metavar="ID", help="judge this stage's thresholds (default: the current stage)")
    which.add_argument("--all", action="store_true", help="poll every metric and judge every stage's thresholds")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("sim", help="run the simulated AlokickFlow service on 127.0.0.1")
    p.add_argument("--port", type=int, default=8700, help="port (default 8700; 0 picks a free one)")
    p.add_argument("--scenario", default="healthy", help="healthy, dlq-flood, heartbeat-misses, ...")
    p.add_argument("--speed", type=float, default=1.0, help="time acceleration (default 1)")
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser("verify", help="run a stage's verification checks and record the results")
    p.add_argument("stage", nargs="?", help="stage id (default: the current stage)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("baseline", help="poll the metrics and freeze them as the baseline (Stage 0)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--partial",
        action="store_true",
        help="capture what there is when a metric a relative threshold needs has no good value (audited as partial)",
    )
    p.set_defaults(func=cmd_baseline)


# --------------------------------------------------------------------------- check


def cmd_check(args: argparse.Namespace) -> int:
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    import asyncio

    from cockpit.cli.check import check, exit_code, judgement_dict, print_table
    from cockpit.rules import worst

    loaded = load(args)
    if args.stage is not None and args.stage not in {s.id for s in loaded.plan.stages}:
        ids = ", ".join(s.id for s in loaded.plan.stages)
        print(f"cockpit check: unknown stage {args.stage!r}; stages are: {ids}", file=sys.stderr)
        return EXIT_USAGE
    rollout = rollout_for(args, loaded=loaded)
    history = open_history(loaded, readonly=bool(args.readonly))  # read-only: judged, never stored
    try:
        judgements = asyncio.run(check(rollout, history, args.stage, args.all, progress=sys.stderr.isatty()))
    finally:
        history.close()
    code = exit_code(judgements)
    if args.json:
        print_json({"status": str(worst(judgements)), "exit": code, "metrics": [judgement_dict(j) for j in judgements]})
    elif not judgements:
        print("no threshold rows to judge in this stage")
    else:
        print_table(judgements)
    return code


# --------------------------------------------------------------------------- sim, verify, baseline


def cmd_sim(args: argparse.Namespace) -> int:
    if not (args.speed > 0):
        print("cockpit sim: --speed must be greater than 0", file=sys.stderr)
        return EXIT_USAGE
    if not 0 <= args.port <= 65535:
        print("cockpit sim: --port must be 0..65535", file=sys.stderr)
        return EXIT_USAGE
    from cockpit.sim import server as sim  # lazy: the simulator only for 'cockpit sim'

    return int(sim.main(args.port, args.scenario, args.speed))


def cmd_verify(args: argparse.Namespace) -> int:
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    import asyncio

    from cockpit.verify import run_checks

    refuse_if_readonly(args)  # the results are recorded: a read-only cockpit runs no check at all
    rollout = rollout_for(args)
    stage = rollout.plan.stage(args.stage) if args.stage in {s.id for s in rollout.plan.stages} else None
    if args.stage is not None and stage is None:
        ids = ", ".join(s.id for s in rollout.plan.stages)
        print(f"cockpit verify: unknown stage {args.stage!r}; stages are: {ids}", file=sys.stderr)
        return EXIT_USAGE
    stage = stage or rollout.current_stage or rollout.plan.stages[0]
    if not stage.checks:
        print(f"{stage.title} has no verification checks")
        return EXIT_OK
    outcomes = asyncio.run(run_checks(rollout, stage.id))
    if args.json:
        print_json({"stage": stage.id, "checks": [o.__dict__ for o in outcomes]})
    else:
        for o in outcomes:
            print(f"{'PASS' if o.ok else 'FAIL'}  {o.check_id}  {o.detail}")
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_BREACH


def cmd_baseline(args: argparse.Namespace) -> int:
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    import asyncio

    from cockpit.monitor import Monitor

    refuse_if_readonly(args)
    rollout = rollout_for(args)
    stage = rollout.current_stage
    if stage is None or not stage.captures_baseline:
        where = stage.title if stage else "the rollout has not started"
        capturing = ", ".join(s.id for s in rollout.plan.stages if s.captures_baseline) or "none"
        raise RolloutError(f"the baseline is captured in a stage with captures_baseline ({capturing}); now: {where}")
    history = open_history(rollout.loaded)
    monitor = Monitor(rollout, history)

    async def poll() -> None:
        try:
            await monitor.poll_once([n for n, m in rollout.plan.metrics.items() if m.kind == "gauge"])
        finally:
            await monitor.aclose()

    try:
        asyncio.run(poll())
        values = monitor.baseline_values()
        rollout.capture_baseline(values, partial=args.partial)  # all or nothing, unless --partial
    finally:
        history.close()
    if args.json:
        print_json({"baseline": values})
    else:
        for name, v in values.items():
            print(f"{name:<22} {format_reading(v['value'], '', TABLE)}  (mean of {v['samples']} over {v['window']})")
    return EXIT_OK

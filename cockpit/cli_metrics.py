"""Metric subcommands: ``check`` (cron/CI friendly), ``sim``, ``verify``, ``baseline``. No Textual here.

``cockpit check`` exits 0 when every row is OK (or WARN), 1 when any is BREACH, 3 when any is STALE,
NO DATA, INCONCLUSIVE or ERROR and none is BREACH, 2 for usage or plan errors. Its samples go to the
history, so ``cockpit check`` from cron builds up the per-hour rates.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from cockpit.cli_common import load, print_json, rollout_for
from cockpit.history import History, Sample
from cockpit.monitor import Monitor, json_safe
from cockpit.paths import open_history
from cockpit.plan import Plan, Stage, ThresholdRule, format_duration
from cockpit.rollout import Rollout, RolloutError
from cockpit.rules import Judgement, Status, worst

EXIT_OK, EXIT_BREACH, EXIT_USAGE, EXIT_UNKNOWN = 0, 1, 2, 3
PROGRESS_AFTER = 1.0
"""Seconds before ``check`` tells stderr which sources it is still waiting for."""


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
    p.set_defaults(func=cmd_baseline)


# --------------------------------------------------------------------------- check


def exit_code(judgements: Sequence[Judgement]) -> int:
    statuses = {j.status for j in judgements}
    if Status.BREACH in statuses:
        return EXIT_BREACH
    if statuses - {Status.OK, Status.WARN}:
        return EXIT_UNKNOWN
    return EXIT_OK


def _rows_for(plan: Plan, stage: Stage | None) -> list[ThresholdRule]:
    if stage is not None:
        return list(stage.thresholds)
    seen: dict[tuple[str, str], ThresholdRule] = {}
    for s in plan.stages:
        for rule in s.thresholds:
            seen.setdefault((rule.metric, str(rule.threshold)), rule)
    return list(seen.values())


def _unjudged(name: str, title: str, unit: str, sample: Sample) -> Judgement:
    """A metric no threshold row covers (``--all``): shown, never green."""
    if sample.error:
        status, reason = Status.ERROR, sample.error
    elif sample.value is None:
        status, reason = Status.NO_DATA, "the source returned no data (empty result)"
    else:
        status, reason = Status.WARN, "no threshold row judges this metric"
    at = sample.at if sample.ok else None
    return Judgement(name, title, status, sample.value, sample.value, "-", unit, reason, at, None)


async def _progress(monitor: Monitor) -> None:
    await asyncio.sleep(PROGRESS_AFTER)
    while monitor.in_flight:
        print(f"cockpit check: waiting for {', '.join(sorted(monitor.in_flight))}...", file=sys.stderr, flush=True)
        await asyncio.sleep(2.0)


async def check(
    rollout: Rollout, history: History, stage_id: str | None, every: bool, *, progress: bool = False
) -> list[Judgement]:
    """Poll the metrics the rows need (all with ``every``) once, concurrently; judge the rows."""
    monitor = Monitor(rollout, history)
    try:
        stage = None if every else monitor.stage(stage_id)
        rules = _rows_for(rollout.plan, stage)
        names = list(rollout.plan.metrics) if every else list(dict.fromkeys(r.metric for r in rules))
        watcher = asyncio.create_task(_progress(monitor)) if progress else None
        try:
            samples = await monitor.poll_once(names)
        finally:
            if watcher is not None:
                watcher.cancel()
        if stage is not None:
            judgements = monitor.judge(stage.id)
        else:
            unique: dict[tuple[str, str], Judgement] = {}
            for s in rollout.plan.stages:
                for j in monitor.judge(s.id):
                    unique.setdefault((j.metric, j.threshold), j)
            judgements = list(unique.values())
            covered = {r.metric for r in rules}
            for name, sample in samples.items():
                if name not in covered:
                    m = rollout.plan.metrics[name]
                    judgements.append(_unjudged(name, m.title, m.unit, sample))
        return judgements
    finally:
        await monitor.aclose()


def _value(j: Judgement) -> str:
    if j.value is None:
        return "-" if j.raw is None else str(j.raw)
    if isinstance(j.value, float):
        text = (
            f"{j.value:+.3g}"
            if j.unit == "%" and j.threshold.lstrip("<>=! ").startswith(("+", "-"))
            else f"{j.value:.4g}"
        )
        return f"{text}{j.unit if j.unit in ('%', 'ms', '/hour') else ''}"
    return str(j.value)


def judgement_dict(j: Judgement) -> dict[str, Any]:
    return {
        "metric": j.metric,
        "label": j.label,
        "status": str(j.status),
        "value": json_safe(j.value),
        "raw": json_safe(j.raw),
        "threshold": j.threshold,
        "unit": j.unit,
        "reason": j.reason,
        "at": j.at.isoformat() if j.at else None,
        "age_seconds": j.age.total_seconds() if j.age is not None else None,
    }


def print_table(judgements: Sequence[Judgement]) -> None:
    header = ("METRIC", "VALUE", "THRESHOLD", "STATUS", "AGE", "REASON")
    rows = [
        (j.label, _value(j), j.threshold, str(j.status), format_duration(j.age) if j.age is not None else "-", j.reason)
        for j in judgements
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True)) + "  " + row[5])


def cmd_check(args: argparse.Namespace) -> int:
    loaded = load(args)
    if args.stage is not None and args.stage not in {s.id for s in loaded.plan.stages}:
        ids = ", ".join(s.id for s in loaded.plan.stages)
        print(f"cockpit check: unknown stage {args.stage!r}; stages are: {ids}", file=sys.stderr)
        return EXIT_USAGE
    rollout = rollout_for(args)
    history = open_history(loaded)
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
    from cockpit import sim

    return int(sim.main(args.port, args.scenario, args.speed))


def cmd_verify(args: argparse.Namespace) -> int:
    from cockpit.verify import run_checks

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
        rollout.capture_baseline(values)  # refuses an empty baseline with a reason
    finally:
        history.close()
    if args.json:
        print_json({"baseline": values})
    else:
        for name, v in values.items():
            print(f"{name:<22} {v['value']:.4g}  (mean of {v['samples']} over {v['window']})")
    return EXIT_OK

"""What every subcommand needs: the plan from ``--config``, a rollout on its store, a clock.

The plan model (msgspec) and the rollout are imported when a handler calls these, not when the
parsers are registered, so ``cockpit --help`` and a usage error start without them.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from cockpit.plan.load import find_config, load_plan, unset_report
from cockpit.rollout import open_rollout
from cockpit.store.audit import ReadOnlyStore

if TYPE_CHECKING:
    from cockpit.clock import Clock
    from cockpit.plan.load import LoadedPlan
    from cockpit.rollout import Rollout


def load(args: argparse.Namespace, *, strict: bool = False) -> LoadedPlan:
    """The plan of ``--config``. A ``${VAR}`` with no value is said on stderr, one line each, and only what
    uses it fails (``strict``: it is a plan error, as ``cockpit validate`` reports it)."""
    loaded = load_plan(find_config(getattr(args, "config", None)), defer_unset=not strict)
    for line in unset_report(loaded):
        print(f"cockpit: {line}", file=sys.stderr)
    return loaded


def rollout_for(args: argparse.Namespace, *, clock: Clock | None = None, loaded: LoadedPlan | None = None) -> Rollout:
    """The rollout of ``--config`` (or of ``loaded``, when the handler has already read the plan)."""
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.notify import attach

    rollout = open_rollout(loaded or load(args), clock=clock, readonly=bool(getattr(args, "readonly", False)))
    attach(rollout, timeout=2.0)  # every decision posts, as the dashboard's do (closed by main at exit)
    return rollout


def refuse_if_readonly(args: argparse.Namespace) -> None:
    """Under ``--readonly``, refuse a command that would write or run something, before it does anything."""

    if getattr(args, "readonly", False):
        raise ReadOnlyStore()


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")

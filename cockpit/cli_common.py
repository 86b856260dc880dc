"""What every subcommand needs: the plan from ``--config``, a rollout on its store, a clock."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cockpit.clock import Clock
from cockpit.config import LoadedPlan, find_config, load_plan
from cockpit.rollout import Rollout, open_rollout


def load(args: argparse.Namespace) -> LoadedPlan:
    return load_plan(find_config(getattr(args, "config", None)))


def rollout_for(args: argparse.Namespace, *, clock: Clock | None = None) -> Rollout:
    return open_rollout(load(args), clock=clock, readonly=bool(getattr(args, "readonly", False)))


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")

"""``cockpit`` with no subcommand opens the dashboard; ``cockpit demo`` runs the guided demo."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """No subcommands yet."""


def run_tui(args: argparse.Namespace) -> int:
    print("cockpit: the dashboard is not built yet; see 'cockpit --help'", file=sys.stderr)
    return 2

"""The command line: one module per command group; ``main`` (in ``main.py``) parses and dispatches."""

from cockpit.cli.main import main

__all__ = ["main"]

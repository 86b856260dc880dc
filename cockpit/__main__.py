"""``python -m cockpit``."""

from cockpit.cli import run

run()

"""The one set of exit codes every command uses (README: "Exit codes")."""

from __future__ import annotations

EXIT_OK = 0
"""Fine."""
EXIT_FAIL = 1
"""Not fine: the gate is closed, the chain is broken, a flag is not verified off."""
EXIT_BREACH = EXIT_FAIL
"""`cockpit check`: a threshold is breached (the same code as any other 'not fine')."""
EXIT_USAGE = 2
"""A usage or plan error."""
EXIT_UNKNOWN = 3
"""Cannot tell: stale data, no data, an error reading a source."""

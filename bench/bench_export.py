"""Export timing: the full simulated rollout (86 events, ~1,900 samples over six days), each format.

Run: .venv/bin/python bench/bench_export.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.clock import FakeClock
from cockpit.export.render import FORMATS, export_text
from cockpit.store.history import SqliteHistory
from tests.rollout_script import drive_full_rollout, make_rollout


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock()
        rollout = make_rollout(Path(tmp), clock)
        history = SqliteHistory(Path(tmp) / "history.sqlite3")
        started = time.perf_counter()
        drive_full_rollout(rollout, clock, history)
        print(
            f"drive: {rollout.state.count} events, {history.count()} samples in {time.perf_counter() - started:.2f} s"
        )
        for fmt in FORMATS:
            runs = []
            for _ in range(5):
                t = time.perf_counter()
                text = export_text(rollout, fmt, history)
                runs.append(time.perf_counter() - t)
            print(f"export {fmt:4}: best {min(runs) * 1000:.1f} ms of 5, {len(text.encode()):,} bytes")
        history.close()


if __name__ == "__main__":
    main()

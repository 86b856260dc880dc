"""Judging one stage from the sample history, as the dashboard does every second: the cost per round as
the history grows over a soak (5 min, 1 h, 24 h of 5 s polls of every metric of the example plan), a
round a second with a new sample of every metric every fifth round (the mean of 60 rounds). A
round should not cost more after an hour than after five minutes: only rate thresholds ("< 5/hour") need
an hour of samples; the others need the last few. Run:

    .venv/bin/python bench/bench_judge.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.clock import FakeClock
from cockpit.monitor import Monitor
from cockpit.store.history import Sample, SqliteHistory
from tests.core_helpers import make_rollout

STEP = timedelta(seconds=5)
RATES = ("heartbeat_misses", "jobs_moved_to_dlq")
VALUES = {"health": "healthy", "error_rate": 0.2, "p99_latency": 250.0, "dlq_entries": 3.0,
          "heartbeat_misses": 1.0, "jobs_moved_to_dlq": 2.0, "false_positive_rate": 0.1}  # fmt: skip


def main() -> None:
    print(f"{'history':>10}  " + "  ".join(f"{s:>28}" for s in ("stage", "judge ms/round (mean)")))
    for label, span in (("5 min", timedelta(minutes=5)), ("1 h", timedelta(hours=1)), ("24 h", timedelta(hours=24))):
        with tempfile.TemporaryDirectory() as tmp:
            clock = FakeClock()
            rollout = make_rollout(Path(tmp), clock)
            history = SqliteHistory(Path(tmp) / "history.sqlite3")
            start = clock.now() - span
            n = int(span / STEP)
            for i in range(n + 1):
                at = start + i * STEP
                for metric, value in VALUES.items():
                    v = value + (i % 7) if metric in RATES else value
                    history.add(Sample(metric, at, v))
            monitor = Monitor(rollout, history)
            for stage in ("stage-0", "stage-2", "stage-3"):
                times = []
                for r in range(60):  # a round a second, a poll of every metric every 5 s
                    if r % 5 == 0:
                        clock.advance(STEP)
                        n += 1
                        for metric, value in VALUES.items():
                            history.add(Sample(metric, clock.now(), value + n % 7 if metric in RATES else value))
                    t = time.perf_counter()
                    monitor.judge(stage)
                    times.append(time.perf_counter() - t)
                print(f"{label:>10}  {stage:>28}  {statistics.fmean(times) * 1000:28.2f}")
            history.close()


if __name__ == "__main__":
    main()

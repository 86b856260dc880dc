"""``cockpit plan import`` timing: the seed checklist (in process, and the whole command), 10,000 items.

Run: .venv/bin/python bench/bench_plan_import.py [CHECKLIST.md]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.checklist import import_checklist
from cockpit.plan.load import parse_plan
from tests.core_helpers import seed_path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 20


def timed(text: str, name: str, runs: int = RUNS) -> tuple[float, float]:
    """Median seconds of the import alone, and of the import plus validating the draft."""
    alone, validated = [], []
    for _ in range(runs):
        start = time.perf_counter()
        imported = import_checklist(text, name)
        middle = time.perf_counter()
        parse_plan(imported.toml, "plan.toml", {})
        alone.append(middle - start)
        validated.append(time.perf_counter() - start)
    return statistics.median(alone), statistics.median(validated)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else seed_path()
    text = path.read_text(encoding="utf-8")
    import_checklist(text, path.name)  # warm up (regex compilation)
    alone, validated = timed(text, path.name)
    print(f"{path.name}: import {alone * 1000:.1f} ms, import + validate {validated * 1000:.1f} ms (median of {RUNS})")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "p.toml"
        walls = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "cockpit", "plan", "import", str(path), "-o", str(out)],
                check=True,
                capture_output=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            walls.append(time.perf_counter() - start)
        print(f"cockpit plan import {path.name} -o p.toml: {statistics.median(walls) * 1000:.0f} ms wall (median of 5)")
    big = "## Stage 1: Many\n\n" + "".join(f"- [ ] Step number {i} of the big list\n" for i in range(10_000))
    alone, validated = timed(big, "big.md", runs=3)
    print(f"10,000 items: import {alone:.2f} s, import + validate {validated:.2f} s")


if __name__ == "__main__":
    main()

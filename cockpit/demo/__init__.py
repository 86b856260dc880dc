"""``cockpit demo``: the simulator, a throwaway PostgreSQL and Prometheus, the example plan rewired to them
(``plan``), accelerated time, and a hint line that names the next key (``hints``)."""

from cockpit.demo.hints import next_hint, stage_fault
from cockpit.demo.plan import example_plan_text
from cockpit.demo.run import Demo, find_pg_bin, reachable

__all__ = ["Demo", "example_plan_text", "find_pg_bin", "next_hint", "reachable", "stage_fault"]

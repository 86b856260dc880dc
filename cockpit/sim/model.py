"""The simulated AlokickFlow service's state: flags, scenario, and the metrics they drive.

Stdlib only, no textual. Everything is a deterministic function of *simulated time*, which is
``(clock() - start) * speed``; the state is advanced lazily (on each read or write) by integrating
piecewise-constant rates from the last advance to now, so no background thread is needed and a test
can drive time with a fake clock.

Behaviour follows each flag's *effective percent* (``percent`` when ``enabled``, else 0): 5 % gives
a twentieth of the full effect.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DLQ_FLAG = "FEATURE_FLAG_DLQ_ENABLED"
HEARTBEAT_FLAG = "FEATURE_FLAG_JOB_HEARTBEAT"
FLAG_NAMES = (DLQ_FLAG, HEARTBEAT_FLAG)

SCENARIOS = ("healthy", "dlq-flood", "heartbeat-misses", "latency-regression", "error-spike", "flapping")

REQUESTS_PER_SECOND = 50.0
BASE_ERROR_FRACTION = 0.002  # 0.2 %
FLAP_PERIOD = 120.0  # flapping: good and bad phases of 2 sim minutes each
# Latency: log-normal, median 80 ms, P99 ~250 ms at scale 1.0.
LAT_MEDIAN = 0.080
LAT_SIGMA = math.log(0.250 / 0.080) / 2.3263
BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0)


def latency_cdf(x: float, scale: float) -> float:
    """Fraction of requests faster than ``x`` seconds when latencies are multiplied by ``scale``."""
    if x <= 0:
        return 0.0
    z = (math.log(x / (LAT_MEDIAN * scale))) / LAT_SIGMA
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def bucket_quantile(q: float, scale: float) -> float:
    """The ``q`` quantile in seconds as Prometheus's ``histogram_quantile`` reads it from ``BUCKETS``:
    linear within the bucket where the cumulative fraction reaches ``q`` (the highest bound if none does)."""
    lower, below = 0.0, 0.0
    for le in BUCKETS:
        at = latency_cdf(le, scale)
        if at >= q:
            return lower + (le - lower) * (q - below) / (at - below) if at > below else le
        lower, below = le, at
    return BUCKETS[-1]


@dataclass
class Flag:
    name: str
    enabled: bool = False
    percent: int = 0

    @property
    def effect(self) -> float:
        return (self.percent / 100.0) if self.enabled else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "enabled": self.enabled, "percent": self.percent}


@dataclass(frozen=True)
class Rates:
    """Rates in force over one stretch of simulated time (per simulated second)."""

    requests: float
    error_fraction: float
    latency_scale: float
    dlq_inflow: float
    dlq_decay: float  # fraction of the DLQ processed per second
    heartbeat_misses: float
    jobs_moved: float
    false_positive_rate: float  # percent
    degraded: bool


class Simulator:
    def __init__(
        self,
        scenario: str = "healthy",
        speed: float = 1.0,
        token: str = "sim-token",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
        self.scenario = scenario
        self.speed = float(speed)
        self.token = token
        self.clock = clock
        self.start = clock()
        self.lock = threading.RLock()
        self.flags: dict[str, Flag] = {n: Flag(n) for n in FLAG_NAMES}
        self.writes: list[dict[str, Any]] = []
        self.request_counts: dict[str, int] = {}
        self.faults: dict[str, Any] = {}
        self.reset_faults()
        # integrated state
        self._t = 0.0
        self.requests_ok = 0.0
        self.requests_err = 0.0
        self.buckets = [0.0] * len(BUCKETS)
        self.duration_sum = 0.0
        self.dlq = 0.0
        self._dlq_since: float | None = None
        self.heartbeat_misses = 0.0
        self.jobs_moved = 0.0

    # ------------------------------------------------------------------ time
    def sim_time(self) -> float:
        return max(0.0, (self.clock() - self.start) * self.speed)

    def rates(self, t: float) -> Rates:
        """The rates in force at simulated time ``t`` (constant between flag writes / phase edges)."""
        dlq = self.flags[DLQ_FLAG].effect
        hb = self.flags[HEARTBEAT_FLAG].effect
        sc = self.scenario
        err = BASE_ERROR_FRACTION
        scale = 1.0
        degraded = False
        if sc == "latency-regression":
            scale += 0.4 * dlq
        if sc == "error-spike":
            err += 0.08 * dlq
        if sc == "flapping" and int(t // FLAP_PERIOD) % 2 == 1:
            err, scale, degraded = 0.08, 1.3, True
        # DLQ: inflow while the DLQ flag is on, processed back toward 0 (faster when the flag is off)
        if sc == "dlq-flood":
            inflow, decay = dlq / 30.0, (0.0 if dlq > 0 else 1.0 / 60.0)
        else:
            inflow, decay = dlq / 400.0, (1.0 / 600.0 if dlq > 0 else 1.0 / 60.0)
        hb_per_hour, moved_per_hour, fpr = (20.0, 10.0, 2.5) if sc == "heartbeat-misses" else (1.0, 0.5, 0.2)
        stuck = hb
        if sc == "heartbeat-misses" and hb > 0:  # the watchdog's misses: past the limits at a 5 % canary too
            stuck = max(hb, 0.5)
        moved = moved_per_hour * stuck / 3600.0
        if dlq > 0:
            inflow += moved
        return Rates(
            requests=REQUESTS_PER_SECOND,
            error_fraction=err,
            latency_scale=scale,
            dlq_inflow=inflow,
            dlq_decay=decay,
            heartbeat_misses=hb_per_hour * stuck / 3600.0,
            jobs_moved=moved,
            false_positive_rate=fpr * hb,
            degraded=degraded or err > 0.05,
        )

    def advance(self) -> float:
        """Integrate the state up to the current simulated time; returns it."""
        with self.lock:
            now = self.sim_time()
            while self._t < now:
                end = now
                if self.scenario == "flapping":  # split at phase edges
                    end = min(now, (math.floor(self._t / FLAP_PERIOD) + 1) * FLAP_PERIOD)
                self._integrate(self._t, end - self._t)
                self._t = end
            return self._t

    def _integrate(self, t0: float, dt: float) -> None:
        r = self.rates(t0)
        n = r.requests * dt
        self.requests_err += n * r.error_fraction
        self.requests_ok += n * (1.0 - r.error_fraction)
        for i, le in enumerate(BUCKETS):
            self.buckets[i] += n * latency_cdf(le, r.latency_scale)
        self.duration_sum += n * LAT_MEDIAN * r.latency_scale * math.exp(LAT_SIGMA**2 / 2)
        if r.dlq_decay > 0:
            eq = r.dlq_inflow / r.dlq_decay
            self.dlq = eq + (self.dlq - eq) * math.exp(-r.dlq_decay * dt)
        else:
            self.dlq += r.dlq_inflow * dt
        if self.dlq >= 1.0 and self._dlq_since is None:
            # when the first whole entry landed (approximately, within this stretch)
            self._dlq_since = t0 + dt if r.dlq_inflow <= 0 else t0 + min(dt, 1.0 / r.dlq_inflow)
        elif self.dlq < 1.0:
            self._dlq_since = None
        self.heartbeat_misses += r.heartbeat_misses * dt
        self.jobs_moved += r.jobs_moved * dt

    # ------------------------------------------------------------------ writes
    def set_flag(self, name: str, enabled: bool, percent: int) -> dict[str, Any]:
        with self.lock:
            t = self.advance()
            flag = self.flags[name]
            before = flag.as_dict()
            flag.enabled, flag.percent = enabled, percent
            after = flag.as_dict()
            self.writes.append({"t": t, "wall": time.time(), "name": name, "before": before, "after": after})
            return after

    def set_scenario(self, scenario: str) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}")
        with self.lock:
            self.advance()
            self.scenario = scenario

    def reset_faults(self) -> None:
        with self.lock:
            self.faults = {"flag_fail": 0, "status": 503, "latency_ms": 0, "flag_missing": []}

    def count_request(self, path: str) -> None:
        with self.lock:
            self.request_counts[path] = self.request_counts.get(path, 0) + 1

    # ------------------------------------------------------------------ reads
    def health(self) -> dict[str, Any]:
        with self.lock:
            t = self.advance()
            degraded = self.rates(t).degraded
            return {"status": "degraded" if degraded else "healthy", "uptimeSeconds": round(t, 3)}

    def dlq_stats(self) -> dict[str, Any]:
        with self.lock:
            t = self.advance()
            total = int(self.dlq)
            age = 0.0 if self._dlq_since is None or total == 0 else max(0.0, t - self._dlq_since)
            return {"total": total, "pending": int(self.dlq * 0.6), "oldestAgeSeconds": round(age, 3)}

    def watchdog(self) -> dict[str, Any]:
        with self.lock:
            t = self.advance()
            return {
                "watchdogMetrics": {
                    "heartbeatMisses": int(self.heartbeat_misses),
                    "jobsMovedToDlq": int(self.jobs_moved),
                    "stuckJobsDetected": int(self.jobs_moved * 1.2),
                    "falsePositiveRate": round(self.rates(t).false_positive_rate, 3),
                }
            }

    def figures(self) -> dict[str, Any]:
        """The error rate (%) and P99 latency (ms) Prometheus would compute from ``/metrics`` right now, read
        from the model directly (the demo without a Prometheus binary): the rates in force, and the P99
        interpolated within the histogram's buckets as ``histogram_quantile`` does."""
        with self.lock:
            rates = self.rates(self.advance())
            return {
                "errorRatePercent": round(100.0 * rates.error_fraction, 4),
                "p99LatencyMs": round(1000.0 * bucket_quantile(0.99, rates.latency_scale), 3),
            }

    def flag_list(self) -> list[dict[str, Any]]:
        with self.lock:
            return [f.as_dict() for f in self.flags.values() if f.name not in self.faults["flag_missing"]]

    def metrics_text(self) -> str:
        with self.lock:
            t = self.advance()
            total = self.requests_ok + self.requests_err
            lines = [
                "# HELP alokickflow_http_requests_total HTTP requests served.",
                "# TYPE alokickflow_http_requests_total counter",
                f'alokickflow_http_requests_total{{code="200"}} {int(self.requests_ok)}',
                f'alokickflow_http_requests_total{{code="500"}} {int(self.requests_err)}',
                "# HELP alokickflow_http_request_duration_seconds HTTP request latency.",
                "# TYPE alokickflow_http_request_duration_seconds histogram",
            ]
            count = int(total)
            for le, v in zip(BUCKETS, self.buckets, strict=True):
                lines.append(f'alokickflow_http_request_duration_seconds_bucket{{le="{le}"}} {min(int(v), count)}')
            lines += [
                f'alokickflow_http_request_duration_seconds_bucket{{le="+Inf"}} {count}',
                f"alokickflow_http_request_duration_seconds_sum {self.duration_sum:.6f}",
                f"alokickflow_http_request_duration_seconds_count {count}",
                "# HELP alokickflow_dlq_entries Entries in the dead-letter queue.",
                "# TYPE alokickflow_dlq_entries gauge",
                f"alokickflow_dlq_entries {int(self.dlq)}",
                "# HELP alokickflow_heartbeat_misses_total Job heartbeats missed.",
                "# TYPE alokickflow_heartbeat_misses_total counter",
                f"alokickflow_heartbeat_misses_total {int(self.heartbeat_misses)}",
                "# HELP alokickflow_jobs_moved_to_dlq_total Stuck jobs moved to the DLQ.",
                "# TYPE alokickflow_jobs_moved_to_dlq_total counter",
                f"alokickflow_jobs_moved_to_dlq_total {int(self.jobs_moved)}",
                "# HELP alokickflow_feature_flag_percent Effective rollout percent of each flag.",
                "# TYPE alokickflow_feature_flag_percent gauge",
            ]
            for f in self.flags.values():
                lines.append(f'alokickflow_feature_flag_percent{{flag="{f.name}"}} {round(f.effect * 100)}')
            lines += [
                "# HELP alokickflow_sim_time_seconds Simulated time since start.",
                "# TYPE alokickflow_sim_time_seconds gauge",
                f"alokickflow_sim_time_seconds {t:.3f}",
            ]
            return "\n".join(lines) + "\n"

    def state(self) -> dict[str, Any]:
        with self.lock:
            t = self.advance()
            return {
                "scenario": self.scenario,
                "simTime": round(t, 3),
                "speed": self.speed,
                "flags": [f.as_dict() for f in self.flags.values()],
                "writes": list(self.writes),
                "requests": dict(self.request_counts),
                "faults": dict(self.faults, flag_missing=list(self.faults["flag_missing"])),
                "health": self.health(),
                "dlq": self.dlq_stats(),
                "watchdog": self.watchdog()["watchdogMetrics"],
            }

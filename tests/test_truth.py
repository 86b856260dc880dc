"""An independent truth test of the sign-off: the JSON export of the full simulated rollout, recomputed from the
raw audit log (JSON lines) and the raw history database (SQLite), without the export code or the state fold.

Every Actual (the value at gate time, in the row's unit), Min and Max of every threshold row, every soak's
start and end, every incident deadline's verdict and every tick's time must be what the record says.
"""

from __future__ import annotations

import json
import re
import sqlite3
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cockpit.clock import FakeClock
from cockpit.export.render import export_text
from cockpit.store.history import SqliteHistory
from tests.rollout_script import EXAMPLE, drive_full_rollout, make_rollout

RATE_WINDOW = timedelta(hours=1)  # the example plan leaves every metric's rate_window at its default
GATE_LOOKBACK = timedelta(days=1)  # the latest good sample of the last day is the value at gate time


@dataclass
class Truth:
    export: dict[str, Any]
    events: list[dict[str, Any]]
    samples: dict[str, list[tuple[datetime, float | str]]]
    plan: dict[str, Any]


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Truth]:
    tmp = tmp_path_factory.mktemp("truth")
    clock = FakeClock()
    rollout = make_rollout(tmp, clock)
    history = SqliteHistory(tmp / "history.sqlite3")
    drive_full_rollout(rollout, clock, history)
    exported = json.loads(export_text(rollout, "json", history))
    history.close()
    events = [json.loads(line) for line in (tmp / "audit.jsonl").read_text().splitlines()]
    samples: dict[str, list[tuple[datetime, float | str]]] = {}
    with sqlite3.connect(tmp / "history.sqlite3") as db:
        for metric, at, num, txt, error in db.execute("SELECT metric, at, num, txt, error FROM samples ORDER BY at"):
            if error or (num is None and txt is None):
                continue
            samples.setdefault(metric, []).append((datetime.fromtimestamp(at, UTC), num if num is not None else txt))
    yield Truth(exported, events, samples, tomllib.loads(EXAMPLE.read_text()))


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(text: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return timedelta(seconds=sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smhd])", text)))


def _kind(threshold: str) -> str:
    if "/hour" in threshold:
        return "rate"
    if threshold.startswith("=="):
        return "text"
    return "relative" if re.match(r"^[<>]=?\s*[+-]", threshold) else "absolute"


def _of(events: list[dict[str, Any]], type: str, **payload: Any) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == type and all(e["payload"].get(k) == v for k, v in payload.items())]


# --------------------------------------------------------------------------- the stage windows, from the log


def _window(t: Truth, stage: dict[str, Any]) -> tuple[datetime, datetime]:
    """A stage's soak window: its first soak's first start to its last soak's completion; else entered to
    completed."""
    steps = [c["id"] for c in stage.get("canary", [])]
    starts = [_t(e["time"]) for s in steps for e in _of(t.events, "soak.started", stage=stage["id"], step=s)[:1]]
    if starts:
        ends = [_t(e["time"]) for s in steps for e in _of(t.events, "soak.completed", stage=stage["id"], step=s)]
        return min(starts), max(ends)
    entered = _of(t.events, "stage.entered", stage=stage["id"])[0]
    completed = _of(t.events, "stage.completed", stage=stage["id"])[0]
    return _t(entered["time"]), _t(completed["time"])


def _figures(t: Truth, metric: str, kind: str, start: datetime, end: datetime) -> list[float]:
    series = [(at, float(v)) for at, v in t.samples.get(metric, []) if not isinstance(v, str)]
    if kind == "relative":
        base = float(_of(t.events, "baseline.captured")[-1]["payload"]["metrics"][metric]["value"])
        return [(v - base) / abs(base) * 100 for at, v in series if start <= at <= end]
    if kind == "rate":
        out = []
        for at, v in series:
            if start <= at <= end:
                first_at, first_v = next((a, x) for a, x in series if a >= at - RATE_WINDOW)
                hours = (at - first_at).total_seconds() / 3600
                if hours > 0:
                    out.append((v - first_v) / hours)
        return out
    return [v for at, v in series if start <= at <= end]


def _at_gate(t: Truth, metric: str, kind: str, gate: datetime) -> float | str:
    window = RATE_WINDOW if kind == "rate" else GATE_LOOKBACK
    good = [(at, v) for at, v in t.samples[metric] if gate - window <= at <= gate]
    last_at, last = good[-1]
    if kind == "relative":
        base = float(_of(t.events, "baseline.captured")[-1]["payload"]["metrics"][metric]["value"])
        return round((float(last) - base) / abs(base) * 100, 3)
    if kind == "rate":
        first_at, first = good[0]
        return round((float(last) - float(first)) / ((last_at - first_at).total_seconds() / 3600), 3)
    return last


def test_every_actual_min_and_max(truth: Truth) -> None:
    plan_stages = {s["id"]: s for s in truth.plan["stages"]}
    rows = 0
    for stage in truth.export["stages"]:
        start, end = _window(truth, plan_stages[stage["id"]])
        assert stage["window"] == {"start": _when(start), "end": _when(end)}
        gate = _t(_of(truth.events, "stage.completed", stage=stage["id"])[0]["time"])
        for row in stage["thresholds"]:
            kind = _kind(row["threshold"])
            assert row["kind"] == kind
            assert row["at_gate"] == pytest.approx(_at_gate(truth, row["metric"], kind, gate)), row["label"]
            figures = _figures(truth, row["metric"], kind, start, end)
            if kind == "text":
                assert row["min"] == row["max"] == ""
                assert row["count"] == sum(1 for at, _ in truth.samples[row["metric"]] if start <= at <= end)
            else:
                assert row["min"] == pytest.approx(min(figures), abs=1e-3), row["label"]
                assert row["max"] == pytest.approx(max(figures), abs=1e-3), row["label"]
            rows += 1
    assert rows == sum(len(s.get("thresholds", [])) for s in truth.plan["stages"])


def test_every_soak_start_and_end(truth: Truth) -> None:
    kills = [_t(e["time"]) for e in _of(truth.events, "kill.requested")]
    for stage in truth.export["stages"]:
        for step in stage["canary"]:
            started = _of(truth.events, "soak.started", stage=stage["id"], step=step["id"])
            completed = _of(truth.events, "soak.completed", stage=stage["id"], step=step["id"])
            soak = step["soak"]
            assert soak["start"] == _when(_t(started[0]["time"]))
            assert soak["end"] == _when(_t(completed[-1]["time"]))
            stops = [k for k in kills if _t(started[0]["time"]) <= k <= _t(completed[-1]["time"])]
            assert [h["at"] for h in soak["history"] if h["kind"] == "stopped"] == [_when(k) for k in stops]


def test_every_deadline_verdict(truth: Truth) -> None:
    exported_at = _t(truth.export["export"]["generated_at"])
    deadlines = {s["id"]: (_duration(s["deadline"]), s.get("done_by_kill", False)) for s in truth.plan["incident"]}
    (opened,) = _of(truth.events, "incident.opened")
    done = {e["payload"]["action"]: e for e in _of(truth.events, "incident.step_done")}
    verdicts = {}
    for step in truth.export["incidents"][0]["steps"]:
        deadline, by_kill = deadlines[step["id"]]
        due = _t(opened["time"]) + deadline
        actions = []
        for action in step["actions"]:
            event = done.get(action["action"])
            if event is None:
                actions.append("pending" if exported_at <= due else "missed")
            elif (by_kill and event["payload"].get("by") == "kill") or _t(event["time"]) <= due:
                actions.append("on time")
            else:
                actions.append("late")
            assert action["verdict"] == actions[-1], action
        expected = next((v for v in ("missed", "pending", "late") if v in actions), "on time")
        assert step["verdict"] == expected and step["due"] == _when(due)
        verdicts[step["id"]] = expected
    # the script's ticket came 7 minutes after the kill: the one late step of the record
    assert verdicts == {"immediately": "on time", "within-5m": "late", "within-30m": "on time", "within-24h": "on time"}


def test_every_tick_time(truth: Truth) -> None:
    ticked = {(e["payload"]["stage"], e["payload"]["item"]): e for e in _of(truth.events, "item.ticked")}
    for stage in truth.export["stages"]:
        for item in stage["items"]:
            event = ticked[(stage["id"], item["id"])]
            assert (item["at"], item["user"], item["seq"]) == (
                _when(_t(event["time"])),
                event["actor"]["user"],
                event["seq"],
            )
    # a tick bound to a soak came after that soak completed
    for stage in truth.plan["stages"]:
        for item in stage.get("items", []):
            if item.get("after_soak"):
                (done,) = _of(truth.events, "soak.completed", stage=stage["id"], step=item["after_soak"])
                assert ticked[(stage["id"], item["id"])]["seq"] > done["seq"]

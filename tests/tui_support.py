"""Builders for the TUI tests: the example plan on a throwaway log, a frozen clock, the simulator."""

from __future__ import annotations

import html
import io
import re
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from textual.pilot import Pilot

from cockpit import events as ev
from cockpit.clock import FakeClock
from cockpit.events import Actor
from cockpit.identity import current_actor
from cockpit.incident import open_incident
from cockpit.plan.load import parse_plan
from cockpit.rollout import Rollout
from cockpit.session import Services
from cockpit.store.filelog import FileStore
from cockpit.store.history import History, Sample, SqliteHistory
from screens.app import CockpitApp
from tests.core_helpers import ENV, EXAMPLE, OPS, PRODUCT, as_actor, example_text

ALOK = Actor("alok", 1001, "bastion-1")
FLAGS = ("FEATURE_FLAG_DLQ_ENABLED", "FEATURE_FLAG_JOB_HEARTBEAT")


def make_app(
    tmp_path: Path,
    *,
    app_url: str = "http://127.0.0.1:9",
    token: str = "sim-token",
    actor: Actor | None = None,
    readonly: bool = False,
    extra: str = "",
    clock: FakeClock | None = None,
    connect: bool = True,
) -> CockpitApp:
    """A cockpit on the example plan; ``app_url`` is the simulator's; nothing polls (live=False);
    ``connect=False``: the kill switch is not built yet (as ``cockpit`` starts)."""
    env = {**ENV, "APP_URL": app_url, "APP_TOKEN": token, "PROMETHEUS_URL": "http://127.0.0.1:9"}
    loaded = parse_plan(example_text() + extra, str(EXAMPLE), env, base=EXAMPLE)
    log = tmp_path / "audit.jsonl"
    if readonly:
        FileStore(log).read(0)  # the log must exist to be opened read-only
    rollout = Rollout(loaded, FileStore(log, readonly=readonly), clock=clock or FakeClock(), actor=actor or ALOK)
    history = SqliteHistory(tmp_path / "history.sqlite3")
    services = Services.build(rollout, history, live=False, connect=connect)
    return CockpitApp(services, readonly=readonly)


async def until_started(pilot: Pilot[None]) -> None:
    """Wait for the dashboard's panels (and, when live, its polls): they come after the first frame."""
    for _ in range(200):
        if getattr(pilot.app.screen, "started", False):
            await pilot.pause()  # and let the panels draw
            return
        await pilot.pause(0.01)
    raise AssertionError("the dashboard did not start within 2 s")


def real_user_app(tmp_path: Path, **kw: object) -> CockpitApp:
    return make_app(tmp_path, actor=current_actor(), **kw)  # type: ignore[arg-type]


def to_stage(rollout: Rollout, stage_id: str) -> None:
    """Override gates until ``stage_id`` is current (the record says so)."""
    while rollout.current_stage is None or rollout.current_stage.id != stage_id:
        rollout.advance(override="test setup")


def healthy_history(rollout: Rollout, history: History, *, dlq: float = 2.0, hours: float = 2.0) -> None:
    """Samples every 5 min for ``hours`` up to now, for every metric of the plan."""
    now = rollout.now()
    steps = int(hours * 12)
    for i in range(steps + 1):
        at = now - timedelta(minutes=5 * (steps - i))
        wobble = (i % 5) / 10
        history.add(Sample("health", at, "healthy"))
        history.add(Sample("error_rate", at, 0.32 + wobble / 100))
        history.add(Sample("p99_latency", at, 240.0 + 10 * wobble))
        history.add(Sample("dlq_entries", at, dlq + wobble * 10 if i == steps else dlq + wobble))


def sign_all(rollout: Rollout) -> None:
    rollout.approve("dev-lead")
    as_actor(rollout, OPS).approve("ops-oncall")
    as_actor(rollout, PRODUCT).approve("product-owner")


def baseline(rollout: Rollout) -> None:
    rollout.capture_baseline(
        {
            "error_rate": {"value": 0.32, "window": "5m", "query": "q"},
            "p99_latency": {"value": 245.0, "window": "5m", "query": "q"},
        }
    )


def soaking_rollout(rollout: Rollout, clock: FakeClock) -> None:
    """Approvals, Stage 0-1 done, Stage 2 entered and the 5% step soaking for 13h12m."""
    sign_all(rollout)
    to_stage(rollout, "stage-0")
    baseline(rollout)
    to_stage(rollout, "stage-2")
    rollout.record_flag_change(
        FLAGS[0], {"enabled": False, "percent": 0}, {"enabled": True, "percent": 5}, stage="stage-2", step="dlq-5"
    )
    clock.advance(timedelta(hours=13, minutes=12))


def record_kill(rollout: Rollout) -> None:
    rollout.record(ev.KILL_REQUESTED, {"reason": "kill key", "flags": list(FLAGS)})
    for flag in FLAGS:
        rollout.record(ev.KILL_FLAG_RESULT, {"flag": flag, "verified_off": True, "attempts": 1, "error": ""})
    rollout.record(ev.KILL_RESULT, {"all_off": True, "may_be_on": [], "reason": "kill key"})
    open_incident(rollout, "kill: kill key")  # unless a breach opened one already


def screen_lines(app: CockpitApp) -> list[str]:
    """The screen as plain lines, read from Textual's SVG screenshot (what a snapshot shows)."""
    svg = app.export_screenshot()
    lines: dict[int, list[str]] = {}
    for match in re.finditer(r'<text [^>]*clip-path="url\(#[\w-]+-line-(\d+)\)"[^>]*>([^<]*)</text>', svg):
        lines.setdefault(int(match.group(1)), []).append(html.unescape(match.group(2)).replace("\xa0", " "))
    return ["".join(parts) for _, parts in sorted(lines.items())]


def cut_text(lines: list[str]) -> list[str]:
    """Lines where text was cut with an ellipsis instead of wrapped or counted ("… 3 more" is fine, and so
    is "… 3" where a dialog's border covers the rest of it)."""
    return [line for line in lines if "…" in re.sub(r"…( \d+)?( more|█)", "", line)]


def events(app: object, type: str) -> list[ev.Event]:
    rollout = app.services.rollout  # type: ignore[attr-defined]
    return [e for e in rollout.store.read(0) if e.type == type]


def plain(widget: object, width: int = 60) -> str:
    """What a widget shows, as plain text (a Rich renderable, e.g. the flag table's Group)."""
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(widget.content)  # type: ignore[attr-defined]  # a Static: what it was given
    return console.export_text()


def result_text(app: object) -> str:
    return str(app.screen.query_one("#result").render())  # type: ignore[attr-defined]


"""Small helpers for core tests: the example plan, a rollout on a file store, a fixed clock."""

from __future__ import annotations

import os
from pathlib import Path

from cockpit.clock import FakeClock
from cockpit.events import Actor
from cockpit.plan.load import LoadedPlan, parse_plan
from cockpit.rollout import Rollout
from cockpit.store.filelog import FileStore

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.toml"
ENV = {"APP_TOKEN": "tok-s3cr3t-value", "PATH": os.environ.get("PATH", "")}

ALOK = Actor("alok", 1001, "bastion-1")
OPS = Actor("oncall", 1002, "bastion-2")
PRODUCT = Actor("product", 1003, "laptop")


def seed_path() -> Path:
    """The user's checklist: shared/ sits beside the clone (CI) or beside main (sessions)."""
    for candidate in (
        Path(os.environ.get("COCKPIT_SEED", "/nonexistent")),
        ROOT.parent / "shared/seed/rollout-checklist.md",
        ROOT.parent.parent / "shared/seed/rollout-checklist.md",
    ):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("shared/seed/rollout-checklist.md not found beside the repository")


def example_text() -> str:
    return EXAMPLE.read_text()


def example_plan(environ: dict[str, str] | None = None, text: str | None = None) -> LoadedPlan:
    return parse_plan(text or example_text(), str(EXAMPLE), {**ENV, **(environ or {})}, base=EXAMPLE)


def make_rollout(
    tmp_path: Path, clock: FakeClock | None = None, actor: Actor = ALOK, loaded: LoadedPlan | None = None
) -> Rollout:
    return Rollout(
        loaded or example_plan(),
        FileStore(tmp_path / "audit.jsonl"),
        clock=clock or FakeClock(),
        actor=actor,
    )


def as_actor(rollout: Rollout, actor: Actor) -> Rollout:
    """The same plan and log, as another person (a second cockpit)."""
    return Rollout(rollout.loaded, FileStore(rollout.store.path), clock=rollout.clock, actor=actor)  # type: ignore[attr-defined]

"""Secrets, precisely: a variable used as a credential is scrubbed everywhere; other values never are."""

from __future__ import annotations

import os
from pathlib import Path

from cockpit.clock import FakeClock
from cockpit.plan.load import parse_plan
from cockpit.rollout import Rollout
from cockpit.store.filelog import FileStore
from tests.rollout_script import ALOK, EXAMPLE, SECRET

URL = "http://app.internal.example:8700"
DB_PASSWORD = "pg-pa55word-xyz"
DSN = f"postgresql://cockpit:{DB_PASSWORD}@db.internal.example:5432/alokickflow"


def _rollout(tmp_path: Path, text: str | None = None, **environ: str) -> Rollout:
    env = {"APP_TOKEN": SECRET, "APP_URL": URL, "DATABASE_URL": DSN, "PATH": os.environ.get("PATH", ""), **environ}
    loaded = parse_plan(text or EXAMPLE.read_text(), str(EXAMPLE), env, base=EXAMPLE)
    return Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), clock=FakeClock(), actor=ALOK)


def test_a_url_in_a_note_is_not_masked(tmp_path: Path) -> None:
    rollout = _rollout(tmp_path)
    rollout.note(f"checked {URL}/health by hand; token {SECRET} leaked in a paste")
    stored = (tmp_path / "audit.jsonl").read_text()
    assert URL in stored  # the note keeps its meaning
    assert SECRET not in stored and "token ***" in stored


def test_the_password_inside_a_dsn_is_a_secret_and_the_rest_is_not(tmp_path: Path) -> None:
    rollout = _rollout(tmp_path)
    rollout.note(f"db at {DSN}")
    stored = (tmp_path / "audit.jsonl").read_text()
    assert DB_PASSWORD not in stored
    assert "postgresql://cockpit:***@db.internal.example:5432/alokickflow" in stored


def test_a_table_marked_secret_makes_its_variables_credentials(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace(
        '[sources.prometheus]\nkind = "prometheus"\n',
        '[sources.prometheus]\nkind = "prometheus"\nsecret = true\n',
        1,
    )
    assert "secret = true" in text
    prom = "http://prom-user-key-123.example:9090"
    rollout = _rollout(tmp_path, text, PROMETHEUS_URL=prom)
    rollout.note(f"prometheus is {prom}, app is {URL}")
    stored = (tmp_path / "audit.jsonl").read_text()
    assert prom not in stored and URL in stored
    assert _rollout(tmp_path / "x", PROMETHEUS_URL=prom).loaded.env.redact(prom) == prom  # unmarked: shown

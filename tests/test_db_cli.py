"""``cockpit db init | import | export`` against a real PostgreSQL, through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.cli.main import main
from cockpit.events import Actor
from cockpit.store.audit import verify_file
from cockpit.store.filelog import FileStore
from cockpit.store.pg import PgStore
from cockpit.store.pg_schema import SCHEMA_VERSION
from tests.core_helpers import ALOK, example_text

pytestmark = pytest.mark.postgres
T0 = "2026-01-01T00:00:00+00:00"


@pytest.fixture
def plan(postgres_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("APP_TOKEN", "tok-s3cr3t-value")
    monkeypatch.setenv("COCKPIT_DATABASE_URL", postgres_db)
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    path = tmp_path / "cockpit.toml"
    path.write_text(example_text().replace('store = "file"', 'store = "postgres"\ndsn = "${COCKPIT_DATABASE_URL}"', 1))
    return path


def file_log(path: Path, n: int) -> Path:
    from datetime import datetime, timedelta

    store = FileStore(path)
    for i in range(n):
        store.append("note.added", {"text": f"n{i}", "ratio": 0.1 * i}, ALOK, datetime.fromisoformat(T0) + timedelta(i))
    return path


def test_db_init_twice_is_fine_and_prints_the_version(plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(plan), "db", "init"]) == 0
    assert main(["-c", str(plan), "db", "init"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"PostgreSQL schema ready: version {SCHEMA_VERSION}"] * 2


def test_import_then_export_round_trips_byte_for_byte(
    plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-c", str(plan), "db", "init"]) == 0
    log = file_log(tmp_path / "audit.jsonl", 25)
    assert main(["-c", str(plan), "db", "import", str(log)]) == 0
    assert "imported 25 events" in capsys.readouterr().out
    assert main(["-c", str(plan), "db", "import", str(log)]) == 1  # never into a non-empty rollout
    assert "already has 25 events" in capsys.readouterr().err
    out = tmp_path / "export.jsonl"
    assert main(["-c", str(plan), "db", "export", "-o", str(out)]) == 0
    assert out.read_bytes() == log.read_bytes()
    assert verify_file(out).ok
    assert main(["-c", str(plan), "db", "export"]) == 0
    assert capsys.readouterr().out.endswith(log.read_text())
    # the imported chain continues in PostgreSQL
    store = PgStore(str(__import__("os").environ["COCKPIT_DATABASE_URL"]), "alokickflow-phase2")
    assert store.append("note.added", {}, Actor("x", 1, "h"), store.read()[-1].time).seq == 26
    store.close()


def test_a_tampered_file_is_not_imported(plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(plan), "db", "init"]) == 0
    log = file_log(tmp_path / "audit.jsonl", 5)
    log.write_text(log.read_text().replace('"n2"', '"n2-edited"'))
    assert main(["-c", str(plan), "db", "import", str(log)]) == 1
    assert "line 3: edited" in capsys.readouterr().err
    assert main(["-c", str(plan), "db", "export"]) == 0
    assert capsys.readouterr().out == ""


def test_usage_errors_exit_2_with_one_line(
    plan: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-c", str(plan), "db", "import", str(tmp_path / "missing.jsonl")]) == 2
    assert capsys.readouterr().err.strip().endswith("missing.jsonl: no such file")
    monkeypatch.delenv("COCKPIT_DATABASE_URL")
    assert main(["-c", str(plan), "db", "init"]) == 2
    err = capsys.readouterr().err
    assert "COCKPIT_DATABASE_URL is not set" in err and "Traceback" not in err


def test_readonly_refuses_import_and_init(plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(plan), "db", "init"]) == 0
    log = file_log(tmp_path / "audit.jsonl", 2)
    assert main(["-c", str(plan), "--readonly", "db", "import", str(log)]) == 1
    assert main(["-c", str(plan), "--readonly", "db", "init"]) == 1
    assert capsys.readouterr().err.count("read-only") == 2


def test_status_reads_the_postgres_store(plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(plan), "db", "init"]) == 0
    assert main(["-c", str(plan), "note", "handing over to the night shift"]) == 0
    assert main(["-c", str(plan), "--readonly", "status"]) == 0
    out = capsys.readouterr().out
    assert "audit: 2 events" in out  # plan.changed (the first digest), then the note and "DEGRADED" not in out

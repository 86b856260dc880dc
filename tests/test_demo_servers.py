"""``cockpit demo``'s own PostgreSQL: started whatever TMPDIR is, usable by the Stage 1 checks, gone on exit."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import psycopg
import pytest

from cockpit.demo import Demo, find_pg_bin, reachable
from tests.servers import missing


def test_the_demo_postgres_starts_even_under_a_private_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root, PostgreSQL runs as 'postgres', which cannot enter a 0700 TMPDIR: it gets its own dir in /tmp."""
    if find_pg_bin() is None:
        missing("PostgreSQL binaries (initdb, pg_ctl) not found")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    with Demo(speed=1000, prometheus=False) as demo:
        assert demo.dir.parent == private
        assert demo.has_postgres, demo.notices()
        with psycopg.connect(os.environ["DATABASE_URL"], connect_timeout=10) as conn:
            assert conn.execute("SELECT count(*) FROM job_dlq").fetchone() == (0,)
            data_dir = Path(conn.execute("SHOW data_directory").fetchone()[0])  # type: ignore[index]
        if os.geteuid() == 0:
            assert not data_dir.is_relative_to(private)  # the fallback really was taken
        postmaster = Path(f"/proc/{(data_dir / 'postmaster.pid').read_text().split()[0]}")
    assert not data_dir.exists()
    assert not demo.dir.exists()
    try:  # gone, or a zombie waiting for init (whose argv is empty): either way no server
        assert str(data_dir).encode() not in (postmaster / "cmdline").read_bytes()
    except FileNotFoundError:
        pass


def test_reachable_follows_every_parent(tmp_path: Path) -> None:
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    (tmp_path / "a").chmod(0o700)
    nobody = 65534
    assert not reachable(inner, nobody, nobody)  # "a" is closed to others
    owner = inner.stat()
    assert reachable(inner, owner.st_uid, owner.st_gid) == reachable(tmp_path, owner.st_uid, owner.st_gid)
    (tmp_path / "a").chmod(0o711)  # now only what is above tmp_path decides
    assert reachable(inner, nobody, nobody) == reachable(tmp_path, nobody, nobody)
    assert reachable(Path("/"), nobody, nobody)

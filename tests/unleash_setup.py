"""Helpers for tests that drive flags on the real Unleash server fixture (``tests.servers.Unleash``)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from cockpit.clock import FakeClock
from cockpit.rollout import Rollout
from cockpit.store.filelog import FileStore
from tests.core_helpers import ALOK, example_plan, example_text
from tests.servers_unleash import Unleash


def unleash_rollout(tmp_path: Path, unleash: Unleash, *, token: str | None = None, keys: dict[str, str] | None = None,
                    environment: str = "production") -> Rollout:  # fmt: skip
    """The example plan with its flags on Unleash (``keys``: flag name -> Unleash key override)."""
    provider = (
        '[providers.app]\nkind = "unleash"\nurl = "${UNLEASH_URL}"\ntoken = "${UNLEASH_ADMIN_TOKEN}"\n'
        f'project = "{unleash.project}"\nenvironment = "{environment}"\ntimeout = "5s"\n\n'
    )
    text = re.sub(r"\[providers\.app\].*?(?=# An Unleash server instead)", provider, example_text(), flags=re.S)
    for name, key in (keys or {}).items():
        text = text.replace(f'name = "{name}"\nprovider = "app"', f'name = "{name}"\nprovider = "app"\nkey = "{key}"')
    env = {"UNLEASH_URL": unleash.url, "UNLEASH_ADMIN_TOKEN": token or unleash.admin_token}
    loaded = example_plan(env, text=text)
    return Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), clock=FakeClock(), actor=ALOK)


def switch_on(unleash: Unleash, name: str, environment: str = "production") -> None:
    """Turn a flag on directly through the admin API (setting the scene, not the code under test)."""
    url = f"{unleash.feature_path(name)}/environments/{environment}/on"
    httpx.post(url, headers=unleash.headers, timeout=10).raise_for_status()


def editor_token(unleash: Unleash, email: str = "editor@example.com", password: str = "Editor-pw-12345!") -> str:
    """A personal access token of an Editor (may change flags, may not skip change requests)."""
    r = httpx.post(f"{unleash.url}/api/admin/user-admin", headers=unleash.headers, timeout=10,
                   json={"email": email, "name": "Editor", "rootRole": "Editor", "password": password,
                         "sendEmail": False})  # fmt: skip
    if r.status_code not in (200, 201, 409) and "already" not in r.text:
        r.raise_for_status()
    with httpx.Client(base_url=unleash.url, timeout=10) as session:
        session.post("/auth/simple/login", json={"username": email, "password": password}).raise_for_status()
        pat = session.post("/api/admin/user/tokens", json={"description": "cockpit test", "expiresAt": "2099-01-01T00:00:00.000Z"})
        assert pat.status_code < 300, pat.text
        return str(pat.json()["secret"])

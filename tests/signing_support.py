"""Real SSH keys and agents for the signing tests: ``ssh-keygen`` makes them in a tmp dir, one real
``ssh-agent`` per person holds that person's key, and every agent is stopped (by its pid) at the end."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cockpit.plan.load import LoadedPlan
from tests.core_helpers import ENV, example_plan, example_text

PEOPLE = {"alice": "ed25519", "bob": "rsa", "carol": "ed25519", "mallory": "ed25519"}
"""mallory has a key but is not in allowed_signers."""
ROLES = {"dev-lead": "alice@example.com", "ops-oncall": "bob@example.com", "product-owner": "carol@example.com"}


@dataclass
class Keys:
    dir: Path
    allowed: Path
    agents: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def key(self, name: str) -> Path:
        return self.dir / name

    def sock(self, name: str) -> str:
        return str(self.dir / f"{name}.agent")

    def agent_env(self, name: str) -> dict[str, str]:
        """An environment whose SSH agent holds ``name``'s key (and nothing else)."""
        return {"SSH_AUTH_SOCK": self.sock(name)}

    def stop(self) -> None:
        for proc in self.agents.values():
            proc.terminate()
            proc.wait(5)


def make_keys(root: Path) -> Keys:
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, kind in PEOPLE.items():
        bits = ["-b", "2048"] if kind == "rsa" else []
        subprocess.run(
            ["ssh-keygen", "-q", "-t", kind, *bits, "-N", "", "-C", f"{name}@example.com", "-f", str(root / name)],
            check=True,
        )
        if name != "mallory":
            public = (root / f"{name}.pub").read_text().split()
            lines.append(f"{name}@example.com {public[0]} {public[1]}")
    allowed = root / "allowed_signers"
    allowed.write_text("# who may sign the cockpit's decisions\n" + "\n".join(lines) + "\n")
    keys = Keys(root, allowed)
    try:
        for name in PEOPLE:
            sock = keys.sock(name)
            keys.agents[name] = subprocess.Popen(["ssh-agent", "-D", "-a", sock], stdout=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while True:  # the socket file appears at bind(), a moment before the agent listens
                added = subprocess.run(
                    ["ssh-add", "-q", str(root / name)], env=keys.agent_env(name), capture_output=True, check=False
                )
                if added.returncode == 0:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"ssh-agent for {name}: ssh-add failed: {added.stderr.decode()}")
                time.sleep(0.02)
    except BaseException:
        keys.stop()
        raise
    return keys


def signed_plan(
    keys: Keys, *, require: bool = False, principals: bool = True, allowed: Path | None = None
) -> LoadedPlan:
    """The example plan with ``allowed_signers`` (``keys.allowed`` unless ``allowed``) and each role's
    principal (alice, bob, carol)."""
    text = example_text().replace(
        "allow_multiple_roles = false",
        f'allow_multiple_roles = false\nallowed_signers = "{allowed or keys.allowed}"\n'
        f"require_signatures = {'true' if require else 'false'}",
        1,
    )
    if principals:
        for role, principal in ROLES.items():
            text = text.replace(f'role = "{role}"', f'role = "{role}"\nprincipals = ["{principal}"]', 1)
    return example_plan(text=text)


def write_plan(tmp_path: Path, allowed: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example plan on disk (``$COCKPIT_CONFIG``) with ``allowed`` and each role's principal; the log
    in ``tmp_path``. One OS user may sign several roles here (the CLI runs as this process's user): the
    keys tell the people apart."""
    text = example_text().replace(
        "allow_multiple_roles = false",
        f'allow_multiple_roles = true\nallowed_signers = "{allowed}"\naudit_log = "{tmp_path}/audit.jsonl"',
        1,
    )
    for role, principal in ROLES.items():
        text = text.replace(f'role = "{role}"', f'role = "{role}"\nprincipals = ["{principal}"]', 1)
    path = tmp_path / "cockpit.toml"
    path.write_text(text)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COCKPIT_CONFIG", str(path))
    return path

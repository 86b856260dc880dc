"""Real SSH keys and agents for the signing tests: ``ssh-keygen`` makes them in a tmp dir, one real
``ssh-agent`` per person holds that person's key, and every agent is stopped (by its pid) at the end."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cockpit import events as ev
from cockpit.clock import FakeClock
from cockpit.events import Actor, Event
from cockpit.plan.load import LoadedPlan
from cockpit.rollout import Rollout
from cockpit.signing import Signatures
from cockpit.store.filelog import FileStore
from cockpit.store.witness import Head, record_in_db, write_witness
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


def rollout_as(
    tmp_path: Path, loaded: LoadedPlan, actor: Actor, environ: dict[str, str], clock: FakeClock | None = None
) -> Rollout:
    """One person's cockpit on the shared log: their OS user, their agent (or none)."""
    return Rollout(
        loaded,
        FileStore(tmp_path / "audit.jsonl"),
        clock=clock or FakeClock(),
        actor=actor,
        signatures=Signatures(loaded, environ=environ),
    )


def fingerprint(pub: Path) -> str:
    return subprocess.run(
        ["ssh-keygen", "-l", "-f", str(pub)], capture_output=True, text=True, check=True
    ).stdout.split()[1]


def rewrite(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    """What someone with write access can do: change events, then recompute every hash of the chain."""
    events = [Event.from_dict(json.loads(line)) for line in path.read_text().splitlines()]
    prev = ev.GENESIS
    out = []
    for event in events:
        event = change(event) or event
        event = Event(event.seq, event.time, event.actor, event.type, event.payload, prev, "", event.sig)
        event = Event(
            event.seq, event.time, event.actor, event.type, event.payload, prev, ev.event_hash(event), event.sig
        )
        out.append(event.to_line() + "\n")
        prev = event.hash
    path.write_text("".join(out))
    # and, as that attacker can, the head's witnesses (the sidecar, every history database near the log):
    # what is left to catch the rewrite is the signatures (the witness alone would say "not the event acknowledged")
    head = Head(event.seq, event.hash, ev.format_time(event.time))
    write_witness(path, head)
    for db in path.parent.rglob("history.sqlite3"):
        record_in_db(db, path, head)


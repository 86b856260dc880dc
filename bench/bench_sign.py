"""Benchmark: the cost of a signed approval over an unsigned one, with a real ssh-agent (goal: <= 50 ms more).

An approval is ``Rollout.approve`` on a file log with fsync (each is followed by a revoke, not timed,
so the next can be signed). Also: checking one signature (the gate's first look; later looks are cached)
and the gate with ``require_signatures`` once cached.

Run: .venv/bin/python bench/bench_sign.py [--rounds N] [--key ed25519|rsa]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from cockpit.clock import FakeClock
from cockpit.events import Actor
from cockpit.plan.load import parse_plan
from cockpit.rollout import Rollout
from cockpit.signing import Signatures, check_event
from cockpit.signing import check as check_module
from cockpit.store.filelog import FileStore

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.toml"
ENV = {"APP_TOKEN": "bench-token"}
ACTOR = Actor("bench", 1000, "host")


def start_agent(tmp: Path, kind: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
    key = tmp / "key"
    bits = ["-b", "3072"] if kind == "rsa" else []
    subprocess.run(["ssh-keygen", "-q", "-t", kind, *bits, "-N", "", "-C", "bench", "-f", str(key)], check=True)
    sock = tmp / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while subprocess.run(["ssh-add", "-q", str(key)], env={"SSH_AUTH_SOCK": str(sock)}, capture_output=True,
                         check=False).returncode != 0:  # fmt: skip
        if time.monotonic() > deadline:
            agent.terminate()
            raise SystemExit("ssh-agent did not start")
        time.sleep(0.02)
    allowed = tmp / "allowed_signers"
    public = (tmp / "key.pub").read_text().split()
    allowed.write_text(f"bench@example.com {public[0]} {public[1]}\n")
    return agent, sock, allowed


def time_approvals(tmp: Path, name: str, rounds: int, allowed: Path, environ: dict[str, str]) -> list[float]:
    text = EXAMPLE.read_text().replace(
        "allow_multiple_roles = false", f'allow_multiple_roles = false\nallowed_signers = "{allowed}"', 1
    )
    loaded = parse_plan(text, str(EXAMPLE), ENV, base=EXAMPLE)
    rollout = Rollout(
        loaded,
        FileStore(tmp / f"{name}.jsonl"),
        clock=FakeClock(),
        actor=ACTOR,
        signatures=Signatures(loaded, environ=environ),
    )
    rollout.approve("dev-lead")  # the first reads the agent's keys once: not what an operator waits for twice
    rollout.revoke("dev-lead")
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        event = rollout.approve("dev-lead")
        times.append((time.perf_counter() - t) * 1000)
        assert (event.sig is not None) == bool(environ), rollout.signatures.warning
        rollout.revoke("dev-lead")
    return times


def p95(values: list[float]) -> float:
    return sorted(values)[max(int(len(values) * 0.95) - 1, 0)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--key", choices=("ed25519", "rsa"), default="ed25519")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        agent, sock, allowed = start_agent(tmp, args.key)
        try:
            unsigned = time_approvals(tmp, "unsigned", args.rounds, allowed, {})
            signed = time_approvals(tmp, "signed", args.rounds, allowed, {"SSH_AUTH_SOCK": str(sock)})
            events = [e for e in FileStore(tmp / "signed.jsonl").read() if e.sig is not None]
            check_times = []
            for event in events[: args.rounds]:
                check_module._CACHE.clear()
                t = time.perf_counter()
                verdict = check_event(event, allowed)
                check_times.append((time.perf_counter() - t) * 1000)
                assert verdict.counts, verdict.message
            for event in events[: args.rounds]:
                check_event(event, allowed)  # each verdict cached once
            t = time.perf_counter()
            for event in events[: args.rounds]:
                check_event(event, allowed)
            cached = (time.perf_counter() - t) * 1000 / max(len(events[: args.rounds]), 1)
        finally:
            agent.terminate()
            agent.wait(5)
    mu, ms = statistics.median(unsigned), statistics.median(signed)
    print(f"key: {args.key}, agent: ssh-agent, {args.rounds} approvals each (file log, fsync)")
    print(f"unsigned approval: median {mu:6.2f} ms  p95 {p95(unsigned):6.2f} ms")
    print(f"signed approval:   median {ms:6.2f} ms  p95 {p95(signed):6.2f} ms")
    print(f"signing adds:      median {ms - mu:6.2f} ms  p95 {p95(signed) - p95(unsigned):6.2f} ms  (goal <= 50 ms)")
    print(f"checking a signature (first look, ssh-keygen): median {statistics.median(check_times):6.2f} ms")
    print(f"checking a signature again (cached, each gate redraw): {cached:6.3f} ms")
    print("PASS" if ms - mu <= 50 else "FAIL: signing adds more than 50 ms")


if __name__ == "__main__":
    main()

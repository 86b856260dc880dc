"""Checking every decision of a log offline: ``cockpit audit verify`` and ``cockpit export --verify``.

A whole-file rewrite with recomputed hashes is caught wherever it touches a signed decision: each
signature covers its event and the previous event's hash, so changing anything up to a signed
decision breaks that signature, and a forged decision has no signature by an allowed key.
Anchors (:mod:`cockpit.signing.anchor`) catch what no signature covers: a log cut short.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.events import Event
from cockpit.plan.model import Plan
from cockpit.signing.anchor import Anchor, check_anchor, check_anchor_signature
from cockpit.signing.check import Status, Verdict, check_event, is_decision, role_principals

FAILING = frozenset({Status.BAD, Status.NOT_ALLOWED})
"""Always a failure: a signature that does not match, or a key not allowed for the decision."""


@dataclass(frozen=True)
class Finding:
    """One decision whose signature is not good and allowed."""

    seq: int
    type: str
    verdict: Verdict

    def __str__(self) -> str:
        return f"event {self.seq} ({self.type}): {self.verdict.status.value}: {self.verdict.message}"


@dataclass
class SignatureReport:
    decisions: int = 0
    valid: int = 0
    findings: list[Finding] = field(default_factory=list)
    verdicts: dict[int, Verdict] = field(default_factory=dict)
    """The verdict on each decision, by seq (the export shows them)."""

    def failed(self, required: bool) -> list[Finding]:
        """The findings that fail the check (unsigned ones too when signatures are ``required``)."""
        failing = FAILING | ({Status.UNSIGNED, Status.UNVERIFIED} if required else set())
        return [f for f in self.findings if f.verdict.status in failing]

    def summary(self) -> str:
        counts: dict[Status, int] = {}
        for f in self.findings:
            counts[f.verdict.status] = counts.get(f.verdict.status, 0) + 1
        rest = "".join(f", {n} {status.value}" for status, n in counts.items())
        return f"signatures: {self.decisions} decisions, {self.valid} signed by an allowed key{rest}"


def check_decisions(events: Iterable[Event], plan: Plan | None, allowed_signers: Path | None) -> SignatureReport:
    """The verdict on every decision of ``events`` (``plan``: whose principals may sign each role)."""
    report = SignatureReport()
    for event in events:
        if not is_decision(event.type, event.payload):
            continue
        report.decisions += 1
        verdict = check_event(event, allowed_signers, role_principals(plan, event.type, event.payload))
        report.verdicts[event.seq] = verdict
        if verdict.counts:
            report.valid += 1
        else:
            report.findings.append(Finding(event.seq, event.type, verdict))
    return report


def check_anchors(events: Iterable[Event], anchors: Iterable[Anchor], allowed_signers: Path | None) -> list[str]:
    """Problems with ``anchors`` against ``events`` (an intact chain): each one the log no longer holds,
    or whose own signature is bad or by a key not allowed."""
    hashes = {e.seq: e.hash for e in events}
    problems = []
    for anchor in anchors:
        if why := check_anchor(hashes, anchor):
            problems.append(why)
        verdict = check_anchor_signature(anchor, allowed_signers)
        if verdict.status in FAILING:
            problems.append(f"anchor {anchor.seq}:{anchor.hash[:16]}: {verdict.message}")
    return problems

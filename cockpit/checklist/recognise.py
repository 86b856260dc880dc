"""Recognisers: what a heading, an item, a table or a code block of a checklist means for the plan.

Each is a small pure function over text; :mod:`cockpit.checklist.mapping` walks the blocks and calls them.
They recognise the shapes rollout checklists are written in (the seed's, and the usual variants: "Phase 2",
"Step 3", "1.", "Rollback", "Smoke tests", "Wait 48 hours", "Ramp to 50%") and nothing more: what they
cannot read stays text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta

from cockpit.plan.parts import format_duration

STAGE_HEADING = re.compile(r"^(?:(stage|phase|step|wave|part|milestone)\s*#?\s*(\d+)\b|(\d+)[.)]\s)", re.I)

_SPECIAL = (
    ("approvals", re.compile(r"approv|go\s*/\s*no[- ]go|sign[- ]?off", re.I)),
    ("contacts", re.compile(r"contacts?\b|who to call|escalation", re.I)),
    ("incident", re.compile(r"incident|emergency|if (?:things|it|something) go(?:es)? wrong", re.I)),
)
_SUBSECTION = (
    ("signoff", re.compile(r"sign[- ]?off", re.I)),
    ("contacts", re.compile(r"who to call|contacts?\b|escalat", re.I)),
    ("backout", re.compile(r"back[- ]?out|roll[- ]?back|revert|undo|abort", re.I)),
    ("verification", re.compile(r"verif|validat|\bchecks?\b|smoke|\btests?\b|health", re.I)),
    ("prereq", re.compile(r"pre-?req|requires|depends|before you (?:start|begin)", re.I)),
)


def special_section(title: str) -> str:
    """``approvals``, ``contacts``, ``incident`` for a top-level heading naming one, else ``""``."""
    return next((kind for kind, rx in _SPECIAL if rx.search(title)), "")


def subsection_kind(title: str) -> str:
    """What a heading inside a stage announces: ``verification``, ``backout``, ``prereq``, ``contacts``,
    ``signoff``, or ``""`` (actions, canary weeks, wait periods: their lines are items)."""
    return next((kind for kind, rx in _SUBSECTION if rx.search(title)), "")


def stage_id(title: str) -> str:
    """``stage-2`` for "Stage 2: …", ``phase-1`` for "Phase 1 …", ``step-3`` for "3. …"; else a slug."""
    m = STAGE_HEADING.match(title)
    if m and m[1]:
        return f"{m[1].lower()}-{m[2]}"
    if m and m[3]:
        return f"step-{m[3]}"
    return slug(title, max_words=4) or "stage"


def slug(text: str, *, sep: str = "-", max_words: int = 5, join_hyphens: bool = False) -> str:
    """Lower-case ASCII words joined by ``sep``: "Ops On-Call" -> ``ops-on-call`` (``ops-oncall`` with
    ``join_hyphens``). Empty when the text has no letters or digits."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    if join_hyphens:
        ascii_text = re.sub(r"(?<=[a-z0-9])-(?=[a-z0-9])", "", ascii_text)
    words = re.findall(r"[a-z0-9]+", ascii_text)[:max_words]
    return sep.join(words)[:60].strip(sep)


def unique(base: str, taken: set[str]) -> str:
    """``base``, or ``base-2``, ``base-3``… whichever is free; the result is added to ``taken``."""
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name)
    return name


# --------------------------------------------------------------------------- header fields

_FIELD = re.compile(r"^\s*([A-Za-z][A-Za-z /_-]{0,30}?)\s*:\s*(.*?)\s*$")
FIELD_KEYS = {
    "service": ("service", "system", "component", "application", "app", "feature", "product", "project"),
    "version": ("version", "release", "build", "tag"),
    "date": ("date", "when", "scheduled", "window", "planned"),
}


def header_field(line: str) -> tuple[str, str] | None:
    """``("service", "AlokickFlow…")`` for "Service: AlokickFlow…"; None for other lines."""
    m = _FIELD.match(line)
    if not m or not m[2]:
        return None
    key = m[1].strip().lower()
    for name, words in FIELD_KEYS.items():
        if key in words:
            return name, m[2]
    return None


# --------------------------------------------------------------------------- flags, canary, soaks

FLAG = re.compile(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\s*=\s*(true|false|on|off|enabled|disabled|1|0)\b", re.I)
_ON = ("true", "on", "enabled", "1")


def flag_mentions(text: str) -> list[tuple[str, bool]]:
    """``[("FEATURE_FLAG_DLQ_ENABLED", True)]`` for "Set `FEATURE_FLAG_DLQ_ENABLED=true` in staging"."""
    return [(m[1], m[2].lower() in _ON) for m in FLAG.finditer(text) if m[1].upper() == m[1]]


_ARROW = re.compile(r"→|->|=>|⇒|\bto\b|\bthen\b", re.I)
_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")
STEP_ITEM = re.compile(
    r"^(?:increase|ramp(?:\s+up)?|roll\s*out|expand|go|move|raise|bump|set(?:\s+rollout)?)\s+(?:\w+\s+)?(?:to|at)\s+"
    r"(\d{1,3})\s*%\s*\.?$",
    re.I,
)
VIA_ROLLOUT = re.compile(r"via rollout\s*%|rollout percentage|gradual rollout", re.I)


def percents(text: str) -> list[int]:
    """Whole percentages between 0 and 100 mentioned in ``text``, in order."""
    out = []
    for m in _PERCENT.finditer(text):
        value = float(m[1])
        if 0 < value <= 100 and value == int(value):
            out.append(int(value))
    return out


def ramp(title: str) -> list[int]:
    """``[5, 100]`` for "Enable DLQ (5% → 100%)": a sequence of percentages joined by arrows."""
    found = percents(title)
    return found if len(found) >= 2 and _ARROW.search(title) else []


_UNITS = {
    "ms": None, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800, "weeks": 604800,
}  # fmt: skip
DURATION = re.compile(
    r"(\d+(?:\.\d+)?)\s*(" + "|".join(sorted((u for u in _UNITS if u != "ms"), key=len, reverse=True)) + r")\b", re.I
)
SOAK_ITEM = re.compile(r"^(?:wait|soak|bake|monitor|observe|hold|let it (?:run|soak))\b", re.I)
HEALTHY_FOR = re.compile(r"^verify\s+(\d{1,3})\s*%.*\b(?:healthy|stable)\b.*\bfor\b", re.I)


def duration(text: str) -> timedelta | None:
    """The first duration in ``text``: "24 hours" -> 24 h, "48h", "30 minutes", "1 week"."""
    m = DURATION.search(text)
    if not m:
        return None
    return timedelta(seconds=float(m[1]) * (_UNITS[m[2].lower()] or 1))


def soak_of(text: str) -> timedelta | None:
    """The soak a "Wait 24 hours…" / "Monitor for 48h" line asks for; None for other lines."""
    if not SOAK_ITEM.match(text):
        return None
    found = duration(text)
    return found if found and found.total_seconds() > 0 else None


# --------------------------------------------------------------------------- stages and incident

STAGE_MENTION = re.compile(r"\b(stage|phase|step|wave)\s*#?\s*(\d+)\b", re.I)
REQUIRES = re.compile(r"\b(?:requires?|after|once|depends on|only when|following)\b", re.I)
ALL_FLAGS = re.compile(r"\ball (?:the )?(?:feature )?flags\b", re.I)
BASELINE = re.compile(r"\bbaseline\b", re.I)
IRREVERSIBLE = re.compile(
    r"irreversible|point of no return|cannot be (?:undone|rolled back)|no (?:way )?back|one[- ]way|no rollback", re.I
)
MIGRATION = re.compile(r"\bmigrat|\bschema\b|\bupgrade\b", re.I)

_DEADLINE = re.compile(
    r"^(?:(?P<now>immediately|at once|right away|now)|within\s+(?P<n>\d+(?:\.\d+)?)\s*(?P<u>[a-z]+))\s*:?\s*(?P<rest>.*)$",
    re.I | re.S,
)
DISABLE = re.compile(r"\b(?:disable|turn off|switch off|kill)\b.*\bflag|\bflags?\b.*\boff\b|kill switch", re.I)


@dataclass
class Deadline:
    label: str
    deadline: timedelta
    rest: str
    ident: str = field(default="")


def deadline(text: str) -> Deadline | None:
    """ "Within 5 minutes: Page on-call" -> label "Within 5 minutes", 5 min, rest "Page on-call"."""
    m = _DEADLINE.match(text.strip())
    if not m:
        return None
    if m["now"]:
        label = m["now"][0].upper() + m["now"][1:]
        return Deadline(label, timedelta(0), m["rest"].strip(), slug(m["now"]) or "immediately")
    unit = _UNITS.get(m["u"].lower())
    if unit is None:
        return None
    delta = timedelta(seconds=float(m["n"]) * unit)
    label = text.strip()[: m.start("rest")].strip().rstrip(":").strip()
    return Deadline(label, delta, m["rest"].strip(), f"within-{format_duration(delta)}")


# --------------------------------------------------------------------------- tables

THRESHOLD_COLUMN = re.compile(r"threshold|limit|target|\bslo\b|budget|alert (?:at|when)|max(?:imum)?\b", re.I)
LABEL_COLUMN = re.compile(r"metric|signal|indicator|measure|\bkpi\b|\bsli\b", re.I)
HANDLE_COLUMN = re.compile(r"approver|\bwho\b|\bname\b|person|owner|handle|contact", re.I)
ROLE_COLUMN = re.compile(r"role|title|function|team|capacity", re.I)
ISSUE_COLUMN = re.compile(r"issue|problem|\bfor\b|area|\bwhen\b|what|topic|situation|system", re.I)
CONTACT_COLUMN = re.compile(r"contact|\bwho\b|\bname\b|person|owner|team", re.I)
METHOD_COLUMN = re.compile(r"method|\bhow\b|channel|\bvia\b|means|reach", re.I)


def column(header: list[str], rx: re.Pattern[str], *, avoid: tuple[int, ...] = ()) -> int | None:
    """Index of the first header cell matching ``rx`` (not one of ``avoid``)."""
    return next((i for i, cell in enumerate(header) if i not in avoid and rx.search(cell)), None)


def threshold_text(cell: str) -> str:
    """A threshold cell as the plan's grammar reads it: backticks gone, ``≤`` as ``<=``, ``5 / hour`` kept."""
    text = cell.strip().strip("`").strip()
    return text.replace("≤", "<=").replace("≥", ">=").replace("≠", "!=").replace("＜", "<").replace("＞", ">")


_RELATIVE_WORDS = {"change", "regression", "increase", "decrease", "delta", "drift", "growth", "vs", "baseline"}


def metric_name(label: str, relative: bool, known: list[str]) -> str:
    """A metric name for a threshold row's label: "Error rate" -> ``error_rate``. A relative row
    ("Error rate change", "Latency regression") reuses the metric its words name ("p99_latency")."""
    words = slug(label, sep=" ", max_words=8).split()
    if relative:
        core = [w for w in words if w not in _RELATIVE_WORDS] or words
        exact = "_".join(core)
        if exact in known:
            return exact
        holding = [k for k in known if set(core) <= set(k.split("_"))]
        if len(holding) == 1:
            return holding[0]
        words = core
    name = "_".join(words)[:60].strip("_")
    if not name or not name[0].isalnum():
        name = "metric" + (f"_{name}" if name else "")
    return name


def contact_method(contact: str, known: dict[str, str]) -> str:
    """How to reach ``contact``: as the contacts table says, else "Email" for an address, "Phone" for a number."""
    if contact.lower() in known:
        return known[contact.lower()]
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", contact, re.I):
        return "Email"
    if re.fullmatch(r"\+?[\d\s().-]{7,}", contact):
        return "Phone"
    return ""

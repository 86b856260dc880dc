"""The dashboard's actions, one registry: each action's id, default key, label, description and whether it
writes. The Textual bindings, the help screen, the palette, the key bar, ``--readonly`` (no action that
writes) and the plan's ``[keys]`` table (checked here, as the core never imports the screens) all read it.
When an action is offered and can be used, and why not, depends on the rollout's state:
:mod:`cockpit.controls` answers that, by these ids (the dashboard's ``check_action`` asks it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    """One thing an operator can do from the dashboard."""

    id: str
    """What the plan's ``[keys]`` table remaps (``kill = "ctrl+k"``)."""
    key: str
    """The default key, in Textual's spelling."""
    label: str
    """Its word in the key bar."""
    description: str
    """What it does, for the help screen and the command palette."""
    writes: bool = False
    """It appends to the record (or drives a flag): never offered by ``cockpit --readonly``."""
    app: bool = False
    """An action of the App itself (help, quit), not of the dashboard screen."""
    tooltip: str = ""


ACTIONS: tuple[Action, ...] = (
    Action(
        "kill",
        "K",
        "KILL",
        "Kill switch: turn every flag off now and verify",
        writes=True,
        tooltip="Turn every flag off now, verify, show the result",
    ),
    Action("help", "question_mark", "Help", "Help: keys and what the screen shows", app=True),
    Action("quit", "q", "Quit", "Quit (nothing is lost: reopening rebuilds from the log)", app=True),
    Action("approve", "a", "Approve", "Approve: sign an approval role as yourself", writes=True),
    Action("revoke", "r", "Revoke", "Revoke an approval", writes=True),
    Action("tick", "t", "Tick", "Tick a checklist item of the current stage", writes=True),
    Action("note", "n", "Note", "Add a note to the record", writes=True),
    Action("baseline", "b", "Baseline", "Capture the baseline metrics", writes=True),
    Action("verify", "v", "Verify", "Run the current stage's verification checks", writes=True),
    Action("advance", "g", "Advance", "Advance to the next stage (gate-checked)", writes=True),
    Action("override", "o", "Override", "Override a closed gate with a typed reason", writes=True),
    Action("canary", "c", "Canary", "Take the next canary step (type the flag name to confirm)", writes=True),
    Action("cancel_autokill", "x", "Stop auto-kill", "Cancel the auto-kill countdown", writes=True),
    Action(
        "demo_flood", "f", "Fault", "Demo: inject the fault this stage judges (DLQ flood, heartbeat misses)", writes=True
    ),
    Action("incident", "i", "Incident", "Open the incident view"),
    Action("audit", "l", "Audit", "Open the audit log"),
    Action("export", "e", "Export", "Export the sign-off document", writes=True),
)
"""Every dashboard action, in the key bar's order."""

BY_ID: dict[str, Action] = {a.id: a for a in ACTIONS}
DEFAULT_KEYS: dict[str, str] = {a.id: a.key for a in ACTIONS}
"""Action id to default key (what ``[keys]`` may remap)."""
WRITES: frozenset[str] = frozenset(a.id for a in ACTIONS if a.writes)
"""Actions that write (none is offered by ``cockpit --readonly``)."""

RESERVED = {"ctrl+p": "the command palette", "ctrl+c": "copy / interrupt", "escape": "closing a screen"}
"""Keys the App itself uses: no action may be remapped onto them."""

_ALIASES = {"?": "question_mark", " ": "space"}


def key_names(keys: str) -> list[str]:
    """The keys of one binding (Textual takes ``"K,ctrl+k"``), each in Textual's spelling."""
    names = [k.strip() for k in keys.split(",")]
    return [_ALIASES.get(k, k) for k in names if k]


def keymap_problems(keys: dict[str, str]) -> list[tuple[str, str]]:
    """Unknown action ids, empty keys, and keys bound twice once the plan's ``[keys]`` are applied."""
    problems: list[tuple[str, str]] = []
    effective = {**DEFAULT_KEYS}
    for action, key in keys.items():
        if action not in DEFAULT_KEYS:
            problems.append((f"keys.{action}", f"unknown action {action!r}; actions are: {', '.join(DEFAULT_KEYS)}"))
        elif not key_names(key):
            problems.append((f"keys.{action}", "no key given"))
        else:
            effective[action] = key
    bound: dict[str, str] = {}
    for action, key in effective.items():
        for name in key_names(key):
            if name in RESERVED and action in keys:
                problems.append((f"keys.{action}", f"{name!r} is {RESERVED[name]}"))
            elif name in bound:
                other = bound[name]
                where = action if action in keys else other
                problems.append((f"keys.{where}", f"{name!r} is bound twice: to {other} and to {action}"))
            else:
                bound[name] = action
    return problems

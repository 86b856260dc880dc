"""The dashboard's default keys by action id: what the plan's ``[keys]`` table may remap, and to what.

The Textual bindings (``screens.actions.BINDINGS``) carry the same ids and keys (a test holds them equal);
the plan is checked here because the core never imports the screens.
"""

from __future__ import annotations

DEFAULT_KEYS: dict[str, str] = {
    "kill": "K",
    "help": "question_mark",
    "quit": "q",
    "approve": "a",
    "revoke": "r",
    "tick": "t",
    "note": "n",
    "baseline": "b",
    "verify": "v",
    "advance": "g",
    "override": "o",
    "canary": "c",
    "cancel_autokill": "x",
    "demo_flood": "f",
    "incident": "i",
    "audit": "l",
    "export": "e",
}
"""Action id to key, as ``screens.actions.BINDINGS`` binds them."""

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

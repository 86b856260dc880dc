"""What the kill switch needs of the plan, and nothing more: flags, providers, where the audit log is.

``cockpit kill`` must run whenever it physically can. A syntax error in ``[[stages]]``, an unset
``${SLACK_WEBHOOK}`` in ``[notify]`` or one provider whose token is missing must not keep the other
flags on. :func:`load_kill_plan` first tries the whole plan; when that fails it reads the plan again
part by part (a TOML syntax error costs only the top-level table it sits in) and keeps:

- ``[rollout]`` (where the audit log is), ``[defaults]`` (``kill_deadline``), ``[[flags]]``,
  ``[providers]``, each stage's ``flags``/``backout``/``irreversible`` (the manual backout),
  ``[[incident]]`` and ``[notify]`` when they are sound;
- a provider that is invalid, unknown or has an unset ``${VAR}`` is *unresolved*: its flags are
  reported "MAY STILL BE ON: UNLEASH_TOKEN is not set" with their backout, the others are driven.

Everything dropped is named in :attr:`KillPlan.ignored`, which the CLI prints on one line.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from cockpit.plan.load import ConfigError, LoadedPlan, Problem, load_plan, read_plan_text
from cockpit.plan.model import (
    CommandProvider,
    Defaults,
    Flag,
    IncidentStep,
    Notify,
    Plan,
    Provider,
    RolloutSettings,
    Stage,
    dec_hook,
)
from cockpit.secrets import Env, references

KEPT = ("rollout", "defaults", "flags", "providers", "stages", "incident", "notify")
"""The top-level tables a kill reads; every other table is ignored when the whole plan does not load."""

_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_\-\"']+)")


@dataclass(frozen=True)
class KillPlan:
    """The plan as far as the kill is concerned.

    Attributes:
        loaded: The whole plan when it loads; otherwise a plan of the parts the kill needs.
        complete: The whole plan loaded (nothing ignored).
        ignored: What was left out, one phrase each ("[notify] webhooks: SLACK_URL is not set").
        unresolved: Provider name -> why its flags cannot be driven ("UNLEASH_TOKEN is not set").
        store_problem: Why the audit log cannot be opened from this plan ("" when it can).
        undriven: Flag entries that could not be read at all (each one line).
    """

    loaded: LoadedPlan
    complete: bool
    ignored: tuple[str, ...] = ()
    unresolved: dict[str, str] = field(default_factory=dict)
    store_problem: str = ""
    undriven: tuple[str, ...] = ()
    """Flags of the plan that could not be read, so not driven: the kill cannot say all are off."""


def load_kill_plan(path: Path | str, environ: Mapping[str, str] | None = None) -> KillPlan:
    """The plan at ``path`` for a kill; raise :class:`ConfigError` only when no flag can be found at all
    (no file, not UTF-8, no ``[[flags]]`` that can be read)."""
    try:
        return KillPlan(load_plan(path, environ), complete=True)
    except ConfigError as whole:
        path = Path(path)
        try:
            text = read_plan_text(path)  # no file, a device, too big, not UTF-8: nothing to salvage
        except ConfigError:
            raise whole from None
        return salvage(text, str(path), environ, base=path, problems=whole.problems)


def salvage(
    text: str,
    name: str,
    environ: Mapping[str, str] | None = None,
    *,
    base: Path | None = None,
    problems: list[Problem] | None = None,
) -> KillPlan:
    """The kill's parts of a plan that does not load as a whole (see the module docstring)."""
    env = Env(environ)
    data, ignored, undriven, unreadable = _tolerant_toml(text)
    # the whole plan's problems, but those of flags and providers: they are reported flag by flag
    ignored += [
        f"line {p.line}: {p.key}: {p.message}" if p.key else f"line {p.line}: {p.message}"
        for p in problems or []
        if not p.message.startswith("invalid TOML") and not p.key.startswith(("flags", "providers"))
    ]
    kept = {key: data[key] for key in KEPT if key in data}

    unresolved: dict[str, str] = dict(unreadable)
    providers: dict[str, Provider] = dict.fromkeys(unreadable, _STAND_IN)
    raw_providers = kept.get("providers") if isinstance(kept.get("providers"), dict) else {}
    for pname, raw in (raw_providers or {}).items():
        try:
            providers[pname] = msgspec.convert(raw, Provider, dec_hook=dec_hook)  # type: ignore[arg-type]
        except msgspec.ValidationError as exc:
            unresolved[pname] = f"provider {pname!r} is invalid: {exc}"
            providers[pname] = _STAND_IN
            continue
        unset = sorted({n for s in _strings(raw) for n in env.check(s)})
        if unset:
            unresolved[pname] = _unset_words(unset)

    flags: list[Flag] = []
    raw_flags = kept.get("flags") if isinstance(kept.get("flags"), list) else []
    for i, raw in enumerate(raw_flags or []):
        try:
            flag = msgspec.convert(raw, Flag, dec_hook=dec_hook)
        except msgspec.ValidationError as exc:
            label = raw.get("name", f"flags.{i}") if isinstance(raw, dict) else f"flags.{i}"
            undriven.append(f"{label}: its [[flags]] entry is invalid ({exc})")
            continue
        if any(f.name == flag.name for f in flags):
            ignored.append(f"flag {flag.name}: a second [[flags]] entry of that name")
            continue
        if flag.provider not in providers:
            unresolved.setdefault(flag.provider, f"unknown provider {flag.provider!r}")
            providers[flag.provider] = _STAND_IN
        flags.append(flag)
    if not flags:
        raise ConfigError(problems or [Problem(name, 1, "flags", "no [[flags]] could be read")])

    rollout, store_problem = _piece(kept, "rollout", RolloutSettings, None, ignored)
    if rollout is None:
        rollout = RolloutSettings(id="unknown-rollout", service="", version="")
        store_problem = store_problem or "[rollout] is missing"
    unset = sorted({n for s in _strings(kept.get("rollout", {})) for n in env.check(s)})
    if unset:
        store_problem = f"[rollout] {_unset_words(unset)}"
    defaults, _ = _piece(kept, "defaults", Defaults, Defaults(), ignored)
    notify, _ = _piece(kept, "notify", Notify, Notify(), ignored)
    unset = sorted({n for s in _strings(kept.get("notify", {})) for n in env.check(s)})
    if unset:
        ignored.append(f"[notify] ({_unset_words(unset)})")
        notify = Notify()
    incident = _incident(kept.get("incident"), ignored)
    stages = tuple(_stages(kept.get("stages"), {f.name for f in flags}, ignored))

    plan = Plan(
        rollout=rollout,
        defaults=defaults or Defaults(),
        approvers=(),
        stages=stages,
        flags=tuple(flags),
        providers=providers,
        incident=incident,
        notify=notify or Notify(),
    )
    env.learn(n for s in _strings(kept) for n, _d in references(s))
    loaded = LoadedPlan(plan, (base or Path(name)).resolve(), env)
    return KillPlan(loaded, False, tuple(dict.fromkeys(ignored)), unresolved, store_problem, tuple(undriven))


_STAND_IN = CommandProvider(off="", read="")
"""Holds an unresolved provider's place in the plan (flags must name a provider); never called."""


def _unset_words(names: list[str]) -> str:
    return ", ".join(names) + (" is not set" if len(names) == 1 else " are not set")


def _tolerant_toml(text: str) -> tuple[dict[str, Any], list[str], list[str], dict[str, str]]:
    """The TOML document; on a syntax error, each top-level table parsed on its own (the broken ones left out).

    ``[[flags]]`` and ``[providers]`` are parsed table by table, so one broken entry costs only itself.
    Returns (data, ignored, flags that cannot be driven, providers that cannot be read -> why).
    """
    try:
        return tomllib.loads(text), [], [], {}
    except tomllib.TOMLDecodeError:
        pass
    data: dict[str, Any] = {}
    ignored: list[str] = []
    undriven: list[str] = []
    unreadable: dict[str, str] = {}
    for key, start, chunk in _groups(text):
        try:
            part = tomllib.loads(chunk)
        except tomllib.TOMLDecodeError as exc:
            line = _error_line(exc, start)
            if key not in ("flags", "providers"):
                ignored.append(f"[{key}] (invalid TOML at line {line})" if key else f"line {line} (invalid TOML)")
                continue
            part = {}
            for first, header, table in _tables(chunk):
                try:
                    piece = tomllib.loads(table)
                except tomllib.TOMLDecodeError as bad:
                    where = _error_line(bad, first)
                    if key == "flags":
                        undriven.append(f"the [[flags]] entry at line {first} is not valid TOML (line {where})")
                    else:
                        name = header.split(".", 1)[1] if "." in header else header
                        unreadable[name] = f"its [{header}] table is not valid TOML (line {where})"
                    continue
                if key == "flags":
                    part.setdefault("flags", []).extend(piece.get("flags", []))
                else:
                    part.setdefault("providers", {}).update(piece.get("providers", {}))
        for k, v in part.items():
            if k not in data:
                data[k] = v
    return data, ignored, undriven, unreadable


def _error_line(exc: tomllib.TOMLDecodeError, start: int) -> int:
    where = re.search(r"line (\d+)", str(exc))
    return int(where[1]) if where else start


def _tables(chunk: str) -> Iterator[tuple[int, str, str]]:
    """(first line, header name, text) of each table of a group's text; line numbers kept."""
    lines = chunk.splitlines()
    starts = [i for i, raw in enumerate(lines) if _HEADER.match(raw)]
    for n, begin in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        header = lines[begin].strip().strip("[]").strip().strip("\"'")
        text = "\n" * begin + "\n".join(lines[begin:end])
        yield begin + 1, header, text


def _groups(text: str) -> Iterator[tuple[str, int, str]]:
    """(top-level key, first line, text) of each top-level table, its sub-tables joined to it in order.

    Lines of one group keep their numbers (blank lines stand in for the other groups' lines), so a
    parse error still names the line of the file.
    """
    lines = text.splitlines()
    owner: list[str] = []
    current = ""
    for raw in lines:
        m = _HEADER.match(raw)
        if m:
            current = m[1].strip("\"'").split(".")[0]
        owner.append(current)
    for key in dict.fromkeys(owner):
        first = owner.index(key) + 1
        chunk = "\n".join(raw if o == key else "" for raw, o in zip(lines, owner, strict=True))
        yield key, first, chunk


def _piece(data: dict[str, Any], key: str, kind: Any, default: Any, ignored: list[str]) -> tuple[Any, str]:
    if key not in data:
        return default, ""
    try:
        return msgspec.convert(data[key], kind, dec_hook=dec_hook), ""
    except (msgspec.ValidationError, ValueError) as exc:
        ignored.append(f"[{key}] ({exc})")
        return default, f"[{key}] is invalid ({exc})"


def _incident(raw: Any, ignored: list[str]) -> tuple[IncidentStep, ...]:
    try:
        return tuple(msgspec.convert(raw or [], list[IncidentStep], dec_hook=dec_hook))
    except (msgspec.ValidationError, ValueError) as exc:
        ignored.append(f"[[incident]] ({exc})")
        return ()


def _stages(raw: Any, flag_names: set[str], ignored: list[str]) -> Iterator[Stage]:
    """Each stage reduced to what a backout needs: id, title, flags, backout, irreversible."""
    seen: set[str] = set()
    for i, entry in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(entry, dict):
            continue
        part = {k: entry[k] for k in ("id", "title", "flags", "backout", "irreversible") if k in entry}
        try:
            stage = msgspec.convert(part, Stage, dec_hook=dec_hook)
        except msgspec.ValidationError as exc:
            ignored.append(f"stages.{i} ({exc})")
            continue
        if stage.id in seen:
            continue
        seen.add(stage.id)
        yield msgspec.structs.replace(stage, flags=tuple(f for f in stage.flags if f in flag_names))


def _strings(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for v in data.values():
            yield from _strings(v)
    elif isinstance(data, list):
        for v in data:
            yield from _strings(v)
    elif isinstance(data, str):
        yield data


__all__ = ["KEPT", "KillPlan", "load_kill_plan", "salvage"]

"""Slack-compatible incoming-webhook notifications for kill, breach, approval and stage events.

A :class:`Notifier` is a rollout listener: called synchronously from ``Rollout.record``, it only puts
the message on a queue and returns. A daemon thread posts ``{"text": ...}`` to each webhook with a
short timeout; a failing or hanging webhook is logged and never blocks, slows or breaks the kill.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

import httpx

from cockpit import events as ev
from cockpit.config import LoadedPlan
from cockpit.events import Event

log = logging.getLogger("cockpit.notify")

KINDS = {
    ev.KILL_REQUESTED: "kill",
    ev.KILL_RESULT: "kill",
    ev.AUTOKILL_STARTED: "kill",
    ev.AUTOKILL_FIRED: "kill",
    ev.BREACH_OPENED: "breach",
    ev.BREACH_CLOSED: "breach",
    ev.APPROVAL_SIGNED: "approval",
    ev.APPROVAL_REVOKED: "approval",
    ev.STAGE_ENTERED: "stage",
    ev.STAGE_COMPLETED: "stage",
    ev.GATE_OVERRIDDEN: "stage",
}


def message(plan_id: str, event: Event) -> str:
    """One line a channel can read: ``[alokickflow-phase2] KILL requested by alok@bastion-1: ...``."""
    p: dict[str, Any] = event.payload
    who = str(event.actor)
    text = {
        ev.KILL_REQUESTED: lambda: f"KILL requested by {who}: {p.get('reason')} (flags: {', '.join(p.get('flags', []))})",
        ev.KILL_RESULT: lambda: "kill result: ALL OFF (verified)"
        if p.get("all_off")
        else f"kill result: MAY STILL BE ON: {', '.join(p.get('may_be_on', []))}",
        ev.AUTOKILL_STARTED: lambda: f"auto-kill countdown started: {p.get('metric')} {p.get('value')} "
        f"({p.get('threshold')}), {p.get('countdown')}s",
        ev.AUTOKILL_FIRED: lambda: f"auto-kill fired: {', '.join(p.get('metrics', []))}",
        ev.BREACH_OPENED: lambda: f"BREACH: {p.get('metric')} = {p.get('value')} ({p.get('threshold')})",
        ev.BREACH_CLOSED: lambda: f"breach closed: {p.get('metric')} = {p.get('value')}",
        ev.APPROVAL_SIGNED: lambda: f"approval: {p.get('title')} signed by {who}",
        ev.APPROVAL_REVOKED: lambda: f"approval revoked: {p.get('role')} by {who}",
        ev.STAGE_ENTERED: lambda: f"stage entered: {p.get('stage')} by {who}",
        ev.STAGE_COMPLETED: lambda: f"stage completed: {p.get('stage')} by {who}",
        ev.GATE_OVERRIDDEN: lambda: f"GATE OVERRIDDEN into {p.get('stage')} by {who}: {p.get('reason')}",
    }.get(event.type, lambda: event.type)()
    return f"[{plan_id}] {text}"


class Notifier:
    """``rollout.listeners.append(Notifier(loaded))``; ``close()`` at exit to flush (bounded)."""

    def __init__(self, loaded: LoadedPlan, *, timeout: float = 5.0, max_queue: int = 1000) -> None:
        self.loaded = loaded
        self.timeout = timeout
        self.kinds = set(loaded.plan.notify.on)
        self.sent = 0
        self.failed = 0
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue(max_queue)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        """The listener: queue a message per webhook and return at once."""
        kind = KINDS.get(event.type)
        webhooks = self.loaded.plan.notify.webhooks
        if kind is None or kind not in self.kinds or not webhooks:
            return
        text = self.loaded.env.redact(message(self.loaded.plan.rollout.id, event))
        self._start()
        for url in webhooks:
            try:
                self._queue.put_nowait((url, text))
            except queue.Full:
                self.failed += 1
                log.warning("notification dropped (queue full): %s", text)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="cockpit-notify", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                self._post(client, *item)

    def _post(self, client: httpx.Client, template: str, text: str) -> None:
        env = self.loaded.env
        try:
            url = env.resolve(template)
            response = client.post(url, json={"text": text})
            if response.status_code >= 300:
                raise RuntimeError(f"HTTP {response.status_code}")
            self.sent += 1
        except Exception as exc:  # logged, never raised: a webhook must not hurt anything else
            self.failed += 1
            log.warning("webhook %s failed: %s", env.redact(template), env.redact(f"{type(exc).__name__}: {exc}"))

    def close(self, timeout: float = 2.0) -> None:
        """Let queued messages go out for at most ``timeout`` seconds, then stop."""
        thread = self._thread
        if thread is None:
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        thread.join(timeout)

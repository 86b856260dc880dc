"""Slack-compatible incoming-webhook notifications for kill, breach, approval and stage events.

A :class:`Notifier` is a rollout listener: called synchronously from ``Rollout.record``, it only puts
the message on a queue and returns. A daemon thread posts ``{"text": ...}`` to each webhook with a
short timeout; a failing or hanging webhook is logged and never blocks, slows or breaks the kill.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

from cockpit import events as ev
from cockpit.events import Event
from cockpit.plan.load import LoadedPlan
from cockpit.signing.anchor import AUTO as ANCHORED

if TYPE_CHECKING:
    import httpx

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
    ev.SIGNOFF_SIGNED: "approval",
}


def message(plan_id: str, event: Event) -> str:
    """One line a channel can read: ``[alokickflow-phase2] KILL requested by alok@bastion-1: ... · audit head
    41:329cd74a…`` (check a log against it with ``cockpit audit verify --head 41:329cd74a…``)."""
    p: dict[str, Any] = event.payload
    who = str(event.actor)
    text = {
        ev.KILL_REQUESTED: lambda: (
            f"KILL requested by {who}: {p.get('reason')} (flags: {', '.join(p.get('flags', []))})"
        ),
        ev.KILL_RESULT: lambda: (
            "kill result: ALL OFF (verified)"
            if p.get("all_off")
            else f"kill result: MAY STILL BE ON: {', '.join(p.get('may_be_on', []))}"
        ),
        ev.AUTOKILL_STARTED: lambda: (
            f"auto-kill countdown started: {p.get('metric')} {p.get('value')} "
            f"({p.get('threshold')}), {p.get('countdown')}s"
        ),
        ev.AUTOKILL_FIRED: lambda: f"auto-kill fired: {', '.join(p.get('metrics', []))}",
        ev.BREACH_OPENED: lambda: f"BREACH: {p.get('metric')} = {p.get('value')} ({p.get('threshold')})",
        ev.BREACH_CLOSED: lambda: f"breach closed: {p.get('metric')} = {p.get('value')}",
        ev.APPROVAL_SIGNED: lambda: f"approval: {p.get('title')} signed by {who}",
        ev.APPROVAL_REVOKED: lambda: f"approval revoked: {p.get('role')} by {who}",
        ev.STAGE_ENTERED: lambda: f"stage entered: {p.get('stage')} by {who}",
        ev.STAGE_COMPLETED: lambda: f"stage completed: {p.get('stage')} by {who}",
        ev.GATE_OVERRIDDEN: lambda: f"GATE OVERRIDDEN into {p.get('stage')} by {who}: {p.get('reason')}",
        ev.SIGNOFF_SIGNED: lambda: f"sign-off: {p.get('title')} signed by {who}",
    }.get(event.type, lambda: event.type)()
    if event.sig is not None:
        text += f" (signed {event.sig.principal} {event.sig.fingerprint})"
    if event.type in ANCHORED:  # the head, kept outside this host: 'cockpit audit verify --anchor SEQ:HASH'
        return f"[{plan_id}] {text} · anchor {event.seq}:{event.hash}"
    # the audit log's head as of this event: kept in the channel, it is a witness outside the host
    return f"[{plan_id}] {text} · audit head {event.seq}:{event.hash[:16]}"


class Notifier:
    """``rollout.listeners.append(Notifier(loaded))``; ``close()`` at exit to flush (bounded)."""

    def __init__(self, loaded: LoadedPlan, *, timeout: float = 5.0, max_queue: int = 1000) -> None:
        self.loaded = loaded
        self.timeout = timeout
        self.max_queue = max_queue
        self.kinds = set(loaded.plan.notify.on)
        self.sent = 0
        self.failed = 0
        self._workers: dict[str, tuple[queue.Queue[str | None], threading.Thread]] = {}
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        """The listener: queue the message for each webhook and return at once."""
        kind = KINDS.get(event.type)
        webhooks = self.loaded.plan.notify.webhooks
        if kind is None or kind not in self.kinds or not webhooks:
            return
        text = self.loaded.env.redact(message(self.loaded.plan.rollout.id, event))
        for url in webhooks:
            try:
                self._worker(url).put_nowait(text)
            except queue.Full:
                self.failed += 1
                log.warning("notification dropped (queue full): %s", text)

    def _worker(self, url: str) -> queue.Queue[str | None]:
        """One queue and thread per webhook, so a hanging webhook delays only its own messages."""
        with self._lock:
            if url not in self._workers:
                q: queue.Queue[str | None] = queue.Queue(self.max_queue)
                thread = threading.Thread(target=self._run, args=(url, q), name="cockpit-notify", daemon=True)
                self._workers[url] = (q, thread)
                thread.start()
            return self._workers[url][0]

    def _run(self, url: str, q: queue.Queue[str | None]) -> None:
        import httpx  # in the webhook's own thread: the dashboard's first frame does not wait for it

        with httpx.Client(timeout=self.timeout) as client:
            while True:
                text = q.get()
                if text is None:
                    return
                self._post(client, url, text)

    def _post(self, client: httpx.Client, template: str, text: str) -> None:
        env = self.loaded.env
        try:
            response = client.post(env.resolve(template), json={"text": text})
            if response.status_code >= 300:
                raise RuntimeError(f"HTTP {response.status_code}")
            with self._lock:
                self.sent += 1
        except Exception as exc:  # logged, never raised: a webhook must not hurt anything else
            with self._lock:
                self.failed += 1
            log.warning("webhook %s failed: %s", env.redact(template), env.redact(f"{type(exc).__name__}: {exc}"))

    def close(self, timeout: float = 2.0) -> None:
        """Let queued messages go out for at most ``timeout`` seconds in all, then stop."""
        with self._lock:
            workers = list(self._workers.values())
        for q, _ in workers:
            try:
                q.put_nowait(None)
            except queue.Full:
                pass
        deadline = time.monotonic() + timeout
        for _, thread in workers:
            thread.join(max(deadline - time.monotonic(), 0))

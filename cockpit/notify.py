"""Slack-compatible incoming-webhook notifications for kill, breach, approval and stage events.

One path for every decision, from the CLI and the dashboard alike: :func:`attach` hangs a
:class:`Notifier` on a writing rollout (``cockpit.cli.common.rollout_for`` and ``Services.build`` both call
it), and :func:`close_all` lets its posts go out at exit.

A :class:`Notifier` is a rollout listener: called synchronously from ``Rollout.record``, it only puts
the message on a queue and returns. A daemon thread posts ``{"text": ...}`` to each webhook with a
short timeout; a failing or hanging webhook is logged and never blocks, slows or breaks the kill.

**Post once, never lose one**: each message is first written to an outbox in the rollout's state
directory (:class:`Outbox`, keyed by the event's seq and the webhook as the plan writes it, ``${VAR}``
unresolved, so no secret is written) and removed once posted. A post still waiting when the process
exits is said on stderr (:func:`close_all`), and the next cockpit process on this machine retries it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit import events as ev
from cockpit.events import Event
from cockpit.plan.load import LoadedPlan
from cockpit.signing.anchor import AUTO as ANCHORED
from cockpit.store.paths import state_dir
from cockpit.text import visible

if TYPE_CHECKING:
    import httpx

    from cockpit.rollout import Rollout

log = logging.getLogger("cockpit.notify")

KINDS = {
    ev.KILL_REQUESTED: "kill",
    ev.KILL_RESULT: "kill",
    ev.AUTOKILL_STARTED: "kill",
    ev.AUTOKILL_FIRED: "kill",
    ev.AUTOKILL_CANCELLED: "kill",
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
        ev.AUTOKILL_CANCELLED: lambda: (
            f"auto-kill cancelled by {who}: {', '.join(p.get('metrics', [])) or p.get('metric')} ({p.get('reason')})"
        ),
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
    text = inert(text)  # reasons and monitored values: no second line, no mention, no hidden link
    if event.type in ANCHORED:  # the head, kept outside this host: 'cockpit audit verify --anchor SEQ:HASH'
        return f"[{plan_id}] {text} · anchor {event.seq}:{event.hash}"
    # the audit log's head as of this event: kept in the channel, it is a witness outside the host
    return f"[{plan_id}] {text} · audit head {event.seq}:{event.hash[:16]}"


def inert(text: str) -> str:
    """``text`` as one line a Slack-compatible channel shows as written: every control spelled out
    (:func:`cockpit.text.visible`, so a newline cannot start a line of its own), and ``&``, ``<``, ``>`` escaped
    as Slack documents (``<!channel>`` would ping everyone, ``<url|text>`` hide a link)."""
    return visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


MAX_ATTEMPTS = 5
"""Processes that try one message before the outbox gives it up (a webhook removed or broken for good)."""
LEASE = 30.0
"""Seconds a message queued by one process is left alone by the others (so two never post it both)."""


class Outbox:
    """Messages not yet posted, on disk: ``{"<seq> <webhook>": {"text": ..., "attempts": n}}``, under ``flock``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, Any]]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.pread(fd, 4 << 20, 0)
            try:
                data = json.loads(raw) if raw.strip() else {}
            except ValueError:
                data = {}
            if not isinstance(data, dict):
                data = {}
            before = json.dumps(data, sort_keys=True)
            yield data
            after = json.dumps(data, sort_keys=True)
            if after != before:
                os.ftruncate(fd, 0)
                os.pwrite(fd, after.encode(), 0)
        finally:
            os.close(fd)

    def add(self, key: str, text: str) -> None:
        with self._locked() as data:
            data.setdefault(key, {"text": text, "attempts": 0, "lease": time.time() + LEASE})

    def done(self, key: str) -> None:
        with self._locked() as data:
            data.pop(key, None)

    def release(self, keys: set[str]) -> None:
        """This process gives these up (it is exiting): the next one may take them at once."""
        with self._locked() as data:
            for key in keys & data.keys():
                data[key]["lease"] = 0

    def take(self) -> list[tuple[str, str]]:
        """Every waiting message (each counts one more attempt; those past ``MAX_ATTEMPTS`` are given up)."""
        out = []
        now = time.time()
        with self._locked() as data:
            for key, entry in list(data.items()):
                if float(entry.get("lease", 0)) > now:
                    continue  # another process queued it a moment ago and is posting it
                entry["lease"] = now + LEASE
                attempts = int(entry.get("attempts", 0)) + 1
                if attempts > MAX_ATTEMPTS:
                    log.warning("notification given up after %d attempts: %s", MAX_ATTEMPTS, entry.get("text"))
                    del data[key]
                    continue
                entry["attempts"] = attempts
                out.append((key, str(entry.get("text", ""))))
        return out


Item = tuple[str, str]
"""(outbox key, text)."""


class Notifier:
    """``rollout.listeners.append(Notifier(loaded))``; ``close()`` at exit to flush (bounded)."""

    def __init__(
        self, loaded: LoadedPlan, *, timeout: float = 5.0, max_queue: int = 1000, outbox: Outbox | None = None
    ) -> None:
        self.loaded = loaded
        self.timeout = timeout
        self.max_queue = max_queue
        self.kinds = set(loaded.plan.notify.on)
        self.outbox = outbox
        self.sent = 0
        self.failed = 0
        self._unsent: set[str] = set()
        """Outbox keys queued by this process and not posted yet."""
        self._workers: dict[str, tuple[queue.Queue[Item | None], threading.Thread]] = {}
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        """The listener: queue the message for each webhook and return at once."""
        kind = KINDS.get(event.type)
        webhooks = self.loaded.plan.notify.webhooks
        if kind is None or kind not in self.kinds or not webhooks:
            return
        text = str(self.loaded.env.redact(message(self.loaded.plan.rollout.id, event)))
        for url in webhooks:
            key = f"{event.seq} {url}"
            if self.outbox is not None:
                try:
                    self.outbox.add(key, text)
                except OSError as exc:
                    log.warning("notification outbox: %s", exc)
            self._enqueue(url, key, text)

    def retry(self) -> int:
        """Queue what an earlier process left in the outbox; return how many."""
        if self.outbox is None:
            return 0
        try:
            waiting = self.outbox.take()
        except OSError as exc:
            log.warning("notification outbox: %s", exc)
            return 0
        for key, text in waiting:
            url = key.split(" ", 1)[1] if " " in key else ""
            if url in self.loaded.plan.notify.webhooks:
                self._enqueue(url, key, text)
        return len(waiting)

    def _enqueue(self, url: str, key: str, text: str) -> None:
        try:
            with self._lock:
                self._unsent.add(key)
            self._worker(url).put_nowait((key, text))
        except queue.Full:
            self.failed += 1
            log.warning("notification queue full (kept in the outbox for the next process): %s", text)

    def _worker(self, url: str) -> queue.Queue[Item | None]:
        """One queue and thread per webhook, so a hanging webhook delays only its own messages."""
        with self._lock:
            if url not in self._workers:
                q: queue.Queue[Item | None] = queue.Queue(self.max_queue)
                thread = threading.Thread(target=self._run, args=(url, q), name="cockpit-notify", daemon=True)
                self._workers[url] = (q, thread)
                thread.start()
            return self._workers[url][0]

    def _run(self, url: str, q: queue.Queue[Item | None]) -> None:
        import httpx  # in the webhook's own thread: the dashboard's first frame does not wait for it

        with httpx.Client(timeout=self.timeout) as client:
            while True:
                item = q.get()
                if item is None:
                    return
                self._post(client, url, *item)

    def _post(self, client: httpx.Client, template: str, key: str, text: str) -> None:
        env = self.loaded.env
        try:
            response = client.post(env.resolve(template), json={"text": text})
            if response.status_code >= 300:
                raise RuntimeError(f"HTTP {response.status_code}")
            with self._lock:
                self.sent += 1
                self._unsent.discard(key)
            if self.outbox is not None:
                self.outbox.done(key)
        except Exception as exc:  # logged, never raised: a webhook must not hurt anything else
            with self._lock:
                self.failed += 1
            log.warning("webhook %s failed: %s", env.redact(template), env.redact(f"{type(exc).__name__}: {exc}"))

    def close(self, timeout: float = 2.0) -> int:
        """Let queued messages go out for at most ``timeout`` seconds in all, then stop; return how many
        were not posted (still queued, or failed: they stay in the outbox for the next process)."""
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
        with self._lock:
            unsent = set(self._unsent)
        if unsent and self.outbox is not None:
            try:
                self.outbox.release(unsent)
            except OSError as exc:
                log.warning("notification outbox: %s", exc)
        return len(unsent)


_attached: list[Notifier] = []
"""Notifiers :func:`attach` made in this process (closed by :func:`close_all`)."""


def attach(rollout: Rollout, *, timeout: float = 5.0) -> Notifier | None:
    """Hang the plan's webhooks on a writing ``rollout`` (a read-only one notifies nothing: the cockpit that
    recorded an event posts it) and queue what an earlier process left unsent. None without webhooks."""
    if rollout.store.readonly or not rollout.plan.notify.webhooks:
        return None
    if any(isinstance(listener, Notifier) for listener in rollout.listeners):
        return next(listener for listener in rollout.listeners if isinstance(listener, Notifier))
    notifier = Notifier(
        rollout.loaded, timeout=timeout, outbox=Outbox(state_dir(rollout.loaded) / "notify-outbox.json")
    )
    rollout.listeners.append(notifier)
    notifier.retry()
    _attached.append(notifier)
    return notifier


def close_all(timeout: float = 2.0, say: Callable[[str], None] | None = None) -> int:
    """Close every attached notifier (``timeout`` seconds in all); ``say`` one line if posts are left."""
    left = 0
    deadline = time.monotonic() + timeout
    while _attached:
        notifier = _attached.pop()
        left += notifier.close(max(deadline - time.monotonic(), 0))
    if left and say is not None:
        say(f"cockpit: {left} notification(s) not sent yet (webhook slow or down); the next cockpit run retries them")
    return left

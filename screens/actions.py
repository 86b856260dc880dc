"""What the dashboard's keys do: one method per action of the registry (:mod:`cockpit.plan.keys`). Each
calls the core; refusals (``RolloutError``) are shown, never raised.

:class:`Actions` is a widget that draws nothing: the dashboard composes it (beside the
:class:`~screens.watcher.Watcher`), its key bindings call it, and each result comes to the screen as an
``Actions.Done`` message. Whether an action is offered and usable now is the core's answer
(:mod:`cockpit.controls`). Writes go through ``Rollout`` (or the kill switch, which records through it), so
every action lands in the audit log and the screen is redrawn from the log, not from anything the UI
remembers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget

from cockpit import payloads as pl
from cockpit.controls import next_canary
from cockpit.gates import backout_block, backout_warning
from cockpit.plan import keys
from cockpit.rollout import RolloutError
from cockpit.session import Services
from cockpit.store.audit import AuditError
from screens.audit_view import AuditScreen
from screens.host import CockpitHost
from screens.incident_view import IncidentScreen
from screens.prompts import ListScreen, PickPrompt, TextPrompt

WRITES = keys.WRITES
"""Actions that write to the audit log (none is offered by ``cockpit --readonly``): from the registry."""

BINDINGS: list[BindingType] = [
    Binding(a.key, f"app.{a.id}" if a.app else a.id, a.label, id=a.id, tooltip=a.tooltip)
    for a in keys.ACTIONS
]
"""The dashboard's keys, from the one registry (``cockpit.plan.keys``); ids are what ``[keys]`` remaps."""

DESCRIPTIONS = {a.id: a.description for a in keys.ACTIONS}
"""Each action's description (help, palette), from the registry."""


class Actions(Widget):
    """The dashboard's actions, one method per key (the screen's ``action_<id>`` calls ``<id>``).

    Args:
        services: The rollout and what acts on it (``cockpit.session``).
    """

    DEFAULT_CSS = "Actions { display: none; }"

    @dataclass
    class Done(Message):
        """An action finished: ``lines`` to show; ``error`` when it was refused."""

        lines: list[str]
        error: bool = False
        whole: bool = False
        """Show every line however many (a kill's result and manual backout); else the rest is counted."""

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services

    @property
    def host(self) -> CockpitHost:
        """The App, as the dashboard's parts see it (its read-only mode, the demo's hooks, its screens)."""
        return cast(CockpitHost, self.app)

    def _given(self, act: Callable[[str], None]) -> Callable[[str | None], None]:
        """A prompt callback that acts only when something was typed or picked (not on Escape)."""

        def callback(value: str | None) -> None:
            if value:
                act(value)

        return callback

    def _try(self, fn: Callable[[], Any], done: str | Callable[[Any], str]) -> None:
        try:
            result = fn()
        except (RolloutError, AuditError) as exc:  # refused, or the log cannot be written: say so
            self.post_message(self.Done(str(exc).splitlines(), error=True))
            return
        lines = [done(result) if callable(done) else done]
        if warning := self.services.rollout.signatures.warning:  # a decision recorded unsigned: say why
            lines.append(warning)
        self.post_message(self.Done(lines))

    async def _try_async(self, coro: Any, done: Callable[[Any], Any]) -> None:
        try:
            result = await coro
        except RolloutError as exc:
            self.post_message(self.Done(str(exc).splitlines(), error=True))
            return
        except Exception as exc:  # a failing source is news, not a crash
            text = self.services.rollout.loaded.env.redact(f"{type(exc).__name__}: {exc}")
            self.post_message(self.Done([str(text)], error=True))
            return
        lines = done(result)
        self.post_message(lines if isinstance(lines, Actions.Done) else self.Done(lines))

    # ----------------------------------------------------------------- the kill switch

    def kill(self) -> None:
        """No dialog: off is the safe direction. The result (or the manual backout) follows."""
        try:
            switch = self.services.need_switch()  # built now if pressed before the first frame settled
        except RolloutError as exc:
            self.post_message(self.Done([str(exc)], error=True))
            return

        def summary(report: Any) -> Actions.Done:
            lines = [f"KILL: {report.verdict}", *report.summary()]
            warning = backout_warning(self.services.rollout.plan, self.services.rollout.state)
            by_hand = [line for line in report.backout if line != warning]  # the stage's backout: a block below
            if by_hand:
                lines += ["do this by hand now:" if not report.all_off else "also:", *(f"  {b}" for b in by_hand)]
            lines += backout_block(self.services.rollout.plan, self.services.rollout.state)
            if self.host.demo is not None:
                self.host.demo.after_kill()
            return self.Done(lines, error=not report.all_off, whole=True)

        arrived: list[str] = []

        def progress(outcome: Any) -> None:
            """Each flag's result as it arrives, in the result box (the summary replaces it when every flag
            is in, or at the kill's deadline)."""
            arrived.append(outcome.line())
            self.post_message(self.Done(["KILL: driving every flag off…", *arrived], error=not outcome.verified_off))

        self.run_worker(
            self._try_async(switch.kill("kill key pressed in the cockpit", on_result=progress), summary),
            group="kill",
            exclusive=True,
        )

    def cancel_autokill(self) -> None:
        auto = self.services.autokill
        if auto is not None:
            self._try(auto.cancel, "auto-kill cancelled")

    # ----------------------------------------------------------------- approvals and the checklist

    def approve(self) -> None:
        r = self.services.rollout
        state = r.state
        choices = [(a.role, f"{a.title} ({a.handle})") for a in r.plan.approvers if a.role not in state.approvals]
        self.host.push_screen(
            PickPrompt(f"Sign as {r.actor.user}: which role?", choices),
            self._given(lambda role: self._try(lambda: r.approve(role), f"signed {role} as {r.actor.user}")),
        )

    def revoke(self) -> None:
        r = self.services.rollout
        choices = [(a.role, f"{a.title} ({a.handle})") for a in r.plan.approvers if a.role in r.state.approvals]
        self.host.push_screen(
            PickPrompt("Revoke which approval?", choices),
            self._given(lambda role: self._try(lambda: r.revoke(role), f"revoked {role}")),
        )

    def tick(self) -> None:
        r = self.services.rollout
        stage = r.current_stage
        if stage is None:
            return
        state = r.state
        choices = [
            (i.id, f"{i.section}: {i.text}" if i.section else i.text)
            for i in stage.items
            if (stage.id, i.id) not in state.ticks
        ]
        self.host.push_screen(  # the list stays open: tick item after item, Escape when done
            PickPrompt(
                f"{stage.title}: tick which items?",
                choices,
                on_pick=lambda item: self._try(lambda: r.tick(stage.id, item), f"ticked {item}"),
            )
        )

    def note(self) -> None:
        r = self.services.rollout
        self.host.push_screen(
            TextPrompt("Note for the record (handoff, observation):"),
            self._given(lambda text: self._try(lambda: r.note(text), "note added")),
        )

    # ----------------------------------------------------------------- measurements

    def baseline(self) -> None:
        """Capture the baseline, and tick the stage's checklist item that asks for it ("Capture baseline
        metrics"): the capture is that item done, recorded as two events."""
        monitor = self.services.monitor
        r = self.services.rollout
        stage = r.current_stage
        if monitor is None or stage is None:
            return

        def capture() -> Any:
            event = r.capture_baseline(monitor.baseline_values())
            item = next((i for i in stage.items if i.id == "baseline" or "baseline" in i.text.lower()), None)
            if item is not None and (stage.id, item.id) not in r.state.ticks:
                r.tick(stage.id, item.id)
            return event

        self._try(capture, lambda e: f"baseline captured: {', '.join(sorted(pl.decode(e, pl.BaselineCaptured).metrics))}")

    def verify(self) -> None:
        from cockpit.verify import run_checks  # lazy: the checks' clients (httpx, psycopg) when first run

        r = self.services.rollout
        stage = r.current_stage
        if stage is None:
            return

        def lines(outcomes: Any) -> list[str]:
            return [f"{'✔' if o.ok else '✘'} {o.check_id}: {o.detail}" for o in outcomes]

        self.run_worker(self._try_async(run_checks(r, stage.id), lines), group="verify", exclusive=True)

    # ----------------------------------------------------------------- stages

    def advance(self) -> None:
        """Enter the next stage if the gate is open; refused, every reason is listed (in a dialog when they
        are more than the result line shows)."""
        r = self.services.rollout

        def go() -> Any:
            r.complete_soaks()
            return r.advance(judgements=self._live())

        try:
            go()
        except (RolloutError, AuditError) as exc:
            lines = str(exc).splitlines()
            if len(lines) > 6:
                self.host.push_screen(ListScreen(lines[0], [line.strip() for line in lines[1:]]))
            self.post_message(self.Done(lines, error=True))
            return
        self.post_message(self.Done([f"now in {r.current_stage.title if r.current_stage else '?'}"]))

    def override(self) -> None:
        r = self.services.rollout
        blockers = self.services.gate_blockers()
        if not blockers:
            self.post_message(self.Done(["the gate is open: press g to advance, no override needed"]))
            return
        why = "; ".join(b.message for b in blockers[:3])
        self.host.push_screen(
            TextPrompt(f"Override the closed gate ({why}). Reason (audited):", placeholder="why it is safe"),
            self._given(
                lambda reason: self._try(
                    lambda: r.advance(override=reason, judgements=self._live()), f"overridden: {reason}"
                )
            ),
        )

    def _live(self) -> list[Any]:
        """The current stage's judgements, so an override records the thresholds it passed over."""
        r = self.services.rollout
        return self.services.monitor.judge() if self.services.monitor is not None and r.current_stage else []

    def canary(self) -> None:
        found = next_canary(self.services.rollout)
        if found is None:
            return
        stage, step = found
        try:
            switch = self.services.need_switch()  # built now if pressed before the first frame settled
        except RolloutError as exc:
            self.post_message(self.Done([str(exc)], error=True))
            return

        def confirmed(typed: str | None) -> None:
            if not typed:
                return
            from cockpit.canary import take_step  # lazy: httpx and the kill switch come after the first frame

            work = take_step(switch, step.flag, step.percent, stage=stage.id, step=step.id, confirm=typed)
            self.run_worker(
                self._try_async(work, lambda reading: [f"{step.flag} now {reading.describe()}"]), group="canary"
            )

        self.host.push_screen(
            TextPrompt(
                f"Canary step: {step.flag} to {step.percent}%. Type the flag name to confirm:",
                placeholder=step.flag,
                must_equal=step.flag,
            ),
            confirmed,
        )

    # ----------------------------------------------------------------- views and the record

    def incident(self) -> None:
        self.host.push_screen(IncidentScreen(self.services))

    def audit(self) -> None:
        self.host.push_screen(AuditScreen(self.services.rollout))

    def export(self) -> None:
        """Write the sign-off; the demo keeps a copy in the directory it was started from (its own goes)."""
        demo = self.host.demo

        def export() -> Any:
            path = self.services.export()
            return demo.keep(path) if demo is not None else path

        self._try(export, lambda path: f"sign-off written to {path}")

    def demo_flood(self) -> None:
        """The demo: inject the fault the current stage judges (a DLQ flood, heartbeat misses)."""
        demo = self.host.demo
        if demo is not None:
            self._try(lambda: demo.flood(self.services.rollout), lambda said: str(said))

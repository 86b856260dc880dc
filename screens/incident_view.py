"""The incident view: the plan's incident steps, each with its deadline from when the incident opened."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from cockpit.gates import backout_block
from cockpit.incident import action_deadline, mark_done, step_deadline
from cockpit.plan.model import format_duration
from cockpit.rollout import RolloutError
from cockpit.session import Services
from cockpit.text import visible
from screens.host import CockpitHost
from screens.prompts import PickPrompt
from widgets.gate import hhmm
from widgets.key_bar import KeyBar


class IncidentScreen(Screen[None]):
    """What to do now, what is due next, who to call; refreshed each second."""

    DEFAULT_CSS = """
    IncidentScreen #incident-body { padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape,i,q", "app.pop_screen", "Back", id="incident.back"),
        Binding("d", "mark_done", "Mark done", id="incident.done"),
    ]

    def __init__(self, services: Services) -> None:
        super().__init__(id="incident")
        self.services = services

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="incident-body")
        yield KeyBar()

    def on_mount(self) -> None:
        self.draw()
        self.set_interval(1.0, self.draw)

    @property
    def host(self) -> CockpitHost:
        """The App that opened this view (over a dashboard), as the dashboard sees it."""
        return cast(CockpitHost, self.app)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "mark_done":
            return not self.host.readonly and self.services.rollout.state.open_incident is not None
        return True

    def action_mark_done(self) -> None:
        """Pick an action of the open incident and record it done (as yourself, audited)."""

        rollout = self.services.rollout
        incident = rollout.state.open_incident
        if incident is None:
            return
        todo = [
            (a, f"{s.label}: {a}") for s in rollout.plan.incident for a in s.actions if a not in incident.steps_done
        ]

        def done(action: str | None) -> None:
            if action:
                try:
                    mark_done(rollout, action)
                except RolloutError as exc:
                    self.notify(str(exc), severity="error")
                self.draw()

        self.app.push_screen(PickPrompt("Mark which incident action done?", todo), done)

    def draw(self) -> None:
        rollout = self.services.rollout
        plan, state, now = rollout.plan, rollout.state, rollout.now()
        incident = state.open_incident or (state.incidents[-1] if state.incidents else None)
        text = Text()
        if incident is None:
            text.append("No incident has been opened. A kill or a breach opens one.\n\n", "bold")
            opened = None
        else:
            opened = incident.opened.at
            status = "OPEN" if incident.closed is None else f"closed {hhmm(incident.closed.at)}"
            text.append(f"INCIDENT #{incident.id} {status}: {visible(incident.reason)}\n", "bold")
            text.append(f"opened {hhmm(opened)} by {incident.opened.actor.user}\n\n")
        for step in plan.incident:
            due = f"+{format_duration(step.deadline)}"
            if incident is not None and opened is not None:
                verdict = step_deadline(step, incident, now)  # the one rule, as the banner and the export
                left = opened + step.deadline - now
                shown = {"on time": "done on time", "late": "done LATE", "missed": "MISSED"}.get(verdict.verdict)
                due = f"due {hhmm(opened + step.deadline)}" + (
                    f" ({shown})" if shown else f" (in {format_duration(max(left, timedelta(0)))})"
                )
            text.append(f"{step.label}  {due}\n", "bold")
            for action in step.actions:
                done = incident is not None and action in incident.steps_done
                late = ""
                if incident is not None and done:
                    late = " (late)" if action_deadline(step, action, incident, now).verdict == "late" else ""
                text.append(f"  {'✔' if done else '☐'} {action}{late}\n")
        block = backout_block(rollout.plan, rollout.state)
        if block:
            text.append(f"\n{block[0]}\n", "bold")
            text.append("\n".join(block[1:]) + "\n")
        text.append("\nWho to call\n", "bold")
        for contact in plan.contacts:
            text.append(f"  {contact.issue}: {contact.contact} ({contact.method})\n")
        self.query_one("#incident-body", Static).update(text)

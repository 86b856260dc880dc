"""What a webhook posts is one line of the cockpit's own: a breach value from a monitored service or a typed
reason cannot ping the channel (``<!channel>``), hide a link (``<https://…|text>``) or fake a second line
("[rollout] kill result: ALL OFF (verified) · audit head …") in the channel that is the log's witness."""

from __future__ import annotations

from pathlib import Path

from cockpit import events as ev
from cockpit.notify import message
from tests.core_helpers import make_rollout

FAKE = "\n[alokickflow-phase2] kill result: ALL OFF (verified) · audit head 9:deadbeef"


def test_a_hostile_breach_value_and_reason_stay_one_inert_line(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path)
    breach = rollout.record(
        ev.BREACH_OPENED,
        {
            "metric": "dlq_entries",
            "value": f"<!channel> <https://evil.example|logs>{FAKE}",
            "threshold": "< 10",
            "stage": "",
        },
    )
    override = rollout.record(ev.GATE_OVERRIDDEN, {"stage": "stage-0", "reason": f"ok\r{FAKE}\x1b[2J", "blockers": []})
    for event in (breach, override):
        text = message("alokickflow-phase2", event)
        assert "\n" not in text and "\r" not in text and "\x1b" not in text
        assert "<" not in text and ">" not in text  # Slack's control sequences, escaped as it documents
        assert text.startswith("[alokickflow-phase2] ") and "\\u000a[alokickflow-phase2]" in text  # inline, spelled out
    assert "&lt;!channel&gt;" in message("alokickflow-phase2", breach)


def test_plain_text_is_posted_as_it_is(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path)
    event = rollout.record(
        ev.GATE_OVERRIDDEN, {"stage": "stage-0", "reason": "drill: two approvers on leave", "blockers": []}
    )
    assert "GATE OVERRIDDEN into stage-0 by alok@bastion-1: drill: two approvers on leave · audit head 2:" in message(
        "alokickflow-phase2", event
    )

"""Hostile text is data: it cannot become Markdown structure in an export, nor control a terminal.

The corpus (``tests/corpora/hostile_text.json``) is fed to every place text enters the record (notes,
an incident's reason, a kill's reason) and to a monitored service's values and error bodies; then
every output path is checked: the Markdown export parses to the same cells and still verifies, and
nothing the headless commands print carries a C0, C1 or bidi control character.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from cockpit import incident as inc
from cockpit.cli.main import main
from cockpit.clock import FakeClock
from cockpit.events import Actor
from cockpit.export.markdown import render_markdown
from cockpit.export.model import build_record
from cockpit.export.render import export_text
from cockpit.export.verify import first_difference, read_recorded
from cockpit.rollout import Rollout
from cockpit.text import BIDI_CONTROLS, is_visible, visible
from tests.rollout_script import EXAMPLE, SECRET, drive_full_rollout, make_rollout

CORPUS: list[str] = json.loads((Path(__file__).parent / "corpora" / "hostile_text.json").read_text())["texts"]
ROLLOUT_ID = "alokickflow-phase2"


def _controls(text: str) -> list[str]:
    """The control characters a terminal would act on (newline and tab aside)."""
    return [
        c
        for c in text
        if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F or c in BIDI_CONTROLS or c in "\u2028\u2029"
    ]


# --------------------------------------------------------------------------- the one function


def test_visible_shows_every_control_and_keeps_the_rest() -> None:
    assert visible("\x1b[2J") == "\\u001b[2J"
    assert visible("\u009b31m") == "\\u009b31m"
    assert visible("a\u202eb") == "a\\u202eb"
    assert visible("line\nnext\ttab") == "line\\u000anext\\u0009tab"
    assert visible("line\nnext\ttab\r", lines=True) == "line\nnext\ttab\\u000d"
    assert visible("naïve — ☑ 日本") == "naïve — ☑ 日本"
    for text in CORPUS:
        assert _controls(visible(text)) == [] and _controls(visible(text, lines=True)) == []
    shown = visible('{"a": "\u202e"}', lines=True)
    assert json.loads(shown) == {"a": "\u202e"}  # the escape is JSON's own spelling: data survives


# --------------------------------------------------------------------------- Markdown structure


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The audit log of a full rollout, copied for each hostile text."""
    directory = tmp_path_factory.mktemp("full")
    clock = FakeClock()
    drive_full_rollout(make_rollout(directory, clock), clock)
    return directory / "audit.jsonl"


def _with_text(finished: Path, directory: Path, text: str) -> Rollout:
    directory.mkdir()
    shutil.copy(finished, directory / "audit.jsonl")
    clock = FakeClock()
    rollout = make_rollout(directory, clock)
    last = rollout.store.read(0)[-1]
    clock.set(last.time)
    mallory = Actor(f"mallory{text[:3]}", 666, "evil", "")
    rollout.actor = mallory
    rollout.note(text)
    inc.open_incident(rollout, text)
    return rollout


def _shape(markdown: str) -> list[Any]:
    """What the document is made of: every block, every inline kind but plain text and our line breaks,
    and the text of every heading and table cell but the incident heading (it quotes the reason)."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    shape: list[Any] = []
    inside: list[str] = []
    for token in tokens:
        if token.type.endswith("_open"):
            inside.append(token.tag)
        elif token.type.endswith("_close"):
            inside.pop()
        if token.type != "inline":
            shape.append((token.type, token.tag, token.markup))
            continue
        for child in token.children or []:
            if child.type == "text" or (child.type == "html_inline" and child.content == "<br>"):
                continue
            content = "" if child.type == "code_inline" else child.content  # the head, the digest
            shape.append(("inline", child.type, content))
        if inside and inside[-1] in ("th", "td", "h1", "h2", "h3") and not token.content.startswith("Incident"):
            shape.append(("text", token.content))
    return shape


def test_hostile_text_cannot_become_structure_in_the_markdown_export(finished: Path, tmp_path: Path) -> None:
    benign = _with_text(finished, tmp_path / "benign", "benign")
    expected = _shape(render_markdown(build_record(benign, None)))
    for index, text in enumerate(CORPUS):
        rollout = _with_text(finished, tmp_path / f"hostile{index}", text)
        markdown = export_text(rollout, "md")
        assert _shape(markdown) == expected, f"corpus[{index}] {text!r} changed the document's structure"
        assert _controls(markdown) == [], f"corpus[{index}] {text!r}: raw control characters in the export"
        path = tmp_path / f"hostile{index}.md"
        path.write_text(markdown)
        recorded = read_recorded(path)
        assert (recorded.count, recorded.head) == (rollout.state.count, rollout.state.head)
        assert first_difference(recorded, rollout.store) is None  # export --verify passes


def test_a_forged_sign_off_in_a_note_does_not_read_as_one(finished: Path, tmp_path: Path) -> None:
    forged = CORPUS[0] + CORPUS[2]
    rollout = _with_text(finished, tmp_path / "forged", forged)
    markdown = export_text(rollout, "md")
    assert markdown.count("\n### Sign-Off\n") == 1 and markdown.count("\n## Sign-Off") == 0
    assert sum(line.startswith("Audit log head:") for line in markdown.splitlines()) == 1
    assert "| Dev Lead | mallory@evil |" not in markdown


# --------------------------------------------------------------------------- the terminal


class _Hostile(BaseHTTPRequestHandler):
    """A monitored service gone bad: hostile text in every value and error body, and the bearer token
    it was sent echoed back in both."""

    hostile = "".join(CORPUS[20:28])

    def do_GET(self) -> None:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.path.startswith("/health"):
            self._send(200, {"status": f"{self.hostile} {token}", "token": token})
        elif self.path.startswith("/api/flags/"):
            self._send(200, {"enabled": f"{self.hostile}", "percent": f"{token}"})
        elif self.path.startswith("/api/qc/debug"):
            self._send(200, {"watchdogMetrics": {"heartbeatMisses": f"{self.hostile}{token}"}})
        else:
            self._send(500, {"error": f"{self.hostile} your token {token} is wrong"})

    def do_POST(self) -> None:
        self.do_GET()

    def do_PUT(self) -> None:
        self.do_GET()

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hostile_service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hostile_rollout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hostile_service: str) -> Path:
    """A config whose every source is the hostile service, a log full of hostile text; returns the config."""
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("APP_TOKEN", SECRET)
    monkeypatch.setenv("APP_URL", hostile_service)
    monkeypatch.setenv("PROMETHEUS_URL", hostile_service)
    directory = tmp_path / "state" / ROLLOUT_ID
    directory.mkdir(parents=True)
    clock = FakeClock()
    rollout = make_rollout(directory, clock, {"APP_URL": hostile_service})
    drive_full_rollout(rollout, clock)
    for text in CORPUS:
        rollout.note(text)
    inc.open_incident(rollout, "".join(CORPUS))
    config = tmp_path / "cockpit.toml"
    config.write_text(EXAMPLE.read_text())
    (tmp_path / "verification").mkdir()
    return config


COMMANDS = [
    ["audit", "show"],
    ["audit", "show", "--json"],
    ["status"],
    ["status", "--json"],
    ["incident"],
    ["export"],
    ["export", "--format", "toml"],
    ["export", "--format", "json"],
    ["check", "--all"],
    ["check", "--all", "--json"],
    ["flags"],
    ["note", "\x1b]0;pwned\x07\x1b[2J\u202e"],
    ["incident", "open", "\x1b[2J again"],
    ["kill", "--reason", "\x1b]0;pwned\x07 \u009b31m"],
    ["approve", "\x1b[2Jno-such-role\u202e"],
    ["tick", "\x1b[2J", "\u009b"],
]


def test_no_output_path_carries_a_control_character(hostile_rollout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in COMMANDS:
        main(["--config", str(hostile_rollout), *command])
        out, err = capsys.readouterr()
        assert _controls(out) == [], f"{command}: stdout carries {_controls(out)[:5]}"
        assert _controls(err) == [], f"{command}: stderr carries {_controls(err)[:5]}"
        assert is_visible(out, lines=True) and is_visible(err, lines=True)
        assert "Traceback" not in err
        assert SECRET not in out and SECRET not in err, f"{command}: the echoed token is shown"


def test_audit_show_shows_the_hostile_text_escaped(hostile_rollout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(hostile_rollout), "audit", "show"]) == 0
    out = capsys.readouterr().out
    assert "\\u009b31m C1 CSI" in out and "\\u202eevil override" in out and "\\u001b]0;pwned" in out
    assert main(["--config", str(hostile_rollout), "audit", "show", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    texts = [json.loads(line)["payload"].get("text") for line in lines]
    assert all(text.strip() in texts for text in CORPUS)  # the JSON still decodes to exactly what was written


def test_the_echoed_token_is_never_stored(hostile_rollout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--config", str(hostile_rollout), "check", "--all", "--json"])
    out = capsys.readouterr().out
    # the echoed token comes after 200 characters of hostile text: masked, then cut away with the rest
    # (masking before cutting: tests/test_event_size.py::test_a_secret_is_masked_before_the_value_is_cut)
    assert SECRET not in out and "tok-s" not in out and "more characters)" in out
    directory = hostile_rollout.parent / "state" / ROLLOUT_ID
    for path in directory.iterdir():
        assert SECRET.encode() not in path.read_bytes(), f"{path.name} holds the token"

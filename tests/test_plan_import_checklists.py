"""Checklists of other shapes, and hostile ones: each imports to a valid plan or a clear one-line message.

``tests/checklists/*.md`` were written for these tests (a database major-version upgrade, a Kafka consumer
migration, a mobile API rollout with percentages per region, a plain numbered runbook with no tables);
each has a golden ``--report`` beside it (``COCKPIT_UPDATE_GOLDEN=1`` rewrites them).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.checklist import ChecklistError, import_checklist
from cockpit.cli.main import main
from cockpit.plan.load import parse_plan
from cockpit.plan.model import Plan
from tests.core_helpers import seed_path

CHECKLISTS = Path(__file__).parent / "checklists"
SHAPES = sorted(p.name for p in CHECKLISTS.glob("*.md"))
ROOT = Path(__file__).resolve().parents[1]


def _plan(text: str, name: str = "checklist.md") -> Plan:
    return parse_plan(import_checklist(text, name).toml, "plan.toml", {}).plan


def test_there_are_four_shapes() -> None:
    assert SHAPES == [
        "db-major-upgrade.md",
        "kafka-consumer-migration.md",
        "mobile-api-rollout.md",
        "plain-runbook.md",
    ]


@pytest.mark.parametrize("name", SHAPES)
def test_each_checklist_imports_to_a_valid_plan_with_its_golden_report(name: str) -> None:
    text = (CHECKLISTS / name).read_text(encoding="utf-8")
    imported = import_checklist(text, name)
    parse_plan(imported.toml, "plan.toml", {})  # valid, with no environment at all
    report = imported.report("plan.toml")
    golden = CHECKLISTS / name.replace(".md", ".report")
    if os.environ.get("COCKPIT_UPDATE_GOLDEN") == "1":
        golden.write_text(report, encoding="utf-8")
    assert golden.is_file(), f"{golden} missing: run with COCKPIT_UPDATE_GOLDEN=1"
    assert report == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [*SHAPES, "seed"])
def test_nothing_is_silently_dropped_every_line_is_in_the_report(name: str) -> None:
    path = seed_path() if name == "seed" else CHECKLISTS / name
    text = path.read_text(encoding="utf-8")
    report = import_checklist(text, path.name).report().splitlines()
    numbered = {int(line[:5]) for line in report if line[:5].strip().isdigit() and "  -> " in line}
    wanted = {n for n, line in enumerate(text.split("\n"), start=1) if line.strip()}
    assert numbered == wanted


def test_the_shapes_mean_what_they_say() -> None:
    db = _plan((CHECKLISTS / "db-major-upgrade.md").read_text(), "db.md")
    assert [s.id for s in db.stages] == ["phase-1", "phase-2", "phase-3"]
    assert [a.handle for a in db.approvers] == ["@dana", "@sam"]
    assert db.stages[1].irreversible and db.stages[1].backout == "pg_ctl promote -D /var/lib/postgresql/14/replica"
    assert db.stages[0].checks[0].kind == "sql" and db.stages[0].checks[0].expect_value == 0
    assert [str(r.threshold) for r in db.stages[1].thresholds] == ["< 120ms", "<= 0.5%", "< 5s"]
    assert [c.method for c in db.stages[2].contacts] == ["", "Email"]

    kafka = _plan((CHECKLISTS / "kafka-consumer-migration.md").read_text(), "kafka.md")
    step2 = kafka.stages[1]
    assert [(c.percent, c.soak.total_seconds()) for c in step2.canary] == [(10, 0), (50, 7200), (100, 86400)]
    assert "ORDERS_CONSUMER_V2=false" in step2.backout and not any("Reset offsets" in i.text for i in step2.items)
    assert kafka.stages[2].requires == ("step-2",)
    assert [t.threshold.kind for t in step2.thresholds] == ["absolute", "relative", "rate", "rate"]
    assert [(c.issue, c.contact, c.method) for c in kafka.contacts] == [
        ("Consumer bugs", "@lee", "Slack"),
        ("Broker issues", "#kafka-oncall", "PagerDuty"),
    ]

    mobile = _plan((CHECKLISTS / "mobile-api-rollout.md").read_text(), "mobile.md")
    assert [[c.percent for c in s.canary] for s in mobile.stages] == [[1, 10, 100], [5, 50, 100], [10, 100]]
    assert [s.flags for s in mobile.stages] == [("MOBILE_API_V3_EU",), ("MOBILE_API_V3_US",), ("MOBILE_API_V3_APAC",)]
    assert mobile.stages[1].requires == ("phase-1",)
    assert mobile.stages[0].checks[0].kind == "http" and mobile.stages[0].checks[0].path == "/v3/health"
    assert [(i.label, i.deadline.total_seconds()) for i in mobile.incident] == [
        ("Immediately", 0),
        ("Within 15 minutes", 900),
        ("Within 2 hours", 7200),
    ]
    assert mobile.incident[0].done_by_kill

    runbook = _plan((CHECKLISTS / "plain-runbook.md").read_text(), "runbook.md")
    assert len(runbook.stages) == 1 and runbook.rollout.service == "Cache cluster resize runbook"
    assert [i.text for i in runbook.stages[0].items][:3] == [
        "Announce the maintenance window in #infra",
        "Drain node cache-3 from the load balancer",
        "Resize cache-3 to r6g.2xlarge",
    ]
    assert runbook.approvers == ()


# --------------------------------------------------------------------------- hostile input


def test_an_empty_file_is_a_clear_message() -> None:
    for text in ("", "   \n\n\t\n"):
        with pytest.raises(ChecklistError, match="empty file: nothing to import"):
            import_checklist(text, "empty.md")


def test_no_headings_and_no_steps_is_a_clear_message_and_steps_without_headings_are_one_stage() -> None:
    with pytest.raises(ChecklistError, match="no stage, checklist item or numbered step"):
        import_checklist("Just some prose about the release.\n\nAnd another paragraph.\n", "prose.md")
    imported = import_checklist("Deploy notes\n\n- [ ] Deploy\n- [x] Tell the team\n", "flat.md")
    plan = parse_plan(imported.toml, "plan.toml", {}).plan
    assert [i.text for i in plan.stages[0].items] == ["Deploy", "Tell the team"]
    assert "stages.0.items.1; note: [x] in the checklist" in imported.report()


def test_ten_thousand_items_import_to_a_valid_plan() -> None:
    text = "## Stage 1: Many\n\n" + "".join(f"- [ ] Step number {i} of the big list\n" for i in range(10_000))
    plan = _plan(text, "big.md")
    items = plan.stages[0].items
    assert len(items) == 10_000 and len({i.id for i in items}) == 10_000


def test_html_blocks_are_kept_as_notes_not_run_or_dropped() -> None:
    text = (
        "## Stage 1: Web\n\n<div><script>alert(1)</script>\n<b>bold</b></div>\n\n- [ ] Deploy <b>it</b>\n\n"
        "<!-- a comment -->\n"
    )
    imported = import_checklist(text, "html.md")
    plan = parse_plan(imported.toml, "plan.toml", {}).plan
    assert [i.text for i in plan.stages[0].items] == ["Deploy <b>it</b>"]
    report = imported.report()
    assert report.count("HTML block: kept as a note") == 3  # two lines of the div, the comment


def test_a_table_with_missing_cells_gives_a_valid_plan() -> None:
    text = (
        "## Stage 1: Tables\n\n| Metric | Threshold | Actual |\n|---|---|---|\n| Error rate | < 1% |\n| Latency |\n"
        "| | < 5 |\n| | |\n\n| Approver | Role |\n|---|---|\n| @a |\n- [ ] Done\n"
    )
    imported = import_checklist(text, "cells.md")
    plan = parse_plan(imported.toml, "plan.toml", {}).plan
    stage = plan.stages[0]
    assert [(r.label, str(r.threshold)) for r in stage.thresholds] == [("Error rate", "< 1%"), ("< 5", "< 5")]
    assert "Latency: (no threshold given)" in [i.text for i in stage.items]
    assert "empty thresholds row: kept as a note" in imported.report()


@pytest.mark.parametrize(
    "text",
    [
        "# \n## \n### \n- [ ]\n1.\n",  # empty headings and items
        "## Stage 1: x\n```\nunterminated fence\n",
        "## Stage 1: x\n- [ ] `${SECRET}` and ${OTHER:-d} and $${X}\n",  # ${VAR}s are not the plan's
        "## Stage 1: x\n| Metric | Threshold |\n|---|---|\n| A | < 1% |\n| A | healthy |\n| a | < 5ms |\n",
        "## Stage 1: \x1b[31mred\x1b[0m \u202eevil\n- [ ] tab\there \x00 nul\n",
        "## Stage 1: x\n- [ ] FLAG_A=true (via rollout %)\n- [ ] Increase to 100%\n- [ ] Wait 0 hours\n",
        "## Stage 1: [x](javascript:alert(1))\n\n> - [ ] quoted item\n\n* * *\n\n    indented code\n",
        "## Stage 2: y\nRequires Stage 9 and Stage 1\n- [ ] a\n## Stage 1: z\nRequires Stage 2\n- [ ] b\n",
        "## Incident Response\n1. Within 99 fortnights: x\n2. Within 5 minutes:\n## Stage 1\n- [ ] a\n",
        "\ufeff## Stage 1: BOM\r\n- [ ] crlf\r\n",
        "## Stage 1: " + "x" * 56 + "\n- [ ] a\n",  # a 65-character title left no room for the section rule
        "## Phase 1: nothing here\n## Phase 2: x\nRequires Phase 1\n- [ ] a\n",  # requires a stage that was dropped
    ],
)
def test_odd_input_gives_a_valid_plan_or_a_clear_message(text: str) -> None:
    try:
        imported = import_checklist(text, "odd.md")
    except ChecklistError as exc:
        assert "\n" not in str(exc)
        return
    plan = parse_plan(imported.toml, "plan.toml", {}).plan
    shown = [imported.report(), *(s.title for s in plan.stages), *(i.text for s in plan.stages for i in s.items)]
    assert not any(c in text for text in shown for c in ("\x1b", "\u202e", "\x00")), shown
    values = [line for line in imported.toml.splitlines() if not line.startswith("#")]
    assert not any("${SECRET}" in line for line in values)  # quoted in a comment only: never resolved


def test_shuffled_and_mutated_checklist_lines_give_a_valid_plan_or_a_clear_message() -> None:
    """Lines of every checklist here, in random order with hostile characters spliced in (seeded)."""
    lines = [ln for path in [*CHECKLISTS.glob("*.md"), seed_path()] for ln in path.read_text().split("\n")]
    junk = ["|", "`", "```", "#", "- [ ] ", "1. ", "\\", "${X}", "%", "→", "<", "\x1b", "\u202e", "\t", ":", "**"]
    junk += ["<div>", "FLAG_X=true", "Stage 3", "Within 5 minutes:", "Expected: ", "-- ", "\r", "\x00", "x" * 300]
    for seed in range(150):
        rng = random.Random(seed)
        text = "\n".join(
            (line[:i] + rng.choice(junk) + line[i:]) if rng.random() < 0.3 else line
            for line in (rng.choice(lines) for _ in range(rng.randint(1, 80)))
            for i in [rng.randint(0, len(line))]
        )
        try:
            imported = import_checklist(text, "fuzz.md")
        except ChecklistError:
            continue
        parse_plan(imported.toml, "plan.toml", {})  # raises (with the problem) if the draft is not a plan
        imported.report()


def test_the_cli_never_shows_a_traceback(tmp_path: Path) -> None:
    cases = {
        "empty.md": b"",
        "binary.md": b"\xff\xfe\x00garbage",
        "dir": None,
    }
    (tmp_path / "dir").mkdir()
    for name, data in cases.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
        result = subprocess.run(
            [sys.executable, "-m", "cockpit", "plan", "import", str(tmp_path / name)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=60,
        )
        assert result.returncode == 2, (name, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert main(["plan", "import", str(tmp_path / "missing.md")]) == 2


def test_report_goes_to_stdout_with_o_and_to_stderr_without(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = CHECKLISTS / "plain-runbook.md"
    assert main(["plan", "import", str(src), "--report"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("# Draft rollout plan imported from plain-runbook.md")
    assert "-> stages.0.items.0" in out.err
    assert main(["plan", "import", str(src), "-o", str(tmp_path / "p.toml"), "--report"]) == 0
    out = capsys.readouterr()
    assert "-> stages.0.items.0" in out.out and (tmp_path / "p.toml").is_file()


def test_plan_import_loads_no_ui(tmp_path: Path) -> None:
    probe = (
        "import json, sys\nfrom cockpit.cli.main import main\n"
        "code = main(sys.argv[1:])\n"
        "print(json.dumps([code, sorted({m.split('.')[0] for m in sys.modules})]))\n"
    )
    args = ["plan", "import", str(seed_path()), "-o", str(tmp_path / "p.toml")]
    proc = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)
    code, loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert code == 0, proc.stderr
    assert set(loaded).isdisjoint({"textual", "textual_plotext", "screens", "widgets", "plotext", "httpx"})

"""The arrow points one way: screens -> widgets -> cockpit. The core and the headless commands never
load Textual, the UI packages or (but for the Markdown export's chart) plotext."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core_helpers import ENV, EXAMPLE, ROOT

UI = ("textual", "textual_plotext", "screens", "widgets")

PROBE = """
import json, sys
from cockpit.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
loaded = sorted({m.split(".")[0] for m in sys.modules})
print("\\n" + json.dumps(loaded))
"""


def _loaded(args: list[str], tmp_path: Path) -> set[str]:
    env = {**ENV, "COCKPIT_STATE_DIR": str(tmp_path), "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "invalid choice" not in proc.stderr, proc.stderr  # the command exists and ran
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_core_modules_do_not_import_the_ui() -> None:
    """Static: no module in cockpit/ imports a UI package, at any depth of the file."""
    offenders = []
    for path in sorted((ROOT / "cockpit").glob("*.py")) + sorted((ROOT / "cockpit").glob("*/*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in UI]
    assert offenders == []


def test_widgets_do_not_import_screens() -> None:
    offenders = []
    for path in sorted((ROOT / "widgets").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "screens":
                offenders.append(path.name)
    assert offenders == []


def test_importing_every_core_module_loads_no_ui(tmp_path: Path) -> None:
    code = (
        "import importlib, pkgutil, sys, json, cockpit\n"
        "for m in pkgutil.walk_packages(cockpit.__path__, 'cockpit.'):\n"
        "    if m.name != 'cockpit.__main__': importlib.import_module(m.name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    loaded = set(json.loads(proc.stdout))
    assert "cockpit" in loaded
    assert loaded.isdisjoint({*UI, "plotext"})


HEADLESS = [
    ["validate"],
    ["status"],
    ["status", "--json"],
    ["audit", "verify"],
    ["audit", "show"],
    ["note", "hygiene probe"],
    ["check", "--json"],
    ["flags"],
    ["export", "--format", "json"],
]


@pytest.mark.parametrize("args", HEADLESS, ids=[" ".join(a) for a in HEADLESS])
def test_headless_command_loads_no_ui(args: list[str], tmp_path: Path) -> None:
    loaded = _loaded(["--config", str(EXAMPLE), *args], tmp_path)
    assert "cockpit" in loaded
    assert loaded.isdisjoint({*UI, "plotext"}), sorted(loaded & {*UI, "plotext"})


def test_markdown_export_loads_plotext_but_no_textual(tmp_path: Path) -> None:
    loaded = _loaded(["--config", str(EXAMPLE), "export", "--format", "md"], tmp_path)
    assert loaded.isdisjoint(UI), sorted(loaded & set(UI))


def _function_level_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of a project module inside a function that no ``# lazy`` comment
    (on its line, or on the line above its block of imports) explains."""
    lines = path.read_text().splitlines()
    found = []
    for fn in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            if node.module.split(".")[0] not in ("cockpit", "screens", "widgets", "tests", "bench"):
                continue
            row = node.lineno - 1
            while row > 0 and (not lines[row - 1].strip() or lines[row - 1].lstrip().startswith(("from ", "import "))):
                row -= 1  # the top of this block of imports (stdlib first, a blank line, then the project's)
            explained = "lazy" in lines[node.lineno - 1] or (row > 0 and "# lazy" in lines[row - 1])
            if not explained:
                found.append((node.lineno, node.module))
    return found


def test_imports_of_the_project_sit_at_the_top_or_say_why() -> None:
    """An import inside a function hides the graph (and its cycles): only a commented lazy load may. The tests
    and the benches are held to it too."""
    unexplained = {
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for package in ("cockpit", "screens", "widgets", "tests", "bench")
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, module in _function_level_imports(path)
    }
    assert not unexplained, "\n".join(sorted(unexplained))

"""The map stays true to the house: ``ARCHITECTURE.md`` names every module of the core and the UI, and
every module it names exists (the restructure's "a newcomer finds the room of any behaviour")."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cockpit", "widgets", "screens")


def modules() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if path.name not in ("__init__.py", "__main__.py")
    )


def test_the_map_names_every_module() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    unnamed = [str(path.relative_to(ROOT)) for path in modules() if f"{path.name}`" not in text]
    assert not unnamed, f"ARCHITECTURE.md does not name: {', '.join(unnamed)}"


def test_every_module_the_map_names_exists() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    named = set(re.findall(r"([A-Za-z0-9_]+\.py)\b", text))
    existing = {path.name for path in modules()}
    assert named - existing == set(), f"ARCHITECTURE.md names modules that do not exist: {named - existing}"


def test_the_readme_layout_names_every_package_of_the_core() -> None:
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("cockpit/     the plain-Python core") :]
    packages = sorted(p.name for p in (ROOT / "cockpit").iterdir() if (p / "__init__.py").exists())
    missing = [name for name in packages if f"  {name}/" not in layout]
    assert not missing, f"the README's layout does not list: {', '.join(missing)}"

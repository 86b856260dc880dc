"""The command line as people type it: --config after the subcommand, a role by its title."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.cli.main import hoist_global_options, main
from tests.core_helpers import ENV, EXAMPLE


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("COCKPIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("COCKPIT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./cockpit.toml here: the plan comes only from --config


@pytest.mark.parametrize(
    "argv",
    [
        ["--config", str(EXAMPLE), "validate"],
        ["validate", "--config", str(EXAMPLE)],
        ["validate", f"--config={EXAMPLE}"],
        ["validate", "-c", str(EXAMPLE)],
    ],
    ids=["before", "after", "after-equals", "after-short"],
)
def test_config_is_accepted_before_and_after_the_subcommand(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main(argv) == 0
    assert "valid plan" in capsys.readouterr().out


def test_hoisting_leaves_other_arguments_alone() -> None:
    assert hoist_global_options(["note", "--", "-c", "x"]) == ["note", "--", "-c", "x"]
    assert hoist_global_options(["flag", "set", "F", "5", "--readonly", "--confirm", "F"]) == [
        "--readonly", "flag", "set", "F", "5", "--confirm", "F"
    ]  # fmt: skip


@pytest.mark.parametrize("given", ["dev-lead", "Dev Lead", "dev lead", "DEV-LEAD", "  Dev Lead "])
def test_a_role_is_accepted_by_its_title_case_insensitively(capsys: pytest.CaptureFixture[str], given: str) -> None:
    assert main(["-c", str(EXAMPLE), "approve", given]) == 0
    out = capsys.readouterr().out
    assert "dev-lead" in out
    assert main(["-c", str(EXAMPLE), "revoke", given]) == 0


def test_an_unknown_role_lists_ids_and_titles(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(EXAMPLE), "approve", "QA Lead"]) == 1
    err = capsys.readouterr().err
    assert "unknown role 'QA Lead'" in err and "dev-lead" in err

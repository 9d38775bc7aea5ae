"""The README's references must name every setting and every command the code has."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.reference_docs import cli_markdown, config_markdown, settings_rows

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands():
    first_block = README.split("```")[1]
    assert first_block.strip().splitlines() == [
        "python3 dev.py demo      # sets everything up and runs the demo: sandbox + local SQLite, no accounts",
        "python3 dev.py test      # sets everything up and runs the whole test suite"]


@pytest.mark.parametrize("key", [row[0] for row in settings_rows()])
def test_every_setting_is_documented(key):
    assert f"`{key}`" in README, f"{key} is missing from the README's configuration reference"


@pytest.mark.parametrize("command", ["demo", "sandbox", "run", "sync", "status", "errors", "history", "config",
                                     "connections", "secrets", "customers"])
def test_every_command_is_documented(command):
    assert f"`bngsync {command}" in README


def test_the_generated_references_are_current():
    """A changed setting or command: run `python scripts/reference_docs.py --write`."""
    assert config_markdown() in README, "the configuration reference is out of date"
    assert cli_markdown() in README, "the CLI reference is out of date"

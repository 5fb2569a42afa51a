"""Generated docs must not drift from the code."""

from __future__ import annotations

from pathlib import Path

from prplan.tools.clidoc import reference

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_cli_reference_matches_the_commands() -> None:
    committed = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert committed == reference(), (
        "docs/cli.md is out of date: run `python -m prplan.tools.clidoc --write docs/cli.md`"
    )


def test_the_reference_covers_every_command() -> None:
    text = reference()
    for command in (
        "plan",
        "apply",
        "show",
        "states",
        "demo",
        "forge",
        "forge serve",
        "forge create-repo",
    ):
        assert f"## `prplan {command}`" in text


def test_the_concepts_quote_the_size_of_the_situation_space_the_code_has() -> None:
    from prplan.core.table import space_size

    text = (DOCS / "concepts.md").read_text(encoding="utf-8")
    assert f"every one of the {space_size():,} points" in text

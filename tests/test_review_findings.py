"""Regression tests for what an independent review of the review features
(issue 11) found: each was reproduced first, then fixed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import prplan
from prplan._render import prose
from prplan.cli import cli

REPO = "acme/dep"


def test_names_from_the_forge_neither_link_nor_ping_anyone_in_markdown() -> None:
    text = prose("see https://evil.example/a @acme/admins")
    assert "https://" not in text and "@acme" not in text
    # Only invisible breaks were added: a reader sees the same text.
    assert "evil" in text and text.replace("\u200b", "").replace("\\", "") == (
        "see https://evil.example/a @acme/admins"
    )


@pytest.mark.parametrize("char", ["\x85", "\u2028", "\u202e", "\u2066"])
def test_titles_that_would_show_other_than_they_are_are_refused(char: str) -> None:
    with pytest.raises(prplan.InvalidRequestError) as refused:
        prplan.ChangeRequest(
            repo=REPO, branch="b", files={"a.txt": b"a"}, title=f"Deploy{char}evil"
        )
    assert [p.field for p in refused.value.problems] == ["title"]


def test_a_token_in_the_api_urls_query_never_shows() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "prplan", "plan", "--repo", REPO, "--branch", "b",
         "--github-url", "http://u:TOK@127.0.0.1:9/api?access_token=ghp_QSsecret",
         "--set", "values.yaml:image.tag=1"],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode != 0
    both = result.stdout + result.stderr
    assert "ghp_QSsecret" not in both and "TOK" not in both and "access_token=***" in both


def test_apply_off_a_terminal_prints_no_colour_codes(tmp_path: Path) -> None:
    data = tmp_path / "forge"
    with prplan.LocalForge.open(data) as forge:
        forge.create_repo(REPO, {"a.txt": "a\n"})
    (tmp_path / "a.txt").write_text("b\n")
    result = CliRunner().invoke(
        cli,
        ["apply", "--repo", REPO, "--local", str(data), "--branch", "b", "--yes",
         "--file", f"a.txt={tmp_path / 'a.txt'}"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "prplan apply acme/dep: created" in result.output
    assert "\\x1b" not in result.output and "\x1b" not in result.output

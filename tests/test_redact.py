"""--redact-content: plan files with digests instead of contents; applying
needs the same files again and refuses different ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import prplan
from prplan.cli import cli
from prplan.edits import YamlSet

REPO = "acme/secrets"
SECRET = "password: hunter2-do-not-leak\n"


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    forge = prplan.LocalForge.open(tmp_path / "forge")
    forge.create_repo(REPO, {"values.yaml": "password: old\n"})
    forge.close()
    local = tmp_path / "values.yaml"
    local.write_text(SECRET)
    return tmp_path / "forge", local


def _plan(forge_dir: Path, local: Path, out: Path) -> None:
    result = CliRunner().invoke(cli, ["plan", "--repo", REPO, "--local", str(forge_dir), "--branch", "b",
                                      "--file", f"values.yaml={local}", "--automerge", "--redact-content",
                                      "--out", str(out)])  # fmt: skip
    assert result.exit_code == 2, result.output


def test_a_redacted_plan_holds_no_content_and_applies_with_the_same_files(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    forge_dir, local = setup
    saved = tmp_path / "plan.json"
    _plan(forge_dir, local, saved)
    text = saved.read_text()
    assert "hunter2" not in text
    document = json.loads(text)
    assert document["redacted"] is True
    assert document["request"]["files"]["values.yaml"] == {
        "redacted": prplan.git_blob_sha(SECRET.encode())
    }

    without = CliRunner().invoke(cli, ["apply", str(saved), "--local", str(forge_dir)])
    assert (
        without.exit_code == 1
        and "--file values.yaml: is missing: the reviewed plan writes this file" in without.output
    )

    applied = CliRunner().invoke(
        cli, ["apply", str(saved), "--local", str(forge_dir), "--file", f"values.yaml={local}"]
    )
    assert applied.exit_code == 0, applied.output
    assert (
        prplan.LocalForge.open(forge_dir).read_file(REPO, "main", "values.yaml") == SECRET.encode()
    )


def test_different_or_missing_files_are_refused_and_nothing_is_written(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    forge_dir, local = setup
    saved = tmp_path / "plan.json"
    _plan(forge_dir, local, saved)
    other = tmp_path / "other.yaml"
    other.write_text("password: something-else\n")
    changed = CliRunner().invoke(
        cli, ["apply", str(saved), "--local", str(forge_dir), "--file", f"values.yaml={other}"]
    )
    assert changed.exit_code == 1 and "differs from the reviewed content" in changed.output
    extra = CliRunner().invoke(cli, ["apply", str(saved), "--local", str(forge_dir), "--file", f"values.yaml={local}",
                                     "--file", f"more.yaml={other}"])  # fmt: skip
    assert extra.exit_code == 1 and "is not in the reviewed plan" in extra.output
    assert prplan.LocalForge.open(forge_dir).branches(REPO).keys() == {"main"}


def test_the_python_api_round_trips_a_redacted_plan(setup: tuple[Path, Path]) -> None:
    forge_dir, _ = setup
    forge = prplan.LocalForge.open(forge_dir)
    request = prplan.ChangeRequest(
        repo=REPO, branch="b", files={"values.yaml": SECRET, "gone.yaml": None}
    )
    plan = prplan.plan(prplan.observe(forge, request), request)
    redacted = plan.to_json(redact=True)
    assert prplan.Plan.from_json(redacted, contents={"values.yaml": SECRET.encode()}) == plan
    with pytest.raises(
        prplan.PlanFormatError, match="content must be"
    ):  # un-flagged digests are not contents
        prplan.Plan.from_json(redacted.replace('"redacted": true', '"redacted": false'))


def test_a_redacted_plan_with_edits_holds_no_file_and_applies(tmp_path: Path) -> None:
    forge = prplan.LocalForge.open(tmp_path / "forge")
    forge.create_repo(
        REPO, {"values.yaml": "image:\n  tag: '1.4.1'\ndb_password: s3cr3t-in-the-file\n"}
    )
    forge.close()
    saved = tmp_path / "plan.json"
    planned = CliRunner().invoke(cli, ["plan", "--repo", REPO, "--local", str(tmp_path / "forge"), "--branch", "b",
                                       "--set", "values.yaml:image.tag=1.4.2", "--automerge", "--redact-content",
                                       "--out", str(saved)])  # fmt: skip
    assert planned.exit_code == 2, planned.output
    assert "s3cr3t" not in saved.read_text()
    applied = CliRunner().invoke(cli, ["apply", str(saved), "--local", str(tmp_path / "forge")])
    assert applied.exit_code == 0, applied.output
    final = prplan.LocalForge.open(tmp_path / "forge").read_file(REPO, "main", "values.yaml")
    assert final == b"image:\n  tag: '1.4.2'\ndb_password: s3cr3t-in-the-file\n"


def test_a_redacted_plan_with_edits_is_refused_when_the_file_moved(tmp_path: Path) -> None:
    forge = prplan.LocalForge.open(tmp_path / "forge")
    forge.create_repo(REPO, {"values.yaml": "image:\n  tag: '1.4.1'\n"})
    request = prplan.ChangeRequest(
        repo=REPO, branch="b", files={"values.yaml": YamlSet(path="image.tag", value="2")}
    )
    plan = prplan.plan(prplan.observe(forge, request), request)
    redacted = plan.to_json(redact=True)
    assert (
        prplan.Plan.from_json(
            redacted, contents={}, read_blob=lambda sha: forge.read_blob(REPO, sha)
        )
        == plan
    )
    with pytest.raises(prplan.PlanFormatError, match="name the forge"):
        prplan.Plan.from_json(redacted, contents={})
    with pytest.raises(prplan.PlanFormatError, match="the forge returned other content"):
        prplan.Plan.from_json(redacted, contents={}, read_blob=lambda sha: b"something else\n")

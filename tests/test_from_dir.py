"""--from-dir never reads outside its directory: symbolic links (to files or
directories, outside or inside) and special files are refused, naming the
path, before anything is read from the forge; nothing they point to reaches
the plan or the output."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import prplan
from prplan.cli import cli

REPO = "acme/app"
SECRET = "aws_secret_access_key = do-not-leak-0123\n"


@pytest.fixture
def forge_dir(tmp_path: Path) -> Path:
    forge = prplan.LocalForge.open(tmp_path / "forge")
    forge.create_repo(REPO, {"a.txt": "a\n"})
    forge.close()
    return tmp_path / "forge"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "credentials").write_text(SECRET)
    root = tmp_path / "in"
    (root / "apps").mkdir(parents=True)
    (root / "apps" / "values.yaml").write_text("tag: 2\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    return root


def _plan(forge_dir: Path, tree: Path, out: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli,
        ["plan", "--repo", REPO, "--local", str(forge_dir), "--branch", "b",
         "--from-dir", str(tree), "--out", str(out)],
    )  # fmt: skip
    return result.exit_code, result.output  # stdout and stderr, interleaved


def test_a_directory_of_regular_files_is_planned_without_git(
    forge_dir: Path, tree: Path, tmp_path: Path
) -> None:
    code, output = _plan(forge_dir, tree, tmp_path / "plan.json")
    assert code == 2, output
    plan = prplan.Plan.from_json((tmp_path / "plan.json").read_text())
    assert sorted(plan.request.files) == ["apps/values.yaml"]


@pytest.mark.parametrize(
    "link, target",
    [
        ("apps/creds.yaml", "../../outside/credentials"),  # a file outside
        ("config", "../outside"),  # a directory outside
        ("apps/abs.yaml", "{tmp}/outside/credentials"),  # absolute
        ("apps/same.yaml", "values.yaml"),  # even inside: links are not committed
    ],
)
def test_a_symbolic_link_is_refused_and_what_it_points_to_never_read(
    link: str, target: str, forge_dir: Path, tree: Path, tmp_path: Path
) -> None:
    (tree / link).symlink_to(target.replace("{tmp}", str(tmp_path)))
    out = tmp_path / "plan.json"
    code, output = _plan(forge_dir, tree, out)
    assert code == 1, output
    assert f"error: --from-dir: {link} is a symbolic link" in output
    assert "do-not-leak" not in output and not out.exists()


def test_a_fifo_is_refused_without_hanging(forge_dir: Path, tree: Path, tmp_path: Path) -> None:
    os.mkfifo(tree / "apps" / "pipe")
    code, output = _plan(forge_dir, tree, tmp_path / "plan.json")
    assert code == 1 and "error: --from-dir: apps/pipe is not a regular file" in output


def test_every_link_is_reported_at_once(forge_dir: Path, tree: Path, tmp_path: Path) -> None:
    (tree / "one").symlink_to(tmp_path / "outside" / "credentials")
    (tree / "apps" / "two").symlink_to(tmp_path / "outside")
    code, output = _plan(forge_dir, tree, tmp_path / "plan.json")
    lines = [line for line in output.splitlines() if "symbolic link" in line]
    assert code == 1 and len(lines) == 2, output
    assert json.dumps(SECRET)[1:-1] not in output


def test_modes_are_the_repositorys_not_the_directorys(tmp_path: Path) -> None:
    """As documented for --from-dir: content only. An executable file in the
    repository stays 100755; a new file is 100644 even if executable here."""
    forge = prplan.LocalForge.open(tmp_path / "forge")
    forge.create_repo(REPO, {"run.sh": "#!/bin/sh\n"}, executable={"run.sh"})
    forge.close()
    root = tmp_path / "in"
    root.mkdir()
    for name in ("run.sh", "newexec.sh"):
        (root / name).write_text("#!/bin/sh\necho changed\n")
    (root / "run.sh").chmod(0o644)
    (root / "newexec.sh").chmod(0o755)
    result = CliRunner().invoke(
        cli,
        ["apply", "--repo", REPO, "--local", str(tmp_path / "forge"), "--branch", "b",
         "--from-dir", str(root), "--no-create-pr", "--yes"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    forge = prplan.LocalForge.open(tmp_path / "forge")
    commit = forge.git_object(REPO, forge.branches(REPO)["b"])
    entries = forge.git_tree_entries(REPO, commit.tree.decode(), recursive=True)  # type: ignore[union-attr]
    assert {e.path: e.mode for e in entries} == {"run.sh": 0o100755, "newexec.sh": 0o100644}
    assert forge.read_file(REPO, "b", "newexec.sh") == b"#!/bin/sh\necho changed\n"

"""Plain git against the local forge: clone shows prplan's commit, push
seeds a repository (and open pull requests follow a pushed branch)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import prplan
from prplan.localforge._rest import ForgeServer

from served import TOKEN, Served

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")
REPO = "acme/app"


def _git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60,
                          env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(cwd or "/tmp")})  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_clone_shows_the_commit_prplan_made(forge_server: ForgeServer, tmp_path: Path) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n"})
    served = Served(forge_server, forge, token=None)
    request = prplan.ChangeRequest(
        repo=REPO,
        branch="prplan/bump",
        files={"values.yaml": "tag: 2\n"},
        automerge=True,
        title="Bump the tag",
    )
    prplan.apply(prplan.plan(prplan.observe(served.client, request), request), served.client)

    _git("clone", "-q", f"{forge_server.url}/{REPO}.git", str(tmp_path / "app"))
    assert (tmp_path / "app" / "values.yaml").read_text() == "tag: 2\n"
    log = _git("log", "--format=%s%n%b", cwd=tmp_path / "app")
    assert "Bump the tag" in log and f"Prplan-Request: {request.request_id}" in log


def test_push_seeds_a_repository_and_pull_requests_follow(
    forge_server: ForgeServer, tmp_path: Path
) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"a.txt": "a\n"})
    forge.push(REPO, "feature", {"b.txt": "b\n"})
    forge.open_pr(REPO, "feature")
    Served(forge_server, forge, token=None)
    work = tmp_path / "work"
    _git("clone", "-q", "-b", "feature", f"{forge_server.url}/{REPO}.git", str(work))
    (work / "c.txt").write_text("pushed with git\n")
    _git("add", "c.txt", cwd=work)
    _git(
        "-c",
        "user.name=Dev",
        "-c",
        "user.email=dev@example.com",
        "commit",
        "-qm",
        "From git",
        cwd=work,
    )
    _git("push", "-q", "origin", "feature", cwd=work)
    assert forge.read_file(REPO, "feature", "c.txt") == b"pushed with git\n"
    (pr,) = forge.pull_requests(REPO)
    assert pr.head_sha == forge.branches(REPO)["feature"]


def test_git_needs_the_token_when_the_forge_has_one(
    forge_server: ForgeServer, tmp_path: Path
) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"a.txt": "a\n"})
    Served(forge_server, forge, token=TOKEN)
    denied = subprocess.run(
        ["git", "clone", "-q", f"{forge_server.url}/{REPO}.git", str(tmp_path / "no")],
        capture_output=True, text=True, check=False, timeout=60, env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert denied.returncode != 0
    url = forge_server.url.replace("http://", f"http://x-access-token:{TOKEN}@")
    _git("clone", "-q", f"{url}/{REPO}.git", str(tmp_path / "yes"))
    assert (tmp_path / "yes" / "a.txt").read_text() == "a\n"

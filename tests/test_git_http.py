"""Plain git against the local forge: clone shows prplan's commit, push
seeds a repository (and open pull requests follow a pushed branch)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import prplan
from prplan.forges.local.server.app import ForgeServer

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


def _run_git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60,
                          env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(cwd or "/tmp")})  # fmt: skip


def _commit_a_file(work: Path, name: str, text: str) -> None:
    (work / name).write_text(text)
    _git("add", name, cwd=work)
    _git("-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", f"Add {name}", cwd=work)  # fmt: skip


def test_push_from_a_shallow_clone(forge_server: ForgeServer, tmp_path: Path) -> None:
    """CI checks out with --depth 1; its pushes send 'shallow' lines first."""
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"a.txt": "a\n"})
    for n in range(3):  # some history below the shallow boundary
        forge.push(REPO, "main", {"a.txt": f"a{n}\n"})
    forge.push(REPO, "feature", {"b.txt": "b\n"})
    number = forge.open_pr(REPO, "feature")
    Served(forge_server, forge, token=None)
    work = tmp_path / "work"
    _git("clone", "-q", "--depth", "1", "-b", "feature", f"{forge_server.url}/{REPO}.git", str(work))  # fmt: skip
    assert (work / ".git" / "shallow").exists()
    _commit_a_file(work, "c.txt", "from CI\n")
    _git("push", "-q", "origin", "feature", "feature:ci-branch", cwd=work)
    assert forge.read_file(REPO, "feature", "c.txt") == b"from CI\n"
    assert forge.branches(REPO)["ci-branch"] == forge.branches(REPO)["feature"]
    assert forge.pull_row(REPO, number)["head_sha"] == forge.branches(REPO)["feature"]
    # What was pushed clones whole: the forge's history under it is complete.
    _git("clone", "-q", f"{forge_server.url}/{REPO}.git", str(tmp_path / "full"))
    _git("fsck", "--strict", cwd=tmp_path / "full")


def test_a_shallow_push_onto_history_the_forge_lacks_is_refused(
    forge_server: ForgeServer, tmp_path: Path
) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"a.txt": "a\n"})
    forge.push(REPO, "main", {"a.txt": "a2\n"})
    forge.create_repo("acme/other", {"o.txt": "o\n"})
    Served(forge_server, forge, token=None)
    work = tmp_path / "work"
    _git("clone", "-q", "--depth", "1", f"{forge_server.url}/{REPO}.git", str(work))
    _commit_a_file(work, "c.txt", "c\n")
    before = forge.refs("acme/other")
    pushed = _run_git("push", f"{forge_server.url}/acme/other.git", "HEAD:refs/heads/stray", cwd=work)  # fmt: skip
    assert pushed.returncode != 0
    assert "history is incomplete" in pushed.stderr or "shallow" in pushed.stderr, pushed.stderr
    assert forge.refs("acme/other") == before


def test_pushes_obey_the_forges_rules(forge_server: ForgeServer, tmp_path: Path) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"a.txt": "a\n"})
    forge.push(REPO, "feature", {"b.txt": "b\n"})
    number = forge.open_pr(REPO, "feature")
    Served(forge_server, forge, token=None)
    work = tmp_path / "work"
    _git("clone", "-q", f"{forge_server.url}/{REPO}.git", str(work))
    refs = forge.refs(REPO)

    deleted = _run_git("push", "origin", ":main", cwd=work)
    assert deleted.returncode != 0 and "default branch" in deleted.stderr, deleted.stderr
    _commit_a_file(work, "c.txt", "c\n")
    into_pull = _run_git("push", "-f", "origin", f"HEAD:refs/pull/{number}/head", cwd=work)
    assert into_pull.returncode != 0 and "read-only" in into_pull.stderr, into_pull.stderr
    bad_name = _run_git("push", "origin", "HEAD:refs/heads/.hidden", cwd=work)
    assert bad_name.returncode != 0
    assert forge.refs(REPO) == refs

    # Deleting a branch by push closes its pull request, as deleting it on GitHub does.
    _git("push", "-q", "origin", ":feature", cwd=work)
    assert "feature" not in forge.branches(REPO)
    assert forge.pull_row(REPO, number)["state"] == "closed"


def test_a_broken_git_stream_is_a_client_error(forge_server: ForgeServer) -> None:
    import requests

    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"a.txt": "a\n"})
    Served(forge_server, forge, token=None)
    refs = forge.refs(REPO)
    for service in ("git-upload-pack", "git-receive-pack"):
        for garbage in (b"garbage", b"0000", b"00ffwant " + b"z" * 40, b"0032" + b"\x00" * 46):
            answer = requests.post(f"{forge_server.url}/{REPO}.git/{service}", data=garbage, timeout=10,
                                   headers={"Content-Type": f"application/x-{service}-request"})  # fmt: skip
            assert answer.status_code < 500, (service, garbage, answer.status_code)
    assert forge.refs(REPO) == refs


#: Tree paths that look harmless but that some file system git supports opens
#: as ``.git`` (or ``.gitmodules``, for a link), beside ones that are fine.
DISGUISED_PATHS = [
    (".git /x", "100644"), (".git./x", "100644"), (".git:x", "100644"), ("git~1/config", "100644"),
    ("GIT~1/x", "100644"), (".git\u200c/x", "100644"), ("a\\.git\\x", "100644"),
    (".gitmodules", "120000"), ("sub/gitmod~1", "120000"), ("x/.gitmodules.", "120000"),
    ("a\\b", "100644"), ("a\nb", "100644"), (" ", "100644"), (".gitx/y", "100644"),
    (".gitmodules", "100644"), ("git~2/x", "100644"), ("sub/.gitignore", "120000"),
]  # fmt: skip


def _git_fsck_refuses(tmp_path: Path, path: str, mode: str) -> bool:
    """Does ``git fsck --strict`` (what GitHub runs on what it receives)
    refuse a repository whose one commit holds ``path``?"""
    from dulwich.object_store import commit_tree_changes
    from dulwich.objects import Blob, Commit, Tree
    from dulwich.repo import Repo

    where = tmp_path / f"fsck-{abs(hash((path, mode)))}.git"
    repo = Repo.init_bare(str(where), mkdir=True)
    blob, empty = Blob.from_string(b"x"), Tree()
    repo.object_store.add_objects([(blob, None), (empty, None)])
    commit = Commit()
    commit.tree = commit_tree_changes(repo.object_store, empty.id, [(path.encode(), int(mode, 8), blob.id)])  # fmt: skip
    commit.author = commit.committer = b"A <a@example.com>"
    commit.author_time = commit.commit_time = 1_700_000_000
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = b"m\n"
    repo.object_store.add_object(commit)
    repo.refs[b"refs/heads/main"] = commit.id
    return _run_git(f"--git-dir={where}", "fsck", "--strict", "--no-dangling").returncode != 0


def test_the_forge_refuses_exactly_the_tree_paths_git_fsck_refuses(
    forge_server: ForgeServer, tmp_path: Path
) -> None:
    """Each path is 422 when git's fsck refuses it; each path accepted clones."""
    import requests

    forge = prplan.LocalForge.open(tmp_path / "forge")
    forge.create_repo(REPO, {"a.txt": "a\n"})
    Served(forge_server, forge, token=None)
    api = f"{forge_server.api_url}/repos/{REPO}"
    for index, (path, mode) in enumerate(DISGUISED_PATHS):
        entry = {"path": path, "mode": mode, "type": "blob", "content": "x"}
        answer = requests.post(f"{api}/git/trees", json={"tree": [entry]}, timeout=10)
        refused_by_git = _git_fsck_refuses(tmp_path, path, mode)
        assert answer.status_code == (422 if refused_by_git else 201), (path, mode, answer.text)
        if answer.status_code != 201:
            assert repr(path) in answer.json()["errors"][0]["message"]
            continue
        commit = requests.post(f"{api}/git/commits", timeout=10,
                               json={"message": "m", "tree": answer.json()["sha"], "parents": []})  # fmt: skip
        branch = f"accepted-{index}"
        requests.post(f"{api}/git/refs", json={"ref": f"refs/heads/{branch}", "sha": commit.json()["sha"]}, timeout=10)  # fmt: skip
        _git("clone", "-q", "-b", branch, f"{forge_server.url}/{REPO}.git", str(tmp_path / branch))
    _git(f"--git-dir={tmp_path / 'forge' / 'repos' / 'acme' / 'app.git'}", "fsck", "--strict")

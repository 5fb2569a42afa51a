"""Every endpoint the local forge serves, driven through PyGithub as a test
driver would, each answer validated against GitHub's OpenAPI schema."""

from __future__ import annotations

import base64
import json
from typing import Any

import github
import pytest
import requests
from dulwich.objects import Blob
from github import Auth, Github

import prplan
from prplan.forges.local.server.app import ForgeServer

import openapi_contract
from served import TOKEN, Served

REPO = "acme/app"
pytestmark = pytest.mark.skipif(
    openapi_contract.load_spec() is None, reason=openapi_contract.SKIP_REASON
)


@pytest.fixture
def driven(forge_server: ForgeServer) -> tuple[Served, Github]:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"README.md": "# app\n", "apps/api/values.yaml": "tag: 1\n"})
    served = Served(forge_server, forge)
    gh = Github(base_url=forge_server.api_url, auth=Auth.Token(TOKEN), per_page=2, lazy=False,
                seconds_between_requests=None, seconds_between_writes=None)  # fmt: skip
    return served, gh


def test_every_endpoint_answers_on_contract(driven: tuple[Served, Github]) -> None:
    served, gh = driven
    forge = served.forge
    repo = gh.get_repo(REPO)
    assert repo.default_branch == "main" and repo.full_name == REPO
    assert gh.get_user().login == "prplan"
    assert gh.get_rate_limit().resources.core.limit == 5000

    main = repo.get_branch("main")
    assert main.commit.sha == forge.branches(REPO)["main"]
    assert [r.ref for r in repo.get_git_matching_refs("heads/")] == ["refs/heads/main"]

    # Contents: a file, a directory, then create, update and delete through the contents API.
    readme = repo.get_contents("README.md")
    assert not isinstance(readme, list) and readme.decoded_content == b"# app\n"
    listing = repo.get_contents("apps")
    assert isinstance(listing, list) and [c.path for c in listing] == ["apps/api"]
    created = repo.create_file("docs/new.md", "add docs", "hello\n", branch="main")
    updated = repo.update_file(
        "docs/new.md", "update docs", "hello again\n", created["content"].sha, branch="main"
    )
    repo.delete_file("docs/new.md", "remove docs", updated["content"].sha, branch="main")
    assert forge.read_file(REPO, "main", "docs/new.md") is None

    # The Git Data API, as prplan's client uses it.
    blob = repo.create_git_blob(base64.b64encode(b"\x00binary").decode(), "base64")
    assert base64.b64decode(repo.get_git_blob(blob.sha).content) == b"\x00binary"
    head = repo.get_git_commit(main.commit.sha)
    tree = repo.create_git_tree(
        [github.InputGitTreeElement("bin.dat", "100644", "blob", sha=blob.sha)], base_tree=head.tree
    )
    assert {e.path for e in repo.get_git_tree(tree.sha).tree} == {"README.md", "apps", "bin.dat"}
    commit = repo.create_git_commit("Add a binary", tree, [head])
    ref = repo.create_git_ref("refs/heads/feature", commit.sha)
    assert repo.get_commit(commit.sha).files[0].filename == "bin.dat"

    # Pull requests: several, to page through (per_page=2), then update, merge, inspect.
    for number in range(3):
        forge.push(REPO, f"topic-{number}", {f"t{number}.txt": "t\n"})
        forge.open_pr(REPO, f"topic-{number}", title=f"Topic {number}")
    pr = repo.create_pull(base="main", head="feature", title="Feature", body="A binary file")
    pulls = list(repo.get_pulls(state="all"))
    assert [p.number for p in pulls] == [4, 3, 2, 1]  # newest first, across two pages
    assert any('rel="next"' in link for link in served.check.links)
    assert [f.filename for f in pr.get_files()] == ["bin.dat"]
    pr.edit(title="Feature, reviewed")
    assert not pr.is_merged()
    assert pr.merge(sha=pr.head.sha, merge_method="merge").merged
    assert repo.get_pull(pr.number).merged and pr.is_merged()
    comparison = repo.compare("main", "topic-0")
    assert comparison.status == "diverged" and comparison.ahead_by == 1
    ref.delete()

    assert served.violations == []
    used = {(m, p.split("?")[0]) for m, p, _ in served.app.log.entries}
    assert len(used) >= 25, sorted(used)


def test_errors_are_githubs(driven: tuple[Served, Github]) -> None:
    served, gh = driven
    repo = gh.get_repo(REPO)
    with pytest.raises(github.UnknownObjectException):
        gh.get_repo("acme/missing")
    with pytest.raises(github.UnknownObjectException):
        repo.get_git_ref("heads/missing")
    served.forge.push(REPO, "feature", {"f.txt": "f\n"})
    repo.create_pull(base="main", head="feature", title="One")
    with pytest.raises(github.GithubException) as duplicate:
        repo.create_pull(base="main", head="feature", title="Two")
    assert duplicate.value.status == 422
    assert (
        duplicate.value.data["errors"][0]["message"]
        == "A pull request already exists for acme:feature."
    )
    with pytest.raises(github.GithubException) as exists:
        repo.create_git_ref("refs/heads/feature", served.forge.branches(REPO)["main"])
    assert exists.value.status == 422 and exists.value.data["message"] == "Reference already exists"
    pr = repo.get_pull(1)
    with pytest.raises(github.GithubException) as moved:
        pr.merge(sha="0" * 40)
    assert moved.value.status == 409
    served.forge.close_pr(REPO, 1)
    with pytest.raises(github.GithubException) as closed:
        pr.merge()
    assert closed.value.status == 405
    with pytest.raises(github.BadCredentialsException):
        Github(base_url=served.server.api_url, auth=Auth.Token("nope")).get_repo(REPO)
    assert served.violations == []


def _raw(served: Served, method: str, path: str, body: object = None, **options: Any) -> Any:
    """One request as any HTTP client could send it, JSON or not."""
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body)
    return requests.request(method, f"{served.server.api_url}/repos/{REPO}{path}", data=data,
                            headers={"Authorization": f"token {TOKEN}"}, timeout=10, **options)  # fmt: skip


def test_trees_git_would_refuse_are_422_naming_every_entry(
    driven: tuple[Served, Github],
) -> None:
    served, _ = driven
    forge = served.forge
    main = forge.branches(REPO)["main"]
    base_tree = _raw(served, "GET", f"/git/commits/{main}").json()["tree"]["sha"]
    bad = [
        {"path": "..", "mode": "100644", "type": "blob", "content": "x"},
        {"path": ".git/hooks/post-checkout", "mode": "100755", "type": "blob", "content": "x"},
        {"path": "", "mode": "100644", "type": "blob", "content": "x"},
        {"path": "./x", "mode": "100644", "type": "blob", "content": "x"},
        {"path": "a//b", "mode": "100644", "type": "blob", "content": "x"},
        {"path": "dir", "mode": "040000", "type": "tree", "content": "blob text"},
        {"path": "m", "mode": "abc", "type": "blob", "content": "x"},
        {"path": "t", "mode": "100644", "type": "tree", "content": "x"},
        {"path": "s", "mode": "100644", "type": "blob", "sha": "not-a-sha"},
        {"path": "n", "mode": "100644", "type": "blob"},
        # Names Windows or macOS open as .git, and .gitmodules as a link (git fsck's hasDotgit, gitmodulesSymlink).
        {"path": ".git /x", "mode": "100644", "type": "blob", "content": "x"},
        {"path": ".git./x", "mode": "100644", "type": "blob", "content": "x"},
        {"path": "git~1/config", "mode": "100644", "type": "blob", "content": "x"},
        {"path": "GIT~1/x", "mode": "100644", "type": "blob", "content": "x"},
        {"path": ".git\u200c/x", "mode": "100644", "type": "blob", "content": "x"},
        {"path": ".gitmodules", "mode": "120000", "type": "blob", "content": "x"},
    ]
    refs = forge.refs(REPO)
    answer = _raw(served, "POST", "/git/trees", {"base_tree": base_tree, "tree": bad})
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    named = {e["field"].split(".")[0] for e in errors}
    assert named == {f"tree[{i}]" for i in range(len(bad))}, errors
    assert all(e["message"].startswith(e["field"]) for e in errors)  # each says where
    # Nothing stored: no blob for the refused content, no ref moved.
    with pytest.raises(prplan.NotFoundError):
        forge.git_object(REPO, Blob.from_string(b"blob text").id.decode())
    assert forge.refs(REPO) == refs
    # A tree entry whose sha names an object of the wrong kind is refused too.
    blob = _raw(served, "POST", "/git/blobs", {"content": "b", "encoding": "utf-8"}).json()["sha"]
    wrong = _raw(served, "POST", "/git/trees", {"tree": [{"path": "d", "mode": "040000", "type": "tree", "sha": blob}]})  # fmt: skip
    assert wrong.status_code == 422 and "is not a tree" in wrong.text
    assert served.violations == []


def test_valid_trees_of_every_mode_still_work(driven: tuple[Served, Github]) -> None:
    served, _ = driven
    blob = _raw(served, "POST", "/git/blobs", {"content": "x", "encoding": "utf-8"}).json()["sha"]
    sub = _raw(served, "POST", "/git/trees", {"tree": [{"path": "f", "mode": "100644", "type": "blob", "sha": blob}]}).json()["sha"]  # fmt: skip
    tree = [
        {"path": "file", "mode": "100644", "type": "blob", "content": "text"},
        {"path": "tool", "mode": "100755", "type": "blob", "sha": blob},
        {"path": "link", "mode": "120000", "type": "blob", "content": "file"},
        {"path": "dir/sub", "mode": "040000", "type": "tree", "sha": sub},
        {"path": "vendor/lib", "mode": "160000", "type": "commit", "sha": "1" * 40},
        {"path": "deep/a/b.txt", "mode": "100644", "content": "b"},
    ]
    answer = _raw(served, "POST", "/git/trees", {"tree": tree})
    assert answer.status_code == 201, answer.text
    listed = _raw(served, "GET", f"/git/trees/{answer.json()['sha']}?recursive=1").json()["tree"]
    assert {(e["path"], e["mode"]) for e in listed} >= {
        ("file", "100644"), ("tool", "100755"), ("link", "120000"), ("dir/sub", "040000"),
        ("dir/sub/f", "100644"), ("vendor/lib", "160000"), ("deep/a/b.txt", "100644"),
    }  # fmt: skip
    assert served.violations == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/git/trees", {"tree": [{"path": "a", "mode": "abc", "content": "x"}]}),
        ("POST", "/git/trees", {"tree": [{"path": "a", "mode": 100644, "content": "x"}]}),
        ("POST", "/git/trees", {"tree": [{"path": "a", "content": "x"}], "base_tree": 7}),
        (
            "POST",
            "/git/trees",
            {"tree": [{"path": "a/b", "content": "x"}, {"path": "a", "content": "y"}]},
        ),
        ("POST", "/git/trees", {"tree": [{"path": "\ud800", "content": "x"}]}),
        (
            "POST",
            "/git/commits",
            {"message": "m", "tree": "0" * 40, "author": {"name": "No Email"}},
        ),
        ("POST", "/git/commits", {"message": "m", "tree": "0" * 40, "parents": [{}]}),
        ("POST", "/git/commits", {"message": "m", "tree": "zz"}),
        ("POST", "/git/commits", b"[" * 100_000 + b"]" * 100_000),
        ("POST", "/git/commits", b'{"message": ' * 50_000 + b"1" + b"}" * 50_000),
        ("POST", "/git/blobs", {"content": "x", "encoding": ["base64"]}),
        # Not base64 (GitHub refuses it; it used to store an empty blob).
        ("POST", "/git/blobs", {"content": "!!!", "encoding": "base64"}),
        ("POST", "/git/blobs", {"content": "eA=", "encoding": "base64"}),
        ("PUT", "/contents/new.txt", {"message": "m", "content": "!!!"}),
        # Dates git cannot write (they used to be dropped silently), and a NUL in a message.
        *[
            (
                "POST",
                "/git/commits",
                {
                    "message": "m",
                    "tree": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
                    "author": {"name": "A", "email": "a@x", "date": date},
                },
            )
            for date in (
                "99999-01-01T00:00:00Z",
                "2020-01-01T00:00:00+99:00",
                "1000-01-01T00:00:00Z",
                "yesterday",
                "2020-13-45T99:00:00Z",
                1577836800,
            )
        ],
        (
            "POST",
            "/git/commits",
            {"message": "m\u0000x", "tree": "4b825dc642cb6eb9a060e54bf8d69288fbee4904"},
        ),
        ("PUT", "/contents/new.txt", {"message": "m\u0000x", "content": "eA=="}),
        ("POST", "/git/refs", {"ref": "refs/heads/x", "sha": "main"}),
        ("PATCH", "/git/refs/heads/main", {"sha": "z" * 40}),
        ("PATCH", "/git/refs/heads/main", {"sha": "0" * 40, "force": "yes"}),
        ("POST", "/pulls", {"title": ["t"], "head": "main", "base": "main"}),
        ("PATCH", "/pulls/1", {"title": {"nested": True}}),
        ("PUT", "/pulls/1/merge", {"merge_method": ["merge"]}),
        ("PUT", "/contents/.git/config", {"message": "m", "content": "eA=="}),
        ("PUT", "/contents/a.txt", {"message": "m", "content": "eA==", "branch": ["main"]}),
    ],
)
def test_malformed_input_is_a_4xx_and_changes_nothing(
    driven: tuple[Served, Github], method: str, path: str, body: object
) -> None:
    served, _ = driven
    served.forge.push(REPO, "feature", {"f.txt": "f\n"})
    served.forge.open_pr(REPO, "feature")
    refs, pulls = served.forge.refs(REPO), served.forge.pull_rows(REPO)
    answer = _raw(served, method, path, body)
    assert 400 <= answer.status_code < 500, answer.text
    assert isinstance(answer.json()["message"], str)
    assert (served.forge.refs(REPO), served.forge.pull_rows(REPO)) == (refs, pulls)


def test_page_parameters_that_are_not_numbers_fall_back_to_the_defaults(
    driven: tuple[Served, Github],
) -> None:
    served, _ = driven
    for number in range(3):
        served.forge.push(REPO, f"topic-{number}", {f"t{number}.txt": "t\n"})
        served.forge.open_pr(REPO, f"topic-{number}")
    answer = _raw(served, "GET", "/pulls?per_page=abc&page=x%00y")
    assert answer.status_code == 200 and [p["number"] for p in answer.json()] == [3, 2, 1]
    assert served.violations == []


@pytest.mark.parametrize(
    "ref",
    [
        "refs/heads/a..b",
        "refs/heads/.hidden",
        "refs/heads/x.lock",
        "refs/heads/a b",
        "refs/pull/9/head",
    ],
)
def test_refs_git_or_github_would_refuse_are_422(driven: tuple[Served, Github], ref: str) -> None:
    served, _ = driven
    refs = served.forge.refs(REPO)
    answer = _raw(served, "POST", "/git/refs", {"ref": ref, "sha": refs["refs/heads/main"]})
    assert answer.status_code == 422, answer.text
    assert served.forge.refs(REPO) == refs
    assert served.violations == []


def test_numbers_and_names_the_forge_cannot_hold_are_4xx_not_500(
    driven: tuple[Served, Github],
) -> None:
    served, _ = driven
    forge = served.forge
    main = forge.branches(REPO)["main"]
    # A pull request number past SQLite's integers does not exist (404), for every verb.
    huge = "99999999999999999999999"
    for method, path in (("GET", f"/pulls/{huge}"), ("PATCH", f"/pulls/{huge}"),
                         ("PUT", f"/pulls/{huge}/merge"), ("GET", f"/pulls/{huge}/files")):  # fmt: skip
        answer = _raw(served, method, path, {"title": "x"} if method == "PATCH" else {})
        assert answer.status_code == 404, (method, path, answer.text)
    # A branch name where a tree sha goes names its commit's tree, as on GitHub;
    # revision syntax git understands but GitHub does not is 404.
    by_name = _raw(served, "GET", "/git/trees/main?recursive=1")
    by_sha = _raw(served, "GET", f"/git/trees/{main}?recursive=1")
    assert by_name.status_code == 200 and by_name.json() == by_sha.json()
    for revision in ("HEAD~1", "main:apps", "main^{tree}"):
        assert _raw(served, "GET", f"/git/trees/{revision}").status_code == 404, revision
    # A ref under an existing branch, or too long for a file, is GitHub's 422.
    refs = forge.refs(REPO)
    for ref in ("refs/heads/main/sub", "refs/heads/" + "a" * 5000):
        answer = _raw(served, "POST", "/git/refs", {"ref": ref, "sha": main})
        assert answer.status_code == 422, answer.text[:200]
    assert forge.refs(REPO) == refs
    # GitHub answers 404 for a missing pull request on every verb, though its
    # description documents 404 for some only: those are the sole deviations.
    assert all(" 404: status 404 not documented" in v for v in served.violations), served.violations


def test_blob_base64_and_commit_dates_are_taken_as_given(driven: tuple[Served, Github]) -> None:
    """Wrapped base64 (as MIME tools write it) decodes whole; an author's and
    committer's dates are kept, with their offsets."""
    served, gh = driven
    wrapped = base64.encodebytes(b"x" * 100).decode()  # lines of 76 characters
    blob = _raw(served, "POST", "/git/blobs", {"content": wrapped, "encoding": "base64"})
    assert blob.status_code == 201
    assert served.forge.read_blob(REPO, blob.json()["sha"]) == b"x" * 100
    empty_tree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
    when = {"author": {"name": "A", "email": "a@example.com", "date": "2020-01-02T03:04:05+02:00"},
            "committer": {"name": "C", "email": "c@example.com", "date": "2021-06-07T08:09:10Z"}}  # fmt: skip
    made = _raw(served, "POST", "/git/commits", {"message": "m", "tree": empty_tree, **when})
    assert made.status_code == 201, made.text
    commit = gh.get_repo(REPO).get_git_commit(made.json()["sha"])
    assert commit.author.date.isoformat() == "2020-01-02T01:04:05+00:00"
    assert commit.committer.date.isoformat() == "2021-06-07T08:09:10+00:00"
    git_commit = served.forge.git_object(REPO, made.json()["sha"])
    assert git_commit.author_timezone == 7200  # type: ignore[union-attr]
    assert served.violations == []

"""Every endpoint the local forge serves, driven through PyGithub as a test
driver would, each answer validated against GitHub's OpenAPI schema."""

from __future__ import annotations

import base64

import github
import pytest
from github import Auth, Github

import prplan
from prplan.localforge._rest import ForgeServer

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

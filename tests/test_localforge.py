"""LocalForge enforces the GitHub rules prplan's behaviour depends on."""

from __future__ import annotations

from pathlib import Path

import pytest

import prplan
from prplan import ConflictError, ForgeError, MergeBlocked, NotFoundError

REPO = "acme/app"


@pytest.fixture
def forge() -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"a.txt": "a\n", "dir/b.txt": "b\n"})
    return forge


def test_repository_content_is_real_git(forge: prplan.LocalForge) -> None:
    sha = forge.branches(REPO)["main"]
    entries = forge.path_entries(REPO, sha, ["a.txt", "dir/b.txt", "dir", "missing", "a.txt/x"])
    assert entries["a.txt"].sha == prplan.git_blob_sha(b"a\n")
    assert entries["dir/b.txt"].sha == prplan.git_blob_sha(b"b\n")
    assert [entries[p].kind.value for p in ("dir", "missing", "a.txt/x")] == [
        "directory",
        "absent",
        "under_file",
    ]
    assert entries["dir"].sha is None and entries["a.txt/x"].sha is None
    assert forge.files(REPO, "main") == {"a.txt": b"a\n", "dir/b.txt": b"b\n"}


def test_one_open_pull_request_per_head_and_base(forge: prplan.LocalForge) -> None:
    forge.push(REPO, "feature", {"c.txt": "c\n"})
    assert forge.open_pr(REPO, "feature") == 1
    with pytest.raises(ConflictError, match="A pull request already exists for acme:feature"):
        forge.create_pull_request(REPO, head="feature", base="main", title="t", body="")
    forge.close_pr(REPO, 1)
    assert forge.open_pr(REPO, "feature") == 2  # numbers keep increasing
    with pytest.raises(ConflictError, match="already open"):
        forge.reopen_pr(REPO, 1)


def test_no_pull_request_without_commits(forge: prplan.LocalForge) -> None:
    forge.set_branch(REPO, "empty", "main")
    with pytest.raises(ForgeError, match="No commits between main and empty"):
        forge.open_pr(REPO, "empty")


def test_open_pull_request_follows_its_branch_and_keeps_refs_pull(forge: prplan.LocalForge) -> None:
    first = forge.push(REPO, "feature", {"c.txt": "c\n"})
    forge.open_pr(REPO, "feature")
    second = forge.push(REPO, "feature", {"c.txt": "c2\n"})
    (pr,) = forge.pull_requests(REPO)
    assert pr.head_sha == second
    forge.close_pr(REPO, 1)
    forge.set_branch(REPO, "feature", "main")  # a force-push drops both commits from the branch
    assert forge.pull_requests(REPO)[0].head_sha == second  # a closed PR keeps its head
    assert forge.reachable(REPO, second) and forge.reachable(REPO, first)  # via refs/pull/1/head


def test_commits_are_compare_and_swap(forge: prplan.LocalForge) -> None:
    main = forge.branches(REPO)["main"]
    forge.push(REPO, "main", {"a.txt": "moved\n"})
    with pytest.raises(ConflictError, match="not at"):
        forge.commit_files(REPO, "main", parent_sha=main, files={"a.txt": b"x\n"}, message="m")
    assert forge.read_file(REPO, "main", "a.txt") == b"moved\n"
    with pytest.raises(ConflictError):
        forge.reset_branch(REPO, "main", main, expected_sha=main)
    with pytest.raises(ConflictError, match="already exists"):
        forge.create_branch(REPO, "main", main)


def test_deleting_a_missing_file_is_an_error(forge: prplan.LocalForge) -> None:
    main = forge.branches(REPO)["main"]
    with pytest.raises(ForgeError, match="does not exist"):
        forge.commit_files(REPO, "main", parent_sha=main, files={"nope.txt": None}, message="m")


def test_the_default_branch_cannot_be_deleted(forge: prplan.LocalForge) -> None:
    with pytest.raises(ForgeError, match="default branch"):
        forge.delete_branch(REPO, "main")
    with pytest.raises(NotFoundError):
        forge.delete_branch(REPO, "nope")


def test_deleting_a_branch_closes_its_open_pull_requests(forge: prplan.LocalForge) -> None:
    forge.push(REPO, "feature", {"c.txt": "c\n"})
    forge.open_pr(REPO, "feature")
    forge.delete_branch(REPO, "feature")
    (pr,) = forge.pull_requests(REPO)
    assert pr.state == "closed" and not pr.merged


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_merge_methods_do_a_real_three_way_merge(forge: prplan.LocalForge, method: str) -> None:
    forge.push(REPO, "feature", {"a.txt": "a\nfeature line\n"})
    forge.push(REPO, "main", {"dir/b.txt": "b changed on main\n"})
    number = forge.open_pr(REPO, "feature")
    head = forge.pull_requests(REPO)[0].head_sha
    merge_sha = forge.merge_pull_request(REPO, number, method=method, expected_head_sha=head)
    assert forge.files(REPO, "main") == {
        "a.txt": b"a\nfeature line\n",
        "dir/b.txt": b"b changed on main\n",
    }
    parents = forge.commit_parents(REPO, merge_sha)
    assert len(parents) == (2 if method == "merge" else 1)
    (pr,) = forge.pull_requests(REPO)
    assert pr.merged and pr.state == "closed" and pr.merge_sha == merge_sha


def test_a_conflict_makes_the_pull_request_unmergeable(forge: prplan.LocalForge) -> None:
    forge.push(REPO, "feature", {"a.txt": "feature\n"})
    forge.push(REPO, "main", {"a.txt": "main\n"})
    number = forge.open_pr(REPO, "feature")
    head = forge.pull_requests(REPO)[0].head_sha
    with pytest.raises(MergeBlocked, match=r"merge conflict in a\.txt") as raised:
        forge.merge_pull_request(REPO, number, method="merge", expected_head_sha=head)
    assert raised.value.number == number
    assert forge.pull_requests(REPO)[0].is_open


def test_merge_checks_the_expected_head(forge: prplan.LocalForge) -> None:
    reviewed = forge.push(REPO, "feature", {"c.txt": "c\n"})
    number = forge.open_pr(REPO, "feature")
    forge.push(REPO, "feature", {"c.txt": "sneaky\n"})
    with pytest.raises(ConflictError, match="Head branch was modified"):
        forge.merge_pull_request(REPO, number, method="merge", expected_head_sha=reviewed)
    assert forge.read_file(REPO, "main", "c.txt") is None


def test_branch_protection_blocks_merges(forge: prplan.LocalForge) -> None:
    forge.push(REPO, "feature", {"c.txt": "c\n"})
    number = forge.open_pr(REPO, "feature")
    forge.block_merges(REPO, "main", 'Required status check "ci" is expected.')
    head = forge.pull_requests(REPO)[0].head_sha
    with pytest.raises(MergeBlocked, match='Required status check "ci"'):
        forge.merge_pull_request(REPO, number, method="merge", expected_head_sha=head)
    forge.block_merges(REPO, "main", None)
    forge.merge_pull_request(REPO, number, method="merge", expected_head_sha=head)
    assert forge.read_file(REPO, "main", "c.txt") == b"c\n"


def test_compare_lists_commits_beyond_base_oldest_first(forge: prplan.LocalForge) -> None:
    main = forge.branches(REPO)["main"]
    one = forge.push(REPO, "feature", {"c.txt": "1\n"}, message="one")
    two = forge.push(REPO, "feature", {"c.txt": "2\n"}, message="two")
    comparison = forge.compare(REPO, main, two)
    assert comparison.status == "ahead" and comparison.ahead_by == 2 and comparison.behind_by == 0
    assert [c.sha for c in comparison.commits] == [one, two]
    assert [c.summary for c in comparison.commits] == ["one", "two"]
    assert forge.compare(REPO, two, main).status == "behind"
    forge.push(REPO, "main", {"d.txt": "d\n"})
    assert forge.compare(REPO, forge.branches(REPO)["main"], two).status == "diverged"


def test_unknown_things_are_not_found(forge: prplan.LocalForge) -> None:
    with pytest.raises(NotFoundError):
        forge.default_branch("acme/nope")
    with pytest.raises(NotFoundError):
        forge.read_blob(REPO, "0" * 40)
    assert forge.branch_sha(REPO, "nope") is None


def test_create_repo_validates_and_refuses_duplicates(forge: prplan.LocalForge) -> None:
    with pytest.raises(prplan.InvalidRequestError):
        forge.create_repo("not a repo")
    with pytest.raises(ForgeError, match="already exists"):
        forge.create_repo(REPO)


def test_persistent_forge_survives_reopening(tmp_path: Path) -> None:
    forge = prplan.LocalForge.open(tmp_path / "forge")
    forge.create_repo(REPO, {"a.txt": "a\n"}, default_branch="trunk")
    forge.push(REPO, "feature", {"b.txt": "b\n"})
    forge.open_pr(REPO, "feature", "trunk")
    forge.close()
    again = prplan.LocalForge.open(tmp_path / "forge")
    assert again.default_branch(REPO) == "trunk"
    assert again.read_file(REPO, "feature", "b.txt") == b"b\n"
    assert [p.number for p in again.pull_requests(REPO)] == [1]
    assert (tmp_path / "forge" / "repos" / "acme" / "app.git" / "HEAD").exists()
    assert again.repositories() == [REPO]


def test_client_calls_are_counted(forge: prplan.LocalForge) -> None:
    start = forge.request_count()
    forge.branch_sha(REPO, "main")
    forge.create_branch(REPO, "x", forge.branches(REPO)["main"])
    counted = forge.request_count() - start
    assert (counted.reads, counted.writes) == (1, 1)


def test_local_forge_implements_the_forge_client_protocol(forge: prplan.LocalForge) -> None:
    assert isinstance(forge, prplan.ForgeClient)
    client: prplan.ForgeClient = forge  # and mypy agrees, see src/ typing
    assert client.default_branch(REPO) == "main"

"""Modes kept by edits, and merges of mode-only changes as GitHub merges them.

An edit (``Replace``, ``YamlSet``...) of an executable keeps it executable,
through ``GitHubClient`` (whose contents API does not tell modes) as through
the local forge; and the local forge's merge takes a mode changed on one side
only from that side (git's three-way rule) instead of calling it a conflict."""

from __future__ import annotations

import pytest

import prplan
from prplan.edits import Replace
from prplan.forges.local.server.app import ForgeServer
from prplan.forges.local.trees import TreeInput

from served import Served

REPO = "acme/app"
SCRIPT = b"#!/bin/sh\necho old\n"


def _commit(forge: prplan.LocalForge, branch: str, message: str, *entries: TreeInput) -> str:
    head = forge.branches(REPO)[branch]
    tree = forge.git_create_tree(
        REPO,
        list(entries),
        base_tree=forge.git_object(REPO, head).tree.decode(),  # type: ignore[union-attr]
    )
    sha = forge.git_create_commit(REPO, message=message, tree=tree, parents=[head])
    forge.set_branch(REPO, branch, sha)
    return sha


def _entry(forge: prplan.LocalForge, ref: str, path: str) -> tuple[int, bytes]:
    commit = forge.git_object(REPO, forge.branches(REPO)[ref])
    entries = forge.git_tree_entries(REPO, commit.tree.decode(), recursive=True)  # type: ignore[union-attr]
    mode = next(e.mode for e in entries if e.path == path)
    return mode, forge.read_file(REPO, ref, path)


def _with_script(mode: int = 0o100755) -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"a.txt": "a\n"})
    _commit(forge, "main", "Add a script", TreeInput(path="bin/run.sh", mode=mode, content=SCRIPT))
    return forge


@pytest.mark.parametrize("over_http", [False, True], ids=["direct", "http"])
def test_an_edit_of_an_executable_keeps_it_executable(
    over_http: bool, forge_server: ForgeServer
) -> None:
    forge = _with_script()
    served = Served(forge_server, forge) if over_http else None
    client: prplan.ForgeClient = served.client if served else forge
    request = prplan.ChangeRequest(
        repo=REPO, branch="b", automerge=True,
        files={"bin/run.sh": (Replace(old="old", new="new"),), "bin/new.sh": "#!/bin/sh\n"},
    )  # fmt: skip
    outcome = prplan.apply(prplan.plan(prplan.observe(client, request), request), client)
    assert outcome.status is prplan.OutcomeStatus.MERGED, outcome.error
    assert _entry(forge, "main", "bin/run.sh") == (0o100755, b"#!/bin/sh\necho new\n")
    assert _entry(forge, "main", "bin/new.sh")[0] == 0o100644
    assert served is None or served.violations == []


def test_an_edit_of_a_regular_file_over_http_stays_regular(forge_server: ForgeServer) -> None:
    forge = _with_script(mode=0o100644)
    served = Served(forge_server, forge)
    request = prplan.ChangeRequest(
        repo=REPO, branch="b", automerge=True, files={"bin/run.sh": (Replace(old="old", new="new"),)}
    )  # fmt: skip
    prplan.apply(prplan.plan(prplan.observe(served.client, request), request), served.client)
    assert _entry(forge, "main", "bin/run.sh") == (0o100644, b"#!/bin/sh\necho new\n")


# --- merging mode changes ---------------------------------------------------------------------


def _pull(forge: prplan.LocalForge) -> prplan.PullRequestInfo:
    return forge.create_pull_request(REPO, head="b", base="main", title="t", body="")


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_a_mode_change_on_the_branch_only_merges_as_on_github(method: str) -> None:
    forge = _with_script()
    forge.create_branch(REPO, "b", forge.branches(REPO)["main"])
    _commit(
        forge,
        "b",
        "No longer executable",
        TreeInput(path="bin/run.sh", mode=0o100644, content=SCRIPT),
    )
    _commit(
        forge, "main", "Meanwhile", TreeInput(path="bin/other.txt", mode=0o100644, content=b"x\n")
    )  # beside it
    pull = _pull(forge)
    forge.merge_pull_request(REPO, pull.number, method=method, expected_head_sha=pull.head_sha)
    assert _entry(forge, "main", "bin/run.sh") == (0o100644, SCRIPT)
    assert forge.read_file(REPO, "main", "bin/other.txt") == b"x\n"


def test_a_mode_change_on_base_and_an_edit_on_the_branch_both_land() -> None:
    forge = _with_script(mode=0o100644)
    forge.create_branch(REPO, "b", forge.branches(REPO)["main"])
    edited = SCRIPT.replace(b"old", b"new")
    _commit(forge, "b", "Edit", TreeInput(path="bin/run.sh", mode=0o100644, content=edited))
    _commit(
        forge, "main", "Executable", TreeInput(path="bin/run.sh", mode=0o100755, content=SCRIPT)
    )
    pull = _pull(forge)
    forge.merge_pull_request(REPO, pull.number, method="merge", expected_head_sha=pull.head_sha)
    assert _entry(forge, "main", "bin/run.sh") == (0o100755, edited)


def test_edits_on_both_sides_with_a_mode_change_merge_line_by_line() -> None:
    forge = _with_script(mode=0o100644)
    two = b"one\ntwo\nthree\nfour\nfive\n"
    _commit(forge, "main", "Longer", TreeInput(path="bin/run.sh", mode=0o100644, content=two))
    forge.create_branch(REPO, "b", forge.branches(REPO)["main"])
    _commit(
        forge,
        "b",
        "First line",
        TreeInput(path="bin/run.sh", mode=0o100644, content=two.replace(b"one", b"ONE")),
    )
    _commit(forge, "main", "Last line, executable",
            TreeInput(path="bin/run.sh", mode=0o100755, content=two.replace(b"five", b"FIVE")))  # fmt: skip
    pull = _pull(forge)
    forge.merge_pull_request(REPO, pull.number, method="merge", expected_head_sha=pull.head_sha)
    assert _entry(forge, "main", "bin/run.sh") == (0o100755, b"ONE\ntwo\nthree\nfour\nFIVE\n")


def test_a_real_conflict_beside_a_mode_change_still_blocks_the_merge() -> None:
    forge = _with_script(mode=0o100644)
    forge.create_branch(REPO, "b", forge.branches(REPO)["main"])
    _commit(
        forge,
        "b",
        "Theirs",
        TreeInput(path="bin/run.sh", mode=0o100644, content=b"#!/bin/sh\necho b\n"),
    )
    _commit(
        forge,
        "main",
        "Ours",
        TreeInput(path="bin/run.sh", mode=0o100755, content=b"#!/bin/sh\necho m\n"),
    )
    pull = _pull(forge)
    with pytest.raises(prplan.MergeBlocked, match=r"merge conflict in bin/run\.sh"):
        forge.merge_pull_request(REPO, pull.number, method="merge", expected_head_sha=pull.head_sha)
    assert _entry(forge, "main", "bin/run.sh") == (0o100755, b"#!/bin/sh\necho m\n")

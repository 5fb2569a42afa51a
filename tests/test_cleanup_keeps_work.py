"""A merged pull request's leftover branch is deleted only where deleting it
loses nothing (found by the stateful test, invariant "lost commits no reset
named"): prplan's own commit that no pull request and not base holds is
another request's pending work, and the branch that holds it is kept."""

from __future__ import annotations

import attrs
import pytest

import prplan

R = "acme/app"
BRANCH = "prplan/x"


def _run(forge: prplan.LocalForge, **kw: object) -> tuple[prplan.Plan, prplan.Outcome]:
    request = prplan.ChangeRequest(repo=R, branch=BRANCH, **kw)  # type: ignore[arg-type]
    plan = prplan.plan(prplan.observe(forge, request), request)
    return plan, prplan.apply(plan, forge)


def _merged_then_pending() -> prplan.LocalForge:
    """Pull request #1 (tag 1) merged and its branch kept; then a request
    without create_pr commits tag 2 on the branch: in no pull request."""
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(R, {"eu1.yaml": "tag: 0\n"})
    _run(forge, files={"eu1.yaml": "tag: 1\n"})
    _, merged = _run(forge, files={"eu1.yaml": "tag: 1\n"}, automerge=True, create_pr=False)
    assert merged.status is prplan.OutcomeStatus.MERGED
    plan, _ = _run(forge, files={"eu1.yaml": "tag: 2\n"}, create_pr=False)
    assert plan.rule == "stale_commit_only"
    return forge


def test_a_merged_branch_holding_a_pending_commit_is_kept() -> None:
    forge = _merged_then_pending()
    pending = forge.branch_sha(R, BRANCH)
    assert pending is not None
    plan, outcome = _run(forge, files={"eu1.yaml": "tag: 1\n"}, delete_branch=True)
    # The branch and its tag-2 commit are still there; nothing was written.
    assert forge.branch_sha(R, BRANCH) == pending
    assert forge.read_file(R, BRANCH, "eu1.yaml") == b"tag: 2\n"
    assert forge.read_file(R, "main", "eu1.yaml") == b"tag: 1\n"
    assert outcome.status is prplan.OutcomeStatus.UNCHANGED
    # The plan says why, naming the commit; the rest is what it was without
    # delete_branch (the content is on base, #1 was merged earlier).
    assert plan.rule == "in_place" and plan.actions == ()
    assert plan.notes == (
        "the requested content is already on base",
        "pull request #1 was merged earlier",
        f"delete_branch is ignored: the branch holds 1 commit not merged: {pending[:7]} "
        "'prplan: update prplan/x' by prplan (in no pull request, and base lacks their "
        "changes: deleting the branch would lose them)",
    )


def test_a_merged_branch_at_its_pull_requests_head_is_still_cleaned_up() -> None:
    """The control: the branch is where pull request #1 left it, which the
    forge keeps as refs/pull/1/head: deleting it loses nothing."""
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(R, {"eu1.yaml": "tag: 0\n"})
    _run(forge, files={"eu1.yaml": "tag: 1\n"})
    _run(forge, files={"eu1.yaml": "tag: 1\n"}, automerge=True, create_pr=False)
    head = forge.branch_sha(R, BRANCH)
    assert head is not None
    plan, _ = _run(forge, files={"eu1.yaml": "tag: 1\n"}, delete_branch=True)
    assert plan.rule == "merged_cleanup"
    assert forge.branch_sha(R, BRANCH) is None
    assert forge.reachable(R, head)


def test_a_merged_branch_whose_changes_base_already_holds_is_cleaned_up() -> None:
    """A commit in no pull request whose every change base already has (a
    twin run's commit of the same change, here a human's equal commit on
    base) loses nothing: the branch is deleted, and base keeps the content."""
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(R, {"eu1.yaml": "tag: 0\n"})
    _run(forge, files={"eu1.yaml": "tag: 1\n"})
    _run(forge, files={"eu1.yaml": "tag: 1\n"}, automerge=True, create_pr=False)
    plan, _ = _run(forge, files={"eu1.yaml": "tag: 1\n", "eu2.yaml": "x\n"}, create_pr=False)
    assert plan.rule == "stale_commit_only"
    forge.push(R, "main", {"eu2.yaml": "x\n"})
    request = prplan.ChangeRequest(
        repo=R, branch=BRANCH, files={"eu1.yaml": "tag: 1\n"}, delete_branch=True
    )
    # Had the forge listed only part of the changed paths, nothing vouches: kept.
    partial = attrs.evolve(prplan.observe(forge, request), paths_complete=False)
    assert prplan.plan(partial, request).actions == ()
    plan, _ = _run(forge, files={"eu1.yaml": "tag: 1\n"}, delete_branch=True)
    assert plan.rule == "merged_cleanup"
    assert forge.branch_sha(R, BRANCH) is None
    assert forge.read_file(R, "main", "eu2.yaml") == b"x\n"


@pytest.mark.parametrize("complete", [True, False], ids=["listed", "partly_listed"])
def test_the_note_names_only_the_commits_beyond_the_pull_requests_head(complete: bool) -> None:
    """Pure planner: of the commits beyond base, those up to a pull
    request's head are kept by the forge; only the later ones are named,
    and a partial listing says so."""
    forge = _merged_then_pending()
    request = prplan.ChangeRequest(
        repo=R, branch=BRANCH, files={"eu1.yaml": "tag: 1\n"}, delete_branch=True
    )
    snapshot = prplan.observe(forge, request)
    (pending,) = snapshot.commits_beyond_base
    merged_head = attrs.evolve(pending, sha=snapshot.pull_requests[0].head_sha, summary="tag 1")
    snapshot = attrs.evolve(
        snapshot, commits_beyond_base=(merged_head, pending), commits_complete=complete
    )
    plan = prplan.plan(snapshot, request)
    assert plan.actions == ()
    named = f"{pending.sha[:7]} 'prplan: update prplan/x' by prplan"
    held = "1 commit not merged" if complete else "commits not merged"
    tail = "" if complete else "; not all listed"
    assert f"delete_branch is ignored: the branch holds {held}: {named}{tail} (" in plan.notes[-1]
    assert "tag 1" not in plan.notes[-1]


def test_a_deletion_after_prplans_merge_loses_nothing() -> None:
    """The other rules that delete do so right after merging the pull
    request whose head the branch is (the merge names that head): every
    commit the branch held is then in base."""
    forge = _merged_then_pending()
    plan, outcome = _run(forge, files={"eu1.yaml": "tag: 2\n"}, automerge=True, delete_branch=True)
    kinds = [a.kind.value for a in plan.actions]
    assert kinds == ["create_pull_request", "merge_pull_request", "delete_branch"]
    (merge,) = [a for a in plan.actions if isinstance(a, prplan.MergePullRequest)]
    assert merge.expected_head_sha is not None
    assert outcome.status is prplan.OutcomeStatus.MERGED
    assert forge.branch_sha(R, BRANCH) is None
    base_history = {c.sha for c in forge.log(R, "main")}
    assert merge.expected_head_sha in base_history
    assert forge.read_file(R, "main", "eu1.yaml") == b"tag: 2\n"


# --- a push between the merge (or the observation) and the deletion ----------
# The deletion names the head it expects: the head the merge merged, or for a
# branch whose pull request was merged earlier, the head observed. A commit a
# human pushed in between stays, and the branch with it.

HUMANS = {"eu1.yaml": "tag: 1\n", "notes.md": "a human's late fix\n"}


class _PushesAfterMerge:
    """A forge client through which a human pushes onto the branch right
    after prplan's merge (before its deletion of the branch)."""

    def __init__(self, client: object, forge: prplan.LocalForge) -> None:
        self._client, self._forge = client, forge
        self.pushed: str | None = None

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)

    def merge_pull_request(self, *args: object, **kw: object) -> object:
        merged = self._client.merge_pull_request(*args, **kw)  # type: ignore[attr-defined]
        self.pushed = self._forge.push(R, BRANCH, {"notes.md": HUMANS["notes.md"]})
        return merged


def _client(where: str, forge: prplan.LocalForge, forge_server: object) -> object:
    if where == "direct":
        return forge
    from served import Served

    return Served(forge_server, forge).new_client(transport=where)  # type: ignore[arg-type]


@pytest.mark.parametrize("where", ["direct", "graphql", "rest"])
def test_a_push_after_the_merge_is_not_deleted_with_the_branch(
    where: str, forge_server: object
) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(R, {"eu1.yaml": "tag: 0\n"})
    client = _PushesAfterMerge(_client(where, forge, forge_server), forge)
    request = prplan.ChangeRequest(
        repo=R, branch=BRANCH, files={"eu1.yaml": "tag: 1\n"}, automerge=True, delete_branch=True
    )
    plan = prplan.plan(prplan.observe(client, request), request)  # type: ignore[arg-type]
    outcome = prplan.apply(plan, client)  # type: ignore[arg-type]
    # The merge stands; the deletion was refused and said why.
    (pr,) = forge.pull_requests(R)
    assert pr.merged and forge.read_file(R, "main", "eu1.yaml") == b"tag: 1\n"
    assert client.pushed is not None and forge.branch_sha(R, BRANCH) == client.pushed
    assert forge.read_file(R, BRANCH, "notes.md") == b"a human's late fix\n"
    deletion = outcome.actions[-1]
    assert deletion.kind is prplan.ActionKind.DELETE_BRANCH
    assert deletion.status is not prplan.ActionStatus.DONE
    assert "someone pushed since" in (outcome.error or "") + deletion.detail, outcome


@pytest.mark.parametrize("where", ["direct", "graphql", "rest"])
def test_a_push_after_observing_a_merged_branch_is_not_deleted(
    where: str, forge_server: object
) -> None:
    """The clean-up of a branch whose pull request was merged earlier names
    the head it observed; applied without the recheck (the window a recheck
    leaves is the same), a push since keeps the branch."""
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(R, {"eu1.yaml": "tag: 0\n"})
    _run(forge, files={"eu1.yaml": "tag: 1\n"}, automerge=True)
    client = _client(where, forge, forge_server)
    request = prplan.ChangeRequest(
        repo=R, branch=BRANCH, files={"eu1.yaml": "tag: 1\n"}, delete_branch=True
    )
    plan = prplan.plan(prplan.observe(client, request), request)  # type: ignore[arg-type]
    (action,) = plan.actions
    assert isinstance(action, prplan.DeleteBranch)
    assert action.expected_sha == forge.branch_sha(R, BRANCH)
    pushed = forge.push(R, BRANCH, {"notes.md": HUMANS["notes.md"]})
    outcome = prplan.apply(plan, client, recheck=False)  # type: ignore[arg-type]
    assert outcome.status is prplan.OutcomeStatus.FAILED
    assert "someone pushed since" in (outcome.error or ""), outcome
    assert forge.branch_sha(R, BRANCH) == pushed

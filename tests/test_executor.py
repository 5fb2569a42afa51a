"""apply(): stale plans are refused before any write, races lose cleanly,
failures stop the run with an honest outcome, and a crash between any two
actions is repaired by running again."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

import prplan
from prplan import ActionStatus, OutcomeStatus, StalePlanError
from prplan.cli import cli
from prplan.run.executor import _apply_checked

REPO = "acme/app"
BRANCH = "prplan/bump"


def _setup() -> tuple[prplan.LocalForge, prplan.ChangeRequest]:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n", "other.txt": "x\n"})
    request = prplan.ChangeRequest(
        repo=REPO,
        branch=BRANCH,
        files={"values.yaml": "tag: 2\n"},
        automerge=True,
        delete_branch=True,
    )
    return forge, request


def _plan(forge: prplan.LocalForge, request: prplan.ChangeRequest) -> prplan.Plan:
    return prplan.plan(prplan.observe(forge, request), request)


def _world(forge: prplan.LocalForge) -> tuple[object, ...]:
    return (forge.branches(REPO), forge.pull_requests(REPO))


def test_a_plan_is_stale_when_the_branch_moved() -> None:
    forge, request = _setup()
    request = attrs.evolve(request, branch_policy="reset")
    forge.push(REPO, BRANCH, {"human.txt": "hi\n"})
    plan = _plan(forge, request)
    assert plan.has_changes
    forge.push(REPO, BRANCH, {"human.txt": "moved\n"})
    before = _world(forge)
    writes = forge.request_count().writes
    with pytest.raises(StalePlanError) as raised:
        prplan.apply(plan, forge)
    assert _world(forge) == before and forge.request_count().writes == writes
    assert [name for name, _, _ in raised.value.moved] == [f"branch {BRANCH}"]
    assert "nothing was written" in str(raised.value)


def test_a_plan_is_stale_when_a_requested_path_changed_on_base() -> None:
    forge, request = _setup()
    plan = _plan(forge, request)
    forge.push(REPO, "main", {"values.yaml": "tag: 9\n"})
    with pytest.raises(StalePlanError) as raised:
        prplan.apply(plan, forge)
    assert [name for name, _, _ in raised.value.moved] == ["values.yaml on base"]


def test_a_plan_is_stale_when_pull_requests_changed() -> None:
    forge, request = _setup()
    earlier_run = "Earlier run\n\nPrplan-Request: 0123456789abcdef"
    forge.push(REPO, BRANCH, {"values.yaml": "tag: 1.5\n"}, message=earlier_run, sealed=True)
    forge.open_pr(REPO, BRANCH)
    plan = _plan(forge, request)
    assert plan.has_changes
    forge.close_pr(REPO, 1)
    with pytest.raises(StalePlanError, match="pull requests: planned #1 open"):
        prplan.apply(plan, forge)


def test_base_moving_elsewhere_does_not_make_a_plan_stale() -> None:
    forge, request = _setup()
    plan = _plan(forge, request)
    forge.push(REPO, "main", {"other.txt": "unrelated\n"})
    outcome = prplan.apply(plan, forge)
    assert outcome.status is OutcomeStatus.MERGED
    assert forge.files(REPO, "main") == {"values.yaml": b"tag: 2\n", "other.txt": b"unrelated\n"}


def _reverted_after_an_empty_plan() -> tuple[prplan.LocalForge, prplan.Plan]:
    """Base holds the change when planned ("nothing to do"), then someone
    reverts it before the saved plan is applied."""
    forge, request = _setup()
    forge.push(REPO, "main", {"values.yaml": "tag: 2\n"})
    plan = _plan(forge, request)
    assert plan.is_empty
    forge.push(REPO, "main", {"values.yaml": "tag: 1\n"}, message="Revert the bump")
    return forge, plan


def test_an_empty_plan_is_rechecked_and_stale_when_base_was_reverted() -> None:
    forge, plan = _reverted_after_an_empty_plan()
    before, writes = _world(forge), forge.request_count().writes
    with pytest.raises(StalePlanError) as raised:
        prplan.apply(plan, forge)
    assert [name for name, _, _ in raised.value.moved] == ["values.yaml on base"]
    assert _world(forge) == before and forge.request_count().writes == writes


def test_an_empty_plan_still_holding_is_unchanged() -> None:
    forge, request = _setup()
    forge.push(REPO, "main", {"values.yaml": "tag: 2\n"})
    outcome = prplan.apply(_plan(forge, request), forge)
    assert outcome.status is OutcomeStatus.UNCHANGED


def test_a_saved_empty_plan_with_base_reverted_exits_4(tmp_path: Path) -> None:
    forge = prplan.LocalForge.open(tmp_path / "forge")
    forge.create_repo(REPO, {"values.yaml": "tag: 2\n"})
    saved = tmp_path / "plan.json"
    runner = CliRunner()
    planned = runner.invoke(cli, ["plan", "--repo", REPO, "--local", str(tmp_path / "forge"),
                                  "--branch", BRANCH, "--file", f"values.yaml={_local(tmp_path)}",
                                  "--out", str(saved)])  # fmt: skip
    assert planned.exit_code == 0, planned.output
    forge.push(REPO, "main", {"values.yaml": "tag: 1\n"}, message="Revert the bump")
    before = _world(forge)
    applied = runner.invoke(cli, ["apply", str(saved), "--local", str(tmp_path / "forge")])
    assert applied.exit_code == 4, applied.output
    assert "values.yaml on base: planned" in applied.output
    assert _world(forge) == before
    forge.close()


def _local(tmp_path: Path) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text("tag: 2\n")
    return path


class _HumanPushesAfter(prplan.Reporter):
    """A human pushes to the branch right after a given action: a race the
    stale check cannot see, which compare-and-swap must catch."""

    def __init__(self, forge: prplan.LocalForge, after: prplan.ActionKind) -> None:
        self.forge, self.after = forge, after

    def action_finished(self, repo: str, action: object, result: prplan.ActionResult) -> None:
        if result.kind is self.after:
            self.forge.push(REPO, BRANCH, {"human.txt": "raced\n"}, message="Racing human")


class _HumanCreatesTheBranchFirst(prplan.Reporter):
    """A human creates the branch just as prplan is about to: a race the
    stale check cannot see, which compare-and-swap must catch."""

    def __init__(self, forge: prplan.LocalForge) -> None:
        self.forge = forge

    def action_started(self, repo: str, index: int, action: object) -> None:
        if index == 0:
            self.forge.push(REPO, BRANCH, {"human.txt": "raced\n"}, message="Racing human")


def test_a_race_during_apply_loses_cleanly() -> None:
    forge, request = _setup()
    plan = _plan(forge, request)
    outcome = prplan.apply(plan, forge, reporter=_HumanCreatesTheBranchFirst(forge))
    assert outcome.status is OutcomeStatus.FAILED
    assert [r.status for r in outcome.actions] == [
        ActionStatus.FAILED, ActionStatus.NOT_RUN, ActionStatus.NOT_RUN, ActionStatus.NOT_RUN, ActionStatus.NOT_RUN,
    ]  # fmt: skip
    assert outcome.error_type == "ConflictError" and "someone pushed" in outcome.error
    assert forge.read_file(REPO, BRANCH, "human.txt") == b"raced\n"  # the human's commit is intact
    assert forge.read_file(REPO, BRANCH, "values.yaml") == b"tag: 1\n"  # and nothing of prplan's
    assert forge.pull_requests(REPO) == []
    replan = _plan(forge, request)  # the branch now holds a human's commit: refuse, don't clobber
    assert (
        replan.refusal is not None
        and replan.refusal.code is prplan.RefusalCode.BRANCH_HAS_FOREIGN_COMMITS
    )


def test_branch_creation_and_its_commit_are_one_write() -> None:
    forge, request = _setup()
    plan = _plan(forge, request)
    before = forge.request_count()
    outcome = prplan.apply(plan, forge, recheck=False)
    used = forge.request_count() - before
    assert [r.status for r in outcome.actions] == [ActionStatus.DONE] * 5
    assert used.writes == 4  # create+commit, open, merge, delete
    assert used.reads == 0  # no recheck asked for


def test_a_push_before_the_merge_is_not_merged_unreviewed() -> None:
    forge, request = _setup()
    plan = _plan(forge, request)
    reporter = _HumanPushesAfter(forge, prplan.ActionKind.CREATE_PULL_REQUEST)
    outcome = prplan.apply(plan, forge, reporter=reporter)
    assert outcome.status is OutcomeStatus.FAILED
    assert (
        outcome.actions[3].status is ActionStatus.FAILED
        and "Head branch was modified" in outcome.error
    )
    assert forge.read_file(REPO, "main", "values.yaml") == b"tag: 1\n"
    (pr,) = forge.pull_requests(REPO)
    assert pr.is_open


def test_a_blocked_merge_leaves_the_pull_request_open_and_a_rerun_finishes() -> None:
    forge, request = _setup()
    forge.block_merges(REPO, "main", 'Required status check "ci" is expected.')
    outcome = prplan.apply(_plan(forge, request), forge)
    assert outcome.status is OutcomeStatus.FAILED and outcome.error_type == "MergeBlocked"
    assert outcome.pull_request == 1 and 'Required status check "ci"' in outcome.error
    with pytest.raises(prplan.ApplyFailedError, match="MergeBlocked") as raised:
        outcome.raise_for_status()  # prplan.ApplyFailedError: what docs/migration.md says to catch
    assert raised.value.error_type == "MergeBlocked" and raised.value.outcome is outcome
    assert "ApplyFailedError" in prplan.__all__
    forge.block_merges(REPO, "main", None)
    again = _plan(forge, request)
    assert again.rule == "open_current_merge"
    assert prplan.apply(again, forge).status is OutcomeStatus.MERGED
    assert _plan(forge, request).is_empty


def _final(forge: prplan.LocalForge) -> tuple[object, ...]:
    prs = [(p.number, p.state, p.merged, p.title) for p in forge.pull_requests(REPO)]
    return (forge.files(REPO, "main"), sorted(forge.branches(REPO)), prs)


# With automerge the plan has 5 actions, without it 3: crash after each prefix.
CRASH_POINTS = [(True, k) for k in range(5)] + [(False, k) for k in range(3)]


@pytest.mark.parametrize(("automerge", "crash_after"), CRASH_POINTS)
def test_a_crash_between_any_two_actions_is_repaired_by_running_again(
    automerge: bool, crash_after: int
) -> None:
    forge, request = _setup()
    request = attrs.evolve(request, automerge=automerge)
    reference, _ = _setup()
    prplan.apply(_plan(reference, request), reference)

    plan = _plan(forge, request)
    assert len(plan.actions) == (5 if automerge else 3)
    # The process dies after `crash_after` actions: only a prefix ran.
    # (a plan cut short is not what the planner derives: apply would refuse it)
    _apply_checked(
        attrs.evolve(plan, actions=plan.actions[:crash_after]),
        forge,
        reporter=None,
        recheck=True,
        observed_at=None,
    )
    outcome = prplan.apply(_plan(forge, request), forge)
    assert outcome.ok
    assert _final(forge) == _final(reference)
    assert sum(1 for p in forge.pull_requests(REPO) if p.is_open) <= 1
    assert _plan(forge, request).is_empty


def test_outcome_reports_what_was_done_and_the_requests_made() -> None:
    forge, request = _setup()
    outcome = prplan.apply(_plan(forge, request), forge)
    assert outcome.status is OutcomeStatus.MERGED
    assert [r.kind.value for r in outcome.actions] == [
        "create_branch", "commit", "create_pull_request", "merge_pull_request", "delete_branch",
    ]  # fmt: skip
    assert outcome.pull_request == 1 and outcome.merge_sha == forge.branches(REPO)["main"]
    assert outcome.commit_sha is not None and outcome.commit_sha in forge.commit_parents(
        REPO, outcome.merge_sha
    )
    assert (
        outcome.requests.writes == 4 and outcome.requests.reads >= 4
    )  # branch + commit: one write
    assert outcome.to_dict()["status"] == "merged"


def test_a_refused_plan_applies_as_refused_and_writes_nothing() -> None:
    forge, request = _setup()
    forge.push(REPO, BRANCH, {"human.txt": "mine\n"})
    plan = _plan(forge, request)
    writes = forge.request_count().writes
    outcome = prplan.apply(plan, forge)
    assert (
        outcome.status is OutcomeStatus.REFUSED
        and outcome.error_type == "branch_has_foreign_commits"
    )
    assert forge.request_count().writes == writes
    with pytest.raises(prplan.RepositoryDisagreesError):
        outcome.raise_for_status()


def test_an_open_pull_request_that_cannot_deliver_the_change_is_refused_not_merged() -> None:
    """Found by the stateful test: the branch 'holds' a deletion only because it
    forked before base gained the file; merging would keep base's file."""
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"api.yaml": "tag: 0\n"})
    first = prplan.ChangeRequest(repo=REPO, branch=BRANCH, files={"api.yaml": "tag: 1\n"})
    prplan.apply(_plan(forge, first), forge)  # opens #1, left for review
    forge.push(REPO, "main", {"web.yaml": "added later\n"}, message="Add web on main")
    delete_web = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"web.yaml": None}, automerge=True
    )
    plan = _plan(forge, delete_web)
    assert plan.refusal is not None and plan.refusal.code is prplan.RefusalCode.PR_BEHIND_BASE
    assert plan.refusal.paths == ("web.yaml",) and plan.refusal.pull_requests == (1,)
    assert "Update the branch" in plan.refusal.message
    assert prplan.apply(plan, forge).status is OutcomeStatus.REFUSED
    assert forge.pull_requests(REPO)[0].is_open  # nothing merged


def test_an_open_pull_request_behind_base_elsewhere_still_delivers() -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"api.yaml": "tag: 0\n"})
    request = prplan.ChangeRequest(repo=REPO, branch=BRANCH, files={"api.yaml": "tag: 1\n"})
    prplan.apply(_plan(forge, request), forge)
    forge.push(REPO, "main", {"other.yaml": "unrelated\n"})
    merge = attrs.evolve(request, automerge=True)
    plan = _plan(forge, merge)
    assert plan.rule == "open_current_merge"
    assert prplan.apply(plan, forge).status is OutcomeStatus.MERGED
    assert forge.read_file(REPO, "main", "api.yaml") == b"tag: 1\n"
    assert _plan(forge, merge).is_empty

"""Merge gates, the pure side (issue 14, parts 1-2): GitHub's words become a
gate, and ``plan(snapshot, request)`` answers each gate x ``merge_when`` x
flag combination as the decision table's rows say, with real snapshots.

The exhaustive properties over the whole space are in tests/test_table.py;
here each rule is shown through the planner, with the words a user reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

import prplan
from prplan import ActionKind as K
from prplan import Gate, MergeArmed, MergeWhen, RefusalCode, compat
from prplan.cli import cli
from prplan.core.gates import GITHUB_GATE_TABLE, Check, gate_from_github
from prplan.core.integrity import check_plan
from prplan.core.request import parse_duration

REPO = "acme/app"
BRANCH = "prplan/app"
BASE_SHA = "b" * 40
HEAD_SHA = "c" * 40
TREE = "d" * 40
WANT = b"tag: 2\n"
GOLDEN = Path(__file__).parent / "golden"

# --- GitHub's words -> gate -------------------------------------------------------

RED = Check(name="ci/lint", state="FAILURE")
RUNNING = Check(name="ci/test", state="IN_PROGRESS")
GREEN = Check(name="ci/build", state="SUCCESS")
OPTIONAL_RED = Check(name="docs", state="FAILURE", required=False)

#: One GitHub answer per row of GITHUB_GATE_TABLE, in its order.
ROWS = [
    (("CLEAN", None, True, [GREEN]), Gate.DRAFT),
    (("UNSTABLE", None, False, [GREEN, OPTIONAL_RED]), Gate.CLEAN),
    (("BLOCKED", "APPROVED", False, [RED, RUNNING, GREEN]), Gate.FAILING),
    (("BLOCKED", "REVIEW_REQUIRED", False, [RUNNING, Check(name="ci/x", state="EXPECTED")]), Gate.PENDING),
    (("BLOCKED", "REVIEW_REQUIRED", False, [GREEN, OPTIONAL_RED]), Gate.NEEDS_REVIEW),
    (("BLOCKED", "APPROVED", False, [GREEN]), Gate.PENDING),
    (("BEHIND", "APPROVED", False, [GREEN]), Gate.BEHIND),
    (("DIRTY", None, False, []), Gate.CONFLICT),
    (("UNKNOWN", None, False, [RED]), Gate.PENDING),
]  # fmt: skip


@pytest.mark.parametrize(("answer", "gate"), ROWS, ids=[g.value for _, g in ROWS])
def test_each_row_of_the_mapping_is_what_the_function_does(
    answer: tuple[str, str | None, bool, list[Check]], gate: Gate
) -> None:
    assert gate_from_github(*answer)[0] is gate


def test_the_mapping_in_specs_has_one_tested_row_per_row() -> None:
    assert [gate for _, gate in GITHUB_GATE_TABLE] == [gate for _, gate in ROWS]
    spec = (Path(__file__).parent.parent / "specs" / "gates.md").read_text(encoding="utf-8")
    for says, gate in GITHUB_GATE_TABLE:
        assert f"| {says} | `{gate.value}` |" in spec


def test_the_checks_are_named_required_only_sorted_once() -> None:
    checks = [RED, RED, RUNNING, GREEN, OPTIONAL_RED, Check(name="ci/a", state="error")]
    gate, failing, pending = gate_from_github("BLOCKED", None, False, checks)
    assert (gate, failing, pending) == (Gate.FAILING, ("ci/a", "ci/lint"), ("ci/test",))
    # the lists are facts: returned whatever the gate
    assert gate_from_github("CLEAN", None, False, [RUNNING])[1:] == ((), ("ci/test",))
    assert gate_from_github("HAS_HOOKS", None, False, [])[0] is Gate.CLEAN
    # No review required (null) and every reported check green: a required
    # check nobody has reported yet blocks (GitHub lists only reported ones).
    assert gate_from_github("BLOCKED", None, False, [GREEN])[0] is Gate.PENDING
    assert gate_from_github("BLOCKED", "REVIEW_REQUIRED", False, [GREEN])[0] is Gate.NEEDS_REVIEW
    assert gate_from_github("BLOCKED", "CHANGES_REQUESTED", False, [])[0] is Gate.NEEDS_REVIEW


# --- snapshots ------------------------------------------------------------------------


def _pr(**gate: object) -> prplan.PullRequestInfo:
    return prplan.PullRequestInfo(
        number=7,
        state="open",
        merged=False,
        head_branch=BRANCH,
        base_branch="main",
        head_sha=HEAD_SHA,
        **gate,  # type: ignore[arg-type]
    )


def snapshot(
    *, carries: bool = True, ours: bool = True, queue: bool = False, pr: bool = True, **gate: object
) -> prplan.RepoSnapshot:
    """base holds ``tag: 1``; the branch one commit beyond it, holding the
    requested ``tag: 2`` (``carries``) or an older content, by prplan
    (sealed) or by a human; pull request #7 open with ``gate``."""
    on_branch = WANT if carries else b"tag: 0\n"
    commit = prplan.CommitInfo(
        sha=HEAD_SHA,
        summary="Update",
        author="prplan" if ours else "alice",
        tree_sha=TREE,
        sealed_tree=TREE if ours else "",
    )
    return prplan.RepoSnapshot(
        repo=REPO,
        default_branch="main",
        base="main",
        base_sha=BASE_SHA,
        branch=BRANCH,
        branch_sha=HEAD_SHA if pr else None,
        pull_requests=(_pr(**gate),) if pr else (),
        base_blobs={"values.yaml": prplan.git_blob_sha(b"tag: 1\n")},
        branch_blobs={"values.yaml": prplan.git_blob_sha(on_branch)} if pr else {},
        branch_contains_base=True,
        commits_beyond_base=(commit,) if pr else (),
        paths_beyond_base=("values.yaml",) if pr else (),
        merge_queue=queue,
    )


def request(**flags: object) -> prplan.ChangeRequest:
    fields: dict[str, object] = {"automerge": True, **flags}
    return prplan.ChangeRequest(repo=REPO, branch=BRANCH, files={"values.yaml": WANT}, **fields)  # type: ignore[arg-type]


def kinds(plan: prplan.Plan) -> list[K]:
    assert plan.refusal is None, plan.refusal
    return [action.kind for action in plan.actions]


def refused(plan: prplan.Plan) -> RefusalCode:
    assert plan.refusal is not None, plan.actions
    assert plan.actions == ()
    return plan.refusal.code


LATER = [MergeWhen.AUTO, MergeWhen.WAIT]

# --- a pull request that carries the change ----------------------------------------


@pytest.mark.parametrize("when", list(MergeWhen))
def test_clean_is_merged_now_with_the_head_reviewed(when: MergeWhen) -> None:
    plan = prplan.plan(snapshot(), request(merge_when=when))
    assert kinds(plan) == [K.MERGE_PULL_REQUEST]
    merge = plan.actions[0]
    assert isinstance(merge, prplan.MergePullRequest)
    assert (merge.number, merge.expected_head_sha) == (7, HEAD_SHA)


@pytest.mark.parametrize("when", LATER)
@pytest.mark.parametrize("gate", [Gate.CLEAN, Gate.PENDING, Gate.NEEDS_REVIEW])
def test_through_a_merge_queue_it_is_enqueued(when: MergeWhen, gate: Gate) -> None:
    plan = prplan.plan(snapshot(queue=True, gate=gate), request(merge_when=when))
    assert kinds(plan) == [K.ENQUEUE]
    enqueue = plan.actions[0]
    assert isinstance(enqueue, prplan.Enqueue) and enqueue.expected_head_sha == HEAD_SHA
    assert "merge queue" in enqueue.reason


def test_through_a_merge_queue_now_is_refused_before_any_write() -> None:
    plan = prplan.plan(snapshot(queue=True), request(merge_when="now"))
    assert refused(plan) is RefusalCode.MERGE_BLOCKED
    assert plan.refusal is not None and "merge queue" in plan.refusal.message
    assert "--merge-when auto" in plan.refusal.message


@pytest.mark.parametrize("when", list(MergeWhen))
@pytest.mark.parametrize("armed", list(MergeArmed))
def test_a_failing_required_check_is_refused_naming_it(when: MergeWhen, armed: MergeArmed) -> None:
    seen = snapshot(gate=Gate.FAILING, failing_checks=("ci/lint", "policy"), armed=armed)
    plan = prplan.plan(seen, request(merge_when=when))
    assert refused(plan) is RefusalCode.CHECKS_FAILING
    assert plan.refusal is not None and plan.refusal.pull_requests == (7,)
    assert "ci/lint, policy" in plan.refusal.message


@pytest.mark.parametrize("gate", [Gate.PENDING, Gate.NEEDS_REVIEW])
def test_not_mergeable_yet_under_now_is_refused_naming_the_gate(gate: Gate) -> None:
    plan = prplan.plan(snapshot(gate=gate, pending_checks=("ci/test",)), request(merge_when="now"))
    assert refused(plan) is RefusalCode.MERGE_BLOCKED
    assert plan.refusal is not None
    assert f"its gate is {gate.value}" in plan.refusal.message
    assert "--merge-when auto" in plan.refusal.message


@pytest.mark.parametrize("when", LATER)
@pytest.mark.parametrize("gate", [Gate.PENDING, Gate.NEEDS_REVIEW])
def test_not_mergeable_yet_enables_auto_merge(when: MergeWhen, gate: Gate) -> None:
    seen = snapshot(gate=gate, pending_checks=("ci/test",))
    plan = prplan.plan(seen, request(merge_when=when, merge_method="squash", delete_branch=True))
    assert kinds(plan) == [K.ENABLE_AUTO_MERGE]  # no delete: GitHub merges later
    action = plan.actions[0]
    assert isinstance(action, prplan.EnableAutoMerge)
    assert (action.number, action.expected_head_sha, action.method) == (7, HEAD_SHA, "squash")
    assert "delete_branch applies only after a merge; the branch is kept" in plan.notes


@pytest.mark.parametrize(
    ("armed", "gate", "said"),
    [
        (MergeArmed.AUTO_MERGE, Gate.PENDING, "auto-merge is on; waiting for ci/lint, ci/test"),
        (MergeArmed.AUTO_MERGE, Gate.NEEDS_REVIEW, "auto-merge is on; waiting for an approving review"),
        (MergeArmed.QUEUED, Gate.PENDING, "in the merge queue; waiting for ci/lint, ci/test"),
        (MergeArmed.QUEUED, Gate.CLEAN, "in the merge queue; waiting for the merge"),
    ],
)  # fmt: skip
def test_a_merge_already_armed_plans_nothing_and_says_what_it_waits_for(
    armed: MergeArmed, gate: Gate, said: str
) -> None:
    pending = ("ci/lint", "ci/test") if gate is Gate.PENDING else ()
    plan = prplan.plan(snapshot(gate=gate, armed=armed, pending_checks=pending), request())
    assert plan.is_empty and said in plan.notes
    assert plan.start is {MergeArmed.AUTO_MERGE: prplan.Stage.AUTO_MERGE_ENABLED}.get(
        armed, prplan.Stage.QUEUED
    )


def test_auto_merge_on_and_clean_is_merged_now() -> None:
    plan = prplan.plan(snapshot(armed=MergeArmed.AUTO_MERGE), request())
    assert kinds(plan) == [K.MERGE_PULL_REQUEST]


@pytest.mark.parametrize("when", list(MergeWhen))
@pytest.mark.parametrize("carries", [True, False])
def test_a_draft_is_never_merged(when: MergeWhen, carries: bool) -> None:
    plan = prplan.plan(snapshot(gate=Gate.DRAFT, carries=carries), request(merge_when=when))
    assert refused(plan) is RefusalCode.MERGE_BLOCKED
    assert plan.refusal is not None and "is a draft" in plan.refusal.message


# --- behind base, or conflicting -------------------------------------------------------


@pytest.mark.parametrize("gate", [Gate.BEHIND, Gate.CONFLICT])
@pytest.mark.parametrize(("queue", "last"), [(False, K.MERGE_PULL_REQUEST), (True, K.ENQUEUE)])
def test_prplans_own_branch_gets_its_commit_made_again_on_base(
    gate: Gate, queue: bool, last: K
) -> None:
    plan = prplan.plan(snapshot(gate=gate, queue=queue), request())
    assert kinds(plan) == [K.RESET_BRANCH, K.COMMIT, last]
    reset, commit, merge = plan.actions
    assert isinstance(reset, prplan.ResetBranch) and isinstance(commit, prplan.Commit)
    assert (reset.from_sha, reset.to_sha, commit.parent_sha) == (HEAD_SHA, BASE_SHA, BASE_SHA)
    assert f"gate is {gate.value}" in reset.reason
    # the merge step names the new commit (its sha is known only once made)
    assert getattr(merge, "expected_head_sha", "") is None and getattr(merge, "number", 0) == 7


@pytest.mark.parametrize("gate", [Gate.BEHIND, Gate.CONFLICT])
def test_a_branch_with_a_humans_commit_stays_refused_behind_base(gate: Gate) -> None:
    plan = prplan.plan(snapshot(gate=gate, ours=False), request(merge_foreign_commits=True))
    assert refused(plan) is RefusalCode.PR_BEHIND_BASE
    assert plan.refusal is not None and plan.refusal.commits == (HEAD_SHA,)
    assert "Update the branch" in plan.refusal.message


def test_a_protected_branch_is_not_reset_to_make_the_commit_again() -> None:
    seen = attrs.evolve(snapshot(gate=Gate.BEHIND), branch_protected=True)
    assert refused(prplan.plan(seen, request())) is RefusalCode.BRANCH_PROTECTED


# --- a new commit re-arms the gate --------------------------------------------------


@pytest.mark.parametrize("when", list(MergeWhen))
@pytest.mark.parametrize("gate", [Gate.FAILING, Gate.PENDING, Gate.NEEDS_REVIEW])
def test_a_new_commit_on_the_pull_request_is_merged_as_the_executor_finds_it(
    when: MergeWhen, gate: Gate
) -> None:
    plan = prplan.plan(snapshot(gate=gate, carries=False), request(merge_when=when))
    assert kinds(plan) == [K.COMMIT, K.MERGE_PULL_REQUEST]


@pytest.mark.parametrize(
    ("when", "expected"),
    [(MergeWhen.AUTO, K.ENQUEUE), (MergeWhen.WAIT, K.ENQUEUE), (MergeWhen.NOW, None)],
)
@pytest.mark.parametrize("pr", [True, False])
def test_through_a_queue_a_new_commit_or_pull_request_is_enqueued(
    when: MergeWhen, expected: K | None, pr: bool
) -> None:
    plan = prplan.plan(snapshot(carries=False, queue=True, pr=pr), request(merge_when=when))
    if expected is None:
        assert refused(plan) is RefusalCode.MERGE_BLOCKED
    else:
        assert kinds(plan)[-1] is expected
        assert kinds(plan)[-2] is (K.COMMIT if pr else K.CREATE_PULL_REQUEST)


# --- without automerge the gate changes nothing ----------------------------------------


@pytest.mark.parametrize("carries", [True, False])
def test_without_automerge_no_gate_changes_the_plan(carries: bool) -> None:
    plain = prplan.plan(snapshot(carries=carries), request(automerge=False))
    for gate in Gate:
        for armed in MergeArmed:
            for when in MergeWhen:
                seen = snapshot(carries=carries, gate=gate, armed=armed, queue=True)
                other = prplan.plan(seen, request(automerge=False, merge_when=when))
                if armed is not MergeArmed.NONE and not carries:
                    # A new commit into a pull request someone armed would be
                    # merged by that arming: refused (docs/concepts.md, "An
                    # armed pull request"); the gate itself still changes nothing.
                    assert other.refusal is not None, (gate, armed, when)
                    assert other.refusal.code is RefusalCode.PR_ARMED_BY_SOMEONE_ELSE
                    continue
                assert (other.rule, other.actions, other.notes, other.refusal, other.start) == (
                    plain.rule,
                    plain.actions,
                    plain.notes,
                    plain.refusal,
                    plain.start,
                )


# --- the request, its document, the command --------------------------------------------


def test_merge_when_and_wait_timeout_are_checked_naming_the_field() -> None:
    assert request().merge_when is MergeWhen.AUTO and request().wait_timeout == 1800.0
    with pytest.raises(prplan.InvalidRequestError) as bad:
        request(merge_when="later", wait_timeout=-5)
    fields = {problem.field: problem.message for problem in bad.value.problems}
    assert "auto | now | wait" in fields["merge_when"]
    assert "--wait-timeout 30m" in fields["wait_timeout"]
    with pytest.raises(prplan.InvalidRequestError):
        request(wait_timeout=True)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("90s", 90), ("1h", 3600), ("1800", 1800), ("1.5h", 5400)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "0", "-1m", "30x", "inf", "nan"])
def test_a_bad_duration_says_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match=r"e\.g\. 90s, 30m, 1h"):
        parse_duration(text)


def test_defaults_stay_out_of_the_plan_document_and_others_round_trip() -> None:
    plain = prplan.plan(snapshot(), request())
    document = plain.to_dict()
    assert "merge_when" not in document["request"] and "wait_timeout" not in document["request"]
    assert "merge_queue" not in document["observed"]
    assert "gate" not in document["observed"]["pull_requests"][0]
    seen = snapshot(gate=Gate.PENDING, pending_checks=("ci/test",), armed=MergeArmed.QUEUED)
    waits = prplan.plan(
        attrs.evolve(seen, merge_queue=True), request(merge_when="wait", wait_timeout=90)
    )
    again = prplan.Plan.from_json(waits.to_json())
    assert again == waits and again.to_json() == waits.to_json()
    assert json.loads(waits.to_json())["request"]["merge_when"] == "wait"
    check_plan(again)  # the planner derives it again from its own snapshot


@pytest.mark.parametrize("name", ["plan-v4.json", "plan-v4-refused.json"])
def test_plans_saved_before_the_gate_load_and_keep_their_bytes(name: str) -> None:
    text = (GOLDEN / name).read_text(encoding="utf-8")
    plan = prplan.Plan.from_json(text)
    assert plan.request.merge_when is MergeWhen.AUTO and plan.to_json() == text


def test_the_legacy_helper_merges_now_or_not_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """add_or_modify_files asks merge_when='now' (its meaning: merge at
    once or fail): the request it plans says so, and on a forge without a
    gate its pull request is merged."""
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n"})
    seen: list[prplan.ChangeRequest] = []

    def spy(snap: prplan.RepoSnapshot, req: prplan.ChangeRequest) -> prplan.Plan:
        seen.append(req)
        return prplan.plan(snap, req)

    monkeypatch.setattr(compat, "plan", spy)
    repo = type("Repo", (), {"name": REPO, "master_branch": "main"})()
    outcome = compat.add_or_modify_files(
        forge, repo, BRANCH, None, "deployer", {"values.yaml": "tag: 2\n"},
        create_pr=True, automerge=True, allow_modification=True,
    )  # fmt: skip
    assert [r.merge_when for r in seen] == [MergeWhen.NOW]
    assert outcome.status is prplan.OutcomeStatus.MERGED


def test_the_command_passes_merge_when_and_wait_timeout_into_the_request(tmp_path: Path) -> None:
    forge = prplan.LocalForge.open(tmp_path / "forge")
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n"})
    forge.close()
    (tmp_path / "v.yaml").write_bytes(WANT)
    common = ["plan", "--repo", REPO, "--local", str(tmp_path / "forge"), "--branch", BRANCH,
              "--file", f"values.yaml={tmp_path / 'v.yaml'}", "--automerge"]  # fmt: skip
    saved = tmp_path / "plan.json"
    result = CliRunner().invoke(
        cli, [*common, "--merge-when", "wait", "--wait-timeout", "90s", "--out", str(saved)]
    )
    assert result.exit_code == 2, result.output  # 2: the plan has changes
    written = json.loads(saved.read_text(encoding="utf-8"))["request"]
    assert (written["merge_when"], written["wait_timeout"]) == ("wait", 90.0)
    bad = CliRunner().invoke(cli, [*common, "--merge-when", "later", "--wait-timeout", "soon"])
    assert bad.exit_code == 1 and "--wait-timeout" in bad.output and "--merge-when" in bad.output
    assert "e.g. 90s, 30m, 1h" in bad.output and "auto | now | wait" in bad.output

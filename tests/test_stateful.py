"""prplan among humans: random requests interleaved with people merging,
closing, reopening, pushing to base and to the branch, and deleting it.

Invariants after every step:
* at most one open pull request for the branch (prplan never opens a second);
* nothing is merged that automerge did not ask for (every merge by prplan
  comes from an apply whose request had automerge on);
* no apply makes a human's commit unreachable unless its request said
  branch_policy='reset' (prplan's own commits may go: they are disposable;
  what humans throw away themselves is theirs to lose);
* every apply that is not refused and not beaten by a race converges: the
  re-plan is empty;
* plans round-trip through JSON and are byte-identical when made twice.
"""

from __future__ import annotations

import atexit

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import prplan
from prplan import OutcomeStatus
from prplan.localforge._rest import ForgeApp, ForgeServer

from served import Served

REPO = "acme/gitops"
BRANCH = "prplan/release"
PATHS = ("apps/api/values.yaml", "apps/web/values.yaml", "clusters/eu1.yaml")
HUMAN = "A Human"

contents = st.sampled_from([b"tag: 1\n", b"tag: 2\n", b"tag: 3\n", None])
file_maps = st.dictionaries(st.sampled_from(PATHS), contents, min_size=1, max_size=3)


class PrplanAmongHumans(RuleBasedStateMachine):
    """prplan works through ``self.client``; humans act on ``self.forge``."""

    def __init__(self) -> None:
        super().__init__()
        self.forge = prplan.LocalForge.in_memory()
        self.forge.create_repo(REPO, {PATHS[0]: "tag: 0\n", "README.md": "gitops\n"})
        self.client: prplan.ForgeClient = self.connect(self.forge)
        self.merged_by_prplan: set[int] = set()
        self.merged_by_humans: set[int] = set()
        self.human_commits: set[str] = set()

    def connect(self, forge: prplan.LocalForge) -> prplan.ForgeClient:
        return forge

    # --- what humans do ---------------------------------------------------------

    def _pulls(self) -> list[prplan.PullRequestInfo]:
        return self.forge.pull_requests(REPO)

    def _open(self) -> list[prplan.PullRequestInfo]:
        return [p for p in self._pulls() if p.is_open]

    @rule(
        files=st.dictionaries(
            st.sampled_from(PATHS), st.sampled_from([b"human: 1\n", b"human: 2\n"]), min_size=1
        )
    )
    def human_pushes_to_base(self, files: dict[str, bytes]) -> None:
        self.human_commits.add(self.forge.push(REPO, "main", files, message="Hotfix on main"))

    @precondition(lambda self: BRANCH in self.forge.branches(REPO))
    @rule(content=st.sampled_from([b"review: 1\n", b"review: 2\n"]))
    def human_pushes_to_branch(self, content: bytes) -> None:
        self.human_commits.add(
            self.forge.push(REPO, BRANCH, {"notes/review.txt": content}, message="Review fix")
        )

    @precondition(lambda self: bool(self._open()))
    @rule(method=st.sampled_from(["merge", "squash", "rebase"]))
    def human_merges(self, method: str) -> None:
        pr = self._open()[0]
        try:
            self.forge.merge_pr(REPO, pr.number, method)
        except prplan.MergeBlocked:
            return  # a conflict: the human leaves it open
        self.merged_by_humans.add(pr.number)

    @precondition(lambda self: bool(self._open()))
    @rule()
    def human_closes(self) -> None:
        self.forge.close_pr(REPO, self._open()[0].number)

    @precondition(lambda self: BRANCH in self.forge.branches(REPO))
    @rule()
    def human_deletes_the_branch(self) -> None:
        self.forge.remove_branch(REPO, BRANCH)

    @precondition(lambda self: any(not p.merged and not p.is_open for p in self._pulls()))
    @rule()
    def human_reopens(self) -> None:
        closed = [p for p in self._pulls() if not p.merged and not p.is_open]
        try:
            self.forge.reopen_pr(REPO, closed[-1].number)
        except (prplan.ForgeError, prplan.ConflictError):
            return  # its branch is gone, or another is open: GitHub refuses too

    # --- what prplan does -------------------------------------------------------

    @rule(
        files=file_maps,
        create_pr=st.booleans(),
        automerge=st.booleans(),
        allow_modification=st.booleans(),
        on_closed=st.sampled_from(["new", "skip", "fail"]),
        branch_policy=st.sampled_from(["safe", "safe", "reset"]),
        delete_branch=st.booleans(),
        method=st.sampled_from(["merge", "squash", "rebase"]),
    )
    def prplan_runs(
        self,
        files: dict[str, bytes | None],
        create_pr: bool,
        automerge: bool,
        allow_modification: bool,
        on_closed: str,
        branch_policy: str,
        delete_branch: bool,
        method: str,
    ) -> None:
        request = prplan.ChangeRequest(
            repo=REPO, branch=BRANCH, files=files, create_pr=create_pr, automerge=automerge,
            allow_modification=allow_modification, on_closed=on_closed, branch_policy=branch_policy,
            delete_branch=delete_branch, merge_method=method, title="Release",
        )  # fmt: skip
        snapshot = prplan.observe(self.client, request)
        plan = prplan.plan(snapshot, request)
        # Plans are data: deterministic and lossless.
        assert prplan.plan(snapshot, request).to_json() == plan.to_json()
        assert prplan.Plan.from_json(plan.to_json()) == plan

        before = {p.number for p in self._pulls() if p.merged}
        reachable = {sha for sha in self.human_commits if self.forge.reachable(REPO, sha)}
        outcome = prplan.apply(plan, self.client)
        lost = {sha for sha in reachable if not self.forge.reachable(REPO, sha)}
        if not (
            branch_policy == "reset"
            and plan.actions
            and plan.actions[0].kind is prplan.ActionKind.RESET_BRANCH
        ):
            assert lost == set(), f"{plan.rule} lost a human's commit"
        merged = {p.number for p in self._pulls() if p.merged} - before
        if merged:
            assert automerge, f"merged {merged} without automerge"
            self.merged_by_prplan |= merged

        if outcome.status is OutcomeStatus.REFUSED:
            return
        if outcome.status is OutcomeStatus.FAILED:
            # Only a merge conflict can stop a fresh plan on an idle forge.
            assert outcome.error_type == "MergeBlocked", outcome.error
            return
        replan = prplan.plan(prplan.observe(self.client, request), request)
        assert replan.is_empty, f"not converged: {replan.rule} after {plan.rule}"

    # --- invariants -------------------------------------------------------------

    @invariant()
    def at_most_one_open_pull_request(self) -> None:
        assert len(self._open()) <= 1

    @invariant()
    def every_merge_was_asked_for(self) -> None:
        merged = {p.number for p in self._pulls() if p.merged}
        assert merged == self.merged_by_prplan | self.merged_by_humans


TestPrplanAmongHumans = PrplanAmongHumans.TestCase
# Steps per run: long enough for merge/close/push/re-run sequences, short
# enough that the dev profile stays fast. max_examples comes from the profile.
# settings() inherits the loaded profile (conftest), so only the step count is set here.
TestPrplanAmongHumans.settings = settings(stateful_step_count=25)


_SERVER: list[ForgeServer] = []


def _shared_server() -> ForgeServer:
    if not _SERVER:
        _SERVER.append(ForgeServer(ForgeApp(prplan.LocalForge.in_memory())).start())
        atexit.register(_SERVER[0].stop)
    return _SERVER[0]


class PrplanAmongHumansOverHTTP(PrplanAmongHumans):
    """The same story with prplan talking to the forge through GitHubClient
    over HTTP, and every response checked against GitHub's schema."""

    def connect(self, forge: prplan.LocalForge) -> prplan.ForgeClient:
        self.served = Served(_shared_server(), forge)
        return self.served.client

    @invariant()
    def every_response_is_on_contract(self) -> None:
        assert self.served.violations == []


TestPrplanAmongHumansOverHTTP = PrplanAmongHumansOverHTTP.TestCase
TestPrplanAmongHumansOverHTTP.settings = settings(
    stateful_step_count=25, max_examples=settings.default.max_examples // 3 or 1
)

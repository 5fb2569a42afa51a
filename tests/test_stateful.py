"""prplan among humans: random requests interleaved with people merging,
closing, reopening, pushing to base, to the default branch and to the
branch, force-pushing base, amending prplan's commit, putting directories,
submodules and files where requested files (or their parents) are, opening
pull requests from the branch into another base, and deleting the branch.

Invariants after every step:
* at most one open pull request per head and base (prplan never opens a second);
* nothing is merged that automerge did not ask for (every merge by prplan
  comes from an apply whose request had automerge on);

and after every apply, on the real forge:
* no commit reachable before the apply is unreachable after it, unless the
  plan named it in a reset (``ResetBranch.dropped``) and it is provably
  prplan's (``by_prplan``), or the request said branch_policy='reset' (what
  humans throw away themselves is theirs to lose);
* no branch is written but the request's branch and its base, base only by
  a merge and only forward; the default branch is never reset;
* after a merge, every path whose content differs on base is one the plan
  said the merge brings (``MergePullRequest.brings_paths``);
* every plan is what ``plan()`` derives from the plan's own facts;
* every apply that is not refused and not beaten by a race converges: the
  re-plan is empty;
* plans round-trip through JSON and are byte-identical when made twice.

Issue 15's pull-request metadata and text: some runs ask for labels,
assignees, reviewers, a milestone, draft, ``update_pr``, ``close_superseded``,
a title and body; humans add and remove labels, mark pull requests ready or
convert them to drafts, review as requested reviewers, set a milestone, edit
a body above and below prplan's human line, and copy prplan's marker into a
pull request they open. After every apply, on every pull request there was:
* no label, assignee, requested reviewer or team, or milestone is gone, and
  what is new is only what the request named (a label a human removed comes
  back only if asked; a reviewer who already reviewed is not re-requested);
* an open pull request is never converted to a draft, and a draft is marked
  ready only by ``draft=False``;
* a title and body change only under ``update_pr``, on an open pull request
  whose body carried the marker of this very request before the run;
* a human's text below prplan's line is the same, byte for byte;
* a pull request is closed only under ``close_superseded``, only prplan's
  (its marker names the request), only one whose head holds nothing that is
  not prplan's, and with a comment saying why;

and after every step, no pull request merged was a draft.
"""

from __future__ import annotations

import atexit
from collections import Counter
from dataclasses import dataclass
from typing import Any

import attrs
import pytest
from dulwich.objects import Tree
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

import prplan
from prplan import OutcomeStatus
from prplan.core.actions import ClosePullRequest
from prplan.core.pr_metadata import folded
from prplan.core.pull_text import HUMAN_LINE, split_body
from prplan.forges.local.server.app import ForgeApp, ForgeServer
from prplan.forges.local.trees import TreeInput

from served import Served

REPO = "acme/gitops"
BRANCH = "prplan/release"
OTHER_BASE = "release"
PATHS = ("apps/api/values.yaml", "apps/web/values.yaml", "clusters/eu1.yaml")
HUMAN = "A Human"
GITLINK = 0o160000

contents = st.sampled_from([b"tag: 1\n", b"tag: 2\n", b"tag: 3\n", None])
file_maps = st.dictionaries(st.sampled_from(PATHS), contents, min_size=1, max_size=3)
bases = st.sampled_from(["main", "main", OTHER_BASE])

#: Issue 15: what a request may ask of its pull request (GitHub compares
#: labels without case: "deploy" and "Deploy" are one label).
LABELS = ("deploy", "Deploy", "team/sre")
REVIEWERS = ("alice", "bob")
MILESTONES = ("v1", "v2")
MARKER_START = "<!-- prplan:request="
pr_asks = st.fixed_dictionaries(
    {
        "labels": st.lists(st.sampled_from(LABELS), max_size=2, unique_by=str.casefold),
        "reviewers": st.lists(st.sampled_from(REVIEWERS), max_size=2, unique=True),
        "assignees": st.sampled_from([(), ("carol",)]),
        "milestone": st.sampled_from([None, None, MILESTONES[0]]),
        "draft": st.sampled_from([True, False, None]),
        # what Hypothesis draws most is listed first: the new behaviour
        "update_pr": st.sampled_from([True, False]),
        "close_superseded": st.sampled_from([True, False]),
        "title": st.sampled_from(["Release, reviewed", "Release"]),
        "body": st.sampled_from(["Ships the release.\n", ""]),
        "co_authors": st.sampled_from([(), ("Ada <ada@example.com>",)]),
    }
)
#: Most runs ask for none of it, as before issue 15.
pr_asks_sometimes = st.one_of(st.none(), st.none(), pr_asks)
#: The metadata fields, dropped from a request without a pull request.
METADATA_FIELDS = ("labels", "reviewers", "assignees", "milestone", "draft")
HUMAN_MOVES = ("add label", "edit", "draft", "review", "remove label", "ready", "milestone")


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0]


def tree_entries(forge: prplan.LocalForge, ref: str) -> dict[str, tuple[int, str]]:
    """Every entry (files, links and submodules) at a branch or commit: path -> (mode, sha)."""
    out: dict[str, tuple[int, str]] = {}

    def walk(tree_sha: str, prefix: str) -> None:
        tree = forge.git_object(REPO, tree_sha)
        assert isinstance(tree, Tree)
        for item in tree.items():
            path = prefix + item.path.decode()
            if item.mode == 0o040000:
                walk(item.sha.decode(), path + "/")
            else:
                out[path] = (item.mode, item.sha.decode())

    commit = forge.git_object(REPO, forge.branches(REPO).get(ref, ref))
    walk(commit.tree.decode(), "")
    return out


def human_push(
    forge: prplan.LocalForge, branch: str, changes: dict[str, TreeInput | None], message: str
) -> str:
    """Push one commit on ``branch`` (created from main if absent) that puts
    each entry at its path (None deletes), removing whatever is in its way:
    the path itself, anything under it, and any file at one of its parents."""
    head = forge.branches(REPO).get(branch) or forge.branches(REPO)["main"]
    kept = tree_entries(forge, head)
    for path in changes:
        kept = {
            p: e
            for p, e in kept.items()
            if p != path and not p.startswith(path + "/") and not path.startswith(p + "/")
        }
    tree = forge.git_create_tree(
        REPO,
        [TreeInput(path=p, mode=mode, sha=sha) for p, (mode, sha) in kept.items()]
        + [e for e in changes.values() if e is not None],
        base_tree=None,
    )
    commit = forge.git_create_commit(REPO, message=message, tree=tree, parents=[head])
    forge.set_branch(REPO, branch, commit)
    return commit


def files_push(
    forge: prplan.LocalForge, branch: str, files: dict[str, bytes | None], message: str
) -> str:
    changes = {p: None if c is None else TreeInput(path=p, content=c) for p, c in files.items()}
    return human_push(forge, branch, changes, message)


def ancestors(forge: prplan.LocalForge, sha: str) -> set[str]:
    return {c.sha for c in forge.log(REPO, sha)}


@dataclass(frozen=True)
class PullFacts:
    """What a pull request shows of issue 15 (names folded as GitHub
    compares them), read on the forge as a human sees it."""

    open: bool
    merged: bool
    base: str
    labels: frozenset[str]
    assignees: frozenset[str]
    requested: frozenset[str]
    teams: frozenset[str]
    reviewed: frozenset[str]
    milestone: str | None
    draft: bool
    title: str
    body: str
    #: the head holds commits (not on base) that prplan did not make
    foreign: bool

    @property
    def owner(self) -> str | None:
        """The request id in prplan's marker, or None."""
        return split_body(self.body)[1]

    @property
    def human_notes(self) -> str:
        """The raw text after prplan's human line ("" without one)."""
        at = self.body.find(HUMAN_LINE)
        return "" if at < 0 or self.owner is None else self.body[at + len(HUMAN_LINE) :]


def pull_facts(forge: prplan.LocalForge, pr: prplan.PullRequestInfo) -> PullFacts:
    meta = forge.pull_request_metadata(REPO, pr.number, reviews=True)
    text = forge.pull_request_text(REPO, pr.number)
    foreign = False
    if pr.is_open:
        base_sha = forge.branches(REPO)[pr.base_branch]
        commits = forge.compare_commits(REPO, base_sha, pr.head_sha).commits
        foreign = any(not c.by_prplan for c in commits)
    return PullFacts(
        open=pr.is_open,
        merged=pr.merged,
        base=pr.base_branch,
        labels=frozenset(map(folded, meta.labels)),
        assignees=frozenset(map(folded, meta.assignees)),
        requested=frozenset(map(folded, meta.requested_reviewers)),
        teams=frozenset(map(folded, meta.requested_teams)),
        reviewed=frozenset(map(folded, meta.reviewed_by)),
        milestone=meta.milestone,
        draft=meta.draft,
        title=text.title,
        body=text.body,
        foreign=foreign,
    )


def edited_body(body: str, where: str, text: str) -> str:
    """``body`` as a human edits it: ``text`` in place of what is above
    prplan's marker (the marker and below kept), or after its human line
    (appended to a body without one)."""
    if where == "above":
        at = body.find(MARKER_START)
        return text if at < 0 else f"{text}\n\n{body[at:]}"
    at = body.find(HUMAN_LINE)
    return f"{body}\n{text}" if at < 0 else body[: at + len(HUMAN_LINE)] + "\n" + text


class PrplanAmongHumans(RuleBasedStateMachine):
    """prplan works through ``self.client``; humans act on ``self.forge``."""

    #: humans may push submodules (the forge's compare handles them: see
    #: the submodule test at the end)
    submodules = True

    def __init__(self) -> None:
        super().__init__()
        self.forge = prplan.LocalForge.in_memory()
        self.forge.create_repo(REPO, {PATHS[0]: "tag: 0\n", "README.md": "gitops\n"})
        self.forge.push(REPO, OTHER_BASE, {"RELEASE.md": "v1\n"}, message="Cut a release")
        self.client: prplan.ForgeClient = self.connect(self.forge)
        self.merged_by_prplan: set[int] = set()
        self.merged_by_humans: set[int] = set()
        self.human_commits: set[str] = set()
        #: pull requests whose merge someone armed (GitHub's auto-merge): the
        #: forge merges them when their gate turns clean
        self.armed_by_prplan: set[int] = set()
        self.armed_by_humans: set[int] = set()
        self.required_checks: tuple[str, ...] = ()
        self.required_approvals = 0
        self.gate_checked: set[int] = set()
        self.draft_checked: set[int] = set()
        self.last_request: prplan.ChangeRequest | None = None
        #: every request run, by its id (the id prplan's marker names)
        self.requests: dict[str, prplan.ChangeRequest] = {}
        for title in MILESTONES:
            self.forge.create_milestone(REPO, title)

    def connect(self, forge: prplan.LocalForge) -> prplan.ForgeClient:
        return forge

    @initialize(
        checks=st.sampled_from([(), (), ("ci/lint",)]), approvals=st.sampled_from([0, 0, 1])
    )
    def base_may_be_protected(self, checks: tuple[str, ...], approvals: int) -> None:
        """main, some of the time, behind a gate: a required check, an
        approving review, or both (the other base never is)."""
        if checks or approvals:
            self.forge.protect_branch(
                REPO, "main", required_checks=checks, required_approvals=approvals
            )
        self.required_checks, self.required_approvals = checks, approvals

    # --- what humans do ---------------------------------------------------------

    def _pulls(self) -> list[prplan.PullRequestInfo]:
        return self.forge.pull_requests(REPO)

    def _open(self) -> list[prplan.PullRequestInfo]:
        return [p for p in self._pulls() if p.is_open]

    def _has_branch(self) -> bool:
        return BRANCH in self.forge.branches(REPO)

    @rule(
        files=st.dictionaries(
            st.sampled_from(PATHS), st.sampled_from([b"human: 1\n", b"human: 2\n"]), min_size=1
        ),
        base=bases,
    )
    def human_pushes_to_base(self, files: dict[str, bytes], base: str) -> None:
        # base 'main' is also the default branch: a commit straight to it
        self.human_commits.add(files_push(self.forge, base, dict(files), "Hotfix on base"))

    @rule(base=bases)
    def human_force_pushes_base_back(self, base: str) -> None:
        head = self.forge.git_object(REPO, self.forge.branches(REPO)[base])
        if head.parents:
            try:
                self.forge.set_branch(REPO, base, head.parents[0].decode())
            except prplan.ForgeError:
                return  # a protected base: GitHub refuses the force-push too

    # --- the gate: CI, reviewers, and humans arming merges ---------------------------

    @precondition(lambda self: bool(self._open()))
    @rule(state=st.sampled_from(["success", "success", "failure", "pending"]))
    def ci_reports(self, state: str) -> None:
        """The required check reports on the open pull request's head (the
        forge merges an armed pull request whose gate this makes clean)."""
        self.forge.set_status(REPO, self._open()[0].head_sha, "ci/lint", state)

    @precondition(lambda self: bool(self._open()))
    @rule()
    def reviewer_approves(self) -> None:
        self.forge.approve(REPO, self._open()[0].number, "reviewer")

    @precondition(lambda self: bool(self._open()))
    @rule(method=st.sampled_from(["merge", "squash"]))
    def human_enables_auto_merge(self, method: str) -> None:
        pr = self._open()[0]
        try:
            self.forge.enable_auto_merge(REPO, pr.number, method, by="human")
        except (prplan.ForgeError, prplan.MergeBlocked):
            return  # clean (merge it instead), a draft, a conflict: GitHub refuses too
        self.armed_by_humans.add(pr.number)

    def _armed_by_prplan(self) -> list[prplan.PullRequestInfo]:
        return [
            p
            for p in self._open()
            if (self.forge.auto_merge_request(REPO, p.number) or {}).get("enabled_by") == "prplan"
        ]

    @precondition(lambda self: bool(self._armed_by_prplan()))
    @rule(content=st.sampled_from([b"unreviewed: 1\n", b"unreviewed: 2\n"]))
    def human_pushes_onto_prplans_armed_branch(self, content: bytes) -> None:
        """A push with write access leaves prplan's auto-merge on (as on GitHub)."""
        pr = self._armed_by_prplan()[0]
        self.human_commits.add(
            files_push(self.forge, pr.head_branch, {"notes/late.txt": content}, "Late push")
        )

    @precondition(lambda self: bool(self._open()))
    @rule()
    def human_disables_auto_merge(self) -> None:
        self.forge.disable_auto_merge(REPO, self._open()[0].number)

    @precondition(lambda self: self._has_branch())
    @rule(content=st.sampled_from([b"review: 1\n", b"review: 2\n"]))
    def human_pushes_to_branch(self, content: bytes) -> None:
        self.human_commits.add(
            files_push(self.forge, BRANCH, {"notes/review.txt": content}, "Review fix")
        )

    @rule(files=file_maps)
    def human_pushes_the_requested_content(self, files: dict[str, bytes | None]) -> None:
        """A foreign commit on the branch holding what a request asks for."""
        self.human_commits.add(files_push(self.forge, BRANCH, files, "Did it by hand"))

    @rule(
        path=st.sampled_from(PATHS),
        shape=st.sampled_from(["directory", "submodule", "file above"]),
        branch=st.sampled_from(["main", BRANCH]),
    )
    def human_puts_something_else_where_a_file_is(self, path: str, shape: str, branch: str) -> None:
        """A directory or a submodule at a requested path, or a file at its
        parent (the requested path is then under a file)."""
        if shape == "directory":
            entry = TreeInput(path=f"{path}/inner.yaml", content=b"inner: 1\n")
            at = path
        elif shape == "submodule":
            if not self.submodules:
                return  # see test_a_submodule_pushed_on_the_branch_is_observed_over_http
            entry = TreeInput(path=path, mode=GITLINK, sha=self.forge.branches(REPO)["main"])
            at = path
        else:
            at = _parent(path)
            entry = TreeInput(path=at, content=b"a file where a directory was\n")
        self.human_commits.add(human_push(self.forge, branch, {at: entry}, f"A {shape} at {at}"))

    @precondition(lambda self: self._has_branch())
    @rule()
    def human_amends_prplans_commit(self) -> None:
        """Same full message (both trailers), one more file: not prplan's any more."""
        head = self.forge.log(REPO, BRANCH)[0]
        if not head.by_prplan:
            return
        commit = self.forge.git_object(REPO, head.sha)
        entries = tree_entries(self.forge, head.sha)
        entries.pop("docs", None)  # a file where the runbook's directory goes
        tree = self.forge.git_create_tree(
            REPO,
            [TreeInput(path=p, mode=m, sha=sha) for p, (m, sha) in entries.items()]
            + [TreeInput(path="docs/runbook.md", content=b"# keep me\n")],
            base_tree=None,
        )
        amended = self.forge.git_create_commit(
            REPO,
            message=commit.message.decode(),
            tree=tree,
            parents=[p.decode() for p in commit.parents],
        )
        self.forge.set_branch(REPO, BRANCH, amended)
        self.human_commits.add(amended)

    @precondition(lambda self: self._has_branch())
    @rule(base=bases, copy_marker=st.sampled_from([False, False, True]))
    def human_opens_a_pull_request(self, base: str, copy_marker: bool) -> None:
        """From the branch into some base, maybe not the one prplan uses;
        sometimes with prplan's marker copied from one of its bodies."""
        body = self._a_marker() if copy_marker else ""
        try:
            self.forge.open_pr(REPO, BRANCH, base, body=body)
        except (prplan.ForgeError, prplan.ConflictError):
            return  # already open, or nothing to compare: GitHub refuses too

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

    @precondition(lambda self: self._has_branch())
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

    # --- issue 15: what humans do to a pull request's metadata and text -------------

    @precondition(lambda self: bool(self._open()))
    @rule(
        moves=st.lists(st.sampled_from(HUMAN_MOVES), min_size=1, max_size=3),
        label=st.sampled_from(("hotfix", *LABELS)),
        where=st.sampled_from(["below", "above"]),
        text=st.sampled_from(["Ops: deploy after 18:00.\n", "Ops: ok\r\nsecond line"]),
    )
    def human_works_on_the_pull_request(
        self, moves: list[str], label: str, where: str, text: str
    ) -> None:
        """One rule for all of them (one to three at a time), so prplan runs
        as often as before: adds a label, or removes one (even one prplan
        added: prplan adds it again only if asked); marks it ready or
        converts it to a draft; a requested reviewer reviews (GitHub then
        drops the request: prplan must not ask again); sets a milestone;
        edits the body above prplan's marker (update_pr may rewrite that)
        or below its human line (kept byte for byte)."""
        number = self._open()[0].number
        for move in moves:
            self._human_move(number, move, label, where, text)

    def _human_move(self, number: int, move: str, label: str, where: str, text: str) -> None:
        if move == "add label":
            self.forge.add_labels(REPO, number, [label])
        elif move == "remove label" and folded(label) in self._labels(number):
            self.forge.remove_label(REPO, number, label)
        elif move in {"ready", "draft"} and self._still_open(number):
            # (a review or a ready may have let an armed merge go through)
            self.forge.set_draft(REPO, number, move == "draft")
        elif move == "review" and self._still_open(number):
            users, _ = self.forge.review_requests(REPO, number)
            if users:
                self.forge.review(REPO, number, users[0], "APPROVE")
        elif move == "milestone":
            self.forge.set_milestone(REPO, number, 1 + len(label) % 2)
        elif move == "edit":
            body = self.forge.pull_request_text(REPO, number).body
            self.forge.edit_pull(REPO, number, body=edited_body(body, where, text))

    def _still_open(self, number: int) -> bool:
        return any(p.number == number for p in self._open())

    def _labels(self, number: int) -> set[str]:
        return {folded(label["name"]) for label in self.forge.pull_labels(REPO, number)}

    @precondition(lambda self: self.last_request is not None)
    @rule()
    def human_lands_the_requested_content_on_base(self) -> None:
        """Base then holds what the open pull request's request (or the last
        one) asks: its pull request is superseded (close_superseded's case)."""
        request = self._own_request(fallback=self.last_request)
        assert request is not None and request.base is not None
        files = {p: c for p, c in request.files.items() if not isinstance(c, tuple)}
        self.human_commits.add(files_push(self.forge, request.base, files, "Landed it by hand"))

    def _own_request(self, fallback: prplan.ChangeRequest | None) -> prplan.ChangeRequest | None:
        """The request whose marker an open pull request carries, else ``fallback``."""
        for pr in self._open():
            owner = split_body(self.forge.pull_request_text(REPO, pr.number).body)[1]
            if owner in self.requests:
                return self.requests[owner]
        return fallback

    def _a_marker(self) -> str:
        """prplan's marker and human line, as copied from its latest body ("" if none)."""
        for pr in reversed(self._pulls()):
            body = self.forge.pull_request_text(REPO, pr.number).body
            if split_body(body)[1] is not None:
                return body[body.find(MARKER_START) :]
        return ""

    # --- what prplan does -------------------------------------------------------

    @rule(
        files=file_maps,
        base=bases,
        create_pr=st.booleans(),
        automerge=st.booleans(),
        allow_modification=st.booleans(),
        on_closed=st.sampled_from(["new", "skip", "fail"]),
        branch_policy=st.sampled_from(["safe", "safe", "reset"]),
        merge_foreign_commits=st.sampled_from([False, False, True]),
        delete_branch=st.booleans(),
        method=st.sampled_from(["merge", "squash", "rebase"]),
        merge_when=st.sampled_from(["auto", "auto", "now"]),
        asks=pr_asks_sometimes,
        again=st.one_of(st.none(), pr_asks),
    )
    def prplan_runs(
        self,
        files: dict[str, bytes | None],
        base: str,
        create_pr: bool,
        automerge: bool,
        allow_modification: bool,
        on_closed: str,
        branch_policy: str,
        merge_foreign_commits: bool,
        delete_branch: bool,
        method: str,
        merge_when: str,
        asks: dict[str, Any] | None,
        again: dict[str, Any] | None,
    ) -> None:
        extra = self._pr_asks(asks, create_pr=create_pr, automerge=automerge)
        request = prplan.ChangeRequest(
            repo=REPO, branch=BRANCH, base=base, files=files, create_pr=create_pr,
            automerge=automerge, allow_modification=allow_modification, on_closed=on_closed,
            branch_policy=branch_policy, merge_foreign_commits=merge_foreign_commits,
            delete_branch=delete_branch, merge_method=method, merge_when=merge_when, **extra,
        )  # fmt: skip
        earlier = self._own_request(fallback=None) if again is not None else None
        if earlier is not None:
            # the request of prplan's open pull request again (its marker
            # names it), asking for other metadata and text this time: the
            # case of update_pr and close_superseded
            request = attrs.evolve(
                earlier,
                **self._pr_asks(again, create_pr=earlier.create_pr, automerge=earlier.automerge),
            )
            base, automerge, merge_when = (
                request.base or base,
                request.automerge,
                request.merge_when,
            )
            branch_policy = request.branch_policy
        self.last_request = self.requests[request.request_id] = request
        snapshot = prplan.observe(self.client, request)
        plan = prplan.plan(snapshot, request)
        # Plans are data: deterministic, lossless, and all they hold is
        # what plan() derives from their own facts.
        assert prplan.plan(snapshot, request).to_json() == plan.to_json()
        assert prplan.Plan.from_json(plan.to_json()) == plan
        assert prplan.plan(plan.observed, plan.request) == plan

        branches = self.forge.branches(REPO)
        commits = {c.sha: c for b in branches.values() for c in self.forge.log(REPO, b)}
        base_entries = tree_entries(self.forge, base)
        before = {p.number for p in self._pulls() if p.merged}
        reachable = {sha for sha in self.human_commits if self.forge.reachable(REPO, sha)}
        armed_before = {
            p.number: (self.forge.auto_merge_request(REPO, p.number) or {}).get("enabled_by")
            for p in self._open()
            if self.forge.auto_merge_request(REPO, p.number)
        }
        seen = {p.number: pull_facts(self.forge, p) for p in self._pulls()}
        outcome = prplan.apply(plan, self.client)
        after = self.forge.branches(REPO)
        self._pull_requests_kept(plan, seen)

        # prplan arms a merge only when asked to merge, and never disarms
        # one someone else armed.
        if outcome.status in {OutcomeStatus.AUTO_MERGE_ENABLED, OutcomeStatus.QUEUED}:
            assert automerge and merge_when != "now", f"{plan.rule} armed a merge unasked"
            self.armed_by_prplan |= {p.number for p in self._open()}
        for number in armed_before.keys() & {p.number for p in self._open()}:
            if armed_before[number] != "prplan":
                assert self.forge.auto_merge_request(REPO, number), (
                    f"{plan.rule} disarmed #{number}"
                )
        self._no_arming_of_prplans_over_foreign_commits(plan, outcome, base)

        # Nothing lost but prplan's own commits that a reset named.
        lost = {sha for sha in reachable if not self.forge.reachable(REPO, sha)}
        reset = next((a for a in plan.actions if isinstance(a, prplan.ResetBranch)), None)
        if not (branch_policy == "reset" and reset is not None):
            assert lost == set(), f"{plan.rule} lost a human's commit"
        still = {c.sha for b in after.values() for c in self.forge.log(REPO, b)}
        gone = {s for s in commits.keys() - still if not self.forge.reachable(REPO, s)}
        dropped = {c.sha for c in reset.dropped} if reset is not None else set()
        assert gone <= dropped, f"{plan.rule} lost commits no reset named: {sorted(gone - dropped)}"
        if branch_policy != "reset":
            foreign = {s for s in gone if not commits[s].by_prplan}
            assert not foreign, f"{plan.rule} lost commits that are not prplan's: {foreign}"

        # Only the branch and its base are written; base and the default
        # branch only forward, and base only by a merge.
        merge = next((a for a in plan.actions if isinstance(a, prplan.MergePullRequest)), None)
        for name in branches.keys() | after.keys():
            if branches.get(name) == after.get(name) or name == BRANCH:
                continue
            assert name == base, f"{plan.rule} wrote {name!r} (base is {base!r})"
            assert merge is not None, f"{plan.rule} wrote base {base!r} without merging"
            assert name in after and branches[name] in ancestors(self.forge, after[name]), (
                f"{plan.rule} reset base {base!r}"
            )

        merged = {p.number for p in self._pulls() if p.merged} - before
        if merged:
            assert automerge, f"merged {merged} without automerge"
            self.merged_by_prplan |= merged
            # The merge brought exactly what the plan said it brings.
            assert merge is not None
            now = tree_entries(self.forge, base)
            changed = {
                p for p in base_entries.keys() | now.keys() if base_entries.get(p) != now.get(p)
            }
            if merge.brings_complete:
                assert changed <= set(merge.brings_paths), (
                    f"{plan.rule}: the merge changed {sorted(changed - set(merge.brings_paths))} "
                    f"on {base!r}, not in brings_paths {merge.brings_paths}"
                )

        if outcome.status in {OutcomeStatus.REFUSED, OutcomeStatus.DISARMED}:
            return
        if outcome.status is OutcomeStatus.FAILED:
            # Only a merge conflict, or a gate under merge_when=now, can stop
            # a fresh plan on an idle forge.
            assert outcome.error_type == "MergeBlocked", outcome.error
            return
        replan = prplan.plan(prplan.observe(self.client, request), request)
        assert replan.is_empty, f"not converged: {replan.rule} after {plan.rule}"

    @staticmethod
    def _pr_asks(
        asks: dict[str, Any] | None, *, create_pr: bool, automerge: bool
    ) -> dict[str, Any]:
        """The request's issue-15 fields: as drawn, less what the request
        cannot take (metadata without a pull request, a draft to merge)."""
        if asks is None:
            return {"title": "Release"}
        extra = dict(asks)
        if not create_pr:
            for name in METADATA_FIELDS:
                extra.pop(name)
        elif automerge and extra["draft"] is True:
            extra["draft"] = None
        return extra

    def _pull_requests_kept(self, plan: prplan.Plan, seen: dict[int, PullFacts]) -> None:
        """Issue 15's promises on every pull request there was before the run."""
        request = plan.request
        asked = {
            "labels": set(map(folded, request.labels)),
            "assignees": set(map(folded, request.assignees)),
            "requested": set(map(folded, request.reviewers)),
            "teams": set(map(folded, request.team_reviewers)),
        }
        closes = {a.number for a in plan.actions if isinstance(a, ClosePullRequest)}
        pulls = {p.number: p for p in self._pulls()}
        for number, before in seen.items():
            now = pulls[number]
            after = pull_facts(self.forge, now)
            where = f"{plan.rule}: #{number}"
            for kind, wanted in asked.items():
                was, is_ = getattr(before, kind), getattr(after, kind)
                assert was <= is_, f"{where} lost {kind} {sorted(was - is_)}"
                assert is_ - was <= wanted, f"{where} got {kind} {sorted(is_ - was)} unasked"
            again = (after.requested - before.requested) & before.reviewed
            assert not again, f"{where} re-requested {sorted(again)}, who already reviewed"
            if before.milestone is not None:
                assert after.milestone == before.milestone, f"{where} lost its milestone"
            elif after.milestone is not None:
                assert after.milestone == request.milestone, f"{where} got a milestone unasked"
            if before.open and after.open:
                assert after.draft or not before.draft or request.draft is False, (
                    f"{where} marked ready without draft=False"
                )
                assert before.draft or not after.draft, f"{where} converted to a draft"
            self._text_kept(where, request, before, after)
            # closed in the run (a deleted head branch closes its pull requests too)
            closed = before.open and not after.open and not after.merged
            if closed and (number in closes or now.head_branch in self.forge.branches(REPO)):
                self._closed_as_superseded(where, request, number, before)

    @staticmethod
    def _text_kept(
        where: str, request: prplan.ChangeRequest, before: PullFacts, after: PullFacts
    ) -> None:
        if (after.title, after.body) != (before.title, before.body):
            assert request.update_pr, f"{where}: title or body rewritten without update_pr"
            assert before.open, f"{where}: a closed pull request's text rewritten"
            # prplan's marker of this request or of an earlier version of
            # the change on the branch: prplan's own to keep up to date; never
            # a body without one, nor a branch holding someone else's commit.
            assert before.owner is not None, f"{where}: a body without prplan's marker rewritten"
            assert not before.foreign, f"{where}: text rewritten over commits not prplan's"
        if before.owner is not None:
            assert after.human_notes == before.human_notes, (
                f"{where}: the human's notes {before.human_notes!r} became {after.human_notes!r}"
            )

    def _closed_as_superseded(
        self, where: str, request: prplan.ChangeRequest, number: int, before: PullFacts
    ) -> None:
        assert request.close_superseded, f"{where} closed without close_superseded"
        assert before.owner == request.request_id, (
            f"{where} closed, but its marker named {before.owner}, not {request.request_id}"
        )
        assert not before.foreign, f"{where} closed while its head held commits not prplan's"
        comments = self.forge.issue_comments(REPO, number)
        assert comments and "prplan closes" in comments[-1]["body"], f"{where} closed unexplained"

    #: refusals that every request shares, decided before prplan's arming is
    #: looked at (they are about the request, and say so first)
    _REQUEST_REFUSALS = frozenset(
        {"multiple_open_prs", "path_not_a_file", "edit_failed", "modification_not_allowed"}
    )

    def _no_arming_of_prplans_over_foreign_commits(
        self, plan: prplan.Plan, outcome: prplan.Outcome, base: str
    ) -> None:
        """After a run, no pull request into the run's base carries an
        arming by prplan while its head holds commits that are not prplan's
        (unless the request said merge_foreign_commits, or refused first)."""
        if plan.request.merge_foreign_commits or outcome.error_type in self._REQUEST_REFUSALS:
            return
        for pr in self._armed_by_prplan():
            if pr.head_branch != BRANCH or pr.base_branch != base:
                continue
            base_sha = self.forge.branches(REPO)[base]
            commits = self.forge.compare(REPO, base_sha, pr.head_sha).commits
            foreign = [c.sha[:7] for c in commits if not c.by_prplan]
            assert not foreign, f"{plan.rule}: #{pr.number} armed by prplan over {foreign}"

    # --- invariants -------------------------------------------------------------

    @invariant()
    def at_most_one_open_pull_request_per_head_and_base(self) -> None:
        pairs = Counter((p.head_branch, p.base_branch) for p in self._open())
        assert all(n == 1 for n in pairs.values()), pairs

    @invariant()
    def every_merge_was_asked_for(self) -> None:
        merged = {p.number for p in self._pulls() if p.merged}
        asked = self.merged_by_prplan | self.merged_by_humans
        armed = self.armed_by_prplan | self.armed_by_humans
        assert merged <= asked | armed, merged - asked - armed

    @invariant()
    def no_draft_is_merged(self) -> None:
        """Checked once per pull request, right after the step that merged it."""
        for pr in self._pulls():
            if pr.merged and pr.number not in self.draft_checked:
                self.draft_checked.add(pr.number)
                meta = self.forge.pull_request_metadata(REPO, pr.number, reviews=False)
                assert not meta.draft, f"#{pr.number} was merged as a draft"

    @invariant()
    def nothing_merged_into_a_gated_base_without_its_checks_and_reviews(self) -> None:
        """A pull request merged into protected main carried, at its head,
        every required check green and the approvals required. Checked once,
        right after the step that merged it (a later status on the same
        commit, for another pull request, says nothing of that merge)."""
        for pr in self._pulls():
            if not pr.merged or pr.base_branch != "main" or pr.number in self.gate_checked:
                continue
            self.gate_checked.add(pr.number)
            latest = {c.name: c.state for c in self.forge.commit_checks(REPO, pr.head_sha)}
            for check in self.required_checks:
                assert latest.get(check) == "success", (pr.number, check, latest)
            approved = {
                r["login"] for r in self.forge.reviews(REPO, pr.number) if r["state"] == "APPROVED"
            }
            assert len(approved) >= self.required_approvals, (pr.number, approved)


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
    over HTTP with the REST transport (the Git Data API throughout), and
    every response checked against GitHub's schema."""

    submodules = True

    def connect(self, forge: prplan.LocalForge) -> prplan.ForgeClient:
        self.served = Served(_shared_server(), forge)
        return self.served.new_client(transport="rest", retries=3, backoff=0.0, timeout=5)

    @invariant()
    def every_response_is_on_contract(self) -> None:
        assert self.served.violations == []


TestPrplanAmongHumansOverHTTP = PrplanAmongHumansOverHTTP.TestCase
#: Half the profile's examples (dev 15, CI 75), 25 steps each: with issue
#: 15's moves its examples got shorter (1.7 s for a sixth under CI, 9 s
#: before), so it runs more of them for the same depth.
TestPrplanAmongHumansOverHTTP.settings = settings(
    stateful_step_count=25, max_examples=settings.default.max_examples // 2 or 1
)


class PrplanAmongHumansOverGraphQL(PrplanAmongHumansOverHTTP):
    """The same story with GitHubClient's GraphQL transport (the default):
    observe in one query, the commit's tree predicted and sealed, branch and
    commit in one mutation, merge and delete by expected head (REST where
    GraphQL cannot)."""

    def connect(self, forge: prplan.LocalForge) -> prplan.ForgeClient:
        super().connect(forge)
        return self.served.new_client(transport="graphql", retries=3, backoff=0.0, timeout=5)


# Its TestCase is in test_stateful_graphql.py: a file of its own, so the
# suite's workers (--dist loadfile) run it beside this file's machines.


# --- bugs the moves above found -------------------------------------------------


def test_a_submodule_pushed_on_the_branch_is_observed_over_http(
    forge_server: ForgeServer,
) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {PATHS[0]: "tag: 0\n"})
    gitlink = TreeInput(path=PATHS[1], mode=GITLINK, sha=forge.branches(REPO)["main"])
    human_push(forge, BRANCH, {PATHS[1]: gitlink}, "Add a submodule")
    served = Served(forge_server, forge)
    request = prplan.ChangeRequest(repo=REPO, branch=BRANCH, files={PATHS[0]: b"tag: 1\n"})
    prplan.observe(served.client, request)  # raises: the compare answers 500
    assert served.violations == []


def test_a_file_against_a_directory_is_a_merge_conflict_not_a_crash() -> None:
    """Found by the machine above: a human turned a file into a directory on
    base, the branch has it as a file, then base has it as a file again."""
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {PATHS[0]: "tag: 0\n"})
    inner = f"{PATHS[0]}/inner.yaml"
    human_push(forge, "main", {inner: TreeInput(path=inner, content=b"x\n")}, "A directory")
    human_push(forge, BRANCH, {PATHS[0]: TreeInput(path=PATHS[0], content=b"tag: 1\n")}, "File")
    number = forge.open_pr(REPO, BRANCH, "main")
    human_push(forge, "main", {PATHS[0]: TreeInput(path=PATHS[0], content=b"h: 1\n")}, "Back")
    with pytest.raises(prplan.MergeBlocked, match="not mergeable"):
        forge.merge_pr(REPO, number)
    assert forge.pull_requests(REPO)[0].is_open


def test_no_metadata_is_planned_for_a_pull_request_the_plan_closes() -> None:
    """Found by the machine: close_superseded with draft=False or reviewers
    planned the metadata after the close, on the closed pull request, and
    the forge refused it (422 not open): a plan that closes carries none."""
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {PATHS[0]: "tag: 0\n"})
    files = {PATHS[0]: b"tag: 1\n"}
    draft = prplan.ChangeRequest(repo=REPO, branch=BRANCH, files=files, draft=True)
    assert prplan.apply(prplan.plan(prplan.observe(forge, draft), draft), forge).status is (
        OutcomeStatus.CREATED
    )
    forge.push(REPO, "main", {PATHS[0]: "tag: 1\n"}, message="Landed by hand")
    request = attrs.evolve(draft, draft=False, reviewers=("alice",), close_superseded=True)
    outcome = prplan.apply(prplan.plan(prplan.observe(forge, request), request), forge)
    assert outcome.status is OutcomeStatus.CLOSED and not outcome.error, outcome.error
    assert not forge.pull_requests(REPO)[0].is_open
    assert "prplan closes" in forge.issue_comments(REPO, 1)[-1]["body"]

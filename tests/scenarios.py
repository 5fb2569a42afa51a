"""Build a LocalForge repository in a named situation, the way humans and an
earlier prplan run would have left it.

``build(pr, branch, content)`` returns a forge and the request; the tests
then check that prplan classifies it as that situation and does what the
decision table promises.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping

import attrs

import prplan
from prplan import BranchPolicy, BranchSituation, OnClosed, PRState
from prplan.core.planner import commit_message

REPO = "acme/app"
BRANCH = "prplan/change"
BASE_FILES = {"keep.txt": "keep\n", "conf/app.yaml": "image:\n  tag: '1.0'\n"}

#: What the request asks, relative to base.
CONTENTS: Mapping[str, dict[str, bytes | str | None]] = {
    "new": {"conf/new.yaml": "fresh: true\n"},  # adds a file: modifies nothing
    "changed": {"conf/app.yaml": "image:\n  tag: '2.0'\n"},  # changes an existing file
    "delete": {"keep.txt": None},  # deletes an existing file
    "in_place": {"conf/app.yaml": "image:\n  tag: '1.0'\n"},  # base already has it
}

#: The (pull-request state, branch situation) pairs a repository can be in.
REALISABLE: tuple[tuple[PRState, BranchSituation], ...] = (
    *((PRState.NONE, b) for b in BranchSituation),
    (PRState.OPEN, BranchSituation.HAS_CHANGE),
    (PRState.OPEN, BranchSituation.DISPOSABLE),
    *((PRState.MERGED, b) for b in BranchSituation),
    *((PRState.CLOSED, b) for b in BranchSituation),
    (PRState.MULTIPLE, BranchSituation.DISPOSABLE),
)


Case = tuple[PRState, BranchSituation, str, dict[str, object]]


def all_cases() -> list[Case]:
    """Every realisable (PR state, branch) × content × create_pr × automerge
    × allow_modification, times on_closed where the latest pull request is
    closed, branch_policy where the branch is foreign, delete_branch where a
    merge can happen."""
    cases: list[Case] = []
    for (pr, branch), content in itertools.product(REALISABLE, CONTENTS):
        for create_pr, automerge, allow in itertools.product((True, False), repeat=3):
            on_closed_values = list(OnClosed) if pr is PRState.CLOSED else [OnClosed.NEW]
            policies = (
                list(BranchPolicy) if branch is BranchSituation.FOREIGN else [BranchPolicy.SAFE]
            )
            deletes = (False, True) if automerge else (False,)
            for on_closed, policy, delete in itertools.product(on_closed_values, policies, deletes):
                flags: dict[str, object] = {
                    "create_pr": create_pr,
                    "automerge": automerge,
                    "allow_modification": allow,
                    "on_closed": on_closed,
                    "branch_policy": policy,
                    "delete_branch": delete,
                }
                cases.append((pr, branch, content, flags))
    return cases


def case_id(case: Case) -> str:
    pr, branch, content, flags = case
    on = [k for k, v in flags.items() if v is True]
    extra = [
        f"{k}={v}"
        for k, v in flags.items()
        if not isinstance(v, bool) and str(v) not in {"new", "safe"}
    ]
    return "-".join([pr.value, branch.value, content, *on, *extra])


@attrs.frozen
class Scenario:
    forge: prplan.LocalForge
    request: prplan.ChangeRequest


def request_for(content: str, **flags: object) -> prplan.ChangeRequest:
    fields: dict[str, object] = {"repo": REPO, "branch": BRANCH, "title": "Change conf"}
    fields.update(flags)
    return prplan.ChangeRequest(files=CONTENTS[content], **fields)  # type: ignore[arg-type]


def _as_prplan(
    forge: prplan.LocalForge, request: prplan.ChangeRequest, files: Mapping[str, bytes | str | None]
) -> str:
    """A commit exactly as a (crashed) earlier prplan run would have made it."""
    return forge.push(
        REPO,
        BRANCH,
        files,
        message=commit_message(request).rstrip("\n"),
        author="prplan <prplan@localforge.invalid>",
        sealed=True,
    )


def _history(forge: prplan.LocalForge, *, merged: bool) -> int:
    """An earlier pull request from the branch, merged or closed. It carries
    an unrelated file so that base's requested paths stay as they were."""
    forge.push(REPO, BRANCH, {"history/earlier.txt": "earlier change\n"}, message="Earlier change")
    number = forge.open_pr(REPO, BRANCH, "main", title="Earlier change")
    if merged:
        forge.merge_pr(REPO, number)
    else:
        forge.close_pr(REPO, number)
    return number


def build(
    pr: PRState,
    branch: BranchSituation,
    request: prplan.ChangeRequest,
    *,
    clock: Callable[[], float] | None = None,
) -> Scenario:
    forge = prplan.LocalForge.in_memory(**({"clock": clock} if clock else {}))
    forge.create_repo(REPO, BASE_FILES)
    desired = dict(request.files)
    other = {path: b"something else\n" for path in desired}

    if pr is PRState.OPEN:
        if branch is BranchSituation.HAS_CHANGE:
            _as_prplan(forge, request, desired)
        else:  # the pull request's branch lacks the change: a human's commit
            forge.push(REPO, BRANCH, {"human.txt": "review fix\n"}, message="Review fix")
        forge.open_pr(REPO, BRANCH, "main")
        return Scenario(forge, request)
    if pr is PRState.MULTIPLE:
        forge.push(REPO, BRANCH, {"human.txt": "x\n"}, message="Human work")
        forge.open_pr(REPO, BRANCH, "main")
        forge.open_pr(REPO, BRANCH, "main", allow_duplicate=True)
        return Scenario(forge, request)

    if pr in {PRState.MERGED, PRState.CLOSED}:
        _history(forge, merged=pr is PRState.MERGED)
        # The branch is now at the earlier pull request's head: disposable.
        if branch is BranchSituation.ABSENT:
            forge.remove_branch(REPO, BRANCH)
        elif branch is BranchSituation.AT_BASE:
            forge.set_branch(REPO, BRANCH, "main")
        elif branch is BranchSituation.HAS_CHANGE:
            forge.set_branch(REPO, BRANCH, "main")
            _as_prplan(forge, request, desired)
        elif branch is BranchSituation.FOREIGN:
            forge.push(REPO, BRANCH, {"human.txt": "pushed after\n"}, message="Pushed after the PR")
        return Scenario(forge, request)

    # PRState.NONE
    if branch is BranchSituation.AT_BASE:
        forge.set_branch(REPO, BRANCH, "main")
    elif branch is BranchSituation.HAS_CHANGE:
        _as_prplan(forge, request, desired)
    elif branch is BranchSituation.DISPOSABLE:
        _as_prplan(forge, request, other)  # an earlier run of prplan with other content
    elif branch is BranchSituation.FOREIGN:
        forge.push(REPO, BRANCH, {"human.txt": "mine\n"}, message="A human's work")
    return Scenario(forge, request)


@attrs.frozen
class State:
    """Everything observable about the repository, for before/after checks."""

    branches: dict[str, str]
    pulls: tuple[prplan.PullRequestInfo, ...]
    base_files: dict[str, bytes]
    human_commits: frozenset[str]


def state(forge: prplan.LocalForge) -> State:
    branches = forge.branches(REPO)
    human = frozenset(
        c.sha for ref in branches for c in forge.log(REPO, ref) if c.author == "A Human"
    )
    return State(
        branches=branches,
        pulls=tuple(forge.pull_requests(REPO)),
        base_files=forge.files(REPO, "main"),
        human_commits=human,
    )

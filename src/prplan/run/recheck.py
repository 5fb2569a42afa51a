"""The recheck before a plan is applied: observe again and compare.

``moved_facts`` lists the facts a plan relies on that differ between the
plan's observation and the forge's answer now; ``recheck`` raises
``StalePlanError`` (nothing written) when any did. Besides what the
decision table reads directly (the branch head, the pull requests, the
requested paths' blobs, which branch is base...), every other claim of the
observation is held to the forge too (``_claims_moved``), so a plan
re-derived offline from an edited observation cannot pass: that includes
who armed an open pull request's merge and the login prplan acts as
(``armers_moved``: the planner turns off only prplan's own arming), and
each open pull request's gate (``gates_moved``: ``now`` merges only a
clean gate, and an administrator's token would merge past any other).

The gate legitimately moves between plan and apply (CI reports, a reviewer
approves): a plan made on one gate is stale on another, as it is when the
branch moved; the in-process ``observe -> plan -> apply`` reads both the
same way and at once, so it sees the same gate.
"""

from __future__ import annotations

from prplan.core.plan import Plan
from prplan.core.snapshot import Gate, MergeArmed, PullRequestInfo, RepoSnapshot, git_blob_sha
from prplan.errors import NotFoundError, StalePlanError
from prplan.run.gated import arming_moved
from prplan.run.metadata import metadata_moved
from prplan.run.observe import observe
from prplan.run.port import ForgeClient
from prplan.run.pr_text import pr_text_moved

__all__ = ["recheck", "moved_facts", "armers_moved", "gates_moved"]


def _pulls(snapshot: RepoSnapshot) -> str:
    parts = [
        f"#{pr.number} {'merged' if pr.merged else pr.state} at {pr.head_sha[:7]}"
        for pr in snapshot.pull_requests
    ]
    return ", ".join(parts) or "none"


def _blob(sha: str | None) -> str:
    return "absent" if sha is None else sha[:10]


def moved_facts(planned: RepoSnapshot, current: RepoSnapshot) -> list[tuple[str, str, str]]:
    """The facts a plan relies on that differ between two observations, as
    ``(fact, planned, now)``."""
    moved: list[tuple[str, str, str]] = []
    if planned.base != current.base:
        moved.append(("base branch", planned.base, current.base))
    if planned.branch_sha != current.branch_sha:
        moved.append(
            (f"branch {planned.branch}", _blob(planned.branch_sha), _blob(current.branch_sha))
        )
    if _pulls(planned) != _pulls(current):
        moved.append(("pull requests", _pulls(planned), _pulls(current)))
    for side, before, after in (
        ("base", planned.base_blobs, current.base_blobs),
        ("branch", planned.branch_blobs, current.branch_blobs),
    ):
        for path in sorted(set(before) | set(after)):
            if before.get(path) != after.get(path):
                moved.append((f"{path} on {side}", _blob(before.get(path)), _blob(after.get(path))))
    for side, kinds_before, kinds_after in (
        ("base", planned.base_kinds, current.base_kinds),
        ("branch", planned.branch_kinds, current.branch_kinds),
    ):
        for path in sorted(set(kinds_before) | set(kinds_after)):
            was, now = kinds_before.get(path, "absent"), kinds_after.get(path, "absent")
            if was != now:
                moved.append((f"what {path} is on {side}", str(was), str(now)))
    for fact, was_prs, now_prs in (
        ("pull requests from the branch into other bases", planned.other_pull_requests, current.other_pull_requests),
        ("pull requests into the branch", planned.pull_requests_into_branch, current.pull_requests_into_branch),
    ):  # fmt: skip
        if _listed_pulls(was_prs) != _listed_pulls(now_prs):
            moved.append((fact, _listed_pulls(was_prs), _listed_pulls(now_prs)))
    if planned.branch_protected != current.branch_protected:
        moved.append(
            ("branch protection", str(planned.branch_protected), str(current.branch_protected))
        )
    moved += _commits_moved(planned, current) + arming_moved(planned, current)
    moved += _claims_moved(planned, current) + metadata_moved(planned, current)
    moved += pr_text_moved(planned, current)
    if planned.writer != current.writer:  # who writes, signed or not: what the plan said
        moved.append(("writer", str(planned.writer), str(current.writer)))
    moved += armers_moved(planned, current) + gates_moved(planned, current)
    return moved


def _claims_moved(planned: RepoSnapshot, current: RepoSnapshot) -> list[tuple[str, str, str]]:
    """Every other fact of the snapshot, so that a plan whose observation was
    edited (and re-derived offline) cannot pass the recheck: with base where
    it was, the whole observation must be what the forge says now; with base
    moved ahead, what base's move cannot change must be the same, and what it
    can change may only have moved the way a move ahead moves it."""
    moved: list[tuple[str, str, str]] = []

    def differs(fact: str, was: object, now: object) -> None:
        if was != now:
            moved.append((fact, str(was), str(now)))

    differs("default branch", planned.default_branch, current.default_branch)
    # Contents the edits applied to must be the blobs the plan relies on.
    for side, contents, blobs in (
        ("base", planned.base_contents, planned.base_blobs),
        ("branch", planned.branch_contents, planned.branch_blobs),
    ):
        for path, content in sorted(contents.items()):
            sha = None if content is None else git_blob_sha(content)
            if sha != blobs.get(path):
                moved.append((f"content of {path} on {side}", _blob(blobs.get(path)), _blob(sha)))
    differs(
        "branch contents read", sorted(planned.branch_contents), sorted(current.branch_contents)
    )
    if planned.branch_sha != current.branch_sha:
        return moved  # the branch moved: said already, and what it holds follows
    # What a merge brings from the branch: the branch's side must hold still.
    for path, sha in sorted(planned.brought_on_branch.items()):
        if path in current.brought_on_branch and current.brought_on_branch[path] != sha:
            moved.append((f"{path} on branch", _blob(sha), _blob(current.brought_on_branch[path])))
    if planned.base_sha == current.base_sha:
        differs("paths brought, on base", planned.brought_on_base, current.brought_on_base)
        differs("paths brought, on branch", planned.brought_on_branch, current.brought_on_branch)
        differs("branch contains base", planned.branch_contains_base, current.branch_contains_base)
        differs("branch is in base", planned.branch_in_base, current.branch_in_base)
        differs("paths beyond base", planned.paths_beyond_base, current.paths_beyond_base)
        differs("paths listed", planned.paths_complete, current.paths_complete)
        differs("merge base blobs", planned.merge_base_blobs, current.merge_base_blobs)
    else:
        # Base moved ahead: it can take the branch in, never give it back.
        if planned.branch_in_base and not current.branch_in_base:
            moved.append(("branch is in base", "True", "False"))
        extra = set(current.paths_beyond_base) - set(planned.paths_beyond_base)
        if extra and planned.paths_complete:
            moved.append(("paths beyond base", "as planned", f"also {', '.join(sorted(extra))}"))
    return moved


def _listed_pulls(pulls: tuple[PullRequestInfo, ...]) -> str:
    return ", ".join(f"#{pr.number} into {pr.base_branch}" for pr in pulls) or "none"


def _commits_moved(planned: RepoSnapshot, current: RepoSnapshot) -> list[tuple[str, str, str]]:
    """The plan's claims about the head's commits must be what the forge
    says now: a commit is the same commit by sha, so its evidence (tree and
    seal) cannot differ unless the plan document was edited. A commit may
    leave the list only because base took it in (base moved ahead)."""
    if planned.branch_sha != current.branch_sha:
        return []  # the branch moved: said already, and its commits follow
    now = {c.sha: c for c in current.commits_beyond_base}
    moved = []
    for commit in planned.commits_beyond_base:
        seen = now.get(commit.sha)
        if seen is None:
            if planned.base_sha == current.base_sha:
                moved.append((f"commit {commit.sha[:7]} on the branch", "present", "gone"))
        elif (seen.tree_sha, seen.sealed_tree) != (commit.tree_sha, commit.sealed_tree):
            moved.append(
                (
                    f"commit {commit.sha[:7]}",
                    "prplan's" if commit.by_prplan else "not prplan's",
                    "prplan's" if seen.by_prplan else "not prplan's",
                )
            )
    known = {c.sha for c in planned.commits_beyond_base}
    for sha in now.keys() - known:
        moved.append((f"commit {sha[:7]} on the branch", "absent", "present"))
    if planned.commits_complete != current.commits_complete:
        moved.append(
            ("commits listed", str(planned.commits_complete), str(current.commits_complete))
        )
    return moved


def _base_rewound(
    client: ForgeClient, planned: RepoSnapshot, current: RepoSnapshot
) -> list[tuple[str, str, str]]:
    """Base may move ahead after a plan (a plan that creates a branch at the
    old base is still right), but never lose the commit the plan saw: a
    force-push back would make the merge bring the rewound work back."""
    if planned.base_sha == current.base_sha:
        return []
    try:
        comparison = client.compare(planned.repo, planned.base_sha, current.base_sha)
    except NotFoundError:
        contains = False
    else:
        contains = comparison.behind_by == 0
    if contains:
        return []
    return [
        (
            f"base {current.base}",
            f"contains {planned.base_sha[:7]}",
            f"at {current.base_sha[:7]}, which no longer contains it (rewound or force-pushed)",
        )
    ]


def recheck(plan: Plan, client: ForgeClient) -> None:
    """Observe again; ``StalePlanError`` if a fact the plan relied on moved."""
    current = observe(client, plan.request)
    moved = moved_facts(plan.observed, current) + _base_rewound(client, plan.observed, current)
    if moved:
        raise StalePlanError(moved)


def _open_pairs(
    planned: RepoSnapshot, current: RepoSnapshot
) -> list[tuple[PullRequestInfo, PullRequestInfo]]:
    """Each pull request open in both observations at the same head (a
    moved head or state is said already, and the rest follows from it)."""
    now = {pr.number: pr for pr in current.pull_requests if pr.is_open}
    pairs = []
    for pr in planned.pull_requests:
        seen = now.get(pr.number)
        if pr.is_open and seen is not None and seen.head_sha == pr.head_sha:
            pairs.append((pr, seen))
    return pairs


def _armed_any(snapshot: RepoSnapshot) -> bool:
    return any(pr.is_open and pr.armed is not MergeArmed.NONE for pr in snapshot.pull_requests)


def armers_moved(planned: RepoSnapshot, current: RepoSnapshot) -> list[tuple[str, str, str]]:
    """Who armed each open pull request's merge (``armed_by``) and the login
    prplan acts as (``viewer``): together they tell prplan's own arming from
    someone else's, and prplan turns off only its own. A human who turned
    prplan's auto-merge off and on again as themselves between plan and
    apply, or an observation edited to name another login, makes the plan
    stale. Logins are compared as the forge spelled them."""
    moved = []
    if planned.viewer != current.viewer and not (
        planned.viewer is None and not _armed_any(planned) and _armed_any(current)
    ):  # a viewer read only now follows from an arming since: said already
        moved.append(
            ("login prplan acts as", planned.viewer or "not read", current.viewer or "not read")
        )
    for pr, seen in _open_pairs(planned, current):
        if pr.armed is seen.armed and pr.armed_by != seen.armed_by:
            moved.append(
                (
                    f"who armed the merge of pull request #{pr.number}",
                    pr.armed_by or "nobody named",
                    seen.armed_by or "nobody named",
                )
            )
    return moved


def _gate(pr: PullRequestInfo) -> str:
    """``pending (ci/lint)``, ``failing (ci/test; pending: ci/lint)``, ``clean``."""
    parts = [", ".join(pr.failing_checks) or "", ""]
    if pr.pending_checks:
        parts[1] = ("pending: " if pr.failing_checks else "") + ", ".join(pr.pending_checks)
    checks = "; ".join(part for part in parts if part)
    return pr.gate.value + (f" ({checks})" if checks else "")


def gates_moved(planned: RepoSnapshot, current: RepoSnapshot) -> list[tuple[str, str, str]]:
    """The gate of each open pull request at the same head, where it moved
    against the plan: a required check failing that the plan did not see
    failing, or a gate the plan saw clean (it merges directly) that is not
    clean any more. An edited gate can then never merge past a failing
    check. A gate that moved the other way (checks reported green, a
    reviewer approved: pending to clean) leaves the plan as good as it was:
    its arming finds the pull request mergeable and merges it, and a later
    change-set stage is not made stale by its CI reporting meanwhile."""
    moved = []
    for pr, seen in _open_pairs(planned, current):
        newly_failing = seen.gate is Gate.FAILING and (
            pr.gate is not Gate.FAILING or set(seen.failing_checks) - set(pr.failing_checks)
        )
        no_longer_clean = pr.gate is Gate.CLEAN and seen.gate is not Gate.CLEAN
        if newly_failing or no_longer_clean:
            moved.append((f"gate of pull request #{pr.number}", _gate(pr), _gate(seen)))
    return moved

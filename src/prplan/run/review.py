"""What a reviewer's diffs need, read once beside the planner.

The planner is pure and a plan carries only the new contents. Showing a
diff needs the old ones too; ``with_review`` reads them when the plan is
made (format version 4, ``Plan.review``), so that ``prplan show`` of a saved
plan never needs the forge, as a Terraform plan file carries prior state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prplan.core.actions import Blob, BroughtFile, Commit, Review
from prplan.core.plan import Plan
from prplan.core.review_check import MAX_DIFFS, brought_paths
from prplan.core.snapshot import git_blob_sha
from prplan.run.port import ForgeClient

if TYPE_CHECKING:
    from prplan.run.changeset import ChangeSetPlan

__all__ = [
    "MAX_DIFFS",
    "with_review",
    "read_review",
    "changeset_with_review",
    "diff_changes",
    "brought_paths",
]


def diff_changes(plan: Plan) -> list[tuple[str, str | None]]:
    """(path, old blob sha) of the files a view diffs, the first
    ``MAX_DIFFS`` of the plan's commit."""
    changes = [c for a in plan.actions if isinstance(a, Commit) for c in a.files]
    return [(c.path, c.old_sha) for c in changes[:MAX_DIFFS]]


def read_review(plan: Plan, client: ForgeClient) -> Review:
    """The old blobs of the files the plan changes (the observed contents of
    edited files are reused, not read again) and the paths a merge brings:
    one read per old blob, two for the brought paths."""
    seen = plan.observed
    known = {
        git_blob_sha(content): content
        for side in (seen.base_contents, seen.branch_contents)
        for content in side.values()
        if content is not None
    }
    blobs: dict[str, bytes] = {}
    for _, sha in diff_changes(plan):
        if sha is not None and sha not in blobs:
            blobs[sha] = known[sha] if sha in known else client.read_blob(seen.repo, sha)
    paths, complete = brought_paths(plan)
    changes = [c for a in plan.actions if isinstance(a, Commit) for c in a.files]
    complete = complete and len(changes) <= MAX_DIFFS
    brought: list[BroughtFile] = []
    if paths and seen.branch_sha is not None:
        before = client.read_files(seen.repo, seen.base_sha, paths)
        after = client.read_files(seen.repo, seen.branch_sha, paths)
        for path in paths:
            shas: list[str | None] = []
            for content in (before.get(path), after.get(path)):
                if content is None:
                    shas.append(None)
                else:
                    blobs.setdefault(git_blob_sha(content), content)
                    shas.append(git_blob_sha(content))
            brought.append(BroughtFile(path=path, before=shas[0], after=shas[1]))
    return Review(
        blobs=tuple(Blob(sha=sha, content=blobs[sha]) for sha in sorted(blobs)),
        brought=tuple(brought),
        complete=complete,
    )


def with_review(plan: Plan, client: ForgeClient) -> Plan:
    """The plan carrying what its review needs (unchanged when it already
    does). Its digest changes: make it before the plan is saved or shown."""
    if plan.review is not None:
        return plan
    import attrs

    return attrs.evolve(plan, review=read_review(plan, client))


def changeset_with_review(
    the_set: ChangeSetPlan, client: ForgeClient, concurrency: int = 8
) -> ChangeSetPlan:
    """Every plan of a change set carrying what its review needs (at most
    ``concurrency`` repositories read at once)."""
    from concurrent.futures import ThreadPoolExecutor

    import attrs

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        reviewed = iter(list(pool.map(lambda p: with_review(p, client), the_set.plans)))
    stages = tuple((name, tuple(next(reviewed) for _ in plans)) for name, plans in the_set.stages)
    return attrs.evolve(the_set, stages=stages)

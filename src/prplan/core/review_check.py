"""What a reviewer is shown must be what the plan does: the review contents
a plan carries (format version 4) are checked against the plan itself.

Separate from the plan's data and format: these are checks of meaning (a
blob hashes to its sha, each shown path is one the merge brings), made
whenever a plan is read.
"""

from __future__ import annotations

from typing import Protocol

from prplan.core.actions import MERGE_ACTIONS, Action, BroughtFile, Commit, MergeAction, Review
from prplan.core.snapshot import RepoSnapshot, git_blob_sha
from prplan.errors import Problem

__all__ = ["MAX_DIFFS", "brought_paths", "review_problems"]

#: Past this many files a plan lists changes without diffs: a review page
#: of thousands of diffs helps nobody, and each costs a read.
MAX_DIFFS = 50

_NEW_PLAN = "Make and review a new plan"


class _Reviewed(Protocol):
    """What the checks read of a plan."""

    @property
    def actions(self) -> tuple[Action, ...]: ...
    @property
    def observed(self) -> RepoSnapshot: ...
    @property
    def review(self) -> Review | None: ...


def _merge(plan: _Reviewed) -> MergeAction | None:
    """The action that merges (now, or by auto-merge or the queue)."""
    return next((a for a in plan.actions if isinstance(a, MERGE_ACTIONS)), None)


def brought_paths(plan: _Reviewed) -> tuple[list[str], bool]:
    """Paths a merge in this plan brings that its own commit does not write
    (their diffs are base -> branch head), and whether that is all of them."""
    merge = _merge(plan)
    if merge is None:
        return [], True
    ours = {c.path for a in plan.actions if isinstance(a, Commit) for c in a.files}
    theirs = [path for path in merge.brings_paths if path not in ours]
    return theirs[:MAX_DIFFS], len(theirs) <= MAX_DIFFS


def review_problems(plan: _Reviewed) -> list[Problem]:
    """A plan's review contents must be what they claim: each blob hashes to
    its sha, and each is a blob the plan names (a changed file's old blob, a
    brought path's), so an edited "before" text cannot mislead a reviewer."""
    review = plan.review
    if review is None:
        return []
    problems = _brought_problems(plan, review.brought)
    named = {c.old_sha for a in plan.actions if isinstance(a, Commit) for c in a.files}
    named |= {sha for b in review.brought for sha in (b.before, b.after)}
    for index, blob in enumerate(review.blobs):
        field = f"review.blobs[{index}]"
        if git_blob_sha(blob.content) != blob.sha:
            problems.append(
                Problem(
                    field,
                    f"content is not blob {blob.sha[:10]} (it hashes to "
                    f"{git_blob_sha(blob.content)[:10]}): it was edited after the plan was made. "
                    f"{_NEW_PLAN}",
                )
            )
        elif blob.sha not in named:
            problems.append(Problem(field, "is not a blob the plan changes or a merge brings"))
    return problems


def _brought_problems(plan: _Reviewed, brought: tuple[BroughtFile, ...]) -> list[Problem]:
    """The brought paths shown are exactly the merge's, as observed."""
    problems = []
    wanted, _ = brought_paths(plan)
    shown = sorted(b.path for b in brought)
    if shown != sorted(wanted):
        problems.append(
            Problem(
                "review.brought",
                f"shows {shown} but the merge brings {sorted(wanted)} besides the plan's own "
                f"commit: a diff was left out or added. {_NEW_PLAN}",
            )
        )
    merge = _merge(plan)
    brings = set(merge.brings_paths) if merge is not None else set()
    for index, file in enumerate(brought):
        if file.path not in brings:
            problems.append(
                Problem(f"review.brought[{index}]", "is not a path the plan's merge brings")
            )
        elif (file.before, file.after) != _observed_blobs(plan.observed, file.path):
            # The blobs shown must be the ones observed (which the recheck
            # holds the forge to): a diff of other content would mislead.
            problems.append(
                Problem(
                    f"review.brought[{index}]",
                    f"shows {file.path} as blobs other than the ones observed on base and "
                    f"the branch: it was edited after the plan was made. {_NEW_PLAN}",
                )
            )
    return problems


def _observed_blobs(seen: RepoSnapshot, path: str) -> tuple[str | None, str | None]:
    if path in seen.base_blobs:
        return seen.base_blobs.get(path), seen.branch_blobs.get(path)
    return seen.brought_on_base.get(path), seen.brought_on_branch.get(path)

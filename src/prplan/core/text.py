"""Short texts the planner and the reports share: a commit's short sha and a
list of commits in words. Separate so that what renders a plan does not
depend on the planner for wording."""

from __future__ import annotations

from prplan.core.snapshot import CommitInfo

__all__ = ["short", "commits_listed"]


def short(sha: str | None) -> str:
    return "(none)" if sha is None else sha[:7]


def commits_listed(commits: tuple[CommitInfo, ...]) -> str:
    """Commits as a reviewer reads them: short sha, summary, author."""
    return "; ".join(f"{short(c.sha)} {c.summary!r} by {c.author}" for c in commits)

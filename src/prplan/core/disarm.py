"""prplan's own arming of a merge, and turning it off.

GitHub's native auto-merge (and a merge queue entry) survives a push by
anyone with write access: a commit pushed onto an armed pull request is
merged with it, unreviewed by whoever armed it. So the planner tells who
armed the open pull request (``armed_by``: prplan's own login, someone
else, nobody), and the decision table turns prplan's own arming off where
it would merge what nobody reviewed (``disarm_action`` words it). An
arming by someone else is never turned off.
"""

from __future__ import annotations

from prplan.core.actions import DisarmMerge
from prplan.core.refusals import foreign_commits
from prplan.core.situation import Situation
from prplan.core.snapshot import MergeArmed, RepoSnapshot
from prplan.core.states import ArmedBy, PRState
from prplan.core.text import commits_listed

__all__ = ["armed_by", "disarm_action"]


def armed_by(snapshot: RepoSnapshot, pr: PRState) -> ArmedBy:
    """Who armed the open pull request's merge: prplan when the login that
    armed it is the one prplan's token acts as (``snapshot.viewer``, as
    ``_same_login`` compares them); a login the forge did not name counts as
    someone else's."""
    open_pr = next((p for p in snapshot.pull_requests if p.is_open), None)
    if pr is not PRState.OPEN or open_pr is None or open_pr.armed is MergeArmed.NONE:
        return ArmedBy.NOBODY
    by, viewer = open_pr.armed_by, snapshot.viewer
    if by is not None and viewer is not None and _same_login(by, viewer):
        return ArmedBy.PRPLAN
    return ArmedBy.SOMEONE_ELSE


def _same_login(one: str, other: str) -> bool:
    """GitHub's logins ignore case; otherwise they compare exactly: a GitHub
    App's bot ``name[bot]`` is not the person ``name`` (the forge clients
    report a bot with its ``[bot]`` suffix, as REST does, also where
    GraphQL's ``Bot.login`` leaves it off)."""
    return one.casefold() == other.casefold()


def disarm_action(snapshot: RepoSnapshot, situation: Situation) -> DisarmMerge:
    """prplan's own arming turned off: the head holds commits that are not
    prplan's (the run stops there), or automerge is off and a commit follows."""
    open_pr = next((pr for pr in snapshot.pull_requests if pr.is_open), None)
    assert open_pr is not None and open_pr.armed_by is not None  # the table: armed by prplan
    how = (
        "put it in the merge queue" if open_pr.armed is MergeArmed.QUEUED else "enabled auto-merge"
    )
    armed = f"prplan ({open_pr.armed_by}) {how} on #{open_pr.number}"
    if situation.foreign_on_head and not situation.merge_foreign_commits:
        listed = commits_listed(foreign_commits(snapshot)) or "not all listed"
        why = (
            f"{armed}, and its branch now holds commits prplan did not make ({listed}), which "
            "GitHub would merge unreviewed: turn it off and do nothing else. Review them, then "
            "run with merge_foreign_commits=True (--merge-foreign-commits) to merge them too, "
            "or remove them from the branch"
        )
    else:
        why = (
            f"automerge is off and {armed}: turn it off before the commit, "
            "or GitHub would merge the new commit unreviewed"
        )
    return DisarmMerge(
        number=open_pr.number, armed=open_pr.armed, armed_by=open_pr.armed_by, reason=why
    )

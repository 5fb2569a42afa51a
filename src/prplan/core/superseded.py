"""``close_superseded``'s rows of the decision table, and what its goal
asks (split from ``table``, which lists them before ``open_in_place``).

Base already holds the change an open pull request proposes. prplan closes
only its own (its marker names this request), and never one whose branch
holds commits prplan did not make.
"""

from __future__ import annotations

from prplan.core.situation import Mention, Rule, Situation, when_of
from prplan.core.states import ActionKind, PRState

__all__ = ["superseded_rules", "closes_superseded"]

A = ActionKind


def superseded_rules() -> list[Rule]:
    """``close_superseded``: base already holds the change an open pull
    request proposes. prplan closes only its own (its marker names this
    request), and never one whose branch holds commits prplan did not make."""
    superseded = {"pr": PRState.OPEN, "in_place": True, "close_superseded": True}
    return [
        Rule(
            name="open_superseded_not_own",
            when=when_of(pr_own=False, **superseded),
            note="the requested content is already on base; close_superseded is on, but the "
            "open pull request does not carry prplan's marker for this request: it is left open",
            mentions=Mention.OPEN,
        ),
        Rule(
            name="open_superseded_foreign",
            when=when_of(foreign_on_head=True, **superseded),
            note="the requested content is already on base; close_superseded is on, but the "
            "open pull request's branch holds commits prplan did not make: it is left open",
            mentions=Mention.OPEN,
        ),
        Rule(
            name="open_superseded_close",
            when=when_of(**superseded),
            actions=(A.CLOSE_PULL_REQUEST,),
            then_delete=True,
            note="the requested content is already on base: prplan's own pull request is "
            "superseded and closed",
        ),
    ]


def closes_superseded(situation: Situation) -> bool:
    """close_superseded asks for prplan's own open pull request (and no
    commit on it that is not prplan's) to be closed once base holds the
    change."""
    return (
        situation.close_superseded
        and situation.pr is PRState.OPEN
        and situation.pr_own
        and not situation.foreign_on_head
    )

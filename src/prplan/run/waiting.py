"""Waiting for pull requests that GitHub merges later (native auto-merge, a
merge queue): ``merge_when='wait'`` after an apply, and change-set stages
before the next stage starts.

One poller for both: each round reads every pull request still waiting
once (``ForgeClient.pull_request_gate``: one cheap query each), then sleeps
with backoff (2 s, then x1.5, at most 30 s, never past the deadline). It
ends when every pull request is merged at the head prplan armed it at; a
failed required check (gate ``failing``) or a pull request closed without
being merged stops it with ``MergeBlocked``; a head that moved after the
arming (someone pushed; merged or not yet) with ``HeadMovedAfterArming``;
nothing armed any more (auto-merge disabled, out of the queue: read twice
to be sure) with ``MergeDisarmed``; the deadline passing with
``WaitTimedOut``. All stop at once and none re-arms anything; one undoes:
a head that moved (not merged yet) under an arming this very run made
(``ours``), still armed by prplan's login, has that arming turned off
before the error is raised, so GitHub does not merge the unreviewed
commits (the error says whether the disarm worked). An arming someone else
made, or one prplan found already on, is left as it is.
Sleep and clock are injected, so tests wait milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import attrs

from prplan.core.disarm import _same_login
from prplan.core.snapshot import Gate, MergeArmed, PullRequestInfo
from prplan.errors import (
    HeadMovedAfterArming,
    MergeBlocked,
    MergeDisarmed,
    PrplanError,
    WaitTimedOut,
)
from prplan.run.port import ForgeClient

__all__ = ["Waiter", "Waiting", "wait_for_merges", "waiting_for"]


@attrs.frozen(kw_only=True)
class Waiting:
    """One pull request waited for, as last read."""

    repo: str
    number: int
    info: PullRequestInfo | None = None
    #: the head prplan armed the merge at (None: not known, not checked)
    armed_at: str | None = None
    #: how it was armed when last seen armed
    was: MergeArmed | None = None
    #: this run armed it: prplan turns that arming off if the head moves
    ours: bool = False

    @property
    def label(self) -> str:
        return f"{self.repo}#{self.number}"

    def words(self) -> str:
        """``acme/x#3 waiting for ci/lint`` / ``queued`` / ``merged``."""
        return f"{self.label} {waiting_for(self.info)}"


def waiting_for(info: PullRequestInfo | None) -> str:
    """What a pull request waits for, in a few words."""
    if info is None:
        return "not read yet"
    if info.merged:
        return "merged"
    if not info.is_open:
        return "closed without being merged"
    if info.gate is Gate.FAILING:
        return f"failing: {', '.join(info.failing_checks) or 'a required check'}"
    if info.armed is MergeArmed.QUEUED:
        return "queued"
    if info.pending_checks:
        return f"waiting for checks: {', '.join(info.pending_checks)}"
    if info.gate is Gate.NEEDS_REVIEW:
        return "waiting for an approving review"
    if info.armed is MergeArmed.NONE:
        return f"{info.gate.value}, nothing armed to merge it"
    return f"{info.gate.value}, waiting for the merge"


@attrs.frozen(kw_only=True)
class Waiter:
    """How to wait: ``sleep`` and ``clock`` (``time.monotonic``'s kind),
    the backoff, and ``progress``, told every pull request's state after
    each round (the command prints a line on a terminal)."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    first: float = 2.0
    factor: float = 1.5
    most: float = 30.0
    progress: Callable[[Sequence[Waiting], float], None] | None = None


def wait_for_merges(
    client: ForgeClient,
    pulls: Sequence[tuple[str, int]],
    *,
    timeout: float,
    waiter: Waiter | None = None,
    what: str = "",
    armed_at: Sequence[str | None] = (),
    ours: Sequence[bool] = (),
) -> list[PullRequestInfo]:
    """Poll until every ``(repo, number)`` is merged; returns them as last
    read, in order. ``MergeBlocked`` (naming the failed checks) as soon as
    one's required check fails or it is closed unmerged; ``MergeDisarmed``
    when nothing is armed to merge one any more; ``HeadMovedAfterArming``
    when one's head is not ``armed_at`` (parallel to ``pulls``; a None or a
    missing entry is not checked), merged or not; ``WaitTimedOut`` (naming
    those still waiting) once ``timeout`` seconds passed. ``what`` opens
    the timeout's message (e.g. ``stage 'fleet'``). ``ours`` (parallel to
    ``pulls``, missing: False): the pull requests this run armed; on one
    whose head moved, prplan turns its own arming off first."""
    waiter = waiter or Waiter()
    deadline = waiter.clock() + timeout
    delay = waiter.first
    heads = list(armed_at) + [None] * (len(pulls) - len(armed_at))
    mine = list(ours) + [False] * (len(pulls) - len(ours))
    state = [
        Waiting(repo=repo, number=number, armed_at=head, ours=own)
        for (repo, number), head, own in zip(pulls, heads, mine, strict=False)
    ]
    while True:
        state = [w if w.info is not None and w.info.merged else _read(client, w) for w in state]
        now = waiter.clock()
        if waiter.progress is not None:
            waiter.progress(state, max(0.0, timeout - (deadline - now)))
        _stop_on_failure(state, client)
        if all(w.info is not None and w.info.merged for w in state):
            return [w.info for w in state if w.info is not None]
        if now >= deadline:
            left = [w.words() for w in state if w.info is None or not w.info.merged]
            raise WaitTimedOut(left, timeout, what)
        waiter.sleep(min(delay, deadline - now))
        delay = min(delay * waiter.factor, waiter.most)


def _read(client: ForgeClient, waiting: Waiting) -> Waiting:
    info = client.pull_request_gate(waiting.repo, waiting.number)
    if info.is_open and not info.merged and info.armed is MergeArmed.NONE:
        # Disarmed, or a merge in flight (GitHub takes a pull request out of
        # the queue as it merges it): one more read before calling it disarmed.
        info = client.pull_request_gate(waiting.repo, waiting.number)
    was = waiting.was if info.armed is MergeArmed.NONE else info.armed
    return attrs.evolve(waiting, info=info, was=was)


def _stop_on_failure(state: Sequence[Waiting], client: ForgeClient) -> None:
    for w in state:
        info = w.info
        if info is None:
            continue
        if w.armed_at is not None and info.head_sha != w.armed_at:
            merged = info.merged
            done = _disarmed_own(client, w.repo, info) if w.ours and not merged else ""
            raise HeadMovedAfterArming(
                w.repo, info.number, w.armed_at, info.head_sha, merged=merged, disarmed=done
            )
        if info.merged:
            continue
        if not info.is_open:
            raise MergeBlocked(info.number, f"{w.repo}: it was closed without being merged")
        if info.gate is Gate.FAILING:
            failed = ", ".join(info.failing_checks) or "a required check"
            raise MergeBlocked(
                info.number,
                f"{w.repo}: required check(s) failed: {failed}. Fix what they report "
                "(a new commit runs them again), then run prplan again.",
            )
        if info.armed is MergeArmed.NONE:
            raise MergeDisarmed(w.repo, info.number, w.was.value if w.was else "")


def _disarmed_own(client: ForgeClient, repo: str, info: PullRequestInfo) -> str:
    """The head of a pull request this run armed moved (not merged yet):
    turn prplan's arming off, only while it is still armed by prplan's
    login (someone may have re-armed it as themselves meanwhile: theirs
    stays). Returns what was done, for the error's message."""
    review = (
        "review those commits (to merge them too, run prplan again with "
        "merge_foreign_commits=True), or remove them from the branch."
    )
    if info.armed is MergeArmed.NONE:
        return f"Nothing is armed to merge it any more: {review}"
    queued = info.armed is MergeArmed.QUEUED
    how = "its merge queue entry" if queued else "its auto-merge"
    try:
        viewer = client.viewer_login()
    except PrplanError as error:
        viewer, why = None, f"the login prplan acts as could not be read ({error})"
    else:
        why = f"it is now armed by {info.armed_by or 'someone the forge does not name'}"
    if info.armed_by is None or viewer is None or not _same_login(info.armed_by, viewer):
        return (
            f"prplan armed it in this run but leaves {how} on: {why}. Disable auto-merge "
            "(or dequeue it) or review those commits."
        )
    try:
        client.disarm_merge(repo, info.number, armed=info.armed)
    except PrplanError as error:
        return (
            f"prplan armed it in this run and tried to turn {how} off, but could not: {error}. "
            "GitHub may merge those commits: disable auto-merge (or dequeue it) by hand now."
        )
    done = (
        "took it out of the merge queue it had put it in"
        if queued
        else "turned off the auto-merge it had enabled"
    )
    return f"prplan {done} in this run, so GitHub will not merge them: {review}"

"""A pull request's text as prplan writes it: the hidden marker, the line a
human writes below, the body cut to GitHub's limit, and what ``update_pr``
and ``close_superseded`` make of an open pull request.

The body prplan writes is the request's body, then its marker and the human
line, each alone on a line::

    <the request's body>

    <!-- prplan:request=0123456789abcdef -->
    <!-- prplan:human-notes-below -->
    <anything a human writes here is kept>

The marker names the request's id (the ``Prplan-Request`` trailer of its
commits) and, where prplan writes it (``pull_text``) and in a pull request
the login prplan acts as opened, tells prplan's own pull request from
anyone else's. The
executor adds both lines when it writes a body: the plan's
``CreatePullRequest.body`` and ``UpdatePullRequest.body`` stay the request's
body, so neither the marker nor a human's text is part of the plan's digest.
Comparing an open pull request with the request (``update_pr``) reads only
what lies above the marker, line endings as ``\\n`` and trailing blank lines
dropped: a re-run changes nothing.

Pure: no I/O.
"""

from __future__ import annotations

import attrs

from prplan.core import actions as act
from prplan.core.disarm import _same_login
from prplan.core.pull_text import HUMAN_LINE, PullText, marker, normal_text, split_body
from prplan.core.refusals import foreign_commits
from prplan.core.request import MAX_BODY_CHARS, ChangeRequest
from prplan.core.snapshot import RepoSnapshot
from prplan.core.writer import attribution, co_author_trailers, graphql_fallback

__all__ = [
    "PullText",
    "HUMAN_LINE",
    "marker",
    "compose",
    "split_body",
    "truncated",
    "body_full",
    "acting_login",
    "own_request_id",
    "request_id_of",
    "with_pr_text",
    "close_action",
    "superseded_comment",
    "identity_line",
    "commit_message",
    "pr_text_step",
]


def commit_message(request: ChangeRequest) -> str:
    """The message prplan writes: the caller's message (or the title), then
    the trailer that marks the commit as prplan's (``Prplan-Request``, the id
    the marker names too), then a ``Co-authored-by:`` trailer per co-author."""
    head = request.commit_message or request.pr_title
    co = co_author_trailers(request.co_authors)  # none: the message of before
    return f"{head.rstrip()}\n\nPrplan-Request: {request.request_id}\n{co}"


def _note(left_out: int) -> str:
    return f"\n\n… truncated by prplan: {left_out} characters left out"


def truncated(text: str, budget: int) -> tuple[str, int]:
    """``text`` cut so that it and the note saying so fit in ``budget``
    characters: (the text, how many characters were left out). The same
    input gives the same output: a re-run compares equal. A budget too small
    even for the note leaves nothing."""
    if len(text) <= budget:
        return text, 0
    # The note's number has at most as many digits as len(text): a bound
    # that fits whatever is cut.
    keep = budget - len(_note(len(text)))
    if keep <= 0:
        note = _note(len(text)).lstrip()
        return (note, len(text)) if len(note) <= budget else ("", len(text))
    left_out = len(text) - keep
    return text[:keep].rstrip() + _note(left_out), left_out


def _suffix(request_id: str) -> str:
    return f"{marker(request_id)}\n{HUMAN_LINE}\n"


def compose(body: str, request_id: str, human: str = "") -> tuple[str, int]:
    """The body prplan writes: (text, characters left out to stay within
    GitHub's 65,536). A human's text below the line is kept whole: prplan's
    text is cut first, to nothing if need be (``body_full`` says when even
    that is not enough, and then nothing is written)."""
    suffix = _suffix(request_id)
    budget = MAX_BODY_CHARS - len(suffix) - len(human) - 2
    text, left_out = truncated(normal_text(body), max(0, budget))
    above = f"{text}\n\n" if text else ""
    return f"{above}{suffix}{human}", left_out


def body_full(request_id: str, human: str) -> bool:
    """A human's text below prplan's line is so long that, with prplan's
    two lines alone, the body would be over GitHub's limit: prplan does not
    rewrite it (a human's text is never cut)."""
    return len(_suffix(request_id)) + len(human) > MAX_BODY_CHARS


def request_id_of(request: ChangeRequest, resolved: tuple[act.ResolvedFile, ...]) -> str:
    """The id the commit trailer carries: of the request with its edits
    resolved to contents (the request's own id when it has no edits)."""
    if not resolved:
        return request.request_id
    contents = {r.path: r.content for r in resolved}
    files = {path: contents.get(path, content) for path, content in request.files.items()}
    return attrs.evolve(request, files=files).request_id


def superseded_comment(request_id: str, base: str) -> str:
    return (
        f"prplan closes this pull request: {base} already holds the content it proposes "
        f"(request {request_id}), so it has nothing left to merge."
    )


def close_action(snapshot: RepoSnapshot, request: ChangeRequest) -> act.ClosePullRequest:
    """Close prplan's own open pull request, superseded by base."""
    open_pr = next(pr for pr in snapshot.pull_requests if pr.is_open)
    return act.ClosePullRequest(
        number=open_pr.number,
        comment=superseded_comment(request.request_id, snapshot.base),
        reason=f"close_superseded is on, {snapshot.base} already holds the requested content "
        f"and #{open_pr.number} is prplan's own (its marker names this request): comment why, "
        "then close it",
    )


def _left_out_note(left_out: int, which: str) -> str:
    return (
        f"the body of {which} with prplan's marker is over GitHub's {MAX_BODY_CHARS:,} "
        f"characters: it is truncated, {left_out} characters left out (said at its end)"
    )


#: On an open pull request, the rewrite goes before these.
_AFTER = (*act.MERGE_ACTIONS, act.DeleteBranch)


def acting_login(snapshot: RepoSnapshot) -> str | None:
    """The login prplan's writes are made as, when the client said it
    (``writer``) or it was read (``viewer``); None: not known."""
    if snapshot.writer is not None and snapshot.writer.login:
        return snapshot.writer.login
    return snapshot.viewer


def _opened_by_another(snapshot: RepoSnapshot, seen: PullText) -> str:
    """Why a pull request with prplan's marker was not opened by prplan:
    its author is not the login prplan acts as ("" when it is, or when that
    login is not known)."""
    login = acting_login(snapshot)
    if login is None or (seen.author is not None and _same_login(seen.author, login)):
        return ""
    return f"it was opened by {seen.author or 'an account the forge does not name'}, not by {login}"


def own_request_id(snapshot: RepoSnapshot) -> str | None:
    """The request id prplan's marker names on the open pull request, when
    the pull request is prplan's: the marker in prplan's place, and opened by
    the login prplan acts as (when that is known). None otherwise."""
    seen = snapshot.pr_text
    if seen is None or _opened_by_another(snapshot, seen):
        return None
    return seen.request_id


def _not_own(snapshot: RepoSnapshot, seen: PullText, owner: str | None) -> str:
    """Why ``update_pr`` leaves the open pull request as it is, or ""."""
    which = f"#{seen.number}"
    if owner is None:
        return f"{which} carries no prplan marker (a human's pull request)"
    if by := _opened_by_another(snapshot, seen):
        return f"{which} carries prplan's marker, but {by} (the login prplan acts as)"
    on_head = snapshot.branch_sha is not None and snapshot.branch != snapshot.base
    if on_head and (foreign_commits(snapshot) or not snapshot.commits_complete):
        return f"the branch of {which} holds commits prplan did not make"
    return ""


def _full_note(which: str) -> str:
    return (
        f"update_pr is on, but the body of {which} is full: the human's text below prplan's "
        f"line alone is over GitHub's {MAX_BODY_CHARS:,} characters with prplan's marker, and "
        "prplan never cuts a human's text: its title and body are left as they are"
    )


def with_pr_text(
    snapshot: RepoSnapshot, request: ChangeRequest, actions: tuple[act.Action, ...]
) -> tuple[tuple[act.Action, ...], list[str]]:
    """The actions with ``update_pr``'s rewrite of prplan's own open pull
    request, and the notes: a body cut to GitHub's limit, a pull request
    left as it is because it is not prplan's or its body is full.
    ``request``: with its edits resolved (its id is the trailer's)."""
    creates = next((a for a in actions if isinstance(a, act.CreatePullRequest)), None)
    if creates is not None:
        left_out = compose(creates.body, request.request_id)[1]
        return actions, [_left_out_note(left_out, "the new pull request")] if left_out else []
    seen = snapshot.pr_text
    closes = any(isinstance(a, act.ClosePullRequest) for a in actions)
    if not request.update_pr or seen is None or closes:
        return actions, []
    which = f"#{seen.number}"
    above, owner, human = split_body(seen.body)
    if why := _not_own(snapshot, seen, owner):
        return actions, [f"update_pr is on, but {why}: its title and body are left as they are"]
    # prplan's marker, of this request or of an earlier one on this branch
    # (a new version of the change is a new request id): prplan's own to
    # keep up to date, its marker moved to this request.
    if body_full(request.request_id, human):
        return actions, [_full_note(which)]
    wanted, left_out = compose(request.body, request.request_id, human)
    notes = [_left_out_note(left_out, which)] if left_out else []
    changed = [
        name
        for name, same in (
            ("title", seen.title == request.pr_title),
            ("body", above == split_body(wanted)[0]),
            ("marker", owner == request.request_id),
        )
        if not same
    ]
    if not changed:
        return actions, notes
    update = act.UpdatePullRequest(
        number=seen.number,
        title=request.pr_title,
        body=request.body,
        reason=f"update_pr is on and the {' and '.join(changed)} of {which} (prplan's own) "
        "differ from the request: rewrite title and body (a human's text below prplan's marker "
        "is kept)",
    )
    at = next((i for i, a in enumerate(actions) if isinstance(a, _AFTER)), len(actions))
    return (*actions[:at], update, *actions[at:]), notes


#: The actions that write as the token's identity (a commit, a pull request).
_WRITES = (act.Commit, act.CreatePullRequest, act.UpdatePullRequest, act.ClosePullRequest)


def identity_line(
    snapshot: RepoSnapshot, request: ChangeRequest, actions: tuple[act.Action, ...]
) -> str:
    """Who the plan's commit and pull request are attributed to, and whether
    GitHub signs the commit (``Plan.writes``): said when the plan writes one
    and the forge client stated its writer, or the request names an author
    or co-authors; otherwise "" (a client that states nothing, such as the
    in-process forge, leaves the plan as it was)."""
    if not any(isinstance(a, _WRITES) for a in actions):
        return ""
    if snapshot.writer is None and request.author is None and not request.co_authors:
        return ""
    commits = any(isinstance(a, act.Commit) for a in actions)
    fallback = graphql_fallback(request.files, (snapshot.base_kinds, snapshot.branch_kinds))
    return attribution(
        snapshot.writer, request.author, request.co_authors, commits=commits, fallback=fallback
    )


def pr_text_step(
    snapshot: RepoSnapshot,
    request: ChangeRequest,
    effective: ChangeRequest,
    actions: tuple[act.Action, ...],
) -> tuple[tuple[act.Action, ...], list[str], str]:
    """The planner's step after the table and the metadata: ``update_pr``'s
    rewrite and the body's notes (``with_pr_text``, on the request with its
    edits resolved), and ``Plan.writes`` (``identity_line``)."""
    actions, notes = with_pr_text(snapshot, effective, actions)
    return actions, notes, identity_line(snapshot, request, actions)

"""Who a plan's commit and pull request are attributed to, and whether
GitHub signs the commit: the ``Writer`` a forge client states (a fact of the
snapshot), the request's ``author`` and ``co_authors`` checked, and the
plan's note that says it.

GitHub's rules, as prplan relies on them (docs/github.md, "Identities"):

* a GraphQL ``createCommitOnBranch`` commit is signed by GitHub for every
  kind of token, and its author is the token's identity (it cannot be set);
* a REST (Git Data API) commit without a custom author is signed when an
  App's installation token makes it, unsigned with a user's token;
* a commit with a custom author (``author=``) is never signed: prplan makes
  it over REST under both transports;
* ``Co-authored-by:`` trailers are part of the message: they change
  neither the author nor the signature.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import attrs

from prplan.core.names import CONTROL_RE, INVISIBLE_RE
from prplan.errors import Problem

__all__ = [
    "Writer",
    "PERSON_RE",
    "person_problems",
    "person_duplicates",
    "co_author_trailers",
    "attribution",
    "graphql_fallback",
    "GRAPHQL_COMMIT_BYTES",
]

#: ``Name <email>``: a name, one space, an address in angle brackets.
PERSON_RE = re.compile(r"^(?P<name>[^<>@]*[^<>@\s]) <(?P<email>[^<>\s@]+@[^<>\s@]+)>$")


@attrs.frozen(kw_only=True)
class Writer:
    """What a forge client says of the writes it makes: the login they are
    attributed to (None: the token's identity, not read), whether a commit
    it makes without a custom author is signed by GitHub, and how it
    commits (in words, for the plan)."""

    login: str | None
    signs: bool
    how: str
    #: it commits over GraphQL and falls back to REST where GraphQL cannot
    #: make the commit (``graphql_fallback``); ``rest_signs``: GitHub signs
    #: that REST commit (an App's token) or not (a user's)
    falls_back: bool = False
    rest_signs: bool = False


#: The most content one GraphQL commit carries (the GitHub client's
#: ``GRAPHQL_COMMIT_LIMIT``): past it the commit is made over REST.
GRAPHQL_COMMIT_BYTES = 25 * 1024 * 1024
#: What GraphQL's createCommitOnBranch cannot keep (it writes mode 100644).
_KEPT_BY_REST = ("executable", "symlink", "submodule", "directory")


def graphql_fallback(
    files: Mapping[str, object], kinds: Sequence[Mapping[str, object]]
) -> str | None:
    """Why the GitHub client's GraphQL writer would hand a commit of
    ``files`` to REST, or None: the same prediction ``graphql_writes`` makes
    (content over ``GRAPHQL_COMMIT_BYTES``; a written path that is an
    executable, symlink, submodule or directory in a tree it may start from,
    ``kinds``: the snapshot's base and branch kinds)."""
    size = sum(len(content) for content in files.values() if isinstance(content, bytes))
    if size > GRAPHQL_COMMIT_BYTES:
        return f"{size} bytes of content, over GraphQL's {GRAPHQL_COMMIT_BYTES}"
    for path in sorted(files):
        for side in kinds:
            kind = str(side.get(path, ""))
            if kind in _KEPT_BY_REST:
                article = "an" if kind == "executable" else "a"
                return f"{path} is {article} {kind}: GraphQL would write it as a plain file"
    return None


def person_problems(field: str, value: object) -> list[Problem]:
    """``Name <email>``, one line."""
    fix = "give it as 'Name <email>', e.g. 'Ada Lovelace <ada@example.com>'"
    if not isinstance(value, str):
        return [Problem(field, f"{value!r} is not text: {fix}")]
    if CONTROL_RE.search(value) or INVISIBLE_RE.search(value):
        return [Problem(field, f"{value!r} contains a control character: {fix}")]
    if not PERSON_RE.match(value):
        return [Problem(field, f"{value!r} is not 'Name <email>': {fix}")]
    return []


def _email(person: str) -> str:
    match = PERSON_RE.match(person)
    return match.group("email").casefold() if match else person.casefold()


def person_duplicates(co_authors: tuple[str, ...], author: str | None) -> list[Problem]:
    """A co-author named twice, or who is the commit's ``author``: the same
    person (e-mail compared without case, as GitHub matches accounts by
    address). Refused rather than dropped: the request means one of them,
    and prplan does not guess which name to keep. Takes well-formed people
    (``person_problems`` first)."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for index, person in enumerate(co_authors):
        email = _email(person)
        if author is not None and email == _email(author):
            problems.append(
                Problem(
                    f"co_authors[{index}]",
                    f"{person!r} is the commit's author ({author!r}, same e-mail): an author "
                    "is not their own co-author. Drop it from co_authors",
                )
            )
        elif email in seen:
            problems.append(
                Problem(
                    f"co_authors[{index}]",
                    f"{person!r} has the e-mail of co_authors[{seen[email]}] "
                    f"({co_authors[seen[email]]!r}; compared without case): name each "
                    "co-author once",
                )
            )
        seen.setdefault(email, index)
    return problems


def co_author_trailers(co_authors: tuple[str, ...]) -> str:
    """The ``Co-authored-by:`` trailer lines (each with its newline)."""
    return "".join(f"Co-authored-by: {person}\n" for person in co_authors)


def attribution(
    writer: Writer | None,
    author: str | None,
    co_authors: tuple[str, ...],
    *,
    commits: bool,
    fallback: str | None = None,
) -> str:
    """The plan's note: who its writes are attributed to, and whether the
    commit is signed. ``commits``: the plan makes a commit (else it only
    opens or changes a pull request); ``fallback``: why a GraphQL writer
    will commit over REST instead (``graphql_fallback``), if it will."""
    who = "the token's identity (not read)" if writer is None or not writer.login else writer.login
    if not commits:
        return f"pull request by {who}"
    if author is not None:
        return (
            f"commit by {author} (custom author, committed by {who}): unsigned, GitHub signs "
            "no commit with a custom author; pull request by " + who
        )
    co = f", co-authored by {', '.join(co_authors)}" if co_authors else ""
    if writer is None:
        return f"commit and pull request by {who}{co}"
    signs, how = writer.signs, writer.how
    if fallback is not None and writer.falls_back:
        signs = writer.rest_signs
        how = f"over REST, not GraphQL: {fallback}"
    signed = "signed by GitHub" if signs else "unsigned"
    return f"commit and pull request by {who}{co}; the commit is {signed} ({how})"

"""Observe over GraphQL: one query for what ``observe`` will read, then the
``ForgeClient`` read methods answered from it.

``GitHubClient(transport="graphql")`` holds a ``GraphQLReads``. ``observe`` opens
``client.observing(request)`` around one observation (``plan_changeset``: ``observing_many``
around many): that sends ``observe_document`` (one POST, counted as a read) and, while the
block is open, each read method of the client first asks ``answer`` here. What the answer
does not cover, or covers only in part, is read as before (REST), so correctness never
depends on the prefetch:

* a fact is served once per observation; asking again (observe's re-read of
  a branch that looked absent) goes to the forge;
* directory listings are used only when chained by oid from the commit the
  caller names (root tree, then each subtree), so an answer that mixed two
  states of a branch is not trusted;
* the comparison: GraphQL's lists no files and no merge base. They are
  known when the branch is in base (no files) or contains it (merge base:
  base) *and* an open pull request from the branch into base, at the same
  head, lists its files (at most 100, none renamed or copied). Otherwise, and
  when there are over 100 commits, REST's compare answers;
* merge gates (only when the request automerges): the open pull request
  from the branch with ``GATE_FIELDS`` and base's ``mergeQueue``
  (``gates.py`` asks, and reads the required checks itself when needed);
* file contents: ``Blob.text`` when its git blob id, computed from the text,
  is the blob's (so binary, non-UTF-8 or truncated text falls back).

Change sets: ``observing_many`` splits the repositories into queries within GitHub's limits
(``node_cost``: at most 500,000 nodes, and at most ``MAX_REPOSITORIES`` repositories, per
query) and prplan's own bounds on a document's size (``MAX_LOOKUPS`` ``object(expression:)``
fields and ``MAX_DOCUMENT_BYTES``). A repository whose read alone is over them is not
prefetched: every read of its observation goes to REST.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    import graphql
from prplan.core.request import ChangeRequest
from prplan.core.snapshot import CommitInfo, PathEntry, PathKind, PullRequestInfo, entry_for
from prplan.core.snapshot import git_blob_sha as blob_id
from prplan.forges.github.arming import actor_login, with_arming
from prplan.forges.github.graphql_documents import (
    PAGE,
    Document,
    RepositoryRead,
    ancestor_directories,
    observe_document,
    pull_request_info,
)
from prplan.forges.github.transport import Transport
from prplan.forges.github.tree_prediction import Listing, listing_of
from prplan.run.port import Branch, Comparison

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_LOOKUPS",
    "MAX_NODES",
    "MAX_REPOSITORIES",
    "GraphQLObserving",
    "GraphQLReads",
    "batches",
    "document_bytes",
    "node_cost",
    "prefetchable",
    "prefetched",
    "prefetched_answer",
    "read_of",
]

#: GitHub's limit on the nodes one query may ask for.
MAX_NODES = 500_000
#: Repositories per observe query (a bound on the answer's size and time).
MAX_REPOSITORIES = 50
#: ``object(expression:)`` fields per document: each one a git lookup GitHub
#: resolves within its query timeout (10 s). A directory counts twice (base
#: and branch), an edited file twice: 2,500 keeps a 1,000-file change in
#: 1,000 directories (2,004) in one query.
MAX_LOOKUPS = 2_500
#: A document's bytes, text and variables (JSON): a 1,000-file change in
#: 1,000 directories is about 250 KB.
MAX_DOCUMENT_BYTES = 1024 * 1024

_F = TypeVar("_F", bound=Callable[..., Any])


class _Uncovered(Exception):
    """The answer cannot tell: ask the forge."""


_NOT_COVERED: Any = object()


def node_cost(document: Document) -> int:
    """The nodes a query asks for, as GitHub counts them: each connection's
    ``first``/``last`` multiplied by those of the connections around it,
    summed. ValueError when a page is over 100 (GitHub refuses it)."""
    import graphql  # graphql-core: only a GraphQL client pays its import time

    parsed = graphql.parse(document.text)
    fragments = {
        d.name.value: d for d in parsed.definitions if isinstance(d, graphql.FragmentDefinitionNode)
    }

    def page(field: graphql.FieldNode) -> int | None:
        for argument in field.arguments or ():
            if argument.name.value in ("first", "last"):
                value = argument.value
                size = (
                    int(document.variables[value.name.value])
                    if isinstance(value, graphql.VariableNode)
                    else int(cast(graphql.IntValueNode, value).value)
                )
                if not 0 <= size <= PAGE:
                    raise ValueError(f"{field.name.value}: first/last {size} is over {PAGE}")
                return size
        return None

    def walk(selections: graphql.SelectionSetNode, multiplier: int) -> int:
        total = 0
        for selection in selections.selections:
            if isinstance(selection, graphql.FieldNode):
                size = page(selection)
                inner = multiplier if size is None else multiplier * size
                total += 0 if size is None else inner
                if selection.selection_set is not None:
                    total += walk(selection.selection_set, inner)
            elif isinstance(selection, graphql.InlineFragmentNode):
                total += walk(selection.selection_set, multiplier)
            elif isinstance(selection, graphql.FragmentSpreadNode):
                total += walk(fragments[selection.name.value].selection_set, multiplier)
        return total

    return sum(
        walk(d.selection_set, 1)
        for d in parsed.definitions
        if isinstance(d, graphql.OperationDefinitionNode)
    )


def document_bytes(document: Document) -> int:
    """What sending ``document`` costs in bytes: its text and its variables."""
    return len(document.text.encode()) + len(json.dumps(document.variables).encode())


def lookups(read: RepositoryRead) -> int:
    """The ``object(expression:)`` fields ``read`` puts in an observe query."""
    return _lookups(tuple(read.paths), len(read.contents))


@functools.lru_cache(maxsize=64)
def _lookups(paths: tuple[str, ...], contents: int) -> int:
    # cached: a change set often writes the same paths in many repositories
    return 2 * (len(ancestor_directories(paths)) + contents)


@functools.cache
def _shape_cost(
    named_base: bool, gates: bool, metadata: bool = False, milestones: bool = False
) -> int:
    """``node_cost`` of one repository's read: paths add no connection, so
    only whether base is named and what else is read change it."""
    read = RepositoryRead("o", "n", "b" if named_base else "", "h", gates=gates,
                          metadata=metadata, milestones=milestones)  # fmt: skip
    return node_cost(observe_document([read]))


def _shape(read: RepositoryRead) -> int:
    return _shape_cost(bool(read.base), read.gates, read.metadata, read.milestones)


def _weight(read: RepositoryRead) -> tuple[int, int, int]:
    """(nodes, lookups, bytes) ``read`` adds to an observe query; bytes with
    room for longer aliases (``r49`` where it was measured as ``r0``)."""
    count = lookups(read)
    if count > MAX_LOOKUPS:  # over already: not worth building
        return _shape(read), count, MAX_DOCUMENT_BYTES + 1
    size = document_bytes(observe_document([read])) + 6 * (count + 20)
    return _shape(read), count, size


def prefetchable(read: RepositoryRead) -> bool:
    """Whether ``read`` alone fits a query within ``MAX_LOOKUPS`` and
    ``MAX_DOCUMENT_BYTES`` (otherwise its observation reads over REST)."""
    _, count, size = _weight(read)
    return count <= MAX_LOOKUPS and size <= MAX_DOCUMENT_BYTES


def read_of(request: ChangeRequest) -> RepositoryRead:
    """What ``observe`` will read of ``request``'s repository."""
    owner, _, name = request.repo.partition("/")
    return RepositoryRead(
        owner, name, request.base or "", request.branch,
        tuple(request.files), tuple(request.edited_paths), gates=request.automerge,
        metadata=request.has_metadata, milestones=request.milestone is not None,
    )  # fmt: skip


def _all_pulls(connection: Mapping[str, Any] | None) -> list[PullRequestInfo]:
    """Every pull request of a connection, or _Uncovered when it had more."""
    if connection is None or connection["totalCount"] > len(connection["nodes"]):
        raise _Uncovered
    nodes = [n for n in connection["nodes"] if not n.get("isCrossRepository")]
    return sorted((pull_request_info(n) for n in nodes), key=lambda p: p.number)


class _RepoAnswer:
    """One repository's part of an observe query's answer."""

    def __init__(self, read: RepositoryRead, data: Mapping[str, Any], reads: GraphQLReads):
        self.read, self.data, self._reads = read, data, reads
        self._served: set[tuple[Any, ...]] = set()
        self._directories = ancestor_directories(read.paths)

    def serve(self, method: str, args: tuple[Any, ...]) -> Any:
        key = (method, *[tuple(a) if isinstance(a, list | tuple) else a for a in args])
        if key in self._served:
            return _NOT_COVERED  # asked again: the forge answers, as it is now
        try:
            found = getattr(self, "_" + method)(*args)
        except (_Uncovered, KeyError, TypeError, ValueError):
            return _NOT_COVERED
        self._served.add(key)
        return found

    # --- the answers, by ForgeClient method ----------------------------------------

    def _default_branch(self) -> str:
        return str(self.data["defaultBranchRef"]["name"])

    def _ref(self, branch: str) -> tuple[str, Mapping[str, Any] | None]:
        """("b" or "h", the ref) for the base or the branch of this read."""
        base = self.data["base"]
        if base is not None and base["name"] == branch:
            return "b", base
        if branch == self.read.base:
            return "b", None  # the base, read as absent
        if branch == self.read.branch:
            return "h", self.data["head"]
        raise _Uncovered

    def _branch(self, branch: str) -> Branch | None:
        _, ref = self._ref(branch)
        if ref is None:
            return None
        target = ref["target"]
        self._reads.learn_tree(self.read, target["oid"], target["tree"]["oid"])
        protected = ref.get("branchProtectionRule") or ref.get("refUpdateRule")
        return Branch(sha=str(target["oid"]), protected=protected is not None)

    def _pull_requests_from(self, head: str) -> list[PullRequestInfo]:
        if head == self.read.branch:  # with who armed the open ones
            return with_arming(_all_pulls(self.data["fromBranch"]), self.data)
        if self.read.base and head == self.read.base:
            return _all_pulls(self.data["fromBase"])
        raise _Uncovered

    def _pull_requests_for(self, head: str, base: str) -> list[PullRequestInfo]:
        return [p for p in self._pull_requests_from(head) if p.base_branch == base]

    def _open_pull_requests_into(self, base: str) -> list[PullRequestInfo]:
        if base != self.read.branch:
            raise _Uncovered
        return [p for p in _all_pulls(self.data["intoBranch"]) if p.is_open]

    def _gate_facts(self, number: int) -> dict[str, Any]:
        """The open pull request ``number`` from the branch, its facts with
        ``GATE_FIELDS`` (no required checks: see ``PULL_REQUEST_GATE``)."""
        connection = self.data["fromBranch"]
        gated = [n for n in self.data["openFromBranch"]["nodes"] if n["number"] == number]
        facts = [n for n in connection["nodes"] if n["number"] == number]
        if not gated or not facts or "mergeStateStatus" not in gated[0]:
            raise _Uncovered
        return {**facts[0], **gated[0]}

    def _pull_metadata(self, number: int) -> Mapping[str, Any]:
        """``METADATA_FIELDS`` of the open pull request ``number`` from the branch."""
        found = [n for n in self.data["openFromBranch"]["nodes"] if n["number"] == number]
        if not found or "labels" not in found[0]:
            raise _Uncovered
        return dict(found[0])

    def _pull_request_text(self, number: int) -> Mapping[str, Any]:
        return dict({n["number"]: n for n in self.data["fromBranch"]["nodes"]}[number])

    def _milestones(self) -> list[Any]:
        listed = self.data["milestones"]
        if listed["totalCount"] > len(listed["nodes"]):
            raise _Uncovered
        return list(listed["nodes"])

    def _merge_queue_enabled(self, branch: str) -> bool:
        base = self.read.base or self.data["defaultBranchRef"]["name"]
        if branch != base or "mergeQueue" not in self.data:
            raise _Uncovered
        return self.data["mergeQueue"] is not None

    def _side(self, commit_sha: str) -> tuple[str, Mapping[str, Any]]:
        """("b" or "h", the commit's target) for a commit this answer read."""
        for side, key in (("b", "base"), ("h", "head")):
            ref = self.data[key]
            if ref is not None and ref["target"]["oid"] == commit_sha:
                return side, ref["target"]
        raise _Uncovered

    def _lookup(self, commit_sha: str) -> Callable[[str], tuple[int, str] | None]:
        """``entry_for``'s lookup from the listings, each chained by oid."""
        side, target = self._side(commit_sha)
        listings = {
            directory: self.data[f"{side}{number}"]
            for number, directory in enumerate(self._directories)
        }

        @functools.cache
        def listing(directory: str) -> dict[str, tuple[int, str]]:
            if directory:
                parent = lookup(directory)
                expected = parent[1] if parent is not None else None
            else:
                expected = target["tree"]["oid"]
            found = listings.get(directory)
            if found is None or found.get("__typename") != "Tree" or found["oid"] != expected:
                raise _Uncovered
            return {e["name"]: (int(e["mode"]), str(e["oid"])) for e in found["entries"] or ()}

        def lookup(path: str) -> tuple[int, str] | None:
            parent, _, name = path.rpartition("/")
            return listing(parent).get(name)

        return lookup

    def _path_entries(self, commit_sha: str, paths: Sequence[str]) -> dict[str, PathEntry]:
        if not set(paths) <= set(self.read.paths):
            raise _Uncovered
        lookup = self._lookup(commit_sha)
        entries = {path: entry_for(lookup, path) for path in paths}
        side, target = self._side(commit_sha)
        self._reads.learn_tree(self.read, commit_sha, target["tree"]["oid"])
        self._reads.learn_directories(self.read, self.data["id"], commit_sha, self._listings(side))
        for path, entry in entries.items():
            if entry.kind is PathKind.EXECUTABLE:
                self._reads.learn_executable(self.read, commit_sha, path)
        return entries

    def _listings(self, side: str) -> dict[str, Listing]:
        """The directories read on one side, as a commit's tree prediction
        takes them (only called once the lookup chained them by oid); empty
        when one is not a tree (a file where a directory should be)."""
        listings: dict[str, Listing] = {}
        for number, directory in enumerate(self._directories):
            listing = listing_of(self.data[f"{side}{number}"])
            if listing is False:
                return {}
            listings[directory] = listing if isinstance(listing, dict) else None
        return listings

    def _read_files(self, commit_sha: str, paths: Sequence[str]) -> dict[str, bytes | None]:
        side, _ = self._side(commit_sha)
        lookup = self._lookup(commit_sha)
        out: dict[str, bytes | None] = {}
        for path in paths:
            blob = self.data[f"{side}t{list(self.read.contents).index(path)}"]
            listed = entry_for(lookup, path)
            if blob is None or blob["__typename"] != "Blob":
                if listed.kind.is_file:
                    raise _Uncovered
                out[path] = None
                continue
            text = blob.get("text")
            if blob.get("isBinary") or text is None or listed.sha != blob["oid"]:
                raise _Uncovered
            content = str(text).encode("utf-8")
            if blob_id(content) != blob["oid"]:
                raise _Uncovered  # not exactly the bytes (truncated, re-encoded)
            out[path] = content
        return out

    def _compare(self, base_sha: str, head_sha: str) -> Comparison:
        base, head = self.data["base"], self.data["head"]
        if base is None or head is None or base["target"]["oid"] != base_sha:
            raise _Uncovered
        found = base["compare"]
        if head["target"]["oid"] != head_sha or found is None:
            raise _Uncovered
        listed = found["commits"]
        if listed["totalCount"] > len(listed["nodes"]):
            raise _Uncovered  # REST lists up to 250: let it
        ahead, behind = int(found["aheadBy"]), int(found["behindBy"])
        if ahead == 0:
            merge_base, files = head_sha, tuple[str, ...]()  # the branch is in base
        elif behind == 0:
            merge_base, files = base_sha, self._pull_files(base["name"], head_sha)
        else:
            raise _Uncovered  # diverged: GraphQL cannot name the merge base
        commits = tuple(
            CommitInfo.from_message(
                sha=c["oid"], message=c["message"],
                author=(c.get("author") or {}).get("name") or "", tree_sha=c["tree"]["oid"],
            )
            for c in listed["nodes"]
        )  # fmt: skip
        return Comparison(
            status=str(found["status"]).lower(), ahead_by=ahead, behind_by=behind,
            commits=commits, complete=len(commits) >= ahead, merge_base_sha=merge_base,
            files=files, files_complete=True,
        )  # fmt: skip

    def _pull_files(self, base: str, head_sha: str) -> tuple[str, ...]:
        """The files of the open pull request from the branch into ``base`` at
        ``head_sha``: what base...head changes when the branch contains base."""
        for pull in self.data["openFromBranch"]["nodes"]:
            if pull["baseRefName"] != base or pull["headRefOid"] != head_sha:
                continue
            files = pull["files"]
            if pull["isCrossRepository"] or files is None:
                continue
            nodes = files["nodes"]
            if pull["changedFiles"] > len(nodes) or files["totalCount"] > len(nodes):
                raise _Uncovered
            if any(f["changeType"] in ("RENAMED", "COPIED") for f in nodes):
                raise _Uncovered  # REST names both paths of a rename
            return tuple(sorted({str(f["path"]) for f in nodes}))
        raise _Uncovered


class GraphQLReads:
    """The prefetched answers of one client: taken by the thread that
    observes, for the length of its observation."""

    def __init__(
        self,
        http: Transport,
        trees: dict[tuple[str, str], str],
        executables: set[tuple[str, str, str]],
    ) -> None:
        self._http = http
        self._trees, self._executables = trees, executables
        self._pending: dict[RepositoryRead, _RepoAnswer] = {}
        self._lock = threading.Lock()
        self._active = threading.local()
        self.viewer: str | None = None  #: the login the token acts as (observe's ``viewer``)
        #: (repo, repository id, commit, listings): set by the client
        self.on_directories: Callable[[str, str, str, dict[str, Listing]], None] | None = None

    def learn_tree(self, read: RepositoryRead, commit: str, tree: str) -> None:
        self._trees[(f"{read.owner}/{read.name}", commit)] = tree

    def learn_executable(self, read: RepositoryRead, commit: str, path: str) -> None:
        self._executables.add((f"{read.owner}/{read.name}", commit, path))

    def learn_directories(
        self, read: RepositoryRead, repository_id: str, commit: str, listings: dict[str, Listing]
    ) -> None:
        """Hand what the query read of a commit's directories to whoever
        commits on it (the GraphQL writes), so a commit reads nothing first."""
        if listings and self.on_directories is not None:
            self.on_directories(f"{read.owner}/{read.name}", repository_id, commit, listings)

    def answer(self, method: str, repo: str, args: tuple[Any, ...]) -> Any:
        """The prefetched answer to ``method(repo, *args)``, or _NOT_COVERED."""
        found: _RepoAnswer | None = getattr(self._active, "answer", None)
        if found is None or f"{found.read.owner}/{found.read.name}" != repo:
            return _NOT_COVERED
        return found.serve(method, args)

    @contextlib.contextmanager
    def observing(self, request: ChangeRequest) -> Iterator[None]:
        """One observation of ``request``: its answer, taken from what
        ``observing_many`` prefetched, or one query."""
        read = read_of(request)
        with self._lock:
            found = self._pending.pop(read, None)
        if found is None and prefetchable(read):
            found = self._query([read]).get(read)
        previous = getattr(self._active, "answer", None)
        self._active.answer = found
        try:
            yield
        finally:
            self._active.answer = previous

    @contextlib.contextmanager
    def observing_many(self, requests_: Sequence[ChangeRequest]) -> Iterator[None]:
        """Prefetch every request's repository, as few queries as GitHub's
        limits allow; each observation inside takes its own answer."""
        reads = list(dict.fromkeys(read_of(r) for r in requests_))
        answers: dict[RepositoryRead, _RepoAnswer] = {}
        for batch in batches(reads):
            answers.update(self._query(batch))
        with self._lock:
            self._pending.update(answers)
        try:
            yield
        finally:
            with self._lock:
                for read in answers:
                    self._pending.pop(read, None)

    def _query(self, reads: Sequence[RepositoryRead]) -> dict[RepositoryRead, _RepoAnswer]:
        """One query; the repositories it answered without error. A query
        the forge refused or could not answer is a ForgeError, as a REST read
        would be (no silent second try over REST); a repository the answer
        names in ``errors`` (not found, no access) is read over REST, whose
        answer says what is wrong with that one repository."""
        document = observe_document(reads)
        names = ", ".join(f"{read.owner}/{read.name}" for read in reads)
        with self._http.errors(f"observing {names} over GraphQL"):
            answer = self._http.graphql_query(document.text, document.variables)
            data = answer.get("data") or {}
            if not isinstance(data, dict):
                raise TypeError(f"'data' is a {type(data).__name__}, not an object")
            self.viewer = actor_login(data.get("viewer")) or self.viewer
            failed = {str((e.get("path") or [None])[0]) for e in answer.get("errors") or ()}
            if "None" in failed:
                # The document itself was refused (an Enterprise server whose
                # schema lacks a field): REST reads every repository.
                return {}
            found: dict[RepositoryRead, _RepoAnswer] = {}
            for index, read in enumerate(reads):
                alias = f"r{index}"
                if alias in failed:
                    continue  # REST's answer names this repository's problem
                if not isinstance(data.get(alias), dict):
                    raise TypeError(f"no answer for {read.owner}/{read.name} and no error")
                found[read] = _RepoAnswer(read, data[alias], self)
            return found


def batches(reads: Sequence[RepositoryRead]) -> Iterator[list[RepositoryRead]]:
    """``reads`` in consecutive groups, each one query within ``MAX_NODES``,
    ``MAX_REPOSITORIES``, ``MAX_LOOKUPS`` and ``MAX_DOCUMENT_BYTES`` (a
    repository's part does not depend on the others: aliases side by side);
    a read over the bounds alone is in none (``prefetchable``)."""
    batch: list[RepositoryRead] = []
    total = (0, 0, 0)
    bounds = (MAX_NODES, MAX_LOOKUPS, MAX_DOCUMENT_BYTES)
    for read in reads:
        own = _weight(read)
        if any(o > bound for o, bound in zip(own[1:], bounds[1:], strict=True)):
            continue  # not prefetched: REST reads it
        after = tuple(t + o for t, o in zip(total, own, strict=True))
        if batch and (
            len(batch) >= MAX_REPOSITORIES
            or any(a > bound for a, bound in zip(after, bounds, strict=True))
        ):
            yield batch
            batch, after = [], own
        batch.append(read)
        total = (after[0], after[1], after[2])
    if batch:
        yield batch


def prefetched_answer(reads: GraphQLReads | None, method: str, repo: str, *args: Any) -> Any:
    """The open observation's answer to ``method(repo, *args)`` (served once),
    or None when it has none."""
    if reads is None:
        return None
    found = reads.answer(method, repo, args)
    return None if found is _NOT_COVERED else found


def prefetched(method: _F) -> _F:
    """A ``GitHubClient`` read method that first asks the open observation's
    prefetched answer (``self._reads``), then the forge."""

    @functools.wraps(method)
    def read(self: Any, repo: str, *args: Any) -> Any:
        reads: GraphQLReads | None = self._reads
        if reads is not None:
            found = reads.answer(method.__name__, repo, args)
            if found is not _NOT_COVERED:
                return found
        return method(self, repo, *args)

    return cast(_F, read)


class GraphQLObserving:
    """``GitHubClient``'s observation hooks (``run/observe.py`` and
    ``run/changeset.py`` look them up): a prefetch over GraphQL, or nothing
    with ``transport="rest"``."""

    _reads: GraphQLReads | None

    def observing(self, request: ChangeRequest) -> contextlib.AbstractContextManager[None]:
        reads = self._reads
        return contextlib.nullcontext() if reads is None else reads.observing(request)

    def observing_many(
        self, requests_: Sequence[ChangeRequest]
    ) -> contextlib.AbstractContextManager[None]:
        reads = self._reads
        return contextlib.nullcontext() if reads is None else reads.observing_many(requests_)

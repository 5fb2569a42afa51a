"""The GraphQL documents prplan sends to GitHub (and to the local forge).

Pure text and small builders: no I/O, no client. Each document names only
types, fields and arguments of GitHub's public schema (a test validates every
one against ``../shared/github-graphql/schema.graphql``), and the local forge
serves a strict subset of that schema which answers them all.

Reads take their values as GraphQL variables, never spliced into the text, so
no path or branch name needs escaping; a builder numbers its aliases and
variables (``r0``, ``r1``, ... per repository; ``b0``/``h0`` per directory on
base/branch) so that one query reads many repositories.

* ``observe_document``: one query for what ``observe`` reads of each
  repository: default branch, base and branch refs (commit oid, tree oid,
  protection), the comparison base...branch with its commits, every pull
  request from the branch (into any base) and from the base, open pull
  requests into the branch, and the parent directory of every requested path
  on base and branch (GraphQL gives a mode only in ``Tree.entries``).
  Also: every ancestor directory of the paths (so each path's kind is known
  from the answer alone), the text of the edited files on both sides, and
  the files of the open pull request from the branch (GraphQL's comparison
  lists no files). A read with no ``base`` observes the default branch.
  ``OBSERVE`` is its text for one repository and no paths.
* ``WRITE_BRANCH_AND_COMMIT`` (``createRef``, then ``createCommitOnBranch``)
  and ``RESET_BRANCH_AND_COMMIT`` (``updateRefs`` with ``beforeOid`` and
  ``force``, then the commit): top-level mutation fields run in order and
  each has its own result or error. The pull request is never opened in the
  same document: only once the commit's oid is known to be ours.
* ``COMMIT_ON_BRANCH`` (the commit alone, a fast-forward), ``CREATE_REF``,
  ``directories_document`` (what a commit's tree is predicted from) and
  ``BRANCH_HEAD`` (a lost answer read back).
* ``CREATE_PULL_REQUEST``, ``MERGE_PULL_REQUEST`` (with ``expectedHeadOid``),
  ``UPDATE_REFS`` (also a delete: ``afterOid`` all zeros), ``DELETE_REF``.
* Merge gates (only asked for when a request automerges): ``GATE_FIELDS``
  on the observe query's open pull requests from the branch and base's
  ``mergeQueue``; ``PULL_REQUEST_GATE`` (one pull request with its required
  checks), ``PULL_REQUEST_ID``, ``MERGE_QUEUE``; ``ENABLE_AUTO_MERGE`` and
  ``ENQUEUE_PULL_REQUEST`` (both with ``expectedHeadOid``).
* A saved plan's recheck is an observation like any other: one
  ``observe_document`` query (there is no document of its own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from prplan.core.snapshot import PullRequestInfo

__all__ = [
    "BRANCH_HEAD",
    "COMMIT_ON_BRANCH",
    "CREATE_PULL_REQUEST",
    "CREATE_REF",
    "DELETE_REF",
    "ENABLE_AUTO_MERGE",
    "ENQUEUE_PULL_REQUEST",
    "ARMING_FIELDS",
    "GATE_FIELDS",
    "GATE_RULE_FIELDS",
    "MARK_READY_FOR_REVIEW",
    "MERGE_PULL_REQUEST",
    "METADATA_FIELDS",
    "MERGE_QUEUE",
    "OBSERVE",
    "PULL_REQUEST_GATE",
    "PULL_REQUEST_ID",
    "RESET_BRANCH_AND_COMMIT",
    "UPDATE_REFS",
    "WRITE_BRANCH_AND_COMMIT",
    "ZERO_OID",
    "directories_document",
    "Document",
    "RepositoryRead",
    "ancestor_directories",
    "observe_document",
    "parent_directories",
    "pull_request_info",
]


def pull_request_info(node: Mapping[str, Any]) -> PullRequestInfo:
    """A ``PullRequestFacts`` answer (or a mutation's pull request) as prplan's."""
    merged = bool(node.get("merged"))
    return PullRequestInfo(
        number=int(node["number"]),
        state="open" if node["state"] == "OPEN" else "closed",
        merged=merged,
        head_branch=node["headRefName"],
        base_branch=node["baseRefName"],
        head_sha=node["headRefOid"],
        title=node["title"],
        url=node["url"],
        merge_sha=(node.get("mergeCommit") or {}).get("oid") if merged else None,
    )


#: ``beforeOid`` all zeros: the ref must not exist; ``afterOid``: delete it.
ZERO_OID = "0" * 40

#: How many pull requests a connection reads at once (GitHub's maximum).
PAGE = 100

#: How many open pull requests from the branch are read with their files.
OPEN_PULLS = 3


class Document(NamedTuple):
    """A GraphQL document and the variables it is sent with."""

    text: str
    variables: dict[str, Any]


class RepositoryRead(NamedTuple):
    """What ``observe`` reads of one repository: ``base`` and ``branch`` are
    branch names (``base`` empty: the default branch), ``paths`` the files
    the request touches, ``contents`` those whose text it reads."""

    owner: str
    name: str
    base: str
    branch: str
    paths: Sequence[str] = ()
    contents: Sequence[str] = ()
    #: also read the merge gate of the open pull requests from the branch
    #: and whether base has a merge queue (only when the request automerges)
    gates: bool = False
    #: also read the open pull requests' metadata (``METADATA_FIELDS``), and
    #: the repository's milestones (only when the request names them)
    metadata: bool = False
    milestones: bool = False


_FRAGMENTS = {
    "CommitFacts": """
fragment CommitFacts on Commit {
  oid
  message
  tree { oid }
  author { name email date }
  committer { name email date }
  signature { isValid state }
}
""",
    "RefFacts": """
fragment RefFacts on Ref {
  id
  name
  target { oid ... on Commit { tree { oid } } }
  branchProtectionRule { id pattern }
  refUpdateRule { pattern allowsForcePushes }
}
""",
    "PullRequestFacts": """
fragment PullRequestFacts on PullRequest {
  id
  number
  state
  merged
  isDraft
  baseRefName
  headRefName
  headRefOid
  title
  body
  url
  isCrossRepository
  mergeCommit { oid }
  author { login }
}
""",
    "BlobText": """
fragment BlobText on GitObject {
  __typename
  oid
  ... on Blob { byteSize isBinary text }
}
""",
    "DirectoryEntries": """
fragment DirectoryEntries on GitObject {
  __typename
  oid
  ... on Tree { entries { name type mode oid } }
}
""",
}


#: What an open pull request's merge gate is read from (no connection: the
#: observe query's node cost does not change). The required checks need the
#: pull request's number (``isRequired(pullRequestNumber:)``): they are read by
#: ``PULL_REQUEST_GATE``, and only when the state is ``BLOCKED`` or ``UNKNOWN``.
GATE_FIELDS = (
    "id isDraft mergeStateStatus reviewDecision "
    "autoMergeRequest { enabledAt mergeMethod enabledBy { __typename login } } "
    "mergeQueueEntry { state enqueuer { __typename login } }"
)

#: Who armed an open pull request's auto-merge: read for every request (an
#: object, no node cost), so that a commit under automerge off knows it.
ARMING_FIELDS = "autoMergeRequest { enabledBy { __typename login } }"


#: What base's branch protection requires (``Ref.branchProtectionRule``): the
#: required status check contexts are the only way GitHub names a required
#: check nobody reported yet (``statusCheckRollup`` lists only reported ones).
#: Contexts required only by a repository ruleset are not here (see
#: docs/github.md). An object, not a connection: no node cost. Read by
#: ``PULL_REQUEST_GATE`` only: which contexts reported needs the head's rollup,
#: which the observe query does not read.
GATE_RULE_FIELDS = (
    "requiredStatusCheckContexts requiresStrictStatusChecks requiredApprovingReviewCount"
)


#: An open pull request's metadata: labels, assignees, review requests
#: (users and teams), the latest review of each reviewer, milestone, draft.
#: Four connections of 100 on each of the ``OPEN_PULLS`` pull requests.
METADATA_FIELDS = (
    "isDraft labels(first: 100) { totalCount nodes { name } } "
    "assignees(first: 100) { totalCount nodes { login } } "
    "reviewRequests(first: 100) { totalCount nodes { requestedReviewer { __typename "
    "... on User { login } ... on Team { slug } } } } "
    "latestReviews(first: 100) { totalCount nodes { author { login } } } "
    "milestone { title } author { login }"
)

#: The repository's milestones, open and closed (for a title's number).
_MILESTONES_FIELD = (
    f"    milestones(first: {100}, states: [OPEN, CLOSED]) "
    "{ totalCount nodes { title number state } }\n"
)


def _with_fragments(text: str) -> str:
    """``text`` with the fragments it spreads (GraphQL refuses unused ones)."""
    used = [body for name, body in _FRAGMENTS.items() if f"...{name}" in text]
    return text + "".join(used)


def parent_directories(paths: Sequence[str]) -> list[str]:
    """The distinct parent directories of ``paths``, in first-seen order
    (``""`` is the root)."""
    seen: dict[str, None] = {}
    for path in paths:
        seen.setdefault(path.rpartition("/")[0], None)
    return list(seen)


def ancestor_directories(paths: Sequence[str]) -> list[str]:
    """Every directory above each of ``paths`` (the root ``""`` first, then
    down to the parent), distinct, in first-seen order."""
    seen: dict[str, None] = {}
    for path in paths:
        parts = path.split("/")[:-1]
        seen.setdefault("", None)
        for depth in range(1, len(parts) + 1):
            seen.setdefault("/".join(parts[:depth]), None)
    return list(seen)


def _expression(revision: str, directory: str) -> str:
    """``object(expression:)`` for a directory at a revision: ``REV:dir``
    (``REV:`` is the root tree)."""
    return f"{revision}:{directory}"


def _observe_paths(i: str, read: RepositoryRead, base: str, variables: dict[str, Any]) -> str:
    """The ancestor directories of the paths (``bK``/``hK``) and the edited
    files' text (``btK``/``htK``) on base and branch."""
    head = f"refs/heads/{read.branch}"
    parts = []
    for number, directory in enumerate(ancestor_directories(read.paths)):
        variables[f"b{i}_{number}"] = _expression(base, directory)
        variables[f"h{i}_{number}"] = _expression(head, directory)
        parts.append(
            f"    b{number}: object(expression: $b{i}_{number}) {{ ...DirectoryEntries }}\n"
            f"    h{number}: object(expression: $h{i}_{number}) {{ ...DirectoryEntries }}\n"
        )
    for number, path in enumerate(read.contents):
        variables[f"bt{i}_{number}"] = _expression(base, path)
        variables[f"ht{i}_{number}"] = _expression(head, path)
        parts.append(
            f"    bt{number}: object(expression: $bt{i}_{number}) {{ ...BlobText }}\n"
            f"    ht{number}: object(expression: $ht{i}_{number}) {{ ...BlobText }}\n"
        )
    return "".join(parts)


def _observe_one(index: int, read: RepositoryRead, variables: dict[str, Any]) -> str:
    i = str(index)
    variables.update(
        {
            f"owner{i}": read.owner,
            f"name{i}": read.name,
            f"head{i}": f"refs/heads/{read.branch}",
            f"headName{i}": read.branch,
        }
    )
    if read.base:
        variables[f"base{i}"] = f"refs/heads/{read.base}"
        variables[f"baseName{i}"] = read.base
        base_field = f"base: ref(qualifiedName: $base{i})"
        from_base = (
            f"    fromBase: pullRequests(headRefName: $baseName{i}, first: {PAGE}) "
            "{ totalCount nodes { ...PullRequestFacts } }\n"
        )
    else:  # the default branch: HEAD names it in an expression
        base_field, from_base = "base: defaultBranchRef", ""
    return (
        f"  r{i}: repository(owner: $owner{i}, name: $name{i}) {{\n"
        "    id\n    nameWithOwner\n"
        "    defaultBranchRef { name target { oid } }\n"
        f"    {base_field} {{\n"
        "      ...RefFacts\n"
        f"      compare(headRef: $headName{i}) {{\n"
        "        aheadBy behindBy status\n"
        f"        commits(first: {PAGE}) {{ totalCount nodes {{ ...CommitFacts }} }}\n"
        "      }\n    }\n"
        f"    head: ref(qualifiedName: $head{i}) {{ ...RefFacts }}\n"
        f"    fromBranch: pullRequests(headRefName: $headName{i}, first: {PAGE}) "
        "{ totalCount nodes { ...PullRequestFacts } }\n"
        + from_base
        + f"    intoBranch: pullRequests(baseRefName: $headName{i}, states: [OPEN], first: {PAGE}) "
        "{ totalCount nodes { ...PullRequestFacts } }\n"
        f"    openFromBranch: pullRequests(headRefName: $headName{i}, states: [OPEN], "
        f"first: {OPEN_PULLS}) {{ nodes {{ number baseRefName headRefOid isCrossRepository "
        f"changedFiles files(first: {PAGE}) {{ totalCount nodes {{ path changeType }} }}"
        + f" {ARMING_FIELDS}"
        + (f" {GATE_FIELDS}" if read.gates else "")
        + (f" {METADATA_FIELDS}" if read.metadata else "")
        + " } }\n"
        + (_MILESTONES_FIELD if read.milestones else "")
        + (_merge_queue_field(i if read.base else None) if read.gates else "")
        + _observe_paths(i, read, variables[f"base{i}"] if read.base else "HEAD", variables)
        + "  }\n"
    )


def _merge_queue_field(i: str | None) -> str:
    """``mergeQueue`` of base (null without one): named, or the default
    branch's when base is not named (GitHub's default for no argument)."""
    argument = "" if i is None else f"(branch: $baseName{i})"
    return f"    mergeQueue{argument} {{ id }}\n"


def _declarations(variables: Mapping[str, Any]) -> str:
    return ", ".join(f"${name}: String!" for name in variables)


def observe_document(reads: Sequence[RepositoryRead]) -> Document:
    """One query reading what ``observe`` needs of every repository in
    ``reads`` (alias ``rN`` for ``reads[N]``). Within a repository, ``bK`` and
    ``hK`` are the ``K``-th of ``ancestor_directories(paths)`` on base and
    branch (null where the branch or the directory does not exist), ``btK``
    and ``htK`` the ``K``-th of ``contents`` (null where no such object)."""
    variables: dict[str, Any] = {}
    bodies = [_observe_one(index, read, variables) for index, read in enumerate(reads)]
    text = f"query Observe({_declarations(variables)}) {{\n  viewer {{ __typename login }}\n{''.join(bodies)}}}\n"
    return Document(_with_fragments(text), variables)


#: ``observe_document`` for one repository and no paths.
OBSERVE = observe_document([RepositoryRead("OWNER", "NAME", "BASE", "BRANCH")]).text

_COMMIT_FIELD = """
  commit: createCommitOnBranch(input: {
    branch: {repositoryNameWithOwner: $repository, branchName: $branch},
    expectedHeadOid: $expectedHeadOid,
    message: {headline: $headline, body: $body},
    fileChanges: {additions: $additions, deletions: $deletions}
  }) {
    commit { oid tree { oid } committer { name email } signature { isValid state } }
  }
"""

_COMMIT_VARIABLES = (
    "$repository: String!, $branch: String!, $expectedHeadOid: GitObjectID!, "
    "$headline: String!, $body: String, $additions: [FileAddition!], $deletions: [FileDeletion!]"
)

#: A new branch at ``$oid`` (``$ref`` is ``refs/heads/BRANCH``), then one
#: commit on it (``$expectedHeadOid`` = ``$oid``). Variables: ``repositoryId``,
#: ``ref``, ``oid`` and the commit's (``repository`` is ``owner/name``,
#: ``branch`` the branch name, ``additions`` ``[{path, contents}]`` base64,
#: ``deletions`` ``[{path}]``).
WRITE_BRANCH_AND_COMMIT = (
    f"mutation WriteBranchAndCommit($repositoryId: ID!, $ref: String!, $oid: GitObjectID!, "
    f"{_COMMIT_VARIABLES}) {{\n"
    "  branch: createRef(input: {repositoryId: $repositoryId, name: $ref, oid: $oid}) {\n"
    "    ref { name target { oid } }\n  }" + _COMMIT_FIELD + "}\n"
)

#: An existing branch reset from exactly ``$beforeOid`` to ``$oid`` (an exact
#: compare-and-swap: ``STALE_DATA`` and nothing changed if it moved), then one
#: commit on it (``$expectedHeadOid`` = ``$oid``).
RESET_BRANCH_AND_COMMIT = (
    f"mutation ResetBranchAndCommit($repositoryId: ID!, $ref: GitRefname!, "
    f"$beforeOid: GitObjectID!, $oid: GitObjectID!, {_COMMIT_VARIABLES}) {{\n"
    "  branch: updateRefs(input: {repositoryId: $repositoryId, refUpdates: [\n"
    "    {name: $ref, beforeOid: $beforeOid, afterOid: $oid, force: true}\n"
    "  ]}) {\n    clientMutationId\n  }" + _COMMIT_FIELD + "}\n"
)

CREATE_PULL_REQUEST = """
mutation CreatePullRequest($repositoryId: ID!, $base: String!, $head: String!,
                           $title: String!, $body: String, $draft: Boolean) {
  createPullRequest(input: {repositoryId: $repositoryId, baseRefName: $base,
                            headRefName: $head, title: $title, body: $body, draft: $draft}) {
    pullRequest { ...PullRequestFacts }
  }
}

fragment PullRequestFacts on PullRequest {
  id number state merged isDraft baseRefName headRefName headRefOid title body url
  mergeCommit { oid }
  author { login }
}
"""

#: ``$mergeMethod``: MERGE, SQUASH or REBASE; refused with ``STALE_DATA``
#: when the pull request's head is not ``$expectedHeadOid``.
MERGE_PULL_REQUEST = """
mutation MergePullRequest($pullRequestId: ID!, $mergeMethod: PullRequestMergeMethod,
                          $expectedHeadOid: GitObjectID!) {
  mergePullRequest(input: {pullRequestId: $pullRequestId, mergeMethod: $mergeMethod,
                           expectedHeadOid: $expectedHeadOid}) {
    pullRequest { number state merged headRefOid mergeCommit { oid } }
  }
}
"""

#: Atomic compare-and-swap of refs: ``$refUpdates`` ``[{name, beforeOid,
#: afterOid, force}]``; ``afterOid`` all zeros deletes the ref only if it is
#: still at ``beforeOid`` (the safe way to delete a branch).
UPDATE_REFS = """
mutation UpdateRefs($repositoryId: ID!, $refUpdates: [RefUpdate!]!) {
  updateRefs(input: {repositoryId: $repositoryId, refUpdates: $refUpdates}) {
    clientMutationId
  }
}
"""

#: One commit on an existing branch, only if its head is ``$expectedHeadOid``
#: (a fast-forward; ``STALE_DATA`` and nothing changed if it moved).
COMMIT_ON_BRANCH = f"mutation CommitOnBranch({_COMMIT_VARIABLES}) {{" + _COMMIT_FIELD + "}\n"

#: A new ref (``$ref`` is ``refs/heads/BRANCH``) at ``$oid``.
CREATE_REF = """
mutation CreateRef($repositoryId: ID!, $ref: String!, $oid: GitObjectID!) {
  createRef(input: {repositoryId: $repositoryId, name: $ref, oid: $oid}) {
    ref { name target { oid } }
  }
}
"""

#: A branch's head with its tree and parents: what a write whose answer was
#: lost reads back to tell its own commit from someone else's.
BRANCH_HEAD = """
query BranchHead($owner: String!, $name: String!, $ref: String!) {
  repository(owner: $owner, name: $name) {
    id
    ref(qualifiedName: $ref) {
      target {
        oid
        ... on Commit { message tree { oid } parents(first: 2) { nodes { oid } } }
      }
    }
  }
}
"""


def directories_document(
    owner: str, name: str, commit: str, directories: Sequence[str]
) -> Document:
    """One query for the repository's node id and the listing of each of
    ``directories`` at ``commit`` (``dirN``; ``""`` is the root): what a
    commit through ``createCommitOnBranch`` needs to predict its tree."""
    variables: dict[str, Any] = {"owner": owner, "name": name}
    parts = []
    for index, directory in enumerate(directories):
        variables[f"dir{index}"] = _expression(commit, directory)
        parts.append(f"    dir{index}: object(expression: $dir{index}) {{ ...DirectoryEntries }}\n")
    text = (
        f"query Directories({_declarations(variables)}) {{\n"
        "  repository(owner: $owner, name: $name) {\n    id\n" + "".join(parts) + "  }\n}\n"
    )
    return Document(_with_fragments(text), variables)


#: Delete a ref by its node id (``Ref.id``), whatever it points at.
DELETE_REF = """
mutation DeleteRef($refId: ID!) {
  deleteRef(input: {refId: $refId}) { clientMutationId }
}
"""


#: One pull request with its merge gate: ``GATE_FIELDS``, the head commit's
#: checks, each saying whether base requires it for this pull request, and
#: base's protection rule (the required contexts, also those not reported).
#: Variables: ``owner``, ``name``, ``number`` (an Int).
PULL_REQUEST_GATE = _with_fragments(
    """
query PullRequestGate($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      ...PullRequestFacts
      """
    + GATE_FIELDS
    + """
      baseRef { branchProtectionRule { """
    + GATE_RULE_FIELDS
    + """ } }
      commits(last: 1) {
        nodes {
          commit {
            oid
            statusCheckRollup {
              state
              contexts(first: 100) {
                totalCount
                nodes {
                  __typename
                  ... on CheckRun {
                    name status conclusion isRequired(pullRequestNumber: $number)
                  }
                  ... on StatusContext {
                    context state isRequired(pullRequestNumber: $number)
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}
"""
)

#: A pull request's node id and head: what a mutation on it needs.
PULL_REQUEST_ID = """
query PullRequestId($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) { id number headRefOid }
  }
}
"""

#: Whether ``$branch`` is merged into through a merge queue (null: it is not).
MERGE_QUEUE = """
query MergeQueue($owner: String!, $name: String!, $branch: String!) {
  repository(owner: $owner, name: $name) {
    mergeQueue(branch: $branch) { id }
  }
}
"""

#: GitHub's native auto-merge, refused with ``STALE_DATA`` when the head is
#: not ``$expectedHeadOid``.
ENABLE_AUTO_MERGE = """
mutation EnableAutoMerge($pullRequestId: ID!, $mergeMethod: PullRequestMergeMethod,
                         $expectedHeadOid: GitObjectID!) {
  enablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId, mergeMethod: $mergeMethod,
                                     expectedHeadOid: $expectedHeadOid}) {
    pullRequest { number headRefOid autoMergeRequest { enabledAt mergeMethod } }
  }
}
"""

#: A draft marked ready for review (GitHub has no REST for it).
MARK_READY_FOR_REVIEW = """
mutation MarkReadyForReview($pullRequestId: ID!) {
  markPullRequestReadyForReview(input: {pullRequestId: $pullRequestId}) {
    pullRequest { number isDraft }
  }
}
"""

#: Into base's merge queue (no merge method: the queue decides).
ENQUEUE_PULL_REQUEST = """
mutation EnqueuePullRequest($pullRequestId: ID!, $expectedHeadOid: GitObjectID!) {
  enqueuePullRequest(input: {pullRequestId: $pullRequestId, expectedHeadOid: $expectedHeadOid}) {
    mergeQueueEntry { state }
  }
}
"""

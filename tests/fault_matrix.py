"""The fault matrix: every request prplan makes for a change (the writes and
the reads before them) × every kind of fault, each run to its end.

A case ends *converged* (the re-plan is empty, after at most one re-run:
faults are one-off), or with a *typed error* (a PrplanError whose message
says what happened), and in every case is checked for *violations*: more
than one pull request, the change lost or doubled, a merge nobody asked for.
``tests/test_github_faults.py`` runs a subset; ``benchmarks/fault_matrix.py``
runs all of it and prints the figures in docs/reliability.md.
"""

from __future__ import annotations

from typing import Any

import attrs

import prplan

from served import Served

REPO = "acme/app"
BRANCH = "prplan/bump"

#: (name, method, path regex, needs an open PR first)
POINTS: tuple[tuple[str, str, str, bool], ...] = (
    ("read-repo", "GET", r"^/repos/acme/app$", False),
    ("read-branch", "GET", r"/branches/main$", False),
    ("read-tree", "GET", r"/git/trees/", False),
    ("read-pulls", "GET", r"/pulls$", False),
    ("read-compare", "GET", r"/compare/", True),
    ("write-blob", "POST", r"/git/blobs$", False),
    ("write-tree", "POST", r"/git/trees$", False),
    ("write-commit", "POST", r"/git/commits$", False),
    ("write-create-ref", "POST", r"/git/refs$", False),
    ("write-update-ref", "PATCH", r"/git/refs/heads/", True),
    ("write-open-pr", "POST", r"/pulls$", False),
    ("write-merge", "PUT", r"/merge$", False),
    ("write-delete-branch", "DELETE", r"/git/refs/heads/", False),
)

#: REST's own answers: no GraphQL point can meet them.
REST_ONLY_FAULTS = frozenset({"422-race", "405-base-modified"})

#: The same run over GraphQL (``transport="graphql"``): every document is a
#: POST to /graphql, so a point is the k-th one (``skip``), checked to be
#: the operation named. (name, operation, skip, needs an open PR first)
GRAPHQL_POINTS: tuple[tuple[str, str, int, bool], ...] = (
    ("gql-observe", "Observe", 0, False),
    ("gql-recheck", "Observe", 1, False),
    ("gql-write-branch-and-commit", "WriteBranchAndCommit", 2, False),
    ("gql-commit-on-branch", "CommitOnBranch", 2, True),
    ("gql-open-pr", "CreatePullRequest", 3, False),
    ("gql-merge", "MergePullRequest", 4, False),
    ("gql-delete-branch", "UpdateRefs", 5, False),
)

FAULTS: dict[str, dict[str, Any]] = {
    "500": {"status": 500},
    "502": {"status": 502},
    "503": {"status": 503},
    "403-retry-after": {
        "status": 403,
        "headers": {"Retry-After": "0"},
        "message": "You have exceeded a secondary rate limit",
    },
    "429-retry-after": {
        "status": 429,
        "headers": {"Retry-After": "0"},
        "message": "Too many requests",
    },
    "403-primary-limit": {
        "status": 403,
        "headers": {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "+1"},
        "message": "API rate limit exceeded for user ID 1.",
    },
    "drop-before": {"drop": "before"},
    "drop-after": {"drop": "after"},
    "slow": {"delay": 1.5},  # beyond the client's 1 s timeout
    "422-race": {"status": 422, "message": "Reference already exists"},
    "405-base-modified": {
        "status": 405,
        "message": "Base branch was modified. Review and try the merge again.",
    },
}


@attrs.frozen
class CaseResult:
    point: str
    fault: str
    verdict: str  # converged | typed_error
    violations: tuple[str, ...]
    injected: bool
    detail: str = ""


def _forge(*, open_pr: bool) -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n", "logo.png": b"\x89PNG\x00old"})
    if open_pr:  # an earlier run's pull request, left for review: this run updates it
        first = prplan.ChangeRequest(repo=REPO, branch=BRANCH, files={"values.yaml": "tag: 1.5\n"})
        prplan.apply(prplan.plan(prplan.observe(forge, first), first), forge)
    return forge


def request() -> prplan.ChangeRequest:
    return prplan.ChangeRequest(
        repo=REPO,
        branch=BRANCH,
        files={
            "values.yaml": "tag: 2\n",
            "logo.png": b"\x89PNG\x00new\xff",
        },  # binary: a blob write
        automerge=True,
        delete_branch=True,
    )


def _run(client: prplan.GitHubClient, change: prplan.ChangeRequest) -> prplan.Outcome:
    return prplan.apply(prplan.plan(prplan.observe(client, change), change), client)


def _served(server: Any, point: str, fault: str) -> tuple[Served, str, int]:
    """A forge for ``point`` (of ``POINTS``, REST, or of ``GRAPHQL_POINTS``)
    with ``fault`` at it; for GraphQL, the operation and index it must meet."""
    graphql = next((p for p in GRAPHQL_POINTS if p[0] == point), None)
    if graphql is not None:
        _, operation, skip, open_pr = graphql
        served = Served(server, _forge(open_pr=open_pr))
        served.faults.add(method="POST", path=r"/graphql$", skip=skip, **FAULTS[fault])
        return served, operation, skip
    _, method, path, open_pr = next(p for p in POINTS if p[0] == point)
    served = Served(server, _forge(open_pr=open_pr))
    served.faults.add(method=method, path=path, **FAULTS[fault])
    return served, "", 0


def run_case(server: Any, point: str, fault: str) -> CaseResult:
    """A point of ``POINTS`` (REST) or of ``GRAPHQL_POINTS`` (GraphQL)."""
    served, operation, skip = _served(server, point, fault)
    transport = "graphql" if operation else "rest"
    client = served.new_client(
        transport=transport, timeout=1, retries=3, backoff=0.0, sleep=lambda seconds: None
    )
    change = request()
    verdict, detail = "converged", ""
    try:
        first: prplan.Outcome | None = _run(client, change)
    except prplan.PrplanError as error:
        first, verdict, detail = None, "typed_error", f"{type(error).__name__}: {error}"
    if first is not None and not first.ok:
        verdict, detail = "typed_error", f"{first.error_type}: {first.error}"
    if verdict == "typed_error":
        served.faults.clear()
        _run(client, change)  # running again must finish the job
    forge = served.forge
    violations = []
    if not prplan.plan(prplan.observe(client, change), change).is_empty:
        violations.append("not converged after a re-run")
    if forge.read_file(REPO, "main", "values.yaml") != b"tag: 2\n":
        violations.append("the change is not on main")
    pulls = forge.pull_requests(REPO)
    if [p.merged for p in pulls] != [True]:
        violations.append(f"pull requests: {[(p.number, p.state, p.merged) for p in pulls]}")
    ours = [
        c
        for c in forge.log(REPO, "main")
        if c.by_prplan and change.request_id in _message(forge, c.sha)
    ]
    if len(ours) != 1:
        violations.append(f"{len(ours)} commits of the change on main")
    violations += served.violations
    if operation and served.check.operations[skip : skip + 1] != [operation]:
        violations.append(
            f"the fault met {served.check.operations[skip : skip + 1]}, not {operation}"
        )
    return CaseResult(
        point=point, fault=fault, verdict=verdict, violations=tuple(violations),
        injected=bool(served.faults.injected) or verdict == "typed_error", detail=detail[:300],
    )  # fmt: skip


def _message(forge: prplan.LocalForge, sha: str) -> str:
    return forge.git_object(REPO, sha).message.decode()  # type: ignore[union-attr]

"""What the hostile review of issue 13 (GraphQL transport) found, as tests.

Each finding against the local forge served over HTTP, GitHub's answers
rewritten where the forge would never give them (a token echoed in an error,
``RATE_LIMITED``, "Base branch was modified"), by ``Meddler``: a WSGI wrapper
that can act before a GraphQL operation reaches the forge and rewrite its
answer. Sleeps are injected: nothing here waits for real.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from click.testing import CliRunner
from dulwich.objects import Blob, Commit, Tree

import prplan
from prplan.cli import cli
from prplan.errors import ConflictError, ForgeError, MergeBlocked
from prplan.forges.github import graphql_reads
from prplan.forges.github.graphql_documents import RepositoryRead, observe_document
from prplan.forges.github.transport import rate_limit_wait
from prplan.forges.github.tree_prediction import listing_of, predict_tree
from prplan.forges.local.server.app import ForgeServer

from served import TOKEN, Served

REPO = "acme/app"
BRANCH = "prplan/up"

#: An answer: the JSON to send instead of the forge's (None: the forge's).
Answer = dict[str, Any] | None


def _operation(body: bytes) -> str:
    try:
        query = json.loads(body).get("query", "")
    except ValueError:
        return "?"
    found = re.search(r"\b(?:query|mutation)\s+(\w+)", query)
    return found.group(1) if found else "?"


class Meddler:
    """WSGI middleware over a served forge's app for GraphQL documents:
    ``before(operation)`` runs first (it may act as a human, or answer in
    the forge's place), ``after(operation, answer)`` may replace the
    forge's answer. ``operations``: every GraphQL operation posted."""

    def __init__(
        self,
        served: Served,
        *,
        before: Callable[[str], Answer] = lambda op: None,
        after: Callable[[str, dict[str, Any]], Answer] = lambda op, answer: None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.app, self.before, self.after = served.check, before, after
        self.headers = headers or {}
        self.operations: list[str] = []
        served.server.serve(self)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not environ.get("PATH_INFO", "").endswith("/graphql"):
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        operation = _operation(body)
        self.operations.append(operation)
        answer = self.before(operation)
        if answer is not None:
            return self._send(start_response, "200 OK", [], answer)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers)
            return lambda data: None

        out = b"".join(self.app(environ, capture))
        replaced = self.after(operation, json.loads(out)) if out.startswith(b"{") else None
        if replaced is None:
            start_response(captured["status"], captured["headers"])
            return [out]
        return self._send(start_response, captured["status"], captured["headers"], replaced)

    def _send(
        self, start_response: Callable[..., Any], status: str, headers: Iterable[Any], answer: Any
    ) -> list[bytes]:
        out = json.dumps(answer).encode()
        kept = [(k, v) for k, v in headers if k.lower() not in ("content-length", "content-type")]
        kept += [("Content-Type", "application/json"), ("Content-Length", str(len(out)))]
        kept += list(self.headers.items())
        start_response(status, kept)
        return [out]


def _forge() -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"a/v.yaml": "tag: 1\n"})
    return forge


def _request(**options: Any) -> prplan.ChangeRequest:
    return prplan.ChangeRequest(repo=REPO, branch=BRANCH, files={"a/v.yaml": "tag: 2\n"}, **options)


def _client(served: Served, transport: str = "graphql", **options: Any) -> prplan.GitHubClient:
    options.setdefault("sleep", lambda seconds: None)
    return served.new_client(transport=transport, retries=0, backoff=0.0, timeout=5, **options)


def _run(client: prplan.GitHubClient, request: prplan.ChangeRequest) -> prplan.Outcome:
    plan = prplan.plan(prplan.observe(client, request), request)
    return prplan.apply(plan, client, recheck=False)


def _field_error(field: str, kind: str, message: str) -> dict[str, Any]:
    return {"data": {field: None}, "errors": [{"type": kind, "path": [field], "message": message}]}


# --- 1. tokens in GraphQL errors -------------------------------------------------------

ECHOED = f"Resource not accessible by integration (token {TOKEN})"

#: operation -> the answer that echoes the token: a field's error, or the
#: document's own (no path).
TOKEN_ANSWERS: dict[str, tuple[str, dict[str, Any]]] = {
    "branch field": ("WriteBranchAndCommit", _field_error("branch", "FORBIDDEN", ECHOED)),
    "commit field": ("WriteBranchAndCommit", _field_error("commit", "FORBIDDEN", ECHOED)),
    "pull request": ("CreatePullRequest", _field_error("createPullRequest", "FORBIDDEN", ECHOED)),
    "merge": ("MergePullRequest", _field_error("mergePullRequest", "FORBIDDEN", ECHOED)),
    "merge blocked": (
        "MergePullRequest", _field_error("mergePullRequest", "UNPROCESSABLE", ECHOED)
    ),
    "document": ("WriteBranchAndCommit", {"errors": [{"message": f"Bad credentials {TOKEN}"}]}),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(TOKEN_ANSWERS))
def test_a_token_echoed_in_a_graphql_error_never_reaches_the_outcome(
    case: str, forge_server: ForgeServer
) -> None:
    operation, answer = TOKEN_ANSWERS[case]
    served = Served(forge_server, _forge())

    Meddler(served, before=lambda op: answer if op == operation else None)
    outcome = _run(_client(served), _request(automerge=True))
    assert outcome.status is prplan.OutcomeStatus.FAILED, outcome
    shown = repr(outcome) + outcome.to_json() + str(outcome.error)
    assert TOKEN not in shown
    assert "***" in str(outcome.error), outcome.error  # the message is there, the token masked


@pytest.mark.parametrize("mutation", ["EnableAutoMerge", "EnqueuePullRequest"])
def test_a_token_echoed_when_arming_a_merge_never_reaches_the_error(
    mutation: str, forge_server: ForgeServer
) -> None:
    served = Served(forge_server, _forge())
    client = _client(served)
    served.forge.push(REPO, "feature", {"f": "f\n"})
    pr = served.forge.open_pr(REPO, "feature", "main")
    field = "enablePullRequestAutoMerge" if mutation.startswith("Enable") else "enqueuePullRequest"
    Meddler(
        served,
        after=lambda op, _: _field_error(field, "FORBIDDEN", ECHOED) if op == mutation else None,
    )
    head = served.forge.branches(REPO)["feature"]
    with pytest.raises(ForgeError) as raised:
        if field == "enqueuePullRequest":
            client.enqueue(REPO, pr, expected_head_sha=head)
        else:
            client.enable_auto_merge(
                REPO, pr, method=prplan.MergeMethod.MERGE, expected_head_sha=head
            )
    assert TOKEN not in str(raised.value) and "***" in str(raised.value)


def test_a_token_echoed_in_a_graphql_error_never_reaches_the_cli(
    forge_server: ForgeServer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = Served(forge_server, _forge())
    Meddler(
        served,
        after=lambda op, _: TOKEN_ANSWERS["pull request"][1] if op == "CreatePullRequest" else None,
    )
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    values = tmp_path / "v.yaml"
    values.write_text("tag: 2\n")
    change = ["--repo", REPO, "--branch", BRANCH, "--file", f"a/v.yaml={values}"]
    where = ["--github-url", forge_server.api_url, "--yes", "--github-transport", "graphql"]
    result = CliRunner().invoke(cli, ["apply", *change, *where, "--format", "json"])
    assert result.exit_code != 0
    assert "Resource not accessible" in result.output
    assert TOKEN not in result.output


# --- 3. RATE_LIMITED -------------------------------------------------------------------

LIMITED = {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}]}


def test_the_wait_after_rate_limited_follows_githubs_guidance() -> None:
    now = 1_000.0
    # the primary limit spent: until its reset (and a second)
    spent = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1030", "Retry-After": "5"}
    assert rate_limit_wait(spent, now) == 31.0
    # points left: a secondary limit; its retry-after, else a minute, never the reset
    assert rate_limit_wait({"x-ratelimit-remaining": "4990", "retry-after": "7"}, now) == 7.0
    assert (
        rate_limit_wait({"x-ratelimit-remaining": "4990", "x-ratelimit-reset": "4000"}, now) == 60
    )
    assert rate_limit_wait({}, now) == 60.0


def _fake_answers(client: prplan.GitHubClient, answers: list[tuple[dict[str, str], Any]]) -> None:
    requester = client._http.github.requester
    requester.requestJsonAndCheck = lambda *a, **k: answers.pop(0)  # type: ignore[method-assign]


def test_a_secondary_limit_waits_its_retry_after_not_the_reset(forge_server: ForgeServer) -> None:
    served = Served(forge_server, _forge())
    slept: list[float] = []
    client = _client(served, sleep=slept.append, max_rate_limit_wait=120)
    far = str(int(time.time()) + 3000)
    _fake_answers(client, [
        ({"x-ratelimit-remaining": "4000", "x-ratelimit-reset": far}, LIMITED),
        ({"x-ratelimit-remaining": "4000", "x-ratelimit-reset": far, "retry-after": "9"}, LIMITED),
        ({}, {"data": {"ok": 1}}),
    ])  # fmt: skip
    assert client._http.graphql("query { ok }", {}, mutation=False) == ({"ok": 1}, [])
    assert slept == [60.0, 9.0]


def test_still_rate_limited_names_the_operation_and_the_tries(forge_server: ForgeServer) -> None:
    served = Served(forge_server, _forge())
    slept: list[float] = []
    Meddler(served, after=lambda op, _: LIMITED if op == "Observe" else None)
    client = _client(served, sleep=slept.append, max_rate_limit_wait=120)
    with pytest.raises(ForgeError, match=r"observing acme/app over GraphQL: .*still rate limited "
                       r"after 3 tries"):  # fmt: skip
        prplan.observe(client, _request())
    assert slept == [60.0, 60.0]


def test_a_wait_longer_than_allowed_is_not_slept(forge_server: ForgeServer) -> None:
    served = Served(forge_server, _forge())
    slept: list[float] = []
    client = _client(served, sleep=slept.append, max_rate_limit_wait=30)
    mine = client.commit_files(REPO, BRANCH, parent_sha=served.forge.branches(REPO)["main"],
                               files={"x": b"1\n"}, message="m", create=True)  # fmt: skip
    pr = client.create_pull_request(REPO, head=BRANCH, base="main", title="t", body="b")
    Meddler(served, after=lambda op, _: LIMITED if op == "MergePullRequest" else None)
    with pytest.raises(ForgeError, match=rf"merging pull request #{pr.number} of acme/app: .*"
                       r"wait 60 s, more than max_rate_limit_wait \(30 s\)"):  # fmt: skip
        client.merge_pull_request(REPO, pr.number, method="merge", expected_head_sha=mine)
    assert slept == []


def test_rate_limited_once_then_the_run_goes_on(forge_server: ForgeServer) -> None:
    served = Served(forge_server, _forge())
    slept: list[float] = []
    limited: list[str] = []

    def after(op: str, _: Any) -> Answer:
        if op in limited:
            return None
        limited.append(op)
        return LIMITED

    meddler = Meddler(served, after=after, headers={"Retry-After": "2"})
    outcome = _run(_client(served, sleep=slept.append), _request(automerge=True))
    assert outcome.status is prplan.OutcomeStatus.MERGED, outcome.error
    assert slept == [2.0] * len(limited) and len(limited) == 4, meddler.operations


# --- 2. a branch a human made or moved between observe and the write ------------------


def _human_takes(forge: prplan.LocalForge) -> None:
    """A human points the branch at base's head and opens a pull request from it."""
    forge.set_branch(REPO, BRANCH, "main")
    forge.open_pr(REPO, BRANCH, "release", title="human: ship main to release")


def _release_forge(stale: bool = False) -> prplan.LocalForge:
    """main one commit ahead of release; ``stale``: prplan's branch behind
    main with no pull request (the plan resets it)."""
    forge = _forge()
    forge.set_branch(REPO, "release", "main")
    if stale:
        message = "Old\n\nPrplan-Request: x"
        forge.push(REPO, BRANCH, {"a/v.yaml": "tag: 0\n"}, message=message, sealed=True)
    forge.push(REPO, "main", {"b.txt": "b\n"})
    return forge


@pytest.mark.parametrize("transport", ["rest", "graphql"])
@pytest.mark.parametrize("branch", ["created", "reset"])
def test_a_branch_a_human_made_meanwhile_is_not_taken_over(
    branch: str, transport: str, forge_server: ForgeServer
) -> None:
    forge = _release_forge(stale=branch == "reset")
    served = Served(forge_server, forge)
    client = _client(served, transport)
    request = _request()
    plan = prplan.plan(prplan.observe(client, request), request)
    kinds = [a.kind.value for a in plan.actions]
    assert kinds[0] == ("reset_branch" if branch == "reset" else "create_branch"), kinds
    _human_takes(forge)
    theirs = forge.branches(REPO)["main"]
    outcome = prplan.apply(plan, client, recheck=False)
    assert outcome.status is prplan.OutcomeStatus.FAILED, outcome
    assert outcome.error_type == "ConflictError", outcome.error
    assert forge.branches(REPO)[BRANCH] == theirs, "the human's branch is as they made it"
    assert [p.base_branch for p in forge.pull_requests(REPO)] == ["release"], "no prplan PR"
    said = "already exists" if branch == "created" else "any more"
    assert said in str(outcome.error), outcome.error


def test_prplan_says_so_when_its_commit_cannot_be_taken_back(forge_server: ForgeServer) -> None:
    forge = _release_forge()
    served = Served(forge_server, forge)
    client = _client(served)
    request = _request()
    plan = prplan.plan(prplan.observe(client, request), request)
    _human_takes(forge)
    pushed: list[str] = []

    def before(operation: str) -> Answer:
        if operation == "UpdateRefs" and not pushed:  # the human pushes again, on top
            pushed.append(forge.push(REPO, BRANCH, {"h.txt": "h\n"}))
        return None

    Meddler(served, before=before)
    outcome = prplan.apply(plan, client, recheck=False)
    assert outcome.error_type == "ConflictError" and pushed, outcome
    assert forge.branches(REPO)[BRANCH] == pushed[0], "their push stays"
    assert "could not be taken back" in str(outcome.error), outcome.error
    assert [p.base_branch for p in forge.pull_requests(REPO)] == ["release"]


# --- 4. names that are not UTF-8 ------------------------------------------------------


def _forge_with_a_name(name: bytes) -> prplan.LocalForge:
    """``apps/`` holds ``v.yaml`` and a file named ``name`` (raw bytes, as git allows)."""
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"apps/v.yaml": "tag: 1\n"})
    store = forge._git(REPO).object_store
    odd, values = Blob.from_string(b"x\n"), Blob.from_string(b"tag: 1\n")
    apps = Tree()
    apps.add(b"v.yaml", 0o100644, values.id)
    apps.add(name, 0o100644, odd.id)
    root = Tree()
    root.add(b"apps", 0o040000, apps.id)
    commit = Commit()
    commit.tree, commit.parents = root.id, [forge.branches(REPO)["main"].encode()]
    commit.author = commit.committer = b"H <h@example.com>"
    commit.author_time = commit.commit_time = 1_764_000_000
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = b"a name git allows\n"
    for obj in (odd, values, apps, root, commit):
        store.add_object(obj)
    forge.set_branch(REPO, "main", commit.id.decode())
    return forge


@pytest.mark.parametrize("name", [b"caf\xe9.txt", "café.txt".encode()], ids=["latin-1", "utf-8"])
def test_a_directory_with_a_name_that_is_not_utf8_converges(
    name: bytes, forge_server: ForgeServer
) -> None:
    forge = _forge_with_a_name(name)
    served = Served(forge_server, forge)
    client = _client(served)
    request = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"apps/v.yaml": "tag: 2\n"}, automerge=True
    )
    outcome = _run(client, request)
    assert outcome.status is prplan.OutcomeStatus.MERGED, outcome.error
    assert forge.read_file(REPO, "main", "apps/v.yaml") == b"tag: 2\n"
    again = prplan.plan(prplan.observe(client, request), request)
    assert again.actions == (), again.actions  # nothing left to do, no foreign commit


def test_a_listing_with_a_replaced_name_is_not_predicted() -> None:
    entries = [{"name": "caf\ufffd.txt", "mode": 0o100644, "oid": "a" * 40}]
    assert listing_of({"__typename": "Tree", "entries": entries}) is False
    listed = listing_of({"__typename": "Tree", "entries": [{**entries[0], "name": "café"}]})
    assert listed == {"café": (0o100644, "a" * 40)}
    assert predict_tree({"": listed}, {"x": b"1\n"}) is not None  # type: ignore[dict-item]


# --- 5. "Base branch was modified" -----------------------------------------------------

BASE_MODIFIED = "Base branch was modified. Review and try the merge again."


def _base_modified(served: Served, transport: str, times: int) -> list[str]:
    """The first ``times`` merges answer "Base branch was modified"; the
    merges tried (REST: the PUTs; GraphQL: the MergePullRequest documents)."""
    if transport == "rest":
        served.faults.add(method="PUT", path="/merge$", status=405, message=BASE_MODIFIED,
                          times=times)  # fmt: skip
        return []
    refused = _field_error("mergePullRequest", "UNPROCESSABLE", BASE_MODIFIED)
    tried: list[str] = []

    def before(operation: str) -> Answer:
        if operation != "MergePullRequest":
            return None
        tried.append(operation)
        return refused if len(tried) <= times else None

    Meddler(served, before=before)
    return tried


def _merges(served: Served, transport: str, tried: list[str]) -> int:
    if transport == "rest":
        return sum(1 for e in served.app.log.entries if e[0] == "PUT" and e[1].endswith("/merge"))
    return len(tried)


@pytest.mark.parametrize("transport", ["rest", "graphql"])
def test_base_branch_was_modified_is_tried_again(transport: str, forge_server: ForgeServer) -> None:
    served = Served(forge_server, _forge())
    slept: list[float] = []
    tried = _base_modified(served, transport, times=2)
    outcome = _run(_client(served, transport, sleep=slept.append), _request(automerge=True))
    assert outcome.status is prplan.OutcomeStatus.MERGED, outcome.error
    assert _merges(served, transport, tried) == 3 and slept == [1.0, 2.0]


@pytest.mark.parametrize("transport", ["rest", "graphql"])
def test_base_branch_modified_three_times_is_blocked(
    transport: str, forge_server: ForgeServer
) -> None:
    served = Served(forge_server, _forge())
    client = _client(served, transport)
    base = served.forge.branches(REPO)["main"]
    mine = client.commit_files(
        REPO, BRANCH, parent_sha=base, files={"x": b"1\n"}, message="m", create=True
    )
    pr = client.create_pull_request(REPO, head=BRANCH, base="main", title="t", body="b")
    tried = _base_modified(served, transport, times=3)
    served.app.log.reset()
    with pytest.raises(MergeBlocked, match="Base branch was modified"):
        client.merge_pull_request(REPO, pr.number, method="merge", expected_head_sha=mine)
    assert _merges(served, transport, tried) == 3
    assert not served.forge.pull_requests(REPO)[0].merged


# --- 6. the size of an observe query ---------------------------------------------------


def _reads(repos: int, files: int, depth: int) -> list[RepositoryRead]:
    """Synthetic reads: ``files`` per repository, each ``depth`` directories
    down a path of its own."""

    def path(i: int) -> str:
        return "/".join([*(f"d{k}-{i}" for k in range(depth)), "values.yaml"])

    paths = tuple(path(i) for i in range(files))  # the same change in every repository
    return [
        RepositoryRead("acme", f"app{r}", "main", BRANCH, paths, contents=(path(0),))
        for r in range(repos)
    ]


def test_every_observe_query_stays_within_the_bounds() -> None:
    flat, deep = _reads(10, 1000, 1), _reads(100, 1000, 4)
    small = _reads(100, 3, 2)
    started = time.monotonic()
    groups = list(graphql_reads.batches(deep + flat + small))
    built = [observe_document(group) for group in groups]
    elapsed = time.monotonic() - started
    for document in built:
        assert graphql_reads.document_bytes(document) <= graphql_reads.MAX_DOCUMENT_BYTES
        assert document.text.count("object(expression:") <= graphql_reads.MAX_LOOKUPS
    batched = [read for group in groups for read in group]
    # a 1,000-file change in 1,000 directories stays one query (the request
    # budget); in deeper trees (4,001 directories) it is read over REST
    assert batched == flat + small
    assert not any(graphql_reads.prefetchable(read) for read in deep)
    assert len(groups) == 10 + 2  # one flat read a query; 100 small ones, 50 a query
    assert elapsed < 3.0, f"building {len(groups)} queries took {elapsed:.1f} s"
    assert graphql_reads.node_cost(built[-1]) <= graphql_reads.MAX_NODES


def test_a_read_over_the_bounds_is_observed_over_rest(
    forge_server: ForgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graphql_reads, "MAX_LOOKUPS", 4)  # "a/v.yaml" alone: 4 lookups
    monkeypatch.setattr("prplan.forges.github.graphql_writes.MAX_LOOKUPS", 1)
    served = Served(forge_server, _forge())
    meddler = Meddler(served)
    client = _client(served)
    request = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"a/v.yaml": "tag: 2\n", "b/w.yaml": "w\n"}
    )
    outcome = _run(client, request)
    assert outcome.status is prplan.OutcomeStatus.CREATED, outcome.error
    assert "Observe" not in meddler.operations and "Directories" not in meddler.operations
    assert served.forge.read_file(REPO, BRANCH, "b/w.yaml") == b"w\n"
    again = prplan.plan(prplan.observe(client, request), request)
    assert [a.kind.value for a in again.actions] == [], again.actions


# --- 7. what a failed commit document says ---------------------------------------------


def test_a_repeated_commit_document_says_only_what_is_true(forge_server: ForgeServer) -> None:
    """The document sent again after prplan's commit landed (its answer lost)
    while a human pushed on top: createRef "already exists", the commit's
    head moved, not prplan's head to adopt. prplan's commit is on the branch,
    so "nothing was changed" would be untrue: this attempt changed nothing."""
    served = Served(forge_server, _forge())
    client = _client(served)
    base = served.forge.branches(REPO)["main"]
    write = {"parent_sha": base, "files": {"x": b"1\n"}, "message": "m", "create": True}
    mine = client.commit_files(REPO, BRANCH, **write)  # type: ignore[arg-type]
    theirs = served.forge.push(REPO, BRANCH, {"h.txt": "h\n"})
    with pytest.raises(ConflictError) as raised:
        client.commit_files(REPO, BRANCH, **write)  # type: ignore[arg-type]
    said = str(raised.value)
    assert "already exists" in said and "nothing was changed by this attempt" in said, said
    assert "earlier attempt" in said
    assert served.forge.branches(REPO)[BRANCH] == theirs
    assert served.forge.commit_parents(REPO, theirs) == [mine]

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
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from click.testing import CliRunner

import prplan
from prplan.cli import cli
from prplan.errors import ForgeError
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

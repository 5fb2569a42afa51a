"""Pull-request metadata end to end over HTTP (issue 15, item 2): a served
local forge and ``GitHubClient`` under both transports; what the forge's
pull request holds after each run, what a re-run plans, the requests a
metadata run costs, and every response on GitHub's OpenAPI schemas."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

import prplan
from prplan.core.states import METADATA_KINDS, ActionKind
from prplan.forges.local.server.app import ForgeServer

from served import Served

REPO = "acme/app"


@pytest.fixture(params=["graphql", "rest"])
def served(request: pytest.FixtureRequest, forge_server: ForgeServer) -> Iterator[Served]:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n"})
    forge.create_milestone(REPO, "2025-Q4")
    served = Served(forge_server, forge)
    served.client = served.new_client(transport=request.param, retries=3, backoff=0.0, timeout=5)
    yield served
    assert served.violations == [], "\n".join(served.violations)


def _request(**changes: object) -> prplan.ChangeRequest:
    fields: dict[str, object] = {
        "repo": REPO,
        "branch": "prplan/tag-2",
        "files": {"values.yaml": "tag: 2\n"},
        "title": "tag 2",
        "labels": ["deploy", "team/platform"],
        "assignees": ["alice"],
        "reviewers": ["bob", "carol"],
        "team_reviewers": ["acme/sre"],
        "milestone": "2025-Q4",
        "draft": True,
    }
    return prplan.ChangeRequest(**{**fields, **changes})  # type: ignore[arg-type]


def _run(
    client: prplan.GitHubClient, request: prplan.ChangeRequest
) -> tuple[prplan.Plan, prplan.Outcome]:
    plan = prplan.plan(prplan.observe(client, request), request)
    return plan, prplan.apply(plan, client)


def test_new_pull_request_gets_everything_then_a_rerun_plans_nothing_then_ready_then_merged(
    served: Served,
) -> None:
    forge, client = served.forge, served.client
    plan, outcome = _run(client, _request())
    assert [a.kind for a in plan.actions][-4:] == [
        ActionKind.ADD_LABELS, ActionKind.ADD_ASSIGNEES,
        ActionKind.REQUEST_REVIEWERS, ActionKind.SET_MILESTONE,
    ]  # fmt: skip
    assert outcome.status is prplan.OutcomeStatus.CREATED
    number = outcome.pull_request
    assert number is not None
    seen = forge.pull_request_metadata(REPO, number, reviews=True)
    assert seen.labels == ("deploy", "team/platform")
    assert seen.assignees == ("alice",)
    assert seen.requested_reviewers == ("bob", "carol")
    assert seen.requested_teams == ("sre",)
    assert seen.milestone == "2025-Q4"
    assert seen.draft is True

    # A human adds a label, bob reviews (his request drops off): nothing
    # is removed, bob is not asked again, nothing else is planned.
    forge.add_labels(REPO, number, ["hotfix"])
    forge.review(REPO, number, "bob", "COMMENT")
    again, outcome = _run(client, _request())
    assert again.is_empty, [a.kind for a in again.actions]
    assert any("bob already reviewed" in note for note in again.notes)
    assert outcome.status is prplan.OutcomeStatus.UNCHANGED

    ready, outcome = _run(client, _request(draft=False))
    assert [a.kind for a in ready.actions] == [ActionKind.MARK_READY_FOR_REVIEW]
    assert outcome.status is prplan.OutcomeStatus.UPDATED
    assert forge.pull_request_metadata(REPO, number, reviews=False).draft is False

    merged, outcome = _run(client, _request(draft=None, automerge=True))
    assert not METADATA_KINDS & {a.kind for a in merged.actions}
    assert outcome.status is prplan.OutcomeStatus.MERGED
    assert forge.read_file(REPO, "main", "values.yaml") == b"tag: 2\n"
    labels = forge.pull_request_metadata(REPO, number, reviews=False).labels
    assert labels == ("deploy", "hotfix", "team/platform")


def test_a_draft_is_not_merged_and_a_missing_milestone_is_refused_before_any_write(
    served: Served,
) -> None:
    with pytest.raises(prplan.InvalidRequestError, match="2025-Q4"):
        prplan.observe(served.client, _request(milestone="2026-Q1"))
    assert served.forge.pull_requests(REPO) == []
    _, outcome = _run(served.client, _request(milestone=None))
    assert outcome.pull_request is not None
    merging = _request(milestone=None, draft=None, automerge=True)
    plan = prplan.plan(prplan.observe(served.client, merging), merging)
    assert plan.refusal is not None and "draft" in plan.refusal.message
    assert not METADATA_KINDS & {a.kind for a in plan.actions}


def test_requests_a_metadata_run_costs(served: Served) -> None:
    """REST (docs/github.md): the four metadata writes one request each;
    the observation reads metadata only with a pull request open."""
    client = served.client
    client.writer()  # the login the plans name: read once per client, before counting
    request = _request(draft=None)
    before = client.request_count()
    _, outcome = _run(client, request)
    spent = client.request_count() - before
    plain = attrs.evolve(request, branch="prplan/other", labels=(), assignees=(),
                         reviewers=(), team_reviewers=(), milestone=None)  # fmt: skip
    before = client.request_count()
    _run(client, plain)
    bare = client.request_count() - before
    # 4 writes more; reads: the milestones (1; GraphQL: in the observe query)
    assert spent.writes - bare.writes == 4
    extra_reads = 0 if client.transport == "graphql" else 2  # milestones, observe + recheck
    assert spent.reads - bare.reads == extra_reads
    assert outcome.requests.writes == spent.writes  # each counted in the outcome

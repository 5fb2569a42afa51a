"""A draft that the request marks ready (``draft=False``) and asks to merge
(``automerge``) is readied and merged in one run under auto: the metadata
step marks it ready first, and its gate, unknown until then, counts as
pending (GitHub's auto-merge merges it once the gate allows). Under ``now``
it stays refused: a merge now cannot wait for a gate not known yet."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import prplan
from prplan import ActionKind, OutcomeStatus
from prplan.forges.local.server.app import ForgeServer

from served import Served

REPO = "acme/app"
CHECK = "ci/lint"


@pytest.fixture(params=["direct", "graphql", "rest"])
def connect(
    request: pytest.FixtureRequest, forge_server: ForgeServer
) -> Iterator[tuple[prplan.LocalForge, prplan.ForgeClient]]:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n"})
    if request.param == "direct":
        yield forge, forge
        return
    served = Served(forge_server, forge)
    yield forge, served.new_client(transport=request.param, retries=0, backoff=0.0)
    assert served.violations == []


def _request(**changes: object) -> prplan.ChangeRequest:
    fields: dict[str, object] = {
        "repo": REPO, "branch": "prplan/tag-2", "files": {"values.yaml": "tag: 2\n"},
        "title": "tag 2", "labels": ["deploy"],
    }  # fmt: skip
    return prplan.ChangeRequest(**{**fields, **changes})  # type: ignore[arg-type]


def _run(
    client: prplan.ForgeClient, request: prplan.ChangeRequest
) -> tuple[prplan.Plan, prplan.Outcome]:
    plan = prplan.plan(prplan.observe(client, request), request)
    return plan, prplan.apply(plan, client)


def _draft_open(forge: prplan.LocalForge, client: prplan.ForgeClient) -> int:
    _, outcome = _run(client, _request(draft=True))
    assert outcome.status is OutcomeStatus.CREATED and outcome.pull_request is not None
    assert forge.pull_request_metadata(REPO, outcome.pull_request, reviews=False).draft
    return outcome.pull_request


def test_ready_and_merge_in_one_run(
    connect: tuple[prplan.LocalForge, prplan.ForgeClient],
) -> None:
    forge, client = connect
    _draft_open(forge, client)
    plan, outcome = _run(client, _request(draft=False, automerge=True))
    assert [a.kind for a in plan.actions][:2] == [
        ActionKind.MARK_READY_FOR_REVIEW,
        ActionKind.ENABLE_AUTO_MERGE,
    ], plan.actions
    # Nothing gated the base: GitHub answers that it can merge now, and it is merged.
    assert outcome.status is OutcomeStatus.MERGED, outcome
    assert forge.read_file(REPO, "main", "values.yaml") == b"tag: 2\n"


def test_ready_then_auto_merge_waits_for_the_required_check(
    connect: tuple[prplan.LocalForge, prplan.ForgeClient],
) -> None:
    forge, client = connect
    forge.protect_branch(REPO, "main", required_checks=[CHECK])
    number = _draft_open(forge, client)
    _, outcome = _run(client, _request(draft=False, automerge=True))
    assert outcome.status is OutcomeStatus.AUTO_MERGE_ENABLED, outcome
    (pr,) = forge.pull_requests(REPO)
    assert not pr.merged
    assert not forge.pull_request_metadata(REPO, number, reviews=False).draft
    forge.set_status(REPO, pr.head_sha, CHECK, "success")
    assert forge.pull_requests(REPO)[0].merged


def test_a_draft_under_now_is_still_refused(
    connect: tuple[prplan.LocalForge, prplan.ForgeClient],
) -> None:
    forge, client = connect
    number = _draft_open(forge, client)
    plan, outcome = _run(client, _request(draft=False, automerge=True, merge_when="now"))
    assert plan.refusal is not None and plan.refusal.code is prplan.RefusalCode.MERGE_BLOCKED
    assert outcome.status is OutcomeStatus.REFUSED
    assert forge.pull_request_metadata(REPO, number, reviews=False).draft

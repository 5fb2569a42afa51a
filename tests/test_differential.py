"""The same scenarios through GitHubClient -> HTTP -> forge as through
LocalForge directly: equal observations, plans and outcomes (shas
included: both forges run on one fixed clock), equal final repositories,
and every REST response valid against GitHub's OpenAPI schema."""

from __future__ import annotations

import attrs
import pytest

import prplan
from prplan.forges.local.server.app import ForgeServer

import scenarios
from served import THOROUGH, Served, fixed_clock

CASES = scenarios.all_cases() if THOROUGH else scenarios.all_cases()[::5]


def _without_urls(snapshot: prplan.RepoSnapshot) -> prplan.RepoSnapshot:
    # The only difference allowed: a pull request's web address.
    return attrs.evolve(
        snapshot, pull_requests=tuple(attrs.evolve(p, url="") for p in snapshot.pull_requests)
    )


def _outcome(outcome: prplan.Outcome) -> tuple[object, ...]:
    return (
        outcome.status,
        [(r.kind, r.status, r.sha, r.pull_request) for r in outcome.actions],
        outcome.pull_request,
        outcome.commit_sha,
        outcome.merge_sha,
        outcome.error_type,
    )


def _twins(
    case: scenarios.Case, forge_server: ForgeServer
) -> tuple[prplan.ChangeRequest, prplan.LocalForge, Served]:
    """The case's request, and two forges built alike from it: one called
    directly, one served over HTTP."""
    pr, branch, content, flags = case
    request = scenarios.request_for(content, **flags)
    direct = scenarios.build(pr, branch, request, clock=fixed_clock).forge
    served = Served(forge_server, scenarios.build(pr, branch, request, clock=fixed_clock).forge)
    return request, direct, served


def _shapeless(outcome: prplan.Outcome) -> tuple[object, ...]:
    return (
        outcome.status,
        [(r.kind, r.status, r.pull_request) for r in outcome.actions],
        outcome.pull_request,
        outcome.error_type,
    )


def _trees(forge: prplan.LocalForge) -> tuple[object, ...]:
    state = scenarios.state(forge)
    trees = {
        name: forge.git_object(scenarios.REPO, sha).tree for name, sha in state.branches.items()
    }
    pulls = [
        (p.number, p.state, p.merged, p.head_branch, p.base_branch, p.title) for p in state.pulls
    ]
    return trees, pulls, state.base_files, state.human_commits


#: Every case over HTTP, the transports alternating: each case through one,
#: every situation (pull requests x branch x content) through both (the
#: flags that alternate change the plan, which is pure and the same for
#: both, more than the reads and writes). The fault, crash and stateful
#: suites cover each transport's own paths.
TRANSPORT_CASES = [("graphql", c) for c in CASES[::2]] + [("rest", c) for c in CASES[1::2]]


@pytest.mark.parametrize(
    ("transport", "case"),
    TRANSPORT_CASES,
    ids=[f"{t}-{scenarios.case_id(c)}" for t, c in TRANSPORT_CASES],
)
def test_github_client_over_http_equals_local_forge(
    transport: str, case: scenarios.Case, forge_server: ForgeServer
) -> None:
    request, direct, served = _twins(case, forge_server)
    client = served.new_client(transport=transport, retries=3, backoff=0.0, timeout=5)

    seen_direct = prplan.observe(direct, request)
    served.app.log.reset()
    seen_http = prplan.observe(client, request)
    assert _without_urls(seen_http) == _without_urls(seen_direct)
    over_graphql = any(path.endswith("/graphql") for _, path, _ in served.app.log.entries)
    # REST reads an open pull request's merge gate through GraphQL (GitHub
    # has no REST for it), and only when the request merges (the scenarios'
    # base is unprotected: no merge-queue query).
    gated = request.automerge and any(p.is_open for p in seen_direct.pull_requests)
    assert over_graphql == (transport == "graphql" or gated)

    plan_direct = prplan.plan(seen_direct, request)
    plan_http = prplan.plan(seen_http, request)
    assert (plan_http.rule, plan_http.actions, plan_http.notes, plan_http.refusal) == (
        plan_direct.rule, plan_direct.actions, plan_direct.notes, plan_direct.refusal,
    )  # fmt: skip

    outcome_http = prplan.apply(plan_http, client)
    outcome_direct = prplan.apply(plan_direct, direct)
    if transport == "rest":
        # Both forges run on one fixed clock: every sha is equal.
        assert _outcome(outcome_http) == _outcome(outcome_direct)
        assert scenarios.state(served.forge) == scenarios.state(direct)
    else:
        # GitHub makes GraphQL's commits (author, signature), so shas differ;
        # trees, pull requests and outcomes must not.
        assert _shapeless(outcome_http) == _shapeless(outcome_direct)
        assert _trees(served.forge) == _trees(direct)
        # What GraphQL made is prplan's by its seal: planning again changes nothing.
        assert prplan.plan(prplan.observe(client, request), request).actions == (
            prplan.plan(prplan.observe(direct, request), request).actions
        )
    assert served.violations == []
    # Every REST answer was checked against GitHub's OpenAPI (none may have
    # been sent over GraphQL; GraphQL answers are the schema's by execution).
    checked = served.check.checked > 0 or transport == "graphql"
    assert checked or served.check.contract is None  # no ../shared: nothing to check against

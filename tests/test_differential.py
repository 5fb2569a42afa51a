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


@pytest.mark.parametrize("case", CASES, ids=[scenarios.case_id(c) for c in CASES])
def test_github_client_over_http_equals_local_forge(
    case: scenarios.Case, forge_server: ForgeServer
) -> None:
    request, direct, served = _twins(case, forge_server)

    seen_direct = prplan.observe(direct, request)
    seen_http = prplan.observe(served.client, request)
    assert _without_urls(seen_http) == _without_urls(seen_direct)

    plan_direct = prplan.plan(seen_direct, request)
    plan_http = prplan.plan(seen_http, request)
    assert (plan_http.rule, plan_http.actions, plan_http.notes, plan_http.refusal) == (
        plan_direct.rule, plan_direct.actions, plan_direct.notes, plan_direct.refusal,
    )  # fmt: skip

    assert _outcome(prplan.apply(plan_http, served.client)) == _outcome(
        prplan.apply(plan_direct, direct)
    )
    assert scenarios.state(served.forge) == scenarios.state(direct)
    assert served.violations == []
    assert (
        served.check.checked > 0 or served.check.contract is None
    )  # no ../shared: nothing to check against


#: Observing over GraphQL: one query, then REST where it cannot tell. What
#: is observed depends only on the situation and the content (the flags
#: change the plan, not the reads): one case of each (every other one in
#: the dev profile, to stay in the time budget).
GRAPHQL_CASES = list({c[:3]: c for c in scenarios.all_cases()}.values())[:: 1 if THOROUGH else 2]


@pytest.mark.parametrize("case", GRAPHQL_CASES, ids=[scenarios.case_id(c) for c in GRAPHQL_CASES])
def test_observing_over_graphql_equals_local_forge(
    case: scenarios.Case, forge_server: ForgeServer
) -> None:
    request, direct, served = _twins(case, forge_server)
    client = served.new_client(transport="graphql", retries=3, backoff=0.0, timeout=5)
    served.app.log.reset()
    seen_http = prplan.observe(client, request)
    assert _without_urls(seen_http) == _without_urls(prplan.observe(direct, request))
    assert any(path.endswith("/graphql") for _, path, _ in served.app.log.entries)


#: GraphQL writes (``transport="graphql"``) on a sample: GitHub makes the
#: commits (author, signature), so shas differ; trees, pull requests and
#: outcomes must not.
GRAPHQL_WRITE_CASES = scenarios.all_cases()[:: 20 if THOROUGH else 50]


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


@pytest.mark.parametrize(
    "case", GRAPHQL_WRITE_CASES, ids=[scenarios.case_id(c) for c in GRAPHQL_WRITE_CASES]
)
def test_graphql_writes_over_http_equal_local_forge(
    case: scenarios.Case, forge_server: ForgeServer
) -> None:
    request, direct, served = _twins(case, forge_server)
    client = served.new_client(transport="graphql", retries=3, backoff=0.0, timeout=5)

    plan_direct = prplan.plan(prplan.observe(direct, request), request)
    plan_http = prplan.plan(prplan.observe(client, request), request)
    assert plan_http.actions == plan_direct.actions

    assert _shapeless(prplan.apply(plan_http, client)) == _shapeless(
        prplan.apply(plan_direct, direct)
    )
    assert _trees(served.forge) == _trees(direct)
    # What GraphQL made is prplan's by its seal: planning again changes nothing.
    assert prplan.plan(prplan.observe(client, request), request).actions == (
        prplan.plan(prplan.observe(direct, request), request).actions
    )

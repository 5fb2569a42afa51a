"""An administrator's token on a protected base (issue 14's gap): GitHub
lets an administrator merge past pending checks and missing reviews unless
the protection enforces itself on administrators. Under ``merge_when``
auto/wait prplan therefore arms GitHub's merge first on a protected base and
merges directly only when GitHub answers that the pull request can merge
now; under ``now`` it reads the gate right before the direct merge and
merges only through a clean one (never the bypass). The local forge
models the bypass (``set_admin``, ``protect_branch(enforce_admins=...)``),
so each case runs end to end: directly, and over HTTP with both transports
(the served forge acts as ``prplan``, the login of its token)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import prplan
from prplan.forges.local.server.app import ForgeServer
from prplan.run.port import ForgeClient

from served import Served

REPO, BRANCH, CHECK = "acme/deploy", "prplan/tag-2", "ci/lint"
OLD, NEW = b"tag: 1\n", b"tag: 2\n"
ADMIN = "prplan"  # the login the forge's client (direct or served) acts as

WAYS = ["direct", "graphql", "rest"]


def _forge(
    *, checks: tuple[str, ...] = (CHECK,), enforce_admins: bool = False
) -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"app.yaml": OLD.decode()})
    forge.protect_branch(REPO, "main", required_checks=checks, enforce_admins=enforce_admins)
    forge.set_admin(REPO, ADMIN)
    return forge


_SERVED: list[Served] = []


@pytest.fixture(autouse=True)
def _on_the_contract() -> Iterator[None]:
    """Every REST answer a test's served forge gave is on GitHub's OpenAPI."""
    _SERVED.clear()
    yield
    assert [v for served in _SERVED for v in served.violations] == []


def _client(forge: prplan.LocalForge, way: str, server: ForgeServer) -> ForgeClient:
    if way == "direct":
        return forge
    served = Served(server, forge)
    _SERVED.append(served)
    return served.new_client(transport=way, retries=0, timeout=5)


def _request(when: str, *, automerge: bool = True) -> prplan.ChangeRequest:
    return prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"app.yaml": NEW}, create_pr=True, automerge=automerge,
        merge_when=when, title="tag 2",
    )  # fmt: skip


def _run(client: ForgeClient, request: prplan.ChangeRequest) -> tuple[prplan.Plan, prplan.Outcome]:
    plan = prplan.plan(prplan.observe(client, request), request)
    return plan, prplan.apply(plan, client)


def _main(forge: prplan.LocalForge) -> bytes | None:
    return forge.read_files(REPO, forge.branches(REPO)["main"], ["app.yaml"])["app.yaml"]


@pytest.mark.parametrize("way", WAYS)
def test_auto_arms_first_on_a_protected_base_even_with_an_admin_token(
    way: str, forge_server: ForgeServer
) -> None:
    forge = _forge()
    plan, outcome = _run(_client(forge, way, forge_server), _request("auto"))
    assert plan.observed.base_protected
    assert outcome.status is prplan.OutcomeStatus.AUTO_MERGE_ENABLED, outcome.error
    assert _main(forge) == OLD  # not merged past the pending check
    (pr,) = forge.pull_requests(REPO)
    assert pr.is_open and forge.auto_merge_request(REPO, pr.number) is not None
    # CI reports: GitHub (the forge) merges it, as armed.
    forge.set_status(REPO, pr.head_sha, CHECK, "success")
    assert forge.pull_requests(REPO)[0].merged
    assert _main(forge) == NEW


@pytest.mark.parametrize("way", WAYS)
def test_now_stops_at_the_gate_even_with_an_admin_token(
    way: str, forge_server: ForgeServer
) -> None:
    forge = _forge()
    plan, outcome = _run(_client(forge, way, forge_server), _request("now"))
    assert "its gate is read right before the merge" in plan.actions[-1].reason
    assert outcome.status is prplan.OutcomeStatus.FAILED
    assert outcome.error_type == "MergeBlocked"
    assert "gate is pending" in str(outcome.error) and CHECK in str(outcome.error)
    assert _main(forge) == OLD  # not merged past the pending check
    assert forge.pull_requests(REPO)[0].is_open


@pytest.mark.parametrize("way", ["direct", "rest"])
def test_enforce_admins_holds_the_gate_for_an_admin_token_too(
    way: str, forge_server: ForgeServer
) -> None:
    forge = _forge(enforce_admins=True)
    _, outcome = _run(_client(forge, way, forge_server), _request("now"))
    assert outcome.status is prplan.OutcomeStatus.FAILED
    assert outcome.error_type == "MergeBlocked" and CHECK in str(outcome.error)
    assert _main(forge) == OLD


@pytest.mark.parametrize("way", WAYS)
def test_a_clean_gate_on_a_protected_base_merges_once_github_says_it_can_merge_now(
    way: str, forge_server: ForgeServer
) -> None:
    forge = _forge(checks=())  # protected, nothing required: the gate is clean at once
    _, outcome = _run(_client(forge, way, forge_server), _request("auto"))
    assert outcome.status is prplan.OutcomeStatus.MERGED, outcome.error
    assert _main(forge) == NEW
    (pr,) = forge.pull_requests(REPO)
    assert pr.merged and forge.auto_merge_request(REPO, pr.number) is None


@pytest.mark.parametrize("way", WAYS)
def test_auto_merge_not_allowed_stops_on_a_protected_base_instead_of_merging_directly(
    way: str, forge_server: ForgeServer
) -> None:
    forge = _forge()
    forge.set_allow_auto_merge(REPO, False)
    _, outcome = _run(_client(forge, way, forge_server), _request("auto"))
    assert outcome.status is prplan.OutcomeStatus.FAILED
    assert outcome.error_type == "MergeBlocked"
    error = str(outcome.error)
    assert "main is protected" in error and f"pending ({CHECK})" in error
    assert '"Allow auto-merge"' in error
    assert _main(forge) == OLD
    assert forge.pull_requests(REPO)[0].is_open


def test_a_planned_auto_merge_refused_on_a_protected_base_is_not_merged_directly() -> None:
    forge = _forge()
    _, first = _run(forge, _request("auto", automerge=False))
    assert first.status is prplan.OutcomeStatus.CREATED
    forge.set_allow_auto_merge(REPO, False)
    plan, outcome = _run(forge, _request("auto"))
    assert [a.kind.value for a in plan.actions] == ["enable_auto_merge"]
    assert outcome.status is prplan.OutcomeStatus.FAILED
    assert outcome.error_type == "MergeBlocked" and '"Allow auto-merge"' in str(outcome.error)
    assert _main(forge) == OLD


def test_on_an_unprotected_base_the_merge_is_tried_first_as_before() -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"app.yaml": OLD.decode()})
    plan, outcome = _run(forge, _request("auto"))
    assert not plan.observed.base_protected
    assert "base_protected" not in plan.to_json()
    assert outcome.status is prplan.OutcomeStatus.MERGED
    assert "if its head is still the commit reviewed" in plan.actions[-1].reason
    assert "protected" not in plan.actions[-1].reason


def test_the_plan_says_auto_merge_is_armed_first_on_a_protected_base() -> None:
    forge = _forge()
    plan = prplan.plan(prplan.observe(forge, _request("auto")), _request("auto"))
    reason = plan.actions[-1].reason
    assert "main is protected: first enable GitHub's auto-merge (merge)" in reason
    assert '"base_protected": true' in plan.to_json()
    now = prplan.plan(prplan.observe(forge, _request("now")), _request("now"))
    assert (
        "main is protected: its gate is read right before the merge, which happens only if "
        "the gate is clean" in now.actions[-1].reason
    )


def test_a_saved_plan_is_stale_once_base_protection_changed() -> None:
    forge = _forge()
    plan = prplan.plan(prplan.observe(forge, _request("auto")), _request("auto"))
    forge.unprotect_branch(REPO, "main")
    with pytest.raises(prplan.StalePlanError, match="protection of main: planned protected"):
        prplan.apply(plan, forge)
    assert forge.pull_requests(REPO) == []

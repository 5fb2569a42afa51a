"""Issue 14's hostile review, findings 4 to 6 and a minor one, each
reproduced and fixed:

* 4: ``merge_when='now'`` on a protected base with an administrator's token
  reads the gate right before the direct merge and merges only through a
  clean one (a fresh plan, and a saved plan whose check failed since);
* 5: a GitHub App's bot ``alice[bot]`` is not the person ``alice``: logins
  compare exactly (case aside); GraphQL's suffix-less ``Bot`` login gets its
  ``[bot]`` back; an App client's viewer is its bot; a failed viewer read
  counts the arming as someone else's;
* 6: a push onto a queued pull request drops it from the local forge's merge
  queue (as GitHub does), directly and over HTTP;
* minor: ``GET rules/branches/{b}`` lists rulesets only: ``[]`` here.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import prplan
from prplan import ActionKind, ChangeRequest, OutcomeStatus
from prplan.core.disarm import _same_login
from prplan.errors import ForgeError
from prplan.forges.github.arming import VIEWER
from prplan.forges.local.server.app import ForgeApp, ForgeServer
from prplan.run.port import ForgeClient
from test_app_auth_client import APP_ID, BOT, AppForge

from served import TOKEN, ContractCheck, Served

REPO, BRANCH, CHECK = "acme/deploy", "prplan/app-2", "ci/lint"


def _forge(*, login: str = "prplan", **protection: Any) -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    forge.login = login
    forge.create_repo(REPO, {"app.yaml": "tag: 1\n"})
    forge.protect_branch(REPO, "main", required_checks=[CHECK], **protection)
    return forge


def _request(**changes: Any) -> ChangeRequest:
    fields: dict[str, Any] = dict(
        repo=REPO, branch=BRANCH, files={"app.yaml": "tag: 2\n"}, create_pr=True,
        automerge=True, title="app 2",
    )  # fmt: skip
    fields.update(changes)
    return ChangeRequest(**fields)


def _plan(client: ForgeClient, request: ChangeRequest) -> prplan.Plan:
    return prplan.plan(prplan.observe(client, request), request)


def _run(client: ForgeClient, request: ChangeRequest) -> prplan.Outcome:
    return prplan.apply(_plan(client, request), client)


def _pr(forge: prplan.LocalForge) -> prplan.PullRequestInfo:
    (pr,) = forge.pull_requests(REPO)
    return pr


def _main_tag(forge: prplan.LocalForge) -> bytes | None:
    return forge.read_files(REPO, forge.branches(REPO)["main"], ["app.yaml"])["app.yaml"]


# --- 4: `now` on a protected base never merges past the gate -----------------------


def _admin_with_open_pr(check: str) -> prplan.LocalForge:
    forge = _forge()
    forge.set_admin(REPO, "prplan")  # protection without enforce_admins: GitHub's bypass
    assert _run(forge, _request(automerge=False)).status is OutcomeStatus.CREATED
    forge.set_status(REPO, _pr(forge).head_sha, CHECK, check)
    return forge


def test_now_plan_says_the_gate_is_read_before_the_merge_and_stops_when_pending() -> None:
    forge = _forge()
    forge.set_admin(REPO, "prplan")
    plan = _plan(forge, _request(merge_when="now"))
    assert (
        "main is protected: its gate is read right before the merge, which happens only if "
        "the gate is clean" in plan.actions[-1].reason
    )
    outcome = prplan.apply(plan, forge)
    assert outcome.status is OutcomeStatus.FAILED and outcome.error_type == "MergeBlocked"
    assert f"its gate is pending (pending: {CHECK})" in str(outcome.error)
    assert _pr(forge).is_open and _main_tag(forge) == b"tag: 1\n"


def test_saved_now_plan_stops_when_the_check_failed_since_even_with_an_admin_token() -> None:
    forge = _admin_with_open_pr("success")
    request = _request(merge_when="now")
    saved = prplan.Plan.from_json(_plan(forge, request).to_json())
    assert [a.kind for a in saved.actions] == [ActionKind.MERGE_PULL_REQUEST]
    forge.set_status(REPO, _pr(forge).head_sha, CHECK, "failure")  # a re-run fails
    with pytest.raises(prplan.StalePlanError, match="now failing"):  # the recheck sees it
        prplan.apply(saved, forge)
    # Without the recheck (or in the window after it), the gate read right
    # before the merge stops it.
    outcome = prplan.apply(saved, forge, recheck=False)
    assert outcome.status is OutcomeStatus.FAILED and outcome.error_type == "MergeBlocked"
    assert f"its gate is failing (failing: {CHECK})" in str(outcome.error)
    assert not _pr(forge).merged and _main_tag(forge) == b"tag: 1\n"


def test_now_with_a_clean_gate_on_a_protected_base_merges() -> None:
    forge = _admin_with_open_pr("success")
    outcome = _run(forge, _request(merge_when="now"))
    assert outcome.status is OutcomeStatus.MERGED, outcome.error
    assert _pr(forge).merged and _main_tag(forge) == b"tag: 2\n"


def test_now_over_http_stops_at_a_failing_gate_with_an_admin_token(
    forge_server: ForgeServer,
) -> None:
    forge = _admin_with_open_pr("success")
    served = Served(forge_server, forge)
    client = served.new_client(transport="rest", retries=0, timeout=5)
    plan = _plan(client, _request(merge_when="now"))
    forge.set_status(REPO, _pr(forge).head_sha, CHECK, "error")
    outcome = prplan.apply(plan, client, recheck=False)  # the gate read before the merge
    assert outcome.error_type == "MergeBlocked" and f"failing: {CHECK}" in str(outcome.error)
    assert not _pr(forge).merged
    assert served.violations == []


# --- 5: a bot and a person of the same name are two logins ---------------------------


def test_logins_compare_exactly_but_for_case() -> None:
    assert not _same_login("alice", "alice[bot]")
    assert _same_login("Alice[bot]", "alice[BOT]") and _same_login("Alice", "alice")


def _armed_by_alice_after_her_push(forge: prplan.LocalForge) -> int:
    """prplan (acting as ``alice[bot]``) opens the pull request; the person
    alice pushes a fix and arms it by hand."""
    assert _run(forge, _request(automerge=False)).status is OutcomeStatus.CREATED
    number = _pr(forge).number
    forge.push(REPO, BRANCH, {"fix.yaml": "x: 1\n"}, message="alice's fix")
    forge.enable_auto_merge(REPO, number, "merge", by="alice")
    return number


def _served_as(server: ForgeServer, forge: prplan.LocalForge, login: str) -> ContractCheck:
    check = ContractCheck(ForgeApp(forge, token=TOKEN, login=login))
    server.serve(check)
    return check


@pytest.mark.parametrize("way", ["direct", "graphql", "rest"])
def test_an_app_bot_never_disarms_the_same_named_persons_arming(
    way: str, forge_server: ForgeServer
) -> None:
    forge = _forge(login="alice[bot]")
    number = _armed_by_alice_after_her_push(forge)
    client: ForgeClient = forge
    if way != "direct":
        check = _served_as(forge_server, forge, "alice[bot]")
        client = prplan.GitHubClient(
            token=TOKEN, base_url=forge_server.api_url, transport=way, retries=0, timeout=5
        )
    plan = _plan(client, _request())
    assert ActionKind.DISARM_MERGE not in [a.kind for a in plan.actions]
    prplan.apply(plan, client)
    assert forge.auto_merge_request(REPO, number) is not None  # alice's arming stands
    if way != "direct":
        assert check.violations == []


@pytest.mark.parametrize("way", ["graphql", "rest"])
def test_over_http_the_bots_own_arming_is_still_its_own(
    way: str, forge_server: ForgeServer
) -> None:
    """GraphQL names the bot ``alice`` (a ``Bot``); the client puts ``[bot]``
    back, so prplan's own arming is still found its own, and turned off
    when foreign commits arrive."""
    forge = _forge(login="alice[bot]")
    check = _served_as(forge_server, forge, "alice[bot]")
    client = prplan.GitHubClient(
        token=TOKEN, base_url=forge_server.api_url, transport=way, retries=0, timeout=5
    )
    assert _run(client, _request()).status is OutcomeStatus.AUTO_MERGE_ENABLED
    number = _pr(forge).number
    assert forge.auto_merge_request(REPO, number)["enabled_by"] == "alice[bot]"
    answer = _graphql(
        forge_server,
        number,
        "autoMergeRequest { enabledBy { __typename login } }",
    )
    enabled_by = answer["data"]["repository"]["pullRequest"]["autoMergeRequest"]["enabledBy"]
    assert enabled_by == {"__typename": "Bot", "login": "alice"}  # as GitHub answers
    forge.push(REPO, BRANCH, {"extra.yaml": "x: 1\n"}, message="someone's commit")
    plan = _plan(client, _request())
    assert plan.rule == "open_disarm_foreign"
    assert prplan.apply(plan, client).status is OutcomeStatus.DISARMED
    assert forge.auto_merge_request(REPO, number) is None
    assert check.violations == []


def _graphql(server: ForgeServer, number: int, fields: str) -> Any:
    """The served forge's GraphQL answer for ``fields`` of pull request ``number``."""
    query = (
        'query($n: Int!) { repository(owner: "acme", name: "deploy") '
        f"{{ pullRequest(number: $n) {{ {fields} }} }} }}"
    )
    request = urllib.request.Request(
        f"{server.url}/api/graphql",
        data=json.dumps({"query": query, "variables": {"n": number}}).encode(),
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())


def test_a_failed_viewer_read_under_rest_counts_the_arming_as_someone_elses(
    forge_server: ForgeServer,
) -> None:
    forge = _forge()
    served = Served(forge_server, forge)
    client = served.new_client(transport="rest", retries=0, timeout=5)
    assert _run(client, _request()).status is OutcomeStatus.AUTO_MERGE_ENABLED
    forge.push(REPO, BRANCH, {"extra.yaml": "x: 1\n"}, message="someone's commit")

    graphql = client._http.graphql  # type: ignore[attr-defined]

    def viewer_fails(query: str, *args: Any, **kwargs: Any) -> Any:
        if query == VIEWER:
            raise ForgeError("reading the login the token acts as: 502 Bad Gateway", status=502)
        return graphql(query, *args, **kwargs)

    client._http.graphql = viewer_fails  # type: ignore[attr-defined]
    plan = _plan(client, _request())  # observes over REST: no failure
    assert plan.observed.viewer is None
    assert ActionKind.DISARM_MERGE not in [a.kind for a in plan.actions]
    assert plan.refusal is not None  # foreign commits: a person must look
    assert forge.auto_merge_request(REPO, _pr(forge).number) is not None


# --- 6: a push drops a queued pull request from the queue -----------------------------


def _queued(client: ForgeClient, forge: prplan.LocalForge) -> int:
    assert _run(client, _request()).status is OutcomeStatus.QUEUED
    number = _pr(forge).number
    entry = forge.queue_entry(REPO, number)
    assert entry is not None and entry["head_sha"] == _pr(forge).head_sha
    return number


def test_a_push_drops_the_queue_entry_and_the_queue_never_merges_the_new_head() -> None:
    forge = _forge(merge_queue=True)
    number = _queued(forge, forge)
    forge.push(REPO, BRANCH, {"extra.yaml": "evil: 1\n"}, message="Sneak in")
    assert forge.queue_entry(REPO, number) is None
    forge.set_status(REPO, _pr(forge).head_sha, CHECK, "success")
    assert _pr(forge).is_open and "extra.yaml" not in forge.files(REPO, "main")


def test_a_queue_entry_with_an_unchanged_head_still_merges() -> None:
    forge = _forge(merge_queue=True)
    number = _queued(forge, forge)
    forge.set_status(REPO, _pr(forge).head_sha, CHECK, "success")
    assert forge.queue_entry(REPO, number) is None and _pr(forge).merged


def test_over_http_a_push_drops_the_queue_entry(forge_server: ForgeServer) -> None:
    forge = _forge(merge_queue=True)
    served = Served(forge_server, forge)
    client = served.new_client(transport="graphql", retries=0, timeout=5)
    number = _queued(client, forge)
    # the push, over HTTP too: prplan's next change lands on the same branch
    pushed = _run(client, _request(automerge=False, files={"app.yaml": "tag: 3\n"}))
    assert pushed.status is not OutcomeStatus.FAILED, pushed.error
    assert forge.queue_entry(REPO, number) is None
    answer = _graphql(
        forge_server,
        number,
        "mergeQueueEntry { state }",
    )
    assert answer["data"]["repository"]["pullRequest"]["mergeQueueEntry"] is None
    forge.set_status(REPO, _pr(forge).head_sha, CHECK, "success")
    assert _pr(forge).is_open and _main_tag(forge) == b"tag: 1\n"
    assert served.violations == []


# --- minor: rules/branches lists rulesets only --------------------------------------


def test_rules_of_a_classically_protected_branch_are_empty(forge_server: ForgeServer) -> None:
    forge = _forge(merge_queue=True, required_approvals=1)
    served = Served(forge_server, forge)
    request = urllib.request.Request(
        f"{forge_server.api_url}/repos/{REPO}/rules/branches/main",
        headers={"Authorization": f"token {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert (answer.status, json.loads(answer.read())) == (200, [])
    assert served.violations == []


# --- 5: an App client's login is its bot, never a GraphQL viewer read ----------------


@pytest.fixture(scope="module")
def key_pair() -> tuple[str, str]:
    """An App's private and public key (PEM), one per module."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


@pytest.mark.parametrize("transport", ["graphql", "rest"])
def test_an_apps_own_arming_is_its_bots_and_is_turned_off_on_foreign_commits(
    forge_server: ForgeServer, key_pair: tuple[str, str], transport: str
) -> None:
    served = AppForge(forge_server, key_pair[1])
    forge, repo = served.forge, "acme/app"
    forge.protect_branch(repo, "main", required_checks=[CHECK])
    client = prplan.GitHubClient.from_app(
        APP_ID, key_pair[0], base_url=served.url, transport=transport
    )
    request = ChangeRequest(
        repo=repo, branch=BRANCH, files={"a.txt": "b\n"}, create_pr=True, automerge=True
    )
    assert _run(client, request).status is OutcomeStatus.AUTO_MERGE_ENABLED
    (pr,) = forge.pull_requests(repo)
    assert forge.auto_merge_request(repo, pr.number)["enabled_by"] == BOT
    assert client.viewer_login() == BOT == client.app_login()
    forge.push(repo, BRANCH, {"extra.txt": "x\n"}, message="someone's commit")
    plan = _plan(client, request)
    assert plan.observed.viewer == BOT and plan.rule == "open_disarm_foreign"
    assert prplan.apply(plan, client).status is OutcomeStatus.DISARMED
    assert forge.auto_merge_request(repo, pr.number) is None
    assert served.check.violations == []

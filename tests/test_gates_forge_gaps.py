"""Small gaps of the local forge's gates (issue 14): the REST reads of a
branch's protection and of the rules applying to it (on GitHub's OpenAPI),
and strict protection with a head behind base reading ``BEHIND`` / ``behind``
(not ``BLOCKED``) as GitHub does, which prplan answers by making its commit
again on base."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import prplan
from prplan.forges.local.server.app import ForgeServer

from served import TOKEN, Served

REPO, BRANCH, CHECK = "acme/deploy", "prplan/tag-2", "ci/lint"


def _get(served: Served, path: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{served.server.api_url}/repos/{REPO}/{path}", headers={"Authorization": f"token {TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_protection_and_rules_over_rest(forge_server: ForgeServer) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"app.yaml": "tag: 1\n"})
    forge.protect_branch(
        REPO, "main", required_checks=[CHECK], strict=True, required_approvals=2,
        merge_queue=True, enforce_admins=True,
    )  # fmt: skip
    forge.push(REPO, "dev", {"x": "1\n"}, message="dev")
    served = Served(forge_server, forge)
    status, body = _get(served, "branches/main/protection")
    assert status == 200
    assert body["required_status_checks"]["contexts"] == [CHECK]
    assert body["required_status_checks"]["strict"] is True
    assert body["required_pull_request_reviews"]["required_approving_review_count"] == 2
    assert body["enforce_admins"]["enabled"] is True
    status, body = _get(served, "branches/dev/protection")
    assert (status, body["message"]) == (404, "Branch not protected")
    assert _get(served, "branches/gone/protection")[0] == 404
    # GitHub lists only rulesets' rules there, never classic protection; the
    # forge has no rulesets.
    assert _get(served, "rules/branches/main") == (200, [])
    assert _get(served, "rules/branches/dev") == (200, [])
    assert served.violations == []


def test_a_strict_head_behind_base_reads_behind_and_prplan_makes_its_commit_again(
    forge_server: ForgeServer,
) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"app.yaml": "tag: 1\n", "other.yaml": "a: 1\n"})
    forge.protect_branch(REPO, "main", required_checks=[CHECK], strict=True)
    request = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"app.yaml": b"tag: 2\n"}, create_pr=True,
        automerge=True, title="tag 2",
    )  # fmt: skip
    outcome = prplan.apply(prplan.plan(prplan.observe(forge, request), request), forge)
    assert outcome.status is prplan.OutcomeStatus.AUTO_MERGE_ENABLED
    number = outcome.pull_request
    assert number is not None
    forge.push(REPO, "main", {"other.yaml": "a: 2\n"}, message="someone else's change")
    # The check has not reported on the head, and the head is behind: BEHIND.
    assert forge.gate_view(REPO, number).merge_state_status == "BEHIND"
    served = Served(forge_server, forge)
    status, pull = _get(served, f"pulls/{number}")
    assert status == 200 and pull["mergeable_state"] == "behind"
    assert served.violations == []
    plan = prplan.plan(prplan.observe(served.client, request), request)
    assert plan.observed.pull_requests[-1].gate is prplan.Gate.BEHIND
    assert [a.kind.value for a in plan.actions][:2] == ["reset_branch", "commit"]
    again = prplan.apply(plan, served.client)
    assert again.status is not prplan.OutcomeStatus.FAILED, again.error
    head = forge.pull_requests(REPO)[-1].head_sha
    assert forge.gate_view(REPO, number).merge_state_status == "BLOCKED"  # up to date, CI pending
    forge.set_status(REPO, head, CHECK, "success")
    assert forge.pull_requests(REPO)[-1].merged
    files = forge.read_files(REPO, forge.branches(REPO)["main"], ["app.yaml", "other.yaml"])
    assert files == {"app.yaml": b"tag: 2\n", "other.yaml": b"a: 2\n"}


def test_forge_commands_make_an_admin_and_enforce_protection_on_admins(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from prplan.cli import cli

    data = tmp_path / "forge"
    with prplan.LocalForge.open(data) as forge:
        forge.create_repo(REPO, {"app.yaml": "tag: 1\n"})
    run = CliRunner().invoke
    done = run(cli, ["forge", "protect", REPO, "main", "--data", str(data),
                     "--require-check", CHECK, "--enforce-admins"])  # fmt: skip
    assert done.exit_code == 0 and "enforced for admins" in done.output, done.output
    done = run(cli, ["forge", "admin", REPO, "alice", "--data", str(data)])
    assert done.exit_code == 0, done.output
    bad = run(cli, ["forge", "admin", REPO, "-bad-", "--data", str(data)])
    assert bad.exit_code != 0 and "LOGIN" in bad.output
    with prplan.LocalForge.open(data) as forge:
        assert forge.is_admin(REPO, "alice") and not forge.is_admin(REPO, "-bad-")
        protection = forge.branch_protection(REPO, "main")
        assert protection is not None and protection.enforce_admins

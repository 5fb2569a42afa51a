"""Issue 14, hostile review 14b: the recheck and the wait (one test per
finding, each failing before its fix).

1. A saved plan that turns prplan's own auto-merge off is stale once a
   human turned it off and on again as themselves: the recheck compares
   who armed the merge, not only whether it is armed.
2. An observation edited offline (the login prplan acts as, the gate) and
   re-planned cannot pass the recheck; a gate that moved for real (CI
   reported) makes a saved plan stale too.
3. A head that moves while ``merge_when='wait'`` (or a change-set stage)
   waits on an arming this very run made: prplan turns that arming off
   before it reports ``HeadMovedAfterArming``, says so (or says the disarm
   failed), and never touches an arming someone else made.

Local forge in process (the command once, for the exit code); the injected
sleep plays the human and CI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

import prplan
from fake_time import FakeTime
from prplan import ActionKind, ChangeRequest, OutcomeStatus
from prplan.cli import cli
from prplan.core.snapshot import Gate, MergeArmed
from prplan.errors import ForgeError
from prplan.run.changeset import apply_changeset, plan_changeset
from prplan.run.changeset_file import parse_changeset
from prplan.run.executor import moved_facts

REPO, FLEET, BRANCH, CHECK = "acme/deploy", "acme/fleet", "prplan/app-2", "ci/lint"


def _forge(*repos: str) -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    for repo in repos or (REPO,):
        forge.create_repo(repo, {"app.yaml": "tag: 1\n"})
        forge.protect_branch(repo, "main", required_checks=[CHECK])
    return forge


def _request(**fields: Any) -> ChangeRequest:
    args: dict[str, Any] = {
        "repo": REPO, "branch": BRANCH, "files": {"app.yaml": "tag: 2\n"},
        "create_pr": True, "automerge": True, "title": "app 2",
    }  # fmt: skip
    args.update(fields)
    return ChangeRequest(**args)


def _plan(forge: prplan.LocalForge, request: ChangeRequest) -> prplan.Plan:
    return prplan.plan(prplan.observe(forge, request), request)


def _saved(plan: prplan.Plan) -> prplan.Plan:
    return prplan.Plan.from_json(plan.to_json())


def _retold(plan: prplan.Plan, **observed: object) -> prplan.Plan:
    """The plan re-derived offline from an edited observation (digest and
    integrity both fine): what someone without the plan key could make."""
    edited = attrs.evolve(plan.observed, **observed)
    return _saved(prplan.plan(edited, plan.request))


def _state(forge: prplan.LocalForge) -> tuple[object, ...]:
    (pr,) = forge.pull_requests(REPO)
    return forge.branches(REPO), pr, forge.auto_merge_request(REPO, pr.number)


def _alice_re_arms(forge: prplan.LocalForge, number: int = 1) -> None:
    forge.disable_auto_merge(REPO, number)
    forge.enable_auto_merge(REPO, number, "merge", by="alice")


# --- 1. who armed the merge is a fact the recheck compares ------------------------------------


def test_a_saved_disarm_plan_is_stale_once_alice_re_armed_as_herself() -> None:
    forge = _forge()
    assert prplan.apply(_plan(forge, _request()), forge).status is OutcomeStatus.AUTO_MERGE_ENABLED
    plan = _saved(_plan(forge, _request(automerge=False, files={"app.yaml": "tag: 3\n"})))
    assert [a.kind for a in plan.actions] == [ActionKind.DISARM_MERGE, ActionKind.COMMIT]
    _alice_re_arms(forge)
    before = _state(forge)
    with pytest.raises(prplan.StalePlanError) as stale:
        prplan.apply(plan, forge)
    assert ("who armed the merge of pull request #1", "prplan", "alice") in stale.value.moved
    assert _state(forge) == before  # alice's auto-merge on, no commit
    assert forge.auto_merge_request(REPO, 1)["enabled_by"] == "alice"  # type: ignore[index]


def test_a_saved_open_disarm_foreign_plan_is_stale_once_alice_reviewed_and_re_armed(
    tmp_path: Path,
) -> None:
    data = tmp_path / "forge"
    forge = prplan.LocalForge.open(data)
    forge.create_repo(REPO, {"app.yaml": "tag: 1\n"})
    forge.protect_branch(REPO, "main", required_checks=[CHECK])
    prplan.apply(_plan(forge, _request()), forge)  # prplan's auto-merge, ci/lint pending
    forge.push(REPO, BRANCH, {"fix.yaml": "x: 1\n"}, message="Human fix")
    forge.close()
    (tmp_path / "app.yaml").write_text("tag: 2\n")
    saved = tmp_path / "plan.json"
    change = ["--repo", REPO, "--local", str(data), "--branch", BRANCH, "--automerge",
              "--file", f"app.yaml={tmp_path / 'app.yaml'}"]  # fmt: skip
    planned = CliRunner().invoke(cli, ["plan", *change, "--out", str(saved)])
    assert "open_disarm_foreign" in saved.read_text(), planned.output
    forge = prplan.LocalForge.open(data)
    _alice_re_arms(forge)  # alice reviewed the human's fix and armed it herself
    forge.close()
    result = CliRunner().invoke(cli, ["apply", str(saved), "--local", str(data)])
    assert result.exit_code == 4, result.output
    assert "who armed the merge of pull request #1: planned prplan, now alice" in result.output
    forge = prplan.LocalForge.open(data)
    assert forge.auto_merge_request(REPO, 1)["enabled_by"] == "alice"  # type: ignore[index]
    forge.close()


# --- 2. an edited observation, and a gate that moved ------------------------------------------


def test_an_observation_edited_to_name_alice_as_prplan_cannot_disarm_alice() -> None:
    forge = _forge()
    prplan.apply(_plan(forge, _request(automerge=False)), forge)
    forge.enable_auto_merge(REPO, 1, "merge", by="alice")
    honest = _plan(forge, _request(automerge=False, files={"app.yaml": "tag: 3\n"}))
    assert honest.refusal is not None  # alice's arming: prplan will not commit under it
    forged = _retold(honest, viewer="alice")
    assert forged.refusal is None and forged.actions[0].kind is ActionKind.DISARM_MERGE
    before = _state(forge)
    with pytest.raises(prplan.StalePlanError) as stale:
        prplan.apply(forged, forge)
    assert ("login prplan acts as", "alice", "prplan") in stale.value.moved
    assert _state(forge) == before


def test_an_observation_edited_to_a_clean_gate_cannot_merge_past_a_failing_check() -> None:
    forge = _forge()
    forge.set_admin(REPO, "prplan")  # an admin's token: the forge would merge past the gate
    prplan.apply(_plan(forge, _request(automerge=False)), forge)
    (pr,) = forge.pull_requests(REPO)
    forge.set_status(REPO, pr.head_sha, CHECK, "failure")
    honest = _plan(forge, _request(merge_when="now"))
    assert honest.refusal is not None and honest.refusal.code.value == "checks_failing"
    pulls = tuple(attrs.evolve(p, gate=Gate.CLEAN, failing_checks=()) for p in honest.observed.pull_requests)  # fmt: skip
    forged = _retold(honest, pull_requests=pulls)
    assert forged.actions[-1].kind is ActionKind.MERGE_PULL_REQUEST
    with pytest.raises(prplan.StalePlanError) as stale:
        prplan.apply(forged, forge)
    assert ("gate of pull request #1", "clean", f"failing ({CHECK})") in stale.value.moved
    assert not forge.pull_requests(REPO)[0].merged and forge.files(REPO, "main")["app.yaml"] == b"tag: 1\n"  # fmt: skip


def test_a_saved_merge_now_plan_is_stale_when_the_check_failed_since() -> None:
    forge = _forge()
    forge.set_admin(REPO, "prplan")
    prplan.apply(_plan(forge, _request(automerge=False)), forge)
    head = forge.pull_requests(REPO)[0].head_sha
    forge.set_status(REPO, head, CHECK, "success")
    plan = _saved(_plan(forge, _request(merge_when="now")))
    assert plan.actions[-1].kind is ActionKind.MERGE_PULL_REQUEST
    forge.set_status(REPO, head, CHECK, "failure")  # a re-run of CI fails
    with pytest.raises(prplan.StalePlanError) as stale:
        prplan.apply(plan, forge)
    assert stale.value.moved == (("gate of pull request #1", "clean", f"failing ({CHECK})"),)
    assert not forge.pull_requests(REPO)[0].merged


def test_a_gate_that_cleared_since_the_plan_leaves_the_plan_good() -> None:
    """Pending at plan time, green at apply: not stale (the plan's arming
    finds the pull request mergeable now and merges it); only a gate that
    moved against the plan is."""
    forge = _forge()
    forge.set_allow_auto_merge(REPO, True)
    prplan.apply(_plan(forge, _request(automerge=False)), forge)
    plan = _saved(_plan(forge, _request()))
    assert plan.actions[-1].kind is ActionKind.ENABLE_AUTO_MERGE  # pending: arm
    head = forge.pull_requests(REPO)[0].head_sha
    forge.set_status(REPO, head, CHECK, "success")
    outcome = prplan.apply(plan, forge)
    assert outcome.status is OutcomeStatus.MERGED, outcome
    assert forge.pull_requests(REPO)[0].merged


def test_the_recheck_of_a_repository_that_held_still_finds_nothing_moved() -> None:
    """Gate, arming, its login and the viewer are read the same way twice:
    the in-process observe -> plan -> apply (recheck on) is not stale."""
    forge = _forge()
    request = _request()
    prplan.apply(_plan(forge, request), forge)  # armed by prplan, ci/lint pending
    first, second = prplan.observe(forge, request), prplan.observe(forge, request)
    assert first.viewer == "prplan" and first.pull_requests[0].gate is Gate.PENDING
    assert moved_facts(first, second) == []
    assert prplan.apply(_plan(forge, request), forge).status is OutcomeStatus.UNCHANGED
    forge.set_status(REPO, BRANCH, CHECK, "pending")  # reported, still pending: same gate
    assert moved_facts(first, prplan.observe(forge, request)) == []


# --- 3. a head that moves while waiting on this run's arming ----------------------------------


def _wait(
    client: Any, *steps: Callable[[], None], request: ChangeRequest | None = None
) -> prplan.Outcome:
    request = request or _request(merge_when="wait", wait_timeout=600)
    plan = prplan.plan(prplan.observe(client, request), request)
    return prplan.apply(plan, client, waiter=FakeTime(*steps).waiter())


def _push(forge: prplan.LocalForge, repo: str = REPO) -> Callable[[], None]:
    return lambda: forge.push(repo, BRANCH, {"extra.yaml": "evil: 1\n"}, message="Sneak in")


def _ci_passes_later(forge: prplan.LocalForge, repo: str = REPO) -> dict[str, bytes]:
    """CI reports success on the pushed head: what would GitHub merge?"""
    forge.set_status(repo, BRANCH, CHECK, "success")
    return forge.files(repo, "main")


def test_wait_turns_off_its_own_auto_merge_when_a_human_pushes() -> None:
    forge = _forge()
    outcome = _wait(forge, _push(forge))
    assert outcome.status is OutcomeStatus.FAILED
    assert outcome.error_type == "HeadMovedAfterArming"
    assert "prplan turned off the auto-merge it had enabled in this run" in outcome.error
    assert forge.pull_request_gate(REPO, 1).armed is MergeArmed.NONE
    assert "extra.yaml" not in _ci_passes_later(forge)  # nothing merges the human's commit


class _DisarmFails:
    """The forge refuses the disarm (a network error, a lost permission)."""

    def __init__(self, forge: prplan.LocalForge) -> None:
        self.forge = forge

    def __getattr__(self, name: str) -> Any:
        return getattr(self.forge, name)

    def disarm_merge(self, repo: str, number: int, *, armed: MergeArmed) -> None:
        raise ForgeError("502 Bad Gateway")


def test_wait_says_so_when_its_own_auto_merge_cannot_be_turned_off() -> None:
    forge = _forge()
    outcome = _wait(_DisarmFails(forge), _push(forge))
    assert outcome.error_type == "HeadMovedAfterArming"
    assert "tried to turn its auto-merge off, but could not: 502 Bad Gateway" in outcome.error
    assert "disable auto-merge (or dequeue it) by hand now" in outcome.error
    assert forge.pull_request_gate(REPO, 1).armed is MergeArmed.AUTO_MERGE


def test_wait_leaves_an_arming_someone_else_made_on() -> None:
    forge = _forge()

    def push_then_alice_re_arms() -> None:
        _push(forge)()
        _alice_re_arms(forge)

    outcome = _wait(forge, push_then_alice_re_arms)
    assert outcome.error_type == "HeadMovedAfterArming"
    assert "leaves its auto-merge on: it is now armed by alice" in outcome.error
    assert forge.auto_merge_request(REPO, 1)["enabled_by"] == "alice"  # type: ignore[index]


def test_wait_leaves_an_arming_it_found_on_and_did_not_make_in_this_run() -> None:
    forge = _forge()
    prplan.apply(_plan(forge, _request()), forge)  # an earlier run armed it
    outcome = _wait(forge, _push(forge))  # this run: nothing to do but wait
    assert outcome.error_type == "HeadMovedAfterArming"
    assert "did not arm it in this run and leaves it on" in outcome.error
    assert forge.pull_request_gate(REPO, 1).armed is MergeArmed.AUTO_MERGE


def test_a_stage_wait_turns_off_the_canarys_auto_merge_when_a_human_pushes(
    tmp_path: Path,
) -> None:
    forge = _forge(REPO, FLEET)
    out = tmp_path / "app.yaml"
    out.write_text("tag: 2\n")
    document = {
        "version": 1,
        "defaults": {"branch": BRANCH, "create_pr": True, "automerge": True, "title": "r2"},
        "stages": [
            {"name": "canary", "changes": [{"repo": REPO, "files": {"app.yaml": str(out)}}]},
            {"name": "fleet", "changes": [{"repo": FLEET, "files": {"app.yaml": str(out)}}]},
        ],
    }  # fmt: skip
    planned = plan_changeset(forge, parse_changeset(document))
    waiter = FakeTime(_push(forge)).waiter()
    canary, fleet = apply_changeset(forge, planned, waiter=waiter).entries
    assert canary.status == "failed" and canary.error_type == "HeadMovedAfterArming"
    assert "turned off the auto-merge it had enabled in this run" in canary.error
    assert fleet.status == "not_run" and BRANCH not in forge.branches(FLEET)
    assert forge.pull_request_gate(REPO, 1).armed is MergeArmed.NONE
    assert "extra.yaml" not in _ci_passes_later(forge)

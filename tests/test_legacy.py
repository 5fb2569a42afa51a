"""The 15 scenarios of the legacy helper's matrix, on a real forge model.

Each asserts the resulting repository and pull-request state, including the
four legacy bugs: a crash with no PR (1), a change dropped when a PR exists
(2, 4), and a merge nobody asked for (3).
"""

from __future__ import annotations

import pytest

import prplan
from prplan.cli.table_doc import LEGACY_SCENARIOS, LegacyScenario, legacy_situation
from prplan.core.table import decide

REPO = "acme/configuration"
BRANCH = "deploy/app"
OLD = "replicas: 1\n"
NEW = "replicas: 2\n"


def _forge(prs: str) -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": OLD})
    if prs == "none":
        return forge
    forge.push(
        REPO,
        BRANCH,
        {"notes.txt": "earlier\n"},
        message="Earlier change\n\nPrplan-Request: 0123456789abcdef",
        sealed=True,  # an earlier automated run's commit
    )
    first = forge.open_pr(REPO, BRANCH, "main", title="Earlier")
    if prs == "merged":
        forge.merge_pr(REPO, first)
    elif prs == "two open":
        forge.open_pr(REPO, BRANCH, "main", title="Duplicate", allow_duplicate=True)
    return forge


@pytest.mark.parametrize("scenario", LEGACY_SCENARIOS, ids=lambda s: f"legacy-{s.number}")
def test_legacy_scenario(scenario: LegacyScenario) -> None:
    forge = _forge(scenario.prs)
    body = "extra message" if scenario.extra_message else ""
    request = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"values.yaml": NEW},
        create_pr=scenario.create_pr, automerge=scenario.automerge,
        title="deploy app (identity)", body=body,
    )  # fmt: skip
    before = forge.pull_requests(REPO)
    plan = prplan.plan(prplan.observe(forge, request), request)
    assert plan.rule == decide(legacy_situation(scenario)).name, (
        "specs/ maps this scenario to another rule"
    )
    outcome = prplan.apply(plan, forge)
    after = forge.pull_requests(REPO)
    main = forge.read_file(REPO, "main", "values.yaml")
    branch = forge.read_file(REPO, BRANCH, "values.yaml")

    if scenario.prs == "two open":
        assert outcome.status is prplan.OutcomeStatus.REFUSED
        assert plan.refusal is not None and plan.refusal.pull_requests == (1, 2)
        assert "#1, #2" in plan.refusal.message
        assert after == before and main == OLD.encode()
        return

    # The change is never dropped: it is on the branch, or merged into main.
    merged_now = [p for p in after if p.merged and p not in before]
    if scenario.automerge and (scenario.create_pr or scenario.prs == "open"):
        assert main == NEW.encode()
        assert len(merged_now) == 1
        assert outcome.status is prplan.OutcomeStatus.MERGED
    else:
        assert main == OLD.encode(), "merged although automerge is off (legacy bug 3)"
        assert merged_now == []
        assert branch == NEW.encode(), "the change was dropped (legacy bugs 2 and 4)"

    open_prs = [p for p in after if p.is_open]
    if scenario.create_pr and not scenario.automerge:
        assert len(open_prs) == 1
        if scenario.prs == "open":
            assert open_prs[0].number == before[0].number, "the open PR is reused"
    if not scenario.create_pr:
        assert len(after) == len(before), "no PR is created without create_pr"
    new_prs = [p for p in after if p.number not in {b.number for b in before}]
    if scenario.extra_message and new_prs:
        assert body == "extra message"
    assert prplan.plan(prplan.observe(forge, request), request).is_empty

"""Pull-request metadata in the planner, the request, the plan document,
the command and change sets (issue 15, item 2). Local forge in process:
fast."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

import prplan
from prplan.cli import cli
from prplan.core import actions as act
from prplan.core.pr_metadata import Milestone, PullMetadata
from prplan.core.states import ActionKind
from prplan.run.changeset_file import parse_changeset

REPO = "acme/app"
K = ActionKind


def _forge() -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"a.yaml": "tag: 1\n"})
    forge.create_milestone(REPO, "v1")
    return forge


def _request(**changes: object) -> prplan.ChangeRequest:
    fields: dict[str, object] = {
        "repo": REPO,
        "branch": "prplan/a",
        "files": {"a.yaml": "tag: 2\n"},
    }
    return prplan.ChangeRequest(**{**fields, **changes})  # type: ignore[arg-type]


def _plan(forge: prplan.LocalForge, request: prplan.ChangeRequest) -> prplan.Plan:
    return prplan.plan(prplan.observe(forge, request), request)


def _open(forge: prplan.LocalForge, **changes: object) -> int:
    """An open pull request carrying the change (no metadata)."""
    outcome = prplan.apply(_plan(forge, _request(**changes)), forge)
    assert outcome.pull_request is not None
    return outcome.pull_request


def _kinds(plan: prplan.Plan) -> list[ActionKind]:
    return [a.kind for a in plan.actions]


def test_a_request_without_metadata_plans_and_reads_as_before() -> None:
    forge = _forge()
    plan = _plan(forge, _request())
    assert plan.observed.pr_metadata is None and plan.observed.milestones is None
    document = plan.to_json()
    for key in ("labels", "assignees", "reviewers", "draft", "milestone", "pr_metadata"):
        assert f'"{key}"' not in document


def test_a_new_pull_request_gets_everything_requested_right_after_it_opens() -> None:
    forge = _forge()
    request = _request(labels=["deploy"], assignees=["alice"], reviewers=["bob"],
                       team_reviewers=["acme/sre"], milestone="v1", draft=True)  # fmt: skip
    plan = _plan(forge, request)
    assert _kinds(plan) == [K.CREATE_BRANCH, K.COMMIT, K.CREATE_PULL_REQUEST, K.ADD_LABELS,
                            K.ADD_ASSIGNEES, K.REQUEST_REVIEWERS, K.SET_MILESTONE]  # fmt: skip
    opened = plan.actions[2]
    assert isinstance(opened, act.CreatePullRequest) and opened.draft
    milestone = plan.actions[-1]
    assert isinstance(milestone, act.SetMilestone) and milestone.milestone == 1
    assert all(a.reason for a in plan.actions)
    assert prplan.Plan.from_json(plan.to_json()) == plan  # the document round trip


def test_an_open_pull_request_gets_only_what_it_lacks_and_keeps_what_a_human_added() -> None:
    forge = _forge()
    number = _open(forge)
    forge.add_labels(REPO, number, ["Deploy", "human"])
    forge.request_reviewers(REPO, number, reviewers=["carol"], team_reviewers=[])
    forge.review(REPO, number, "bob", "APPROVE")
    request = _request(labels=["deploy", "urgent"], reviewers=["bob", "carol", "dave"])
    plan = _plan(forge, request)
    assert _kinds(plan) == [K.ADD_LABELS, K.REQUEST_REVIEWERS]
    labels, reviewers = plan.actions
    assert isinstance(labels, act.AddLabels) and labels.labels == ("urgent",)
    assert isinstance(reviewers, act.RequestReviewers) and reviewers.reviewers == ("dave",)
    assert any(note.startswith("bob already reviewed") for note in plan.notes)
    outcome = prplan.apply(plan, forge)
    assert outcome.status is prplan.OutcomeStatus.UPDATED  # metadata alone: updated
    seen = forge.pull_request_metadata(REPO, number, reviews=False)
    assert seen.labels == ("Deploy", "human", "urgent")
    assert _plan(forge, request).is_empty


def test_draft_is_kept_readied_or_never_converted() -> None:
    forge = _forge()
    number = _open(forge, draft=True)
    assert _plan(forge, _request(draft=None)).is_empty  # left alone
    assert _plan(forge, _request(draft=True)).is_empty
    ready = _plan(forge, _request(draft=False))
    assert _kinds(ready) == [K.MARK_READY_FOR_REVIEW]
    prplan.apply(ready, forge)
    assert not forge.pull_request_metadata(REPO, number, reviews=False).draft
    again = _plan(forge, _request(draft=True))
    assert again.is_empty and any("does not convert" in note for note in again.notes)


def test_a_milestone_someone_set_is_kept_and_an_unknown_title_is_an_error() -> None:
    forge = _forge()
    number = _open(forge)
    forge.create_milestone(REPO, "v2")
    forge.set_milestone(REPO, number, 2)
    kept = _plan(forge, _request(milestone="v1"))
    assert kept.is_empty and any("'v2'" in note for note in kept.notes)
    with pytest.raises(prplan.InvalidRequestError) as raised:
        prplan.observe(forge, _request(milestone="v9"))
    assert raised.value.problems[0].field == "milestone"
    assert "'v1', 'v2'" in raised.value.problems[0].message


def test_a_refused_plan_carries_no_metadata_and_a_hand_made_snapshot_is_read_safely() -> None:
    forge = _forge()
    _open(forge, draft=True)
    plan = _plan(forge, _request(automerge=True, labels=["x"]))
    assert plan.refusal is not None and plan.actions == ()
    request = _request(milestone="v1", labels=["x"])
    snapshot = prplan.observe(forge, request)
    bare = attrs.evolve(snapshot, pr_metadata=None, milestones=(Milestone(title="v3", number=3),))
    planned = prplan.plan(bare, request)
    assert _kinds(planned) == [K.ADD_LABELS]
    assert any("no open milestone is titled 'v1'" in note for note in planned.notes)
    assert isinstance(snapshot.pr_metadata, PullMetadata)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"labels": ["bug", "BUG"]}, "labels", "same for GitHub"),
        ({"labels": [""]}, "labels", "empty name"),
        ({"assignees": ["not a login"]}, "assignees", "not a GitHub login"),
        ({"team_reviewers": ["a/b/c"]}, "team_reviewers", "org/slug"),
        ({"reviewers": "bob"}, "reviewers", "list of names"),
        ({"draft": True, "automerge": True}, "draft", "automerge"),
        ({"milestone": " "}, "milestone", "title"),
        ({"labels": ["x"], "create_pr": False}, "labels", "create_pr is off"),
    ],
)
def test_bad_metadata_is_refused_naming_the_field_and_the_fix(
    changes: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(prplan.InvalidRequestError) as raised:
        _request(**changes)
    assert [(p.field, words in p.message) for p in raised.value.problems] == [(field, True)]


def test_the_command_sets_metadata_and_shows_it_in_every_format(tmp_path: Path) -> None:
    data = tmp_path / "forge"
    forge = prplan.LocalForge.open(data)
    forge.create_repo(REPO, {"a.yaml": "tag: 1\n"})
    forge.create_milestone(REPO, "v1")
    forge.close()
    (tmp_path / "a.yaml").write_text("tag: 2\n")
    args = ["--repo", REPO, "--local", str(data), "--branch", "prplan/a",
            "--file", f"a.yaml={tmp_path / 'a.yaml'}", "--label", "deploy", "--label", "ops",
            "--assignee", "alice", "--reviewer", "bob", "--team-reviewer", "sre",
            "--milestone", "v1", "--draft"]  # fmt: skip
    plan_file = tmp_path / "plan.json"
    made = CliRunner().invoke(cli, ["plan", *args, "--out", str(plan_file)])
    assert made.exit_code == 2, made.output
    assert "add label(s) deploy, ops to the new pull request" in made.output
    markdown = CliRunner().invoke(cli, ["show", str(plan_file), "--format", "markdown"])
    assert "request review of the new pull request from bob, team sre" in markdown.output
    assert '"type": "set_milestone"' in plan_file.read_text()
    applied = CliRunner().invoke(cli, ["apply", str(plan_file), "--local", str(data)])
    assert applied.exit_code == 0, applied.output
    forge = prplan.LocalForge.open(data)
    seen = forge.pull_request_metadata(REPO, 1, reviews=False)
    forge.close()
    assert (seen.labels, seen.assignees, seen.requested_teams, seen.milestone, seen.draft) == (
        ("deploy", "ops"), ("alice",), ("sre",), "v1", True,
    )  # fmt: skip
    bad = CliRunner().invoke(cli, ["plan", *args, "--automerge"])
    assert bad.exit_code == 1 and "--draft" in bad.output and "automerge" in bad.output


def test_a_change_set_entry_replaces_the_defaults_lists(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("tag: 2\n")
    document = {
        "version": 1,
        "defaults": {"branch": "prplan/a", "labels": ["deploy"], "reviewers": ["bob"]},
        "changes": [
            {"repo": "acme/one", "files": {"a.yaml": "a.yaml"}},
            {
                "repo": "acme/two",
                "files": {"a.yaml": "a.yaml"},
                "labels": ["canary"],
                "draft": True,
            },
        ],
    }
    one, two = parse_changeset(document, base_dir=tmp_path).requests
    assert (one.labels, one.reviewers, one.draft) == (("deploy",), ("bob",), None)
    assert (two.labels, two.reviewers, two.draft) == (("canary",), ("bob",), True)
    document["changes"][1]["assignees"] = ["not a login"]  # type: ignore[index]
    with pytest.raises(prplan.InvalidRequestError) as raised:
        parse_changeset(document, base_dir=tmp_path)
    assert raised.value.problems[0].field == "changes[1].assignees"

"""Issue 15's hostile review, the metadata and identity findings: each test
failed before its fix (reproductions of /tmp/review15, made into tests).

3  a reviewer who is the pull request's author is left out (GitHub answers
   422 "Review cannot be requested from pull request author"), also for a
   new pull request whose author is the login prplan acts as;
7  a team of another organisation is refused before any write;
8  GitHub's limits on labels (100) and assignees (10) are checked before
   any write, counting what an open pull request already has;
9  a closed milestone is not set: the request is refused naming it and the fix;
11 a co-author named twice, or who is the author, is refused.
"""

from __future__ import annotations

import pytest

import prplan
from prplan.core import actions as act
from prplan.errors import InvalidRequestError

from served import Served

REPO = "acme/app"
BRANCH = "prplan/tag-2"


def _req(**changes: object) -> prplan.ChangeRequest:
    fields: dict[str, object] = dict(
        repo=REPO, branch=BRANCH, files={"values.yaml": "tag: 2\n"}, title="tag 2", body="b"
    )
    fields.update(changes)
    return prplan.ChangeRequest(**fields)  # type: ignore[arg-type]


def _forge() -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n"})
    return forge


def _run(client: object, request: prplan.ChangeRequest) -> tuple[prplan.Plan, object]:
    plan = prplan.plan(prplan.observe(client, request), request)  # type: ignore[arg-type]
    return plan, prplan.apply(plan, client)  # type: ignore[arg-type]


def _problems(raised: pytest.ExceptionInfo[InvalidRequestError]) -> str:
    return str(raised.value)


# --- 3: the author's review is never requested ---------------------------------------


def test_the_open_pull_requests_author_is_not_asked_to_review_and_a_rerun_changes_nothing() -> None:
    forge = _forge()
    forge.push(REPO, BRANCH, {"values.yaml": "tag: 2\n"}, message="by hand")
    number = forge.open_pr(REPO, BRANCH, author="alice")
    request = _req(reviewers=["Alice", "bob"], labels=["deploy"])
    plan, outcome = _run(forge, request)
    assert outcome.ok, outcome  # type: ignore[attr-defined]
    asked = [a for a in plan.actions if isinstance(a, act.RequestReviewers)]
    assert [a.reviewers for a in asked] == [("bob",)]
    assert any("Alice is the author of #" in note for note in plan.notes)
    assert forge.pull_request_metadata(REPO, number, reviews=False).requested_reviewers == ("bob",)
    again, rerun = _run(forge, request)
    assert rerun.ok and not any(  # type: ignore[attr-defined]
        isinstance(a, act.RequestReviewers) for a in again.actions
    )


def test_the_local_forge_refuses_a_review_request_from_the_author_as_github_does() -> None:
    forge = _forge()
    forge.push(REPO, BRANCH, {"values.yaml": "tag: 2\n"}, message="by hand")
    number = forge.open_pr(REPO, BRANCH, author="alice")
    with pytest.raises(prplan.errors.ForgeError, match="cannot be requested from pull request"):
        forge.request_reviewers(REPO, number, reviewers=["alice"], team_reviewers=[])


@pytest.mark.parametrize("transport", ["rest", "graphql"])
def test_a_new_pull_request_does_not_ask_prplans_own_login_to_review(
    forge_server: object, transport: str
) -> None:
    forge = _forge()
    served = Served(forge_server, forge)  # type: ignore[arg-type]
    client = served.new_client(transport=transport, retries=0, backoff=0.0)
    plan, outcome = _run(client, _req(reviewers=["prplan", "bob"]))
    assert outcome.ok, outcome  # type: ignore[attr-defined]
    asked = [a for a in plan.actions if isinstance(a, act.RequestReviewers)]
    assert [a.reviewers for a in asked] == [("bob",)]
    assert any("prplan is the author of the new pull request" in n for n in plan.notes)
    number = next(pr.number for pr in forge.pull_requests(REPO))
    assert forge.pull_request_metadata(REPO, number, reviews=False).requested_reviewers == ("bob",)
    assert served.violations == []


# --- 7: teams of the repository's owner only ------------------------------------------


def test_a_team_of_another_organisation_is_refused_naming_the_field_and_the_fix() -> None:
    with pytest.raises(InvalidRequestError) as raised:
        _req(team_reviewers=["otherorg/platform"])
    text = _problems(raised)
    assert "team_reviewers" in text and "'otherorg'" in text and "acme/platform" in text
    assert _req(team_reviewers=["ACME/platform", "sre"]).team_reviewers == ("ACME/platform", "sre")


# --- 8: GitHub's count limits ---------------------------------------------------------


@pytest.mark.parametrize(("field", "limit"), [("labels", 100), ("assignees", 10)])
def test_more_than_githubs_limit_is_refused_before_any_write(field: str, limit: int) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        _req(**{field: [f"u{i}" for i in range(limit + 1)]})
    assert field in _problems(raised) and f"at most {limit}" in _problems(raised)
    assert len(getattr(_req(**{field: [f"u{i}" for i in range(limit)]}), field)) == limit


def test_an_open_pull_request_over_the_limit_with_the_additions_gets_none_of_them() -> None:
    forge = _forge()
    forge.push(REPO, BRANCH, {"values.yaml": "tag: 2\n"}, message="by hand")
    number = forge.open_pr(REPO, BRANCH, author="alice")
    forge.add_assignees(REPO, number, [f"u{i}" for i in range(8)])
    plan, outcome = _run(forge, _req(assignees=["x1", "x2", "x3"], labels=["deploy"]))
    assert outcome.ok, outcome  # type: ignore[attr-defined]
    assert not any(isinstance(a, act.AddAssignees) for a in plan.actions)
    assert any("limit of 10" in note for note in plan.notes)
    seen = forge.pull_request_metadata(REPO, number, reviews=False)
    assert len(seen.assignees) == 8 and seen.labels == ("deploy",)


# --- 9: open milestones only ----------------------------------------------------------


def _closed_milestone(forge: prplan.LocalForge, title: str) -> int:
    number = forge.create_milestone(REPO, title)
    forge._db.execute(  # a human closes it: the forge has no method for it
        "UPDATE milestones SET state='closed' WHERE repo=? AND number=?", (REPO, number)
    )
    return number


@pytest.mark.parametrize("transport", ["rest", "graphql"])
def test_a_closed_milestone_is_refused_naming_it_and_the_fix(
    forge_server: object, transport: str
) -> None:
    forge = _forge()
    _closed_milestone(forge, "Q3")
    forge.create_milestone(REPO, "Q4")
    served = Served(forge_server, forge)  # type: ignore[arg-type]
    client = served.new_client(transport=transport, retries=0, backoff=0.0)
    with pytest.raises(InvalidRequestError) as raised:
        prplan.observe(client, _req(milestone="Q3"))
    text = _problems(raised)
    assert "milestone" in text and "'Q3' (#1)" in text and "is closed: reopen it" in text
    assert "'Q4'" in text
    assert forge.pull_requests(REPO) == [] and served.violations == []
    request = _req(milestone="Q4")
    plan = prplan.plan(prplan.observe(client, request), request)
    assert [a.milestone for a in plan.actions if isinstance(a, act.SetMilestone)] == [2]


def test_the_planner_sets_only_an_open_milestone() -> None:
    forge = _forge()
    _closed_milestone(forge, "Q3")
    snapshot = prplan.observe(forge, _req())
    closed = prplan.core.pr_metadata.Milestone(title="Q3", number=1, state="closed")
    import attrs

    plan = prplan.plan(attrs.evolve(snapshot, milestones=(closed,)), _req(milestone="Q3"))
    assert not any(isinstance(a, act.SetMilestone) for a in plan.actions)
    assert any("no open milestone is titled 'Q3'" in note for note in plan.notes)


# --- 11: co-authors once each ---------------------------------------------------------


@pytest.mark.parametrize(
    ("author", "co_authors", "said"),
    [
        (None, ["Ada <a@b.c>", "Ada L. <A@B.C>"], "has the e-mail of co_authors[0]"),
        ("Ada <a@b.c>", ["Ada <A@b.c>"], "is the commit's author"),
    ],
)
def test_a_co_author_named_twice_or_who_is_the_author_is_refused(
    author: str | None, co_authors: list[str], said: str
) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        _req(author=author, co_authors=co_authors)
    assert "co_authors[" in _problems(raised) and said in _problems(raised)
    assert _req(co_authors=["Ada <a@b.c>", "Bob <b@b.c>"]).co_authors[1] == "Bob <b@b.c>"


# --- 4: the plan's signing statement follows the transport the commit takes -----------


@pytest.mark.parametrize(
    ("files", "signed"),
    [({"run.sh": b"echo 2\n"}, False), ({"values.yaml": b"tag: 2\n"}, True)],
)
def test_the_plans_signing_statement_matches_what_the_forge_records(
    forge_server: object, files: dict[str, bytes], signed: bool
) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(
        REPO, {"run.sh": b"echo 1\n", "values.yaml": b"tag: 1\n"}, executable=["run.sh"]
    )
    served = Served(forge_server, forge)  # type: ignore[arg-type]
    client = served.new_client(transport="graphql", retries=0, backoff=0.0)
    plan, outcome = _run(client, _req(files=files))
    assert outcome.ok, outcome  # type: ignore[attr-defined]
    assert ("the commit is signed by GitHub" in plan.writes) is signed, plan.writes
    assert (
        "unsigned (over REST, not GraphQL: run.sh is an executable" in plan.writes
    ) is not signed
    assert forge.is_verified(REPO, outcome.commit_sha) is signed  # type: ignore[attr-defined]

"""PRs kept up to date (issue 15, item 3): prplan's marker in the body it
writes, ``update_pr`` rewriting prplan's own pull request (never a human's,
a human's text below the line kept), ``close_superseded`` closing prplan's
own pull request once base holds the change, and the body kept within
GitHub's 65,536 characters, stable across re-runs. Over the in-process
forge and over HTTP under both transports (every REST answer on GitHub's
OpenAPI schemas)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from transitions import MachineError

import prplan
from prplan.cli import cli
from prplan.core.actions import ClosePullRequest, UpdatePullRequest
from prplan.core.lifecycle import walk
from prplan.core.pull_text import HUMAN_LINE, marker
from prplan.core.states import ActionKind, Stage
from prplan.forges.local.server.app import ForgeServer
from prplan.run.outcome import OutcomeStatus

from served import Served

REPO = "acme/app"
BRANCH = "prplan/tag-2"


def _request(**changes: object) -> prplan.ChangeRequest:
    fields: dict[str, object] = {
        "repo": REPO,
        "branch": BRANCH,
        "files": {"values.yaml": "tag: 2\n"},
        "title": "tag 2",
        "body": "Deploys tag 2.",
    }
    return prplan.ChangeRequest(**{**fields, **changes})  # type: ignore[arg-type]


class Setup:
    def __init__(self, forge: prplan.LocalForge, client: prplan.ForgeClient) -> None:
        self.forge, self.client = forge, client

    def run(self, request: prplan.ChangeRequest) -> tuple[prplan.Plan, prplan.Outcome]:
        plan = prplan.plan(prplan.observe(self.client, request), request)
        return plan, prplan.apply(plan, self.client)

    def body(self, number: int) -> str:
        return str(self.forge.pull_row(REPO, number)["body"])


@pytest.fixture(params=["local", "graphql", "rest"])
def setup(request: pytest.FixtureRequest, forge_server: ForgeServer) -> Iterator[Setup]:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n"})
    if request.param == "local":
        yield Setup(forge, forge)
        return
    served = Served(forge_server, forge)
    yield Setup(forge, served.new_client(transport=request.param, retries=3, backoff=0.0))
    assert served.violations == [], "\n".join(served.violations)


def test_the_marker_is_written_and_a_rerun_with_update_pr_changes_nothing(setup: Setup) -> None:
    request = _request(update_pr=True)
    plan, outcome = setup.run(request)
    created = next(a for a in plan.actions if a.kind is ActionKind.CREATE_PULL_REQUEST)
    assert created.body == "Deploys tag 2."  # the plan holds the request's body only
    number = outcome.pull_request
    assert number is not None
    assert setup.body(number) == (f"Deploys tag 2.\n\n{marker(request.request_id)}\n{HUMAN_LINE}\n")
    again, outcome = setup.run(request)
    assert again.actions == () and outcome.status is OutcomeStatus.UNCHANGED


def test_update_pr_rewrites_title_and_body_and_keeps_the_humans_text(setup: Setup) -> None:
    _, outcome = setup.run(_request())
    number = outcome.pull_request
    assert number is not None
    # A human writes below prplan's line (GitHub's editor sends \r\n).
    human = "Reviewed by the SRE team.\r\nShip it.\r\n"
    setup.forge.edit_pull(REPO, number, body=setup.body(number).replace("\n", "\r\n") + human)
    # Without update_pr nothing is rewritten.
    assert setup.run(_request(title="tag 2 (prod)"))[0].actions == ()
    changed = _request(title="tag 2 (prod)", body="Deploys tag 2 to prod.", update_pr=True)
    plan, outcome = setup.run(changed)
    assert [type(a) for a in plan.actions] == [UpdatePullRequest]
    assert "title and body of #" in plan.actions[0].reason
    assert outcome.status is OutcomeStatus.UPDATED
    row = setup.forge.pull_row(REPO, number)
    assert row["title"] == "tag 2 (prod)"
    assert row["body"] == (
        f"Deploys tag 2 to prod.\n\n{marker(changed.request_id)}\n{HUMAN_LINE}\n"
        "Reviewed by the SRE team.\nShip it.\n"
    )
    assert setup.run(changed)[0].actions == ()  # the re-run compares equal


def test_update_pr_keeps_prplans_pull_request_up_to_date_across_versions(setup: Setup) -> None:
    """A new version of the change (tag 3 after tag 2: a new request id) on
    the same branch: the pull request prplan opened for tag 2 is still its
    own; update_pr rewrites its title and body and moves its marker to the
    new request, and the re-run changes nothing."""
    _, outcome = setup.run(_request())
    number = outcome.pull_request
    assert number is not None
    tag3 = _request(files={"values.yaml": "tag: 3\n"}, title="tag 3", body="Deploys tag 3.")
    without = setup.run(tag3)[0]  # without update_pr: the commit only
    assert [a.kind for a in without.actions] == [ActionKind.COMMIT]
    tag4 = _request(
        files={"values.yaml": "tag: 4\n"}, title="tag 4", body="Deploys tag 4.", update_pr=True
    )
    plan, outcome = setup.run(tag4)
    assert [a.kind for a in plan.actions] == [ActionKind.COMMIT, ActionKind.UPDATE_PULL_REQUEST]
    assert outcome.status is OutcomeStatus.UPDATED
    row = setup.forge.pull_row(REPO, number)
    assert row["title"] == "tag 4"
    assert row["body"] == f"Deploys tag 4.\n\n{marker(tag4.request_id)}\n{HUMAN_LINE}\n"
    assert setup.run(tag4)[0].actions == ()


def test_a_pull_request_without_prplans_marker_is_never_rewritten_or_closed(
    setup: Setup,
) -> None:
    forge = setup.forge
    forge.push(REPO, BRANCH, {"values.yaml": "tag: 2\n"}, message="by hand")
    number = forge.open_pr(REPO, BRANCH, title="my own title", body="my own words")
    plan, _ = setup.run(_request(update_pr=True))
    assert plan.actions == ()
    assert any("no prplan marker" in note and "left as they are" in note for note in plan.notes)
    assert forge.pull_row(REPO, number)["title"] == "my own title"
    # Base gets the content: close_superseded leaves a human's pull request open.
    forge.push(REPO, "main", {"values.yaml": "tag: 2\n"}, message="tag 2 on main")
    plan, outcome = setup.run(_request(close_superseded=True, delete_branch=True))
    assert plan.rule == "open_superseded_not_own" and plan.actions == ()
    assert outcome.status is OutcomeStatus.UNCHANGED
    assert forge.pull_row(REPO, number)["state"] == "open"
    assert forge.issue_comments(REPO, number) == []


def test_close_superseded_closes_prplans_own_pull_request_with_a_comment(setup: Setup) -> None:
    forge = setup.forge
    request = _request(close_superseded=True, delete_branch=True)
    _, outcome = setup.run(request)
    number = outcome.pull_request
    assert number is not None
    head = forge.branch_sha(REPO, BRANCH)
    forge.push(REPO, "main", {"values.yaml": "tag: 2\n"}, message="tag 2 by another road")
    plan, outcome = setup.run(request)
    assert plan.rule == "open_superseded_close"
    assert [a.kind for a in plan.actions] == [
        ActionKind.CLOSE_PULL_REQUEST,
        ActionKind.DELETE_BRANCH,
    ]
    close = plan.actions[0]
    assert isinstance(close, ClosePullRequest) and close.number == number
    assert plan.actions[1].expected_sha == head  # type: ignore[union-attr]
    assert outcome.status is OutcomeStatus.CLOSED and outcome.ok
    assert forge.pull_row(REPO, number)["state"] == "closed"
    assert forge.branch_sha(REPO, BRANCH) is None
    (comment,) = forge.issue_comments(REPO, number)
    assert "main already holds the content" in comment["body"]
    # Converged: the next run finds nothing to do.
    again, outcome = setup.run(request)
    assert again.actions == () and outcome.status is OutcomeStatus.UNCHANGED


def test_close_superseded_never_closes_a_branch_with_someone_elses_commit(setup: Setup) -> None:
    forge = setup.forge
    request = _request(close_superseded=True)
    _, outcome = setup.run(request)
    number = outcome.pull_request
    assert number is not None
    forge.push(REPO, BRANCH, {"notes.txt": "mine\n"}, message="a human's work")
    forge.push(REPO, "main", {"values.yaml": "tag: 2\n"}, message="tag 2 on main")
    plan, _ = setup.run(request)
    assert plan.rule == "open_superseded_foreign" and plan.actions == ()
    assert forge.pull_row(REPO, number)["state"] == "open"


def test_a_body_over_githubs_limit_is_truncated_the_same_way_every_run(setup: Setup) -> None:
    long_body = "x" * 65_530  # within the limit alone, over it with prplan's lines
    request = _request(body=long_body, update_pr=True)
    plan, outcome = setup.run(request)
    assert any("truncated" in note and "characters left out" in note for note in plan.notes)
    number = outcome.pull_request
    assert number is not None
    written = setup.body(number)
    assert len(written) <= 65_536
    assert "… truncated by prplan: " in written and written.endswith(f"{HUMAN_LINE}\n")
    again, _ = setup.run(request)
    assert again.actions == ()
    assert setup.body(number) == written


def test_reading_the_pull_requests_text_costs_no_request_inside_an_observation(
    setup: Setup,
) -> None:
    """Over GraphQL the observe query's pull requests carry title and body;
    over REST the listing of the pull requests does (the in-process forge
    counts the read it stands for)."""
    setup.run(_request())
    costs = []
    for request in (_request(), _request(update_pr=True, close_superseded=True)):
        before = setup.client.request_count()
        prplan.observe(setup.client, request)
        costs.append(setup.client.request_count() - before)
    extra = 1 if isinstance(setup.client, prplan.LocalForge) else 0
    assert costs[1].reads == costs[0].reads + extra and costs[1].writes == 0


# --- the command line: one case each ----------------------------------------------------


def _cli(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def forge_dir(tmp_path: Path) -> Path:
    forge = prplan.LocalForge.open(tmp_path / "forge")
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n"})
    forge.close()
    (tmp_path / "values.yaml").write_text("tag: 2\n")
    return tmp_path / "forge"


def _change(forge_dir: Path, *extra: str) -> list[object]:
    values = forge_dir.parent / "values.yaml"
    return ["apply", "--repo", REPO, "--local", forge_dir, "--branch", BRANCH,
            "--file", f"values.yaml={values}", "--yes", *extra]  # fmt: skip


def test_cli_update_pr_rewrites_the_title(forge_dir: Path) -> None:
    assert _cli(*_change(forge_dir, "--title", "tag 2")).exit_code == 0
    result = _cli(*_change(forge_dir, "--title", "tag 2 (prod)", "--update-pr"))
    assert result.exit_code == 0, result.output
    assert "rewrite the title and body of #1: 'tag 2 (prod)'" in result.output
    assert prplan.LocalForge.open(forge_dir).pull_row(REPO, 1)["title"] == "tag 2 (prod)"


def test_cli_close_superseded_closes_prplans_pull_request(forge_dir: Path) -> None:
    assert _cli(*_change(forge_dir)).exit_code == 0
    forge = prplan.LocalForge.open(forge_dir)
    forge.push(REPO, "main", {"values.yaml": "tag: 2\n"}, message="tag 2 on main")
    forge.close()
    result = _cli(*_change(forge_dir, "--close-superseded"))
    assert result.exit_code == 0, result.output
    assert "prplan apply acme/app: closed" in result.output
    assert prplan.LocalForge.open(forge_dir).pull_row(REPO, 1)["state"] == "closed"


def test_cli_author_is_the_commits_author_and_the_plan_says_unsigned(forge_dir: Path) -> None:
    result = _cli(*_change(forge_dir, "--author", "Grace Hopper <grace@example.com>"))
    assert result.exit_code == 0, result.output
    assert "custom author, committed by" in result.output and "unsigned" in result.output
    forge = prplan.LocalForge.open(forge_dir)
    head = forge.git_object(REPO, forge.branches(REPO)[BRANCH])
    assert head.author.decode() == "Grace Hopper <grace@example.com>"
    bad = CliRunner().invoke(cli, [str(a) for a in _change(forge_dir, "--author", "grace")])
    assert bad.exit_code == 1 and "error: --author: 'grace' is not 'Name <email>'" in bad.output


# --- the lifecycle, the plan document, the served comments ------------------------------


def test_the_lifecycle_closes_from_in_place_only() -> None:
    assert walk(Stage.IN_PLACE, [ActionKind.CLOSE_PULL_REQUEST, ActionKind.DELETE_BRANCH]) == [
        Stage.IN_PLACE, Stage.CLOSED, Stage.BRANCH_DELETED,
    ]  # fmt: skip
    with pytest.raises(MachineError):
        walk(Stage.PROPOSED, [ActionKind.CLOSE_PULL_REQUEST])


def test_plans_with_the_new_fields_round_trip_and_keep_their_digest() -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n"})
    request = _request(update_pr=True, close_superseded=True, delete_branch=True)
    setup = Setup(forge, forge)
    setup.run(request)
    forge.push(REPO, "main", {"values.yaml": "tag: 2\n"}, message="tag 2 on main")
    plan = prplan.plan(prplan.observe(forge, request), request)
    assert [a.kind for a in plan.actions] == [
        ActionKind.CLOSE_PULL_REQUEST, ActionKind.DELETE_BRANCH,
    ]  # fmt: skip
    text = plan.to_json()
    again = prplan.Plan.from_json(text)
    assert again == plan and again.digest == plan.digest and again.to_json() == text
    assert again.observed.pr_text is not None and again.observed.pr_text.request_id
    assert prplan.apply(again, forge).status is OutcomeStatus.CLOSED  # checked and applied


def test_the_served_comments_are_on_githubs_schemas(forge_server: ForgeServer) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n"})
    served = Served(forge_server, forge)
    client = served.new_client(transport="rest", retries=0, backoff=0.0)
    setup = Setup(forge, client)
    number = setup.run(_request())[1].pull_request
    assert number is not None
    issue = client._http.github.get_repo(REPO).get_issue(number)
    made = issue.create_comment("a human's comment")  # POST /issues/{n}/comments
    assert [c.body for c in issue.get_comments()] == ["a human's comment"]  # GET
    assert made.user.login == "prplan"
    with pytest.raises(prplan.ForgeError, match="422"):
        client.update_pull_request(REPO, number, title="t", body="x" * 65_537)
    assert served.violations == [], "\n".join(served.violations)

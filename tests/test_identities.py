"""Identities stated (issue 15, item 4): the plan says who its commit and
pull request are attributed to and whether GitHub signs the commit, under
both transports and as a GitHub App; ``co_authors`` become
``Co-authored-by:`` trailers (the commit stays signed); ``author=`` makes a
REST commit with that author, which the plan says is unsigned."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import prplan
from prplan.cli.render import plan_text
from prplan.core.actions import Commit
from prplan.forges.local.server.app import ForgeServer
from test_app_auth_client import APP_ID, BOT, AppForge, key_pair  # noqa: F401 (a fixture)

from served import Served

REPO = "acme/app"


def _request(**changes: object) -> prplan.ChangeRequest:
    fields: dict[str, object] = {
        "repo": REPO,
        "branch": "prplan/tag-2",
        "files": {"values.yaml": "tag: 2\n"},
        "title": "tag 2",
    }
    return prplan.ChangeRequest(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.fixture
def served(forge_server: ForgeServer) -> Iterator[Served]:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n"})
    served = Served(forge_server, forge)
    yield served
    assert served.violations == [], "\n".join(served.violations)


def _verified(served: Served, client: prplan.GitHubClient, sha: str) -> bool:
    commit = client._http.github.get_repo(REPO).get_git_commit(sha)  # GET git/commits/{sha}
    return bool(commit.raw_data["verification"]["verified"])


@pytest.mark.parametrize(
    ("transport", "said", "signed"),
    [
        ("graphql", "the commit is signed by GitHub (GraphQL createCommitOnBranch)", True),
        ("rest", "the commit is unsigned (REST with a user's token)", False),
    ],
)
def test_the_plan_says_who_writes_and_whether_the_commit_is_signed(
    served: Served, transport: str, said: str, signed: bool
) -> None:
    client = served.new_client(transport=transport, retries=3, backoff=0.0)
    request = _request(co_authors=["Ada Lovelace <ada@example.com>"])
    plan = prplan.plan(prplan.observe(client, request), request)
    assert plan.writes == (
        "commit and pull request by prplan, co-authored by Ada Lovelace <ada@example.com>; " + said
    )
    assert f"  writes: {plan.writes}\n" in plan_text(plan)
    assert plan.observed.writer is not None and plan.observed.writer.login == "prplan"
    assert "signed by GitHub" in plan.to_json() if signed else "unsigned" in plan.to_json()
    outcome = prplan.apply(plan, client)
    assert outcome.commit_sha is not None
    assert _verified(served, client, outcome.commit_sha) is signed
    message = served.forge.git_object(REPO, outcome.commit_sha).message.decode()
    assert "\nCo-authored-by: Ada Lovelace <ada@example.com>\n" in message
    # Still prplan's own commit (its trailers intact): a re-run has nothing to do.
    assert prplan.plan(prplan.observe(client, request), request).actions == ()
    # The login is read once per client (REST: GET /user; GraphQL: none more).
    reads = [p for _, p, _ in served.app.log.entries if p.endswith("/user")]
    assert len(reads) <= 1


@pytest.mark.parametrize("transport", ["graphql", "rest"])
def test_a_custom_author_makes_an_unsigned_rest_commit_and_the_plan_says_so(
    served: Served, transport: str
) -> None:
    client = served.new_client(transport=transport, retries=3, backoff=0.0)
    request = _request(author="Grace Hopper <grace@example.com>")
    plan = prplan.plan(prplan.observe(client, request), request)
    (commit,) = [a for a in plan.actions if isinstance(a, Commit)]
    assert commit.author == "Grace Hopper <grace@example.com>"
    assert plan.writes.startswith(
        "commit by Grace Hopper <grace@example.com> (custom author, committed by prplan): unsigned"
    )
    outcome = prplan.apply(plan, client)
    assert outcome.commit_sha is not None
    made = served.forge.git_object(REPO, outcome.commit_sha)
    assert made.author.decode() == "Grace Hopper <grace@example.com>"
    assert _verified(served, client, outcome.commit_sha) is False


def test_an_apps_plan_names_its_bot_and_its_rest_commit_is_signed(
    forge_server: ForgeServer,
    key_pair: tuple[str, str],  # noqa: F811 (the fixture imported above)
) -> None:
    app = AppForge(forge_server, key_pair[1])
    client = prplan.GitHubClient.from_app(APP_ID, key_pair[0], base_url=app.url, transport="rest")
    request = prplan.ChangeRequest(repo="acme/app", branch="prplan/b", files={"a.txt": "b\n"})
    plan = prplan.plan(prplan.observe(client, request), request)
    assert plan.writes == (
        f"commit and pull request by {BOT}; the commit is signed by GitHub "
        "(REST, a GitHub App's installation token)"
    )
    outcome = prplan.apply(plan, client)
    assert outcome.commit_sha is not None and app.forge.is_verified("acme/app", outcome.commit_sha)
    assert not any(path.endswith("/user") for _, path, _ in app.app.log.entries)
    assert app.check.violations == []


def test_the_in_process_forge_states_nothing_unless_asked() -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n"})
    plain = prplan.plan(prplan.observe(forge, _request()), _request())
    assert plain.observed.writer is None and plain.writes == ""
    assert "writes" not in plain.to_dict()  # the document is as before
    request = _request(author="Grace Hopper <grace@example.com>")
    plan = prplan.plan(prplan.observe(forge, request), request)
    assert "unsigned" in plan.writes
    outcome = prplan.apply(plan, forge)
    assert outcome.commit_sha is not None
    assert forge.git_object(REPO, outcome.commit_sha).author.decode().startswith("Grace Hopper")


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("author", "grace@example.com", "author"),
        ("author", "Grace <grace@example.com>\nX", "author"),
        ("co_authors", ["Ada Lovelace"], "co_authors[0]"),
        ("co_authors", ["Ada <ada@example.com>", "<b@example.com>"], "co_authors[1]"),
    ],
)
def test_a_person_that_is_not_name_and_email_is_refused_naming_the_field_and_the_fix(
    field: str, value: object, named: str
) -> None:
    with pytest.raises(prplan.InvalidRequestError) as raised:
        _request(**{field: value})
    (problem,) = raised.value.problems
    assert problem.field == named and "'Name <email>'" in problem.message

"""The contract helper itself: it routes like GitHub and rejects what GitHub's schemas reject.

Payloads are written by hand from the schemas in GitHub's OpenAPI description,
so a validator that accepted everything (or nothing) fails here.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

pytest.importorskip("jsonschema", reason="contract tests need jsonschema (the test extra)")

from openapi_contract import SKIP_REASON, Contract, get_contract, load_spec

if load_spec() is None:
    pytest.skip(SKIP_REASON, allow_module_level=True)

API = "https://api.example.test"
SHA = "7638417db6d59f3c431d3e1f261cc637155684cd"
OTHER_SHA = "bbcd538c8e72b8c175046e27cc8f907076331401"


@pytest.fixture(scope="module")
def contract() -> Contract:
    shared = get_contract()
    assert shared is not None
    return shared


#: The `*_url` fields a `repository` requires (all but html_url, url and clone-style URLs).
REPO_URL_KEYS = (
    "archive",
    "assignees",
    "blobs",
    "branches",
    "collaborators",
    "comments",
    "commits",
    "compare",
    "contents",
    "contributors",
    "deployments",
    "downloads",
    "events",
    "forks",
    "git_commits",
    "git_refs",
    "git_tags",
    "hooks",
    "issue_comment",
    "issue_events",
    "issues",
    "keys",
    "labels",
    "languages",
    "merges",
    "milestones",
    "notifications",
    "pulls",
    "releases",
    "stargazers",
    "statuses",
    "subscribers",
    "subscription",
    "tags",
    "teams",
    "trees",
)


def user(login: str = "octocat") -> dict[str, Any]:
    """A simple-user with exactly its required fields."""
    url = f"{API}/users/{login}"
    return {
        "login": login,
        "id": 1,
        "node_id": "MDQ6VXNlcjE=",
        "avatar_url": f"{API}/avatars/{login}",
        "gravatar_id": None,
        "url": url,
        "html_url": f"https://example.test/{login}",
        "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions",
        "organizations_url": f"{url}/orgs",
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events",
        "type": "User",
        "site_admin": False,
    }


def repository(full_name: str = "acme/app") -> dict[str, Any]:
    """A `repository` (as in pull request head/base) with exactly its required fields."""
    owner, name = full_name.split("/")
    url = f"{API}/repos/{full_name}"
    urls = {f"{key}_url": f"{url}/{key}" for key in REPO_URL_KEYS}
    return {
        **urls,
        "id": 42,
        "node_id": "R_kgDOAAAAKg",
        "name": name,
        "full_name": full_name,
        "owner": user(owner),
        "private": False,
        "html_url": f"https://example.test/{full_name}",
        "description": None,
        "fork": False,
        "url": url,
        "clone_url": f"https://example.test/{full_name}.git",
        "git_url": f"git://example.test/{full_name}.git",
        "ssh_url": f"git@example.test:{full_name}.git",
        "svn_url": f"https://example.test/{full_name}",
        "mirror_url": None,
        "homepage": None,
        "language": None,
        "license": None,
        "default_branch": "main",
        "forks": 0,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers": 0,
        "watchers_count": 0,
        "open_issues": 0,
        "open_issues_count": 0,
        "size": 1,
        "has_downloads": True,
        "has_issues": True,
        "has_projects": False,
        "has_wiki": False,
        "has_pages": False,
        "archived": False,
        "disabled": False,
        "pushed_at": "2024-01-01T00:00:00Z",
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
    }


def pull_request_simple(number: int = 1) -> dict[str, Any]:
    """A pull-request-simple (an item of GET /pulls) with exactly its required fields."""
    url = f"{API}/repos/acme/app/pulls/{number}"
    html = f"https://example.test/acme/app/pull/{number}"

    def side(ref: str, sha: str) -> dict[str, Any]:
        return {
            "label": f"acme:{ref}",
            "ref": ref,
            "sha": sha,
            "repo": repository(),
            "user": user("acme"),
        }

    links = (
        "comments",
        "commits",
        "statuses",
        "html",
        "issue",
        "review_comments",
        "review_comment",
        "self",
    )
    return {
        "url": url,
        "id": 1000 + number,
        "node_id": "PR_kwDOAAAAKs4AAAAB",
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": f"{API}/repos/acme/app/issues/{number}",
        "commits_url": f"{url}/commits",
        "review_comments_url": f"{url}/comments",
        "review_comment_url": f"{API}/repos/acme/app/pulls/comments{{/number}}",
        "comments_url": f"{API}/repos/acme/app/issues/{number}/comments",
        "statuses_url": f"{API}/repos/acme/app/statuses/{SHA}",
        "number": number,
        "state": "open",
        "locked": False,
        "title": "Change things",
        "user": user(),
        "body": "Why and what.",
        "labels": [],
        "milestone": None,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "closed_at": None,
        "merged_at": None,
        "merge_commit_sha": None,
        "assignee": None,
        "head": side("prplan/change", SHA),
        "base": side("main", OTHER_SHA),
        "_links": {name: {"href": f"{url}/{name}"} for name in links},
        "author_association": "OWNER",
        "auto_merge": None,
    }


GIT_REF = {
    "ref": "refs/heads/feature/x",
    "node_id": "REF_kwDOAAAAKq",
    "url": f"{API}/repos/acme/app/git/refs/heads/feature/x",
    "object": {"type": "commit", "sha": SHA, "url": f"{API}/repos/acme/app/git/commits/{SHA}"},
}
GET_REF = ("GET", "/repos/acme/app/git/ref/heads/feature/x")


# -- routing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("GET", "/repos/acme/app", "/repos/{owner}/{repo}"),
        ("GET", "/repos/acme/app/git/ref/heads/main", "/repos/{owner}/{repo}/git/ref/{ref}"),
        ("GET", "/repos/acme/app/git/ref/heads/feature/x", "/repos/{owner}/{repo}/git/ref/{ref}"),
        (
            "PATCH",
            "/repos/acme/app/git/refs/heads/feature/x",
            "/repos/{owner}/{repo}/git/refs/{ref}",
        ),
        ("POST", "/repos/acme/app/git/refs", "/repos/{owner}/{repo}/git/refs"),
        (
            "GET",
            "/repos/acme/app/git/matching-refs/heads/prplan/",
            "/repos/{owner}/{repo}/git/matching-refs/{ref}",
        ),
        ("GET", "/repos/acme/app/contents/a/b/c.yaml", "/repos/{owner}/{repo}/contents/{path}"),
        ("PUT", "/repos/acme/app/contents/conf/app.yaml", "/repos/{owner}/{repo}/contents/{path}"),
        (
            "GET",
            "/repos/acme/app/compare/main...feature/x",
            "/repos/{owner}/{repo}/compare/{basehead}",
        ),
        (
            "GET",
            "/repos/acme/app/branches/prplan/change",
            "/repos/{owner}/{repo}/branches/{branch}",
        ),
        ("GET", "/repos/acme/app/commits/feature/x", "/repos/{owner}/{repo}/commits/{ref}"),
        (
            "GET",
            "/repos/acme/app/commits/feature/x/status",
            "/repos/{owner}/{repo}/commits/{ref}/status",
        ),
        (
            "GET",
            "/repos/acme/app/commits/main/check-runs",
            "/repos/{owner}/{repo}/commits/{ref}/check-runs",
        ),
        ("GET", "/repos/acme/app/pulls", "/repos/{owner}/{repo}/pulls"),
        ("GET", "/repos/acme/app/pulls/7", "/repos/{owner}/{repo}/pulls/{pull_number}"),
        ("PUT", "/repos/acme/app/pulls/7/merge", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
        ("GET", "/repos/acme/app/pulls/7/merge", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
        ("GET", "/repos/acme/app/pulls/7/files", "/repos/{owner}/{repo}/pulls/{pull_number}/files"),
        ("GET", "/rate_limit?per_page=1", "/rate_limit"),
        ("get", "/user", "/user"),
    ],
)
def test_match_finds_the_template(
    contract: Contract, method: str, path: str, template: str
) -> None:
    assert contract.match(method, path) == (template, method.lower())


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nowhere"),
        ("GET", "/repos/acme"),
        ("GET", "/repos/acme/app/pulls/7/merge/extra"),
        ("GET", "/repos/acme/app/git/refs/heads/main"),  # documented for PATCH/DELETE only
        ("POST", "/repos/acme/app/pulls/7"),
        ("GET", "/api/v3/repos/acme/app"),  # callers strip the prefix
    ],
)
def test_match_returns_none_for_undocumented_requests(
    contract: Contract, method: str, path: str
) -> None:
    assert contract.match(method, path) is None


def test_documented_statuses(contract: Contract) -> None:
    assert {200, 405, 409, 422} <= contract.documented_statuses(
        "PUT", "/repos/acme/app/pulls/1/merge"
    )
    assert {201, 422} <= contract.documented_statuses("POST", "/repos/acme/app/pulls")
    assert contract.documented_statuses("GET", "/repos/acme/app/pulls/1/merge") == {204, 404}
    assert contract.documented_statuses("GET", "/nowhere") == set()


# -- validation ------------------------------------------------------------------


def test_a_minimal_git_ref_is_valid(contract: Contract) -> None:
    assert contract.validate(*GET_REF, 200, GIT_REF) == []
    assert contract.validate("POST", "/repos/acme/app/git/refs", 201, GIT_REF) == []
    listing = [GIT_REF, {**GIT_REF, "ref": "refs/heads/feature/y"}]
    assert (
        contract.validate("GET", "/repos/acme/app/git/matching-refs/heads/feature/", 200, listing)
        == []
    )


def test_a_missing_required_field_is_named(contract: Contract) -> None:
    body = {key: value for key, value in GIT_REF.items() if key != "node_id"}
    errors = contract.validate(*GET_REF, 200, body)
    assert len(errors) == 1 and "node_id" in errors[0] and "required" in errors[0]

    nested = copy.deepcopy(GIT_REF)
    del nested["object"]["sha"]
    [error] = contract.validate(*GET_REF, 200, nested)
    assert error.startswith("body.object:") and "'sha' is a required property" in error


def test_a_wrong_type_is_named_with_its_path(contract: Contract) -> None:
    errors = contract.validate(
        *GET_REF, 200, {**GIT_REF, "object": {**GIT_REF["object"], "sha": 7}}
    )
    assert errors == ["body.object.sha: 7 is not of type 'string'"]
    [error] = contract.validate(*GET_REF, 200, [GIT_REF])
    assert error.startswith("body: [{'ref': ") and error.endswith("is not of type 'object'")
    errors = contract.validate(
        "GET", "/repos/acme/app/git/matching-refs/heads/", 200, [GIT_REF, {**GIT_REF, "url": None}]
    )
    assert errors == ["body[1].url: None is not of type 'string'"]


def test_other_constraints_are_enforced(contract: Contract) -> None:
    short = {**GIT_REF, "object": {**GIT_REF["object"], "sha": "abc"}}
    [error] = contract.validate(*GET_REF, 200, short)
    assert error.startswith("body.object.sha:") and "too short" in error
    entry = {
        "sha": SHA,
        "filename": "a.txt",
        "status": "edited",  # not in the enum
        "additions": 1,
        "deletions": 0,
        "changes": 1,
        "blob_url": "https://example.test/b",
        "raw_url": "https://example.test/r",
        "contents_url": f"{API}/c",
    }
    [error] = contract.validate("GET", "/repos/acme/app/pulls/1/files", 200, [entry])
    assert error.startswith("body[0].status: 'edited' is not one of")
    assert (
        contract.validate(
            "GET", "/repos/acme/app/pulls/1/files", 200, [{**entry, "status": "modified"}]
        )
        == []
    )


def test_formats_are_not_enforced(contract: Contract) -> None:
    body = {**GIT_REF, "url": "not a uri at all"}
    assert contract.validate(*GET_REF, 200, body) == []


def test_an_undocumented_status_is_reported(contract: Contract) -> None:
    [error] = contract.validate(*GET_REF, 201, GIT_REF)
    assert error.startswith("status 201 not documented for GET /repos/{owner}/{repo}/git/ref/{ref}")
    assert contract.validate("GET", "/nowhere", 200, {}) == [
        "no documented operation for GET /nowhere"
    ]


def test_error_responses_through_component_references(contract: Contract) -> None:
    not_found = {"message": "Not Found", "documentation_url": "https://docs.example.test/rest"}
    assert contract.validate(*GET_REF, 404, not_found) == []
    assert contract.validate(*GET_REF, 404, {"message": 404}) == [
        "body.message: 404 is not of type 'string'"
    ]
    duplicate = {
        "message": "Validation Failed",
        "errors": [
            {
                "resource": "PullRequest",
                "code": "custom",
                "message": "A pull request already exists for acme:feature.",
            }
        ],
        "documentation_url": "https://docs.example.test/rest/pulls/pulls#create-a-pull-request",
    }
    assert contract.validate("POST", "/repos/acme/app/pulls", 422, duplicate) == []
    errors = contract.validate(
        "POST", "/repos/acme/app/pulls", 422, {"message": "Validation Failed", "errors": [{}]}
    )
    assert errors == [
        "body: 'documentation_url' is a required property",
        "body.errors[0]: 'code' is a required property",
    ]
    merge = "/repos/acme/app/pulls/1/merge"
    assert contract.validate("PUT", merge, 405, {"message": "Pull Request is not mergeable"}) == []
    assert contract.validate("PUT", merge, 409, {"message": ["no"]}) != []


def test_bodiless_responses(contract: Contract) -> None:
    ref = "/repos/acme/app/git/refs/heads/feature/x"
    assert contract.validate("DELETE", ref, 204, None) == []
    [error] = contract.validate("DELETE", ref, 204, {"message": "deleted"})
    assert "has no body" in error
    assert contract.validate("GET", "/repos/acme/app/pulls/1/merge", 204, None) == []
    assert contract.validate("GET", "/repos/acme/app/pulls/1/merge", 404, None) == []
    # A documented JSON response may not be empty.
    assert contract.validate(*GET_REF, 200, None) == ["body: None is not of type 'object'"]


def test_nullable_fields_accept_null_and_only_those(contract: Contract) -> None:
    pulls = ("GET", "/repos/acme/app/pulls")
    pr = pull_request_simple()
    assert contract.validate(*pulls, 200, [pr]) == []
    merged = {**pr, "state": "closed", "merged_at": "2024-01-02T00:00:00Z", "merge_commit_sha": SHA}
    assert contract.validate(*pulls, 200, [merged]) == []
    # body, merged_at, milestone, assignee, auto_merge are nullable; title and number are not.
    assert contract.validate(*pulls, 200, [{**pr, "body": None, "user": None}]) == []
    errors = contract.validate(*pulls, 200, [{**pr, "title": None, "number": None}])
    assert errors == [
        "body[0].number: None is not of type 'integer'",
        "body[0].title: None is not of type 'string'",
    ]
    # author_association is an enum ($ref author-association), not nullable.
    errors = contract.validate(*pulls, 200, [{**pr, "author_association": None}])
    assert "body[0].author_association: None is not of type 'string'" in errors
    assert any(e.startswith("body[0].author_association: None is not one of") for e in errors)
    head = {**pr["head"], "user": None}  # nullable-simple-user in pull-request-simple
    assert contract.validate(*pulls, 200, [{**pr, "head": head}]) == []


def test_a_nullable_enum_accepts_null_and_its_values_only(contract: Contract) -> None:
    run = {
        "id": 4,
        "node_id": "CR_kwDOAAAAKs8AAAAB",
        "head_sha": SHA,
        "name": "ci",
        "url": f"{API}/repos/acme/app/check-runs/4",
        "html_url": None,
        "details_url": None,
        "external_id": None,
        "status": "in_progress",
        "conclusion": None,  # nullable enum
        "started_at": "2024-01-01T00:00:00Z",
        "completed_at": None,
        "output": {
            "title": None,
            "summary": None,
            "text": None,
            "annotations_count": 0,
            "annotations_url": f"{API}/repos/acme/app/check-runs/4/annotations",
        },
        "check_suite": None,
        "app": None,
        "pull_requests": [],
    }
    path = ("GET", "/repos/acme/app/commits/feature/x/check-runs")
    assert contract.validate(*path, 200, {"total_count": 1, "check_runs": [run]}) == []
    done = {
        **run,
        "status": "completed",
        "conclusion": "success",
        "completed_at": "2024-01-01T00:01:00Z",
    }
    assert contract.validate(*path, 200, {"total_count": 1, "check_runs": [done]}) == []
    [error] = contract.validate(
        *path, 200, {"total_count": 1, "check_runs": [{**run, "conclusion": "green"}]}
    )
    assert error.startswith("body.check_runs[0].conclusion: 'green' is not one of ['success'")
    errors = contract.validate(
        *path, 200, {"total_count": 1, "check_runs": [{**run, "status": None}]}
    )
    assert (
        "body.check_runs[0].status: None is not of type 'string'" in errors
    )  # status is not nullable


def test_nested_objects_are_checked_deeply(contract: Contract) -> None:
    pr = pull_request_simple()
    repo = {key: value for key, value in pr["base"]["repo"].items() if key != "default_branch"}
    owner = {key: value for key, value in repo["owner"].items() if key != "login"}
    broken = {**pr, "base": {**pr["base"], "repo": {**repo, "owner": owner}}}
    errors = contract.validate("GET", "/repos/acme/app/pulls", 200, [broken])
    assert errors == [
        "body[0].base.repo: 'default_branch' is a required property",
        "body[0].base.repo.owner: 'login' is a required property",
    ]


def test_nullable_one_of_is_wrapped(contract: Contract) -> None:
    """commit.author is ``oneOf [simple-user, empty-object]`` and nullable."""
    commit = {
        "url": f"{API}/repos/acme/app/commits/{SHA}",
        "sha": SHA,
        "node_id": "C_kwDOAAAAKtoAKDc2Mzg",
        "html_url": f"https://example.test/acme/app/commit/{SHA}",
        "comments_url": f"{API}/repos/acme/app/commits/{SHA}/comments",
        "commit": {
            "url": f"{API}/repos/acme/app/git/commits/{SHA}",
            "author": {"name": "A", "email": "a@example.test", "date": "2024-01-01T00:00:00Z"},
            "committer": None,
            "message": "Change things",
            "tree": {"sha": OTHER_SHA, "url": f"{API}/repos/acme/app/git/trees/{OTHER_SHA}"},
            "comment_count": 0,
        },
        "author": None,
        "committer": {},
        "parents": [],
    }
    path = ("GET", f"/repos/acme/app/commits/{SHA}")
    assert contract.validate(*path, 200, commit) == []
    assert contract.validate(*path, 200, {**commit, "author": user()}) == []
    [error] = contract.validate(*path, 200, {**commit, "author": {"login": "x"}})
    assert error.startswith(
        "body.author: matches none of the oneOf alternatives; closest is simple-user:"
    )
    assert "'avatar_url' is a required property" in error


def test_contents_one_of_tells_files_from_directories(contract: Contract) -> None:
    path = ("GET", "/repos/acme/app/contents/conf/app.yaml")
    url = f"{API}/repos/acme/app/contents/conf/app.yaml?ref=main"
    entry = {
        "type": "file",
        "name": "app.yaml",
        "path": "conf/app.yaml",
        "sha": SHA,
        "size": 4,
        "url": url,
        "git_url": None,
        "html_url": None,
        "download_url": None,
        "_links": {"self": url, "git": None, "html": None},
    }
    assert contract.validate(*path, 200, [entry]) == []  # a directory listing
    assert contract.validate(*path, 200, {**entry, "content": "YQo=\n", "encoding": "base64"}) == []
    [error] = contract.validate(*path, 200, entry)  # a file without its content
    assert "closest is content-file" in error and "'content' is a required property" in error


def test_validators_are_cached(contract: Contract) -> None:
    assert load_spec() is load_spec()
    key = ("/repos/{owner}/{repo}/git/ref/{ref}", "get", 200)
    contract.validate(*GET_REF, 200, GIT_REF)
    first = contract._validators[key]
    contract.validate(*GET_REF, 200, GIT_REF)
    assert contract._validators[key] is first is not None

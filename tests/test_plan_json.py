"""Plans as data: the plan document round-trips exactly, is canonical and
deterministic, and refuses any edit made after it was written.

Plans come from the real pipeline (``LocalForge`` -> ``observe`` -> ``plan``)
or, in the property tests, from snapshots built directly.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import prplan
from prplan.core.integrity import check_plan
from prplan.core.plan import redacted_for_review
from prplan.core.snapshot import git_blob_sha

REPO = "acme/app"
PNG = b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x80"  # not UTF-8


def new_forge() -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"a.txt": "one\n"})
    return forge


def plan_for(forge: prplan.LocalForge, request: prplan.ChangeRequest) -> prplan.Plan:
    return prplan.plan(prplan.observe(forge, request), request)


def canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest_of(document: dict[str, Any]) -> str:
    """The documented digest: sha256 of the canonical form without the digest."""
    return hashlib.sha256(
        canonical({k: v for k, v in document.items() if k != "digest"})
    ).hexdigest()


def redigested(document: dict[str, Any]) -> str:
    """The document as JSON with a digest recomputed to match its content:
    what a careful forger would write."""
    return json.dumps({**document, "digest": digest_of(document)})


def format_error(text: str | bytes) -> prplan.PlanFormatError:
    with pytest.raises(prplan.PlanFormatError) as info:
        prplan.Plan.from_json(text)
    return info.value


# --- plans from the real pipeline ----------------------------------------------


def new_branch_pr_automerge() -> prplan.Plan:
    request = prplan.ChangeRequest(
        repo=REPO,
        branch="prplan/app-1.4.2",
        files={"a.txt": "two\n", "apps/app/values.yaml": "image:\n  tag: '1.4.2'\n"},
        automerge=True,
        title="Deploy app 1.4.2",
        body="Büdy with ünïcode ✓",
    )
    p = plan_for(new_forge(), request)
    assert [a.kind for a in p.actions] == [
        prplan.ActionKind.CREATE_BRANCH,
        prplan.ActionKind.COMMIT,
        prplan.ActionKind.CREATE_PULL_REQUEST,
        prplan.ActionKind.MERGE_PULL_REQUEST,
    ]
    return p


def refusal_two_open_prs() -> prplan.Plan:
    forge = new_forge()
    forge.push(REPO, "feat/x", {"a.txt": "two\n"})
    forge.open_pr(REPO, "feat/x", "main")
    forge.open_pr(REPO, "feat/x", "main", allow_duplicate=True)
    request = prplan.ChangeRequest(repo=REPO, branch="feat/x", files={"a.txt": "three\n"})
    p = plan_for(forge, request)
    assert p.refusal is not None
    assert p.refusal.code is prplan.RefusalCode.MULTIPLE_OPEN_PRS
    assert p.refusal.pull_requests == (1, 2)
    assert p.actions == ()
    assert len(p.observed.pull_requests) == 2
    assert p.observed.commits_beyond_base  # a CommitInfo rides along
    return p


def empty_plan() -> prplan.Plan:
    request = prplan.ChangeRequest(repo=REPO, branch="feat/y", files={"a.txt": "one\n"})
    p = plan_for(new_forge(), request)
    assert p.is_empty
    return p


def binary_and_delete() -> prplan.Plan:
    request = prplan.ChangeRequest(
        repo=REPO,
        branch="feat/bin",
        base="main",
        files={"a.txt": None, "img/logo.png": PNG, "notes.md": "café\n"},
        merge_method="squash",
    )
    p = plan_for(new_forge(), request)
    assert p.has_changes
    return p


def reset_foreign_branch() -> prplan.Plan:
    forge = new_forge()
    forge.push(REPO, "feat/z", {"a.txt": "a human's edit\n"})
    request = prplan.ChangeRequest(
        repo=REPO,
        branch="feat/z",
        files={"a.txt": "x\n"},
        branch_policy="reset",
        on_closed="skip",
        merge_method="rebase",
        automerge=True,
        delete_branch=True,
        commit_message="Reset and redo",
    )
    p = plan_for(forge, request)
    assert prplan.ActionKind.RESET_BRANCH in [a.kind for a in p.actions]
    assert prplan.ActionKind.DELETE_BRANCH in [a.kind for a in p.actions]
    return p


PLANS: dict[str, Callable[[], prplan.Plan]] = {
    "new-branch-pr-automerge": new_branch_pr_automerge,
    "refusal-two-open-prs": refusal_two_open_prs,
    "empty": empty_plan,
    "binary-and-delete": binary_and_delete,
    "reset-foreign-branch": reset_foreign_branch,
}


@pytest.fixture(params=list(PLANS), ids=list(PLANS))
def any_plan(request: pytest.FixtureRequest) -> prplan.Plan:
    return PLANS[request.param]()


# --- round trip -------------------------------------------------------------------


def test_round_trip_is_exact(any_plan: prplan.Plan) -> None:
    text = any_plan.to_json()
    again = prplan.Plan.from_json(text)
    assert again == any_plan
    assert again.to_json() == text
    assert again.digest == any_plan.digest


def test_round_trip_from_bytes(any_plan: prplan.Plan) -> None:
    assert prplan.Plan.from_json(any_plan.to_json().encode("utf-8")) == any_plan


def test_round_trip_keeps_types(any_plan: prplan.Plan) -> None:
    again = prplan.Plan.from_json(any_plan.to_json())
    assert type(again.actions) is tuple
    assert [type(a) for a in again.actions] == [type(a) for a in any_plan.actions]
    assert again.pr_state is any_plan.pr_state
    assert again.start is any_plan.start
    assert again.request.merge_method is any_plan.request.merge_method
    assert all(c is None or isinstance(c, bytes) for c in again.request.files.values())


def test_contents_are_stored_as_text_or_base64() -> None:
    p = binary_and_delete()
    document = json.loads(p.to_json())
    files = document["request"]["files"]
    assert files == {
        "a.txt": None,
        "img/logo.png": {"base64": base64.b64encode(PNG).decode("ascii")},
        "notes.md": {"text": "café\n"},
    }
    assert "café" in p.to_json()  # UTF-8, not \u-escaped
    again = prplan.Plan.from_json(p.to_json())
    assert again.request.files == {"a.txt": None, "img/logo.png": PNG, "notes.md": b"caf\xc3\xa9\n"}


def test_utf8_bytes_are_stored_as_text() -> None:
    request = prplan.ChangeRequest(repo=REPO, branch="b", files={"x.txt": "naïve\n".encode()})
    document = json.loads(plan_for(new_forge(), request).to_json())
    assert document["request"]["files"]["x.txt"] == {"text": "naïve\n"}


# --- canonical form and digest ------------------------------------------------------


def _assert_keys_sorted(value: object) -> None:
    if isinstance(value, dict):
        assert list(value) == sorted(value)
        for child in value.values():
            _assert_keys_sorted(child)
    elif isinstance(value, list):
        for child in value:
            _assert_keys_sorted(child)


def test_canonical_form(any_plan: prplan.Plan) -> None:
    text = any_plan.to_json()
    document = json.loads(text)
    _assert_keys_sorted(document)
    assert text.endswith("}\n")
    assert not text.endswith("\n\n")
    assert document["format_version"] == 4
    assert document["digest"] == any_plan.digest
    assert text == json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_digest_is_sha256_of_the_canonical_form_without_it(any_plan: prplan.Plan) -> None:
    document = json.loads(any_plan.to_json())
    assert re.fullmatch(r"[0-9a-f]{64}", any_plan.digest)
    assert digest_of(document) == any_plan.digest


def test_planning_twice_gives_identical_bytes() -> None:
    forge = new_forge()
    request = prplan.ChangeRequest(
        repo=REPO, branch="feat/d", files={"a.txt": "two\n", "bin": PNG}, automerge=True
    )
    snapshot = prplan.observe(forge, request)
    first, second = prplan.plan(snapshot, request), prplan.plan(snapshot, request)
    assert first.to_json() == second.to_json()
    assert first.digest == second.digest
    # observing again (nothing moved) changes nothing either
    third = plan_for(forge, request)
    assert third.to_json() == first.to_json()


def test_equal_requests_built_differently_give_identical_bytes() -> None:
    forge = new_forge()
    one = prplan.ChangeRequest(
        repo=REPO, branch="feat/d", files={"b.txt": "b", "a.txt": "a"}, merge_method="squash"
    )
    two = prplan.ChangeRequest(
        repo=REPO,
        branch="feat/d",
        files={"a.txt": b"a", "b.txt": b"b"},
        merge_method=prplan.MergeMethod.SQUASH,
    )
    assert plan_for(forge, one).to_json() == plan_for(forge, two).to_json()


BASE_REQUEST: dict[str, Any] = {
    "repo": REPO,
    "branch": "feat/digest",
    "files": {"a.txt": "two\n"},
}

REQUEST_CHANGES: dict[str, dict[str, Any]] = {
    "repo": {"repo": "acme/other"},
    "branch": {"branch": "feat/other"},
    "base-explicit": {"base": "main"},
    "base-other": {"base": "release"},
    "file-content": {"files": {"a.txt": "three\n"}},
    "file-binary": {"files": {"a.txt": PNG}},
    "file-added": {"files": {"a.txt": "two\n", "b.txt": "b"}},
    "file-deleted": {"files": {"a.txt": None}},
    "file-renamed": {"files": {"c.txt": "two\n"}},
    "create_pr": {"create_pr": False},
    "automerge": {"automerge": True},
    "allow_modification": {"allow_modification": False},
    "title": {"title": "A title"},
    "body": {"body": "A body"},
    "commit_message": {"commit_message": "A message"},
    "merge_method": {"merge_method": "squash"},
    "on_closed": {"on_closed": "fail"},
    "branch_policy": {"branch_policy": "reset"},
    "delete_branch": {"delete_branch": True},
    "merge_foreign_commits": {"merge_foreign_commits": True},
    "merge_when": {"merge_when": "wait"},
    "wait_timeout": {"wait_timeout": 90},
    "labels": {"labels": ["deploy"]},
    "assignees": {"assignees": ["alice"]},
    "reviewers": {"reviewers": ["bob"]},
    "team_reviewers": {"team_reviewers": ["acme/platform"]},
    "draft": {"draft": True},
    "milestone": {"milestone": "v1"},
    "update_pr": {"update_pr": True},
    "close_superseded": {"close_superseded": True},
    "co_authors": {"co_authors": ["Ada Lovelace <ada@example.com>"]},
    "author": {"author": "Grace Hopper <grace@example.com>"},
}


def test_every_request_field_is_covered_by_the_changes() -> None:
    changed = {name for change in REQUEST_CHANGES.values() for name in change}
    assert changed == {f.name for f in attrs.fields(prplan.ChangeRequest)}


def test_digest_changes_when_any_request_field_changes() -> None:
    forge = new_forge()
    forge.create_repo("acme/other", {"a.txt": "one\n"})
    forge.push(REPO, "release", {"r.txt": "r"})
    forge.create_milestone(REPO, "v1")
    baseline = plan_for(forge, prplan.ChangeRequest(**BASE_REQUEST))
    digests = {"baseline": baseline.digest}
    for name, change in REQUEST_CHANGES.items():
        p = plan_for(forge, prplan.ChangeRequest(**{**BASE_REQUEST, **change}))
        assert re.fullmatch(r"[0-9a-f]{64}", p.digest)
        digests[name] = p.digest
    same = [name for name, d in digests.items() if name != "baseline" and d == baseline.digest]
    assert same == [], f"digest did not change for: {same}"
    assert len(set(digests.values())) == len(digests)


def test_digest_changes_with_the_snapshot() -> None:
    request = prplan.ChangeRequest(**BASE_REQUEST)
    forge = new_forge()
    before = plan_for(forge, request)
    forge.push(REPO, "main", {"unrelated.txt": "moved"})
    after = plan_for(forge, request)
    assert after.observed.base_sha != before.observed.base_sha
    assert after.digest != before.digest


# --- tampering --------------------------------------------------------------------------

Edit = Callable[[dict[str, Any]], None]


def _set(*path: str | int, value: object) -> Edit:
    def edit(document: dict[str, Any]) -> None:
        target: Any = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def _append_reason(document: dict[str, Any]) -> None:
    document["actions"][1]["reason"] += " (and also something else)"


def _flip_sha(document: dict[str, Any]) -> None:
    sha = document["observed"]["base_sha"]
    document["observed"]["base_sha"] = ("1" if sha[0] != "1" else "2") + sha[1:]


TAMPERS: dict[str, Edit] = {
    "file-text": _set("request", "files", "a.txt", "text", value="evil\n"),
    "file-base64": _set("request", "files", "img/logo.png", "base64", value="AAAA"),
    "file-undeleted": _set("request", "files", "old.txt", value={"text": "back\n"}),
    "request-branch": _set("request", "branch", value="feat/evil"),
    "request-automerge": _set("request", "automerge", value=False),
    "request-merge-method": _set("request", "merge_method", value="rebase"),
    "action-branch": _set("actions", 0, "branch", value="feat/evil"),
    "action-reason": _append_reason,
    "action-message": _set("actions", 1, "message", value="innocent\n"),
    "action-dropped": lambda d: d["actions"].pop(),
    "observed-base-sha": _flip_sha,
    "observed-pr-added": _set(
        "observed",
        "pull_requests",
        value=[
            {
                "number": 9,
                "state": "open",
                "merged": False,
                "head_branch": "feat/t",
                "base_branch": "main",
                "head_sha": "0" * 40,
                "title": "",
                "url": "",
                "merge_sha": None,
            }
        ],
    ),
    "pr-state": _set("pr_state", value="open"),
    "rule": _set("rule", value="in_place"),
    "notes": _set("notes", value=["looks fine"]),
    "digest-replaced": _set("digest", value="0" * 64),
    "digest-removed": lambda d: d.pop("digest"),
    "digest-uppercased": lambda d: d.__setitem__("digest", d["digest"].upper()),
}


def tamper_subject() -> prplan.Plan:
    request = prplan.ChangeRequest(
        repo=REPO,
        branch="feat/t",
        files={"a.txt": "two\n", "img/logo.png": PNG, "old.txt": None},
        automerge=True,
    )
    p = plan_for(new_forge(), request)
    assert [a.kind for a in p.actions][:2] == [
        prplan.ActionKind.CREATE_BRANCH,
        prplan.ActionKind.COMMIT,
    ]
    return p


@pytest.mark.parametrize("edit", list(TAMPERS.values()), ids=list(TAMPERS))
def test_an_edit_without_a_new_digest_is_refused(edit: Edit) -> None:
    p = tamper_subject()
    document = json.loads(p.to_json())
    edited = copy.deepcopy(document)
    edit(edited)
    assert edited != document  # the edit really changed something
    error = format_error(json.dumps(edited))
    assert [problem.field for problem in error.problems] == ["digest"]
    assert p.digest in error.problems[0].message


def test_a_valid_edit_with_a_recomputed_digest_is_accepted() -> None:
    # The digest detects edits; it is not a signature. This also checks that
    # ``redigested`` computes the digest as prplan does, so the tests below
    # that use it fail for the reason they claim.
    document = json.loads(tamper_subject().to_json())
    document["request"]["files"]["a.txt"] = {"text": "edited\n"}
    edited = prplan.Plan.from_json(redigested(document))
    assert edited.request.files["a.txt"] == b"edited\n"


def test_plan_format_error_is_an_invalid_request_error() -> None:
    assert issubclass(prplan.PlanFormatError, prplan.InvalidRequestError)
    assert issubclass(prplan.PlanFormatError, ValueError)
    error = format_error("{")
    assert isinstance(error, prplan.InvalidRequestError)
    assert error.what == "plan document"
    assert str(error).startswith("invalid plan document (1 problem(s)):\n  - plan: ")


@pytest.mark.parametrize("version", [5, 2, 1, 0, "3", "4", None, 2.5, True], ids=repr)
def test_an_unknown_format_version_is_refused(version: object) -> None:
    document = json.loads(tamper_subject().to_json())
    document["format_version"] = version
    # refused for the version even when the digest matches the new content
    for text in (json.dumps(document), redigested(document)):
        error = format_error(text)
        assert [p.field for p in error.problems] == ["format_version"]
        assert repr(version) in error.problems[0].message


def test_a_missing_format_version_is_refused() -> None:
    document = json.loads(tamper_subject().to_json())
    del document["format_version"]
    assert [p.field for p in format_error(redigested(document)).problems] == ["format_version"]


@pytest.mark.parametrize(
    "text",
    ["", "{", "not json", '{"format_version": 1,}', b"\xff\xfe{}", "[]", "1", "null", '"plan"'],
    ids=[
        "empty",
        "unclosed",
        "words",
        "trailing-comma",
        "not-utf8",
        "list",
        "number",
        "null",
        "string",
    ],
)
def test_not_a_plan_document_is_refused(text: str | bytes) -> None:
    error = format_error(text)
    assert [p.field for p in error.problems] == ["plan"]


BAD_REQUEST_EDITS: dict[str, tuple[Edit, str]] = {
    "path-dotdot": (_set("request", "files", "../x", value={"text": "x"}), "files['../x']"),
    "path-git": (
        _set("request", "files", ".git/config", value={"text": "x"}),
        "files['.git/config']",
    ),
    "branch": (_set("request", "branch", value="a b"), "branch"),
    "merge-method": (_set("request", "merge_method", value="yolo"), "merge_method"),
    "bool-as-string": (_set("request", "automerge", value="true"), "automerge"),
}


@pytest.mark.parametrize(
    ("edit", "field"), list(BAD_REQUEST_EDITS.values()), ids=list(BAD_REQUEST_EDITS)
)
def test_an_invalid_request_with_a_recomputed_digest_is_refused_naming_its_field(
    edit: Edit, field: str
) -> None:
    document = json.loads(tamper_subject().to_json())
    edit(document)
    error = format_error(redigested(document))
    assert isinstance(error, prplan.InvalidRequestError)
    fields = [p.field for p in error.problems]
    assert any(f == field or f.endswith(f".{field}") for f in fields), fields


UNKNOWN_KEY_EDITS: dict[str, Edit] = {
    "top-level": _set("extra", value=1),
    "request": _set("request", "extra", value=1),
    "observed": _set("observed", "extra", value=1),
    "action": _set("actions", 0, "extra", value=1),
}


@pytest.mark.parametrize("edit", list(UNKNOWN_KEY_EDITS.values()), ids=list(UNKNOWN_KEY_EDITS))
def test_unknown_keys_are_refused_and_named(edit: Edit) -> None:
    document = json.loads(tamper_subject().to_json())
    edit(document)
    error = format_error(redigested(document))
    assert any("extra" in str(p) for p in error.problems), error.problems


@pytest.mark.parametrize(
    "content",
    [{"text": "x", "extra": 1}, {"base64": "!!!"}, {"text": 1}, "plain string", {}],
    ids=["text-plus-extra", "bad-base64", "text-not-string", "bare-string", "empty-object"],
)
def test_malformed_file_content_is_refused(content: object) -> None:
    document = json.loads(tamper_subject().to_json())
    document["request"]["files"]["a.txt"] = content
    error = format_error(redigested(document))
    assert any("request" in str(p) or "files" in str(p) for p in error.problems), error.problems


def test_an_unknown_action_type_is_refused() -> None:
    document = json.loads(tamper_subject().to_json())
    document["actions"][0]["type"] = "force_push"
    error = format_error(redigested(document))
    assert any("actions" in problem.field for problem in error.problems), error.problems


# --- properties -------------------------------------------------------------------------

PATHS = st.from_regex(r"[a-z]{1,8}(/[a-z]{1,8}){0,2}\.(yaml|txt)", fullmatch=True)
CONTENTS = st.one_of(st.binary(max_size=64), st.text(max_size=64), st.none())
# Any text a request accepts except NUL (refused) and lone surrogates (not
# UTF-8 encodable; see test_request_validation for that gap).
TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30
)
# A title is one line: no control characters (refused at validation).
TITLES = st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")), max_size=30)
BRANCHES = st.from_regex(r"prplan/[a-z0-9]{1,8}(-[a-z0-9]{1,8})?", fullmatch=True)
SHAS = st.from_regex(r"[0-9a-f]{40}", fullmatch=True)


@st.composite
def requests(draw: st.DrawFn, repo: str = REPO) -> prplan.ChangeRequest:
    return prplan.ChangeRequest(
        repo=repo,
        branch=draw(BRANCHES),
        base=draw(st.sampled_from([None, "main"])),
        files=draw(st.dictionaries(PATHS, CONTENTS, min_size=1, max_size=4)),
        create_pr=draw(st.booleans()),
        automerge=draw(st.booleans()),
        allow_modification=draw(st.booleans()),
        delete_branch=draw(st.booleans()),
        title=draw(TITLES),
        body=draw(TEXT),
        commit_message=draw(TEXT),
        merge_method=draw(st.sampled_from([m.value for m in prplan.MergeMethod])),
        on_closed=draw(st.sampled_from(list(prplan.OnClosed))),
        branch_policy=draw(st.sampled_from([m.value for m in prplan.BranchPolicy])),
    )


@st.composite
def snapshots_for(draw: st.DrawFn, request: prplan.ChangeRequest) -> prplan.RepoSnapshot:
    desired = request.desired_blob_shas()

    def blobs() -> dict[str, str | None]:
        return {path: draw(st.sampled_from([None, sha]) | SHAS) for path, sha in desired.items()}

    base_sha = draw(SHAS)
    branch_sha = draw(st.one_of(st.none(), st.just(base_sha), SHAS))
    numbers = draw(st.lists(st.integers(1, 50), unique=True, max_size=3))
    pulls = tuple(
        prplan.PullRequestInfo(
            number=n,
            state=draw(st.sampled_from(["open", "closed"])),
            merged=draw(st.booleans()),
            head_branch=request.branch,
            base_branch=request.base or "main",
            head_sha=draw(SHAS),
            title=draw(TEXT),
            url=f"localforge://{request.repo}/pull/{n}",
            merge_sha=draw(st.none() | SHAS),
        )
        for n in sorted(numbers)
    )
    commits = tuple(
        prplan.CommitInfo(
            sha=draw(SHAS),
            summary=draw(TEXT),
            author="A",
            tree_sha=draw(SHAS),
            sealed_tree=draw(st.sampled_from(["", "0" * 40])),
        )
        for _ in range(draw(st.integers(0, 2)))
    )
    base_blobs = blobs()
    return prplan.RepoSnapshot(
        repo=request.repo,
        default_branch="main",
        base=request.base or "main",
        base_sha=base_sha,
        branch=request.branch,
        branch_sha=branch_sha,
        pull_requests=pulls,
        base_blobs=base_blobs,
        branch_blobs={}
        if branch_sha is None
        else base_blobs
        if branch_sha == base_sha
        else blobs(),
        branch_contains_base=draw(st.booleans()),
        branch_in_base=draw(st.booleans()),
        commits_beyond_base=commits,
        commits_complete=draw(st.booleans()),
    )


def _check_round_trip(snapshot: prplan.RepoSnapshot, request: prplan.ChangeRequest) -> prplan.Plan:
    """Checks the round trip in detail; returns the plan for the caller's own assertion."""
    p = prplan.plan(snapshot, request)
    text = p.to_json()
    again = prplan.Plan.from_json(text)
    assert again == p
    assert again.to_json() == text
    assert again.digest == p.digest == digest_of(json.loads(text))
    # deterministic: the same inputs give the same bytes
    assert prplan.plan(snapshot, request).to_json() == text
    # contents: text when UTF-8, base64 otherwise, null for a delete
    stored = json.loads(text)["request"]["files"]
    for path, content in request.files.items():
        if content is None:
            assert stored[path] is None
        else:
            try:
                expected = {"text": content.decode("utf-8")}
            except UnicodeDecodeError:
                expected = {"base64": base64.b64encode(content).decode("ascii")}
            assert stored[path] == expected
    return p


@given(data=st.data(), request=requests())
def test_property_round_trip_over_built_snapshots(
    data: st.DataObject, request: prplan.ChangeRequest
) -> None:
    snapshot = data.draw(snapshots_for(request))
    plan = _check_round_trip(snapshot, request)
    assert prplan.Plan.from_json(plan.to_json()) == plan


@given(
    initial=st.dictionaries(PATHS, st.binary(max_size=32) | st.text(max_size=32), max_size=3),
    request=requests(),
    pushed=st.booleans(),
)
def test_property_round_trip_over_local_forge(
    initial: dict[str, bytes | str], request: prplan.ChangeRequest, pushed: bool
) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, initial)
    if pushed:
        forge.push(REPO, request.branch, {"human.txt": "a human's work\n"})
    snapshot = prplan.observe(forge, request)
    plan = _check_round_trip(snapshot, request)
    assert prplan.Plan.from_json(plan.to_json()) == plan


@given(data=st.data(), one=requests(), two=requests())
def test_property_different_requests_give_different_digests(
    data: st.DataObject, one: prplan.ChangeRequest, two: prplan.ChangeRequest
) -> None:
    two = attrs.evolve(two, branch=one.branch)
    snapshot = data.draw(snapshots_for(one))
    first, second = prplan.plan(snapshot, one), prplan.plan(snapshot, two)
    assert (first.digest == second.digest) == (one == two)


# --- plan files saved before the core was split ---------------------------------------------
# tests/golden/plan-v4*.json were written by the prplan of commit fce5689 (before
# the plan module was split into data, JSON and redaction): a real plan with
# edits, binary and deleted files, a review with a brought file, its redacted
# form, and a refusal. They must load, verify and re-serialise byte for byte.

GOLDEN = Path(__file__).parent / "golden"
SAVED = ("plan-v4.json", "plan-v4-refused.json")


@pytest.mark.parametrize("name", SAVED)
def test_a_plan_saved_before_the_split_loads_byte_identically(name: str) -> None:
    text = (GOLDEN / name).read_text(encoding="utf-8")
    plan = prplan.Plan.from_json(text)
    assert plan.to_json() == text
    assert plan.digest == json.loads(text)["digest"] == digest_of(json.loads(text))
    check_plan(plan, expect_digest=plan.digest)  # the planner still derives it exactly


def test_the_saved_plan_holds_what_the_format_covers() -> None:
    plan = prplan.Plan.from_json((GOLDEN / "plan-v4.json").read_bytes())
    assert plan.resolved and plan.review is not None and plan.review.brought and plan.review.blobs
    assert [a.kind for a in plan.actions] == ["commit", "merge_pull_request", "delete_branch"]
    assert plan.request.files["old.txt"] is None and isinstance(
        plan.request.files["app.yaml"], tuple
    )
    refused = prplan.Plan.from_json((GOLDEN / "plan-v4-refused.json").read_bytes())
    assert refused.refusal is not None and refused.resolved


def test_a_redacted_plan_saved_before_the_split_restores_byte_identically() -> None:
    full = prplan.Plan.from_json((GOLDEN / "plan-v4.json").read_bytes())
    text = (GOLDEN / "plan-v4-redacted.json").read_text(encoding="utf-8")
    assert full.to_json(redact=True) == text
    blobs = {git_blob_sha(c): c for c in full.observed.base_contents.values() if c is not None}
    blobs |= {b.sha: b.content for b in full.review.blobs} if full.review else {}
    files = {p: c for p, c in full.request.files.items() if not isinstance(c, tuple)}
    restored = prplan.Plan.from_json(text, contents=files, read_blob=blobs.__getitem__)
    assert restored == full and restored.to_json() == full.to_json()
    shown = redacted_for_review(json.loads(text))
    assert shown.rule == full.rule and shown.actions == full.actions

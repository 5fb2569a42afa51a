"""``ChangeRequest`` validation, as a catalogue of bad inputs.

Each bad case is data: the keyword arguments that differ from a valid request,
the field the error must name, and a fragment its message must contain. Every
case must raise ``InvalidRequestError`` (also a ``ValueError``) whose
``problems`` name exactly that field and no other.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

import prplan

VALID: dict[str, Any] = {
    "repo": "acme/app",
    "branch": "prplan/update",
    "files": {"a.txt": "one\n"},
}


def make(**overrides: Any) -> prplan.ChangeRequest:
    return prplan.ChangeRequest(**{**VALID, **overrides})


def problems_of(**overrides: Any) -> tuple[prplan.Problem, ...]:
    with pytest.raises(prplan.InvalidRequestError) as info:
        make(**overrides)
    return info.value.problems


def files_field(path: object) -> str:
    return f"files[{path!r}]"


class Bad(NamedTuple):
    id: str
    overrides: dict[str, Any]
    field: str
    says: str


# --- the catalogue ---------------------------------------------------------------

REPO_CASES = [
    Bad("repo-no-slash", {"repo": "acme"}, "repo", "owner/name"),
    Bad("repo-three-parts", {"repo": "acme/app/extra"}, "repo", "owner/name"),
    Bad("repo-empty", {"repo": ""}, "repo", "owner/name"),
    Bad("repo-empty-owner", {"repo": "/app"}, "repo", "owner ''"),
    Bad("repo-owner-underscore", {"repo": "ac_me/app"}, "repo", "owner 'ac_me'"),
    Bad("repo-owner-space", {"repo": "ac me/app"}, "repo", "owner 'ac me'"),
    Bad("repo-owner-leading-dash", {"repo": "-acme/app"}, "repo", "owner '-acme'"),
    Bad("repo-owner-too-long", {"repo": "a" * 40 + "/app"}, "repo", "owner"),
    Bad("repo-name-dot-git", {"repo": "acme/app.git"}, "repo", ".git"),
    Bad("repo-name-dotdot", {"repo": "acme/.."}, "repo", "name '..'"),
    Bad("repo-name-slash-chars", {"repo": "acme/a:b"}, "repo", "name 'a:b'"),
    Bad("repo-not-a-string", {"repo": 42}, "repo", "int"),
]

# Names git check-ref-format rejects (as refs/heads/<name>), used for both
# ``branch`` and ``base``.
BAD_REFS: list[tuple[str, object]] = [
    ("empty", ""),
    ("space", "a b"),
    ("double-dot", "a..b"),
    ("tilde", "a~1"),
    ("caret", "a^"),
    ("colon", "a:b"),
    ("question", "a?"),
    ("star", "a*"),
    ("open-bracket", "a[b"),
    ("backslash", "a\\b"),
    ("trailing-slash", "a/"),
    ("leading-slash", "/a"),
    ("double-slash", "a//b"),
    ("trailing-dot", "a."),
    ("lock-suffix", "a.lock"),
    ("lock-component", "a.lock/b"),
    ("component-starts-dot", "a/.b"),
    ("starts-dot", ".a"),
    ("at-brace", "a@{b"),
    ("at-alone", "@"),
    ("control-char", "a\x01b"),
    ("tab", "a\tb"),
    ("del-char", "a\x7fb"),
    ("full-ref", "refs/heads/x"),
    ("leading-dash", "-a"),
]

BRANCH_CASES = [
    Bad(f"{field}-{name}", {field: value}, field, "not a valid git branch name")
    for field in ("branch", "base")
    for name, value in BAD_REFS
] + [
    Bad("branch-not-a-string", {"branch": 7}, "branch", "int"),
    Bad("base-not-a-string", {"base": 7}, "base", "int"),
]

BAD_PATHS: list[tuple[str, object, str]] = [
    ("absolute", "/etc/passwd", "absolute"),
    ("dotdot", "..", "'..'"),
    ("dotdot-prefix", "../x", "'..'"),
    ("dotdot-inside", "a/../b", "'..'"),
    ("git-config", ".git/config", ".git"),
    ("git-upper", ".GIT/x", ".git"),
    ("git-mixed-case-nested", "a/.Git/hooks/pre-commit", ".git"),
    ("git-alone", ".git", ".git"),
    ("dot-component", "a/./b", "normalised"),
    ("leading-dot-component", "./a", "normalised"),
    ("double-slash", "a//b", "normalised"),
    ("trailing-slash", "a/", "normalised"),
    ("nul", "a\x00b", "control"),
    ("control-char", "a\x01b", "control"),
    ("newline", "a\nb", "control"),
    ("backslash", "a\\b", "backslash"),
    ("empty", "", "empty"),
    ("not-a-string", 3, "int"),
]

PATH_CASES = [
    Bad(f"path-{name}", {"files": {path: "x"}}, files_field(path), says)
    for name, path, says in BAD_PATHS
]

FILES_CASES = [
    Bad("files-empty", {"files": {}}, "files", "empty"),
    Bad("files-list", {"files": ["a.txt"]}, "files", "mapping"),
    Bad("files-string", {"files": "a.txt"}, "files", "mapping"),
    Bad("files-none", {"files": None}, "files", "mapping"),
    Bad("content-int", {"files": {"a.txt": 1}}, files_field("a.txt"), "int"),
    Bad("content-list", {"files": {"a.txt": ["x"]}}, files_field("a.txt"), "list"),
    Bad(
        "content-bytearray",
        {"files": {"a.txt": bytearray(b"x")}},
        files_field("a.txt"),
        "bytearray",
    ),
    Bad(
        "file-and-directory",
        {"files": {"a": "x", "a/b": "y"}},
        files_field("a/b"),
        "'a'",
    ),
    Bad(
        "file-and-deep-directory",
        {"files": {"a/b/c": "y", "a": None}},
        files_field("a/b/c"),
        "'a'",
    ),
]

ENUM_CASES = [
    Bad("merge-method-unknown", {"merge_method": "fast-forward"}, "merge_method", "squash"),
    Bad("merge-method-none", {"merge_method": None}, "merge_method", "None"),
    Bad("merge-method-int", {"merge_method": 1}, "merge_method", "rebase"),
    Bad("on-closed-unknown", {"on_closed": "reopen"}, "on_closed", "skip"),
    Bad("on-closed-other-enum", {"on_closed": prplan.MergeMethod.MERGE}, "on_closed", "new"),
    Bad("branch-policy-unknown", {"branch_policy": "force"}, "branch_policy", "reset"),
    Bad("branch-policy-empty", {"branch_policy": ""}, "branch_policy", "safe"),
]

BOOL_CASES = [
    Bad("create-pr-string", {"create_pr": "true"}, "create_pr", "True or False"),
    Bad("automerge-string", {"automerge": "yes"}, "automerge", "True or False"),
    Bad(
        "allow-modification-string",
        {"allow_modification": "false"},
        "allow_modification",
        "True or False",
    ),
    Bad("delete-branch-string", {"delete_branch": "False"}, "delete_branch", "True or False"),
    Bad("delete-branch-int", {"delete_branch": 1}, "delete_branch", "True or False"),
    Bad("automerge-none", {"automerge": None}, "automerge", "True or False"),
]

TEXT_CASES = [
    Bad("title-nul", {"title": "a\x00b"}, "title", "NUL"),
    Bad("body-nul", {"body": "\x00"}, "body", "NUL"),
    Bad("commit-message-nul", {"commit_message": "fix\x00"}, "commit_message", "NUL"),
    Bad("title-bytes", {"title": b"title"}, "title", "string"),
    Bad("body-none", {"body": None}, "body", "string"),
]

CATALOGUE = (
    REPO_CASES + BRANCH_CASES + PATH_CASES + FILES_CASES + ENUM_CASES + BOOL_CASES + TEXT_CASES
)


def test_catalogue_ids_are_unique() -> None:
    ids = [case.id for case in CATALOGUE]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", CATALOGUE, ids=[case.id for case in CATALOGUE])
def test_bad_request_names_its_field(case: Bad) -> None:
    with pytest.raises(prplan.InvalidRequestError) as info:
        make(**case.overrides)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.problems, "an InvalidRequestError must carry at least one problem"
    assert all(isinstance(p, prplan.Problem) for p in error.problems)
    assert {p.field for p in error.problems} == {case.field}
    assert any(case.says in p.message for p in error.problems), error.problems


# --- several problems at once ------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of(
        repo="not-a-repo", branch="a b", files={"../x": "y"}, merge_method="yolo"
    )
    fields = [p.field for p in problems]
    assert len(problems) == 4
    assert set(fields) == {"repo", "branch", files_field("../x"), "merge_method"}


def test_every_field_can_be_wrong_together() -> None:
    problems = problems_of(
        repo="acme",
        branch="",
        base="a..b",
        files={"/abs": 1, "ok.txt": "x"},
        create_pr="yes",
        automerge="no",
        allow_modification=None,
        delete_branch=0,
        title="\x00",
        body=None,
        commit_message=b"",
        merge_method="x",
        on_closed="x",
        branch_policy="x",
    )
    assert {p.field for p in problems} == {
        "repo",
        "branch",
        "base",
        files_field("/abs"),
        "create_pr",
        "automerge",
        "allow_modification",
        "delete_branch",
        "title",
        "body",
        "commit_message",
        "merge_method",
        "on_closed",
        "branch_policy",
    }
    # the bad path and the bad content of the same file are two problems
    assert [p.field for p in problems].count(files_field("/abs")) == 2


def test_every_bad_path_is_reported() -> None:
    bad = ["../x", ".git/config", "a//b", "/abs"]
    problems = problems_of(files={**dict.fromkeys(bad, "x"), "good.txt": "ok"})
    assert sorted(p.field for p in problems) == sorted(files_field(p) for p in bad)


def test_both_owner_and_name_problems_are_reported() -> None:
    problems = problems_of(repo="ac_me/app.git")
    assert [p.field for p in problems] == ["repo", "repo"]
    assert "owner 'ac_me'" in problems[0].message
    assert "name 'app.git'" in problems[1].message


def test_message_lists_each_problem_on_its_own_line() -> None:
    with pytest.raises(prplan.InvalidRequestError) as info:
        make(repo="nope", branch="a b", files={"../x": "y"}, merge_method="yolo")
    error = info.value
    lines = str(error).splitlines()
    assert lines[0] == "invalid request (4 problem(s)):"
    assert lines[1:] == [f"  - {p.field}: {p.message}" for p in error.problems]
    assert error.what == "request"


def test_problem_str_is_field_colon_message() -> None:
    assert str(prplan.Problem("repo", "is bad")) == "repo: is bad"


def test_oversized_content_is_refused() -> None:
    from prplan.core.request import MAX_FILE_BYTES

    problems = problems_of(files={"big.bin": bytes(MAX_FILE_BYTES + 1)})
    assert [p.field for p in problems] == [files_field("big.bin")]
    assert "100 MiB" in problems[0].message


def test_content_at_the_size_limit_is_accepted() -> None:
    from prplan.core.request import MAX_FILE_BYTES

    request = make(files={"big.bin": bytes(MAX_FILE_BYTES)})
    assert len(request.files["big.bin"]) == MAX_FILE_BYTES


def test_text_that_is_not_encodable_is_a_problem_not_a_crash() -> None:
    # A lone surrogate cannot be encoded as UTF-8. The converters promise never
    # to raise ("bad values are kept for the report"), so this must surface as
    # a Problem on the file, not as a bare UnicodeEncodeError.
    with pytest.raises(prplan.InvalidRequestError) as info:
        make(files={"a.txt": "bad \ud800 text"})
    assert [p.field for p in info.value.problems] == [files_field("a.txt")]


@pytest.mark.parametrize("field", ["title", "body", "commit_message"])
def test_text_fields_that_are_not_encodable_are_a_problem(field: str) -> None:
    # A lone surrogate is a str but not UTF-8: accepted here, the plan made
    # from the request cannot be hashed or written (UnicodeEncodeError in
    # Plan.digest / to_json) and no forge would accept it. Refuse it up front.
    with pytest.raises(prplan.InvalidRequestError) as info:
        make(**{field: "bad \udc80 text"})
    assert [p.field for p in info.value.problems] == [field]


# --- valid requests -------------------------------------------------------------------


def test_str_content_is_stored_as_utf8_bytes() -> None:
    request = make(files={"a.txt": "héllo wörld ✓\n"})
    assert request.files["a.txt"] == "héllo wörld ✓\n".encode()
    assert isinstance(request.files["a.txt"], bytes)


def test_bytes_content_is_stored_unchanged() -> None:
    raw = b"\x89PNG\r\n\x1a\n\xff\xfe\x00"
    request = make(files={"logo.png": raw})
    assert request.files["logo.png"] == raw


def test_str_and_bytes_content_give_equal_requests() -> None:
    assert make(files={"a.txt": "é"}) == make(files={"a.txt": "é".encode()})


def test_files_are_sorted_by_path() -> None:
    request = make(files={"z.txt": "z", "a/b.txt": "ab", "m.txt": None, "a.txt": "a"})
    assert list(request.files) == ["a.txt", "a/b.txt", "m.txt", "z.txt"]


def test_insertion_order_does_not_matter() -> None:
    one = make(files={"b.txt": "b", "a.txt": "a"})
    two = make(files={"a.txt": "a", "b.txt": "b"})
    assert one == two
    assert list(one.files) == list(two.files)
    assert one.request_id == two.request_id


def test_none_means_delete() -> None:
    request = make(files={"old.yaml": None, "new.yaml": "x"})
    assert request.files["old.yaml"] is None
    assert request.desired_blob_shas() == {
        "new.yaml": prplan.git_blob_sha(b"x"),
        "old.yaml": None,
    }


def test_the_callers_mapping_is_copied() -> None:
    files: dict[str, str | None] = {"a.txt": "one"}
    request = make(files=files)
    files["a.txt"] = "two"
    files["b.txt"] = None
    assert request.files == {"a.txt": b"one"}


ENUM_VALUES = [
    (field, member)
    for field, kind in (
        ("merge_method", prplan.MergeMethod),
        ("on_closed", prplan.OnClosed),
        ("branch_policy", prplan.BranchPolicy),
    )
    for member in kind
]


@pytest.mark.parametrize(
    ("field", "member"), ENUM_VALUES, ids=[f"{f}={m.value}" for f, m in ENUM_VALUES]
)
def test_enums_accept_their_string_values(field: str, member: Any) -> None:
    from_string = make(**{field: member.value})
    from_member = make(**{field: member})
    assert getattr(from_string, field) is member
    assert getattr(from_string, field) == member.value
    assert from_string == from_member


def test_defaults() -> None:
    request = make()
    assert request.base is None
    assert request.merge_method is prplan.MergeMethod.MERGE
    assert request.on_closed is prplan.OnClosed.NEW
    assert request.branch_policy is prplan.BranchPolicy.SAFE
    assert (request.create_pr, request.automerge, request.allow_modification) == (
        True,
        False,
        True,
    )
    assert request.delete_branch is False


@pytest.mark.parametrize("base", [None, "main", "release/1.0", "v1.2.3"])
def test_base_may_be_none_or_a_valid_branch(base: str | None) -> None:
    assert make(base=base).base == base


GOOD_BRANCHES = [
    "main",
    "feature/x-1",
    "prplan/app-1.4.2",
    "a.b",
    "user@host",
    "a@b/c",
    "x.lockx",
    "lock/a",
    "UPPER_case",
    "ünïcode",
]


@pytest.mark.parametrize("branch", GOOD_BRANCHES)
def test_valid_branch_names_are_accepted(branch: str) -> None:
    assert make(branch=branch).branch == branch


GOOD_PATHS = [
    "a.txt",
    "apps/app/values.yaml",
    ".gitignore",
    ".github/workflows/ci.yml",
    "a..b",
    "...",
    "dir.git.bak/x",
    "with space/and-dash_underscore.txt",
    "ünïcode/файл.txt",
]


@pytest.mark.parametrize("path", GOOD_PATHS)
def test_valid_paths_are_accepted(path: str) -> None:
    assert list(make(files={path: "x"}).files) == [path]


@pytest.mark.parametrize("repo", ["acme/app", "acme-co/my.app_2", "A1/x", "a/" + "n" * 100])
def test_valid_repos_are_accepted(repo: str) -> None:
    assert make(repo=repo).repo == repo


def test_siblings_sharing_a_prefix_are_not_a_file_directory_clash() -> None:
    request = make(files={"a": "x", "ab/c": "y", "a.d/e": "z"})
    assert list(request.files) == ["a", "a.d/e", "ab/c"]

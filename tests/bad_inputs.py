"""A catalogue of hostile and broken input, as data.

Each ``Case`` says how the input is given, and what must come back:

* ``via="subprocess"``: ``ARGS`` to the real command (``python -m prplan``);
* ``via="runner"``: the same, through ``click.testing.CliRunner`` on
  ``prplan.cli.cli`` (in-process: fast, and it can pass a NUL in an argument);
* ``via="api"``: ``call``, a Python API call (a dotted name and arguments).

CLI cases run against a fresh forge holding ``REPO`` (``SEED``): by default
the local forge served over HTTP (``GITHUB_API_URL``, ``GITHUB_TOKEN``), or,
when the arguments name ``{forge}``, an embedded forge directory
(``--local {forge}``). In arguments, ``{tmp}`` is the case's scratch
directory and ``{forge}`` that forge directory; ``{tmp}/new.yaml`` always
exists (a valid new ``values.yaml``). ``files`` are created in ``{tmp}``
first: ``bytes``/``str`` as they are, ``Sparse(n)`` as a sparse file of n
bytes, ``PlanDoc(...)`` as a saved plan of a valid change, broken on purpose.

A CLI case must exit with ``code``, print ``says`` within one line, print no
traceback and no token, and write nothing to the forge. An API case must
raise ``raises`` with ``says`` in its message and, for the
``InvalidRequestError`` family, a problem naming ``field``.

``bug`` marks a case that shows a defect of prplan: the test expects the
correct behaviour and is an expected (strict) failure until the defect is
fixed.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import prplan
from prplan.core.plan_json import canonical_json
from prplan.edits import EditError, JsonSet, Replace, YamlSet

REPO = "acme/deployments"
BRANCH = "prplan/bad-input"
VALUES = "image:\n  repository: registry.example.com/acme/app\n  tag: '1.4.1'\nreplicas: 3\n"
NEW_VALUES = VALUES.replace("1.4.1", "1.4.2")
#: Latin-1, not UTF-8: a YAML file a structured edit cannot read.
NOT_UTF8 = b"image:\n  tag: '1.4.1'  # caf\xe9\n"
SEED: dict[str, str | bytes] = {
    "apps/app/values.yaml": VALUES,
    "apps/latin1.yaml": NOT_UTF8,
    "apps/old.yaml": "old: true\n",
    "config.json": '{"replicas": 3}\n',
}
#: GitHub's limit for one file (prplan's ``MAX_FILE_BYTES``).
LIMIT = 100 * 1024 * 1024

SUBPROCESS, RUNNER, API = "subprocess", "runner", "api"


# --- how inputs are given ---------------------------------------------------------


@dataclass(frozen=True)
class Sparse:
    """A sparse file of ``size`` bytes (zeros), made with ``truncate``."""

    size: int


@dataclass(frozen=True)
class PlanDoc:
    """A saved plan (``Plan.to_json``) of a valid change to ``REPO``: the
    document is changed by ``edit`` (in place) and signed again when
    ``resign`` (so that only the change itself is wrong), then its text by
    ``raw``."""

    edit: Callable[[dict[str, Any]], None] | None = None
    resign: bool = True
    raw: Callable[[str], str | bytes] | None = None

    def render(self, valid: str) -> str | bytes:
        document = json.loads(valid)
        if self.edit is not None:
            self.edit(document)
            if self.resign:
                body = {k: v for k, v in document.items() if k != "digest"}
                document["digest"] = hashlib.sha256(canonical_json(body)).hexdigest()
        text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        return text if self.raw is None else self.raw(text)


class _Forge:
    """Marker: the case's forge (an in-memory ``LocalForge`` holding ``SEED``)."""

    def __repr__(self) -> str:
        return "FORGE"


FORGE = _Forge()


@dataclass(frozen=True)
class Call:
    """A Python API call: ``func`` is a dotted name (``prplan.Plan.from_json``).
    ``FORGE`` and ``PlanDoc`` arguments are filled in by the test."""

    func: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    id: str
    via: str
    says: str
    code: int | None = None  # CLI cases: the exit code
    args: tuple[str, ...] = ()
    files: Mapping[str, str | bytes | Sparse | PlanDoc] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    call: Call | None = None
    raises: type[BaseException] | None = None  # API cases
    field: str | None = None  # API cases: the field a problem must name
    bug: str | None = None


# --- building blocks ------------------------------------------------------------------

NEW = "{tmp}/new.yaml"
WRITE = ("--file", f"apps/app/values.yaml={NEW}")


def cli(
    id: str,
    *args: str,
    says: str,
    code: int = 1,
    via: str = RUNNER,
    **options: Any,
) -> Case:
    args = options.pop("args", args)
    return Case(id=id, via=via, says=says, code=code, args=args, **options)


def apply_change(*extra: str, branch: str = BRANCH, repo: str = REPO) -> tuple[str, ...]:
    """``prplan apply --yes`` of a change: the strongest way to be sure bad
    input writes nothing."""
    return ("apply", "--yes", "--repo", repo, "--branch", branch, *extra)


def plan_change(*extra: str, branch: str = BRANCH, repo: str = REPO) -> tuple[str, ...]:
    return ("plan", "--repo", repo, "--branch", branch, *extra)


def request(**overrides: Any) -> Call:
    kwargs = {"repo": REPO, "branch": BRANCH, "files": {"apps/app/values.yaml": NEW_VALUES}}
    return Call("prplan.ChangeRequest", kwargs={**kwargs, **overrides})


def api(id: str, call: Call, raises: type[BaseException], says: str, **options: Any) -> Case:
    return Case(id=id, via=API, says=says, call=call, raises=raises, **options)


def changeset(text: str | bytes, *extra: str) -> dict[str, Any]:
    """Options for a CLI case planning the change set ``text`` (``{tmp}/set.yaml``)."""
    return {
        "args": ("plan", "--changeset", "{tmp}/set.yaml", *extra),
        "files": {"set.yaml": text},
    }


def _set_doc(entries: str, head: str = "version: 1\ndefaults: {branch: prplan/set}\n") -> str:
    return head + "changes:\n" + entries


ENTRY = f"  - repo: {REPO}\n    files: {{apps/app/values.yaml: new.yaml}}\n"


# Plan document changes ---------------------------------------------------------------


def _edit_a_byte(text: str) -> str:
    """One byte of the new content changed after review ('1.4.2' -> '1.4.3')."""
    return text.replace("1.4.2", "1.4.3", 1)


def _version(number: int) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        document["format_version"] = number

    return edit


def _unknown_action(document: dict[str, Any]) -> None:
    document["actions"][0]["type"] = "force_push"


def _unknown_request_key(document: dict[str, Any]) -> None:
    document["request"]["run_as"] = "root"


def _traversal_in_request(document: dict[str, Any]) -> None:
    document["request"]["files"]["../../etc/cron.d/x"] = {"text": "* * * * * root sh\n"}


def _bad_base64(document: dict[str, Any]) -> None:
    document["request"]["files"]["apps/app/values.yaml"] = {"base64": "not base64!"}


def _added_merge(document: dict[str, Any]) -> None:
    """A merge nobody asked for (the plan was made without automerge)."""
    document["actions"].append({"type": "merge_pull_request", "number": None,
                                "expected_head_sha": None, "method": "merge", "reason": "ok",
                                "brings_commits": [], "brings_paths": [],
                                "brings_complete": True})  # fmt: skip


def _commit_to_main(document: dict[str, Any]) -> None:
    """The commit retargeted at base: straight to main, no pull request."""
    commit = next(a for a in document["actions"] if a["type"] == "commit")
    document["actions"] = [
        commit | {"branch": "main", "parent_sha": document["observed"]["base_sha"]}
    ]


def _truncate(text: str) -> str:
    return text[: len(text) // 2]


def _not_utf8(text: str) -> bytes:
    return text.replace("1.4.2", "1.4.\udcff", 1).encode("utf-8", "surrogateescape")


PLAN = "{tmp}/plan.json"


def plan_file(id: str, doc: PlanDoc | str | bytes, *extra: str, **options: Any) -> Case:
    """``prplan apply PLAN_FILE`` of a broken saved plan."""
    options.setdefault("code", 1)
    return Case(
        id=id, via=RUNNER, args=("apply", PLAN, *extra), files={"plan.json": doc}, **options
    )


# --- the catalogue ----------------------------------------------------------------------

PATH_CASES = [
    cli("path-dotdot-prefix", *plan_change("--file", f"../x={NEW}"), says="contains '..'",
        via=SUBPROCESS),
    cli("path-dotdot-escapes", *apply_change("--delete", "a/../../b"), says="contains '..'"),
    cli("path-absolute", *apply_change("--delete", "/etc/passwd"), says="is absolute"),
    cli("path-git-config", *apply_change("--file", f".git/config={NEW}"),
        says="has a '.git' component"),
    cli("path-git-upper-hooks", *apply_change("--delete", ".GIT/hooks/x"),
        says="has a '.git' component"),
    cli("path-nul", *apply_change("--delete", "a\x00b"), says="contains a NUL or control character"),
    cli("path-escape-sequence", *apply_change("--delete", "a\x1b[31mb"),
        says="contains a NUL or control character"),
    cli("path-backslash", *apply_change("--delete", "..\\x"), says="contains a backslash"),
    cli("path-from-dir-missing", *apply_change("--from-dir", "{tmp}/nothing"),
        says="is not a directory"),
]  # fmt: skip

BRANCH_CASES = [
    cli("branch-nul", *apply_change(*WRITE, branch="a\x00b"), says="contains a control character"),
    cli("branch-newline", *apply_change(*WRITE, branch="a\nb"), says="contains a control character"),
    cli("branch-dotdot", *apply_change(*WRITE, branch="a..b"), says="contains '..'"),
    cli("branch-lock", *apply_change(*WRITE, branch="x.lock"), says="ending with '.lock'"),
    cli("branch-at-brace", *apply_change(*WRITE, branch="@{x}"), says="contains '@{'"),
    cli("branch-leading-dash", "apply", "--yes", "--repo", REPO, "--branch=-x", *WRITE,
        says="starts with '-'"),
    cli("branch-trailing-slash", *apply_change(*WRITE, branch="x/"), says="empty path component"),
    cli("branch-full-ref", *apply_change(*WRITE, branch="refs/heads/main"),
        says="without 'refs/heads/'"),
    cli("base-dotdot", *apply_change(*WRITE, "--base", "main..x"),
        says="--base: 'main..x' is not a valid git branch name"),
    cli("title-nul", *apply_change(*WRITE, "--title", "Deploy\x00"), says="--title: contains a NUL"),
    cli("body-nul", *apply_change(*WRITE, "--body", "\x00"), says="--body: contains a NUL"),
]  # fmt: skip

REPO_CASES = [
    cli("repo-no-slash", *apply_change(*WRITE, repo="acme"), says="'acme' is not 'owner/name'"),
    cli("repo-dot-git", *apply_change(*WRITE, repo="acme/app.git"), says="no '.git' suffix"),
    cli("repo-dotdot", *apply_change(*WRITE, repo="acme/.."), says="name '..'"),
    cli("repo-traversal", *apply_change(*WRITE, repo="acme/../../x"), says="is not 'owner/name'"),
    cli("repo-url", *apply_change(*WRITE, repo="https://github.com/acme/app"),
        says="is not 'owner/name'"),
]  # fmt: skip

CHANGE_CASES = [
    cli("head-is-base-with-pr", *apply_change(*WRITE, branch="main"), code=3,
        says="REFUSED (head_is_base)", via=SUBPROCESS),
    cli("head-is-base-local", *apply_change(*WRITE, "--local", "{forge}", branch="main"), code=3,
        says="REFUSED (head_is_base)"),
    cli("empty-change", *apply_change(), says="--file/--delete/--from-dir: name at least one file"),
    cli("missing-repo-and-branch", "apply", "--yes", *WRITE, says="--repo: is required"),
    cli("file-over-100-mib", *apply_change("--file", "big.bin={tmp}/big.bin"),
        files={"big.bin": Sparse(LIMIT + 1)}, says="GitHub refuses files over 100 MiB"),
    cli("set-on-non-utf8-yaml", *apply_change("--set", "apps/latin1.yaml:image.tag=1.4.2"),
        code=3, says="file is not UTF-8 text (byte 0xe9"),
    cli("set-without-equals", *apply_change("--set", "apps/app/values.yaml:image.tag"),
        says="is not REPO_PATH:KEY.PATH=VALUE"),
    cli("set-without-colon", *apply_change("--set", "image.tag=1.4.2"),
        says="is not REPO_PATH:KEY.PATH=VALUE"),
    cli("set-key-empty-segment", *apply_change("--set", "apps/app/values.yaml:a..b=1"),
        says="has an empty key at position 2"),
    cli("set-key-problem-names-its-option", *apply_change("--set", "apps/app/values.yaml:a..b=1"),
        says="error: --set"),
    cli("set-key-bad-index", *apply_change("--set", "apps/app/values.yaml:[x]=1"),
        says="has a bad index at position 0"),
    # A missing parent mapping is created (as Helm does); a missing list is not.
    cli("set-missing-key-in-file", *apply_change("--set", "apps/app/values.yaml:image.nope[0]=1"),
        code=3, says="REFUSED (edit_failed)"),
    cli("replace-empty-old", *apply_change("--replace", "apps/app/values.yaml", "", "1.4.2"),
        says="give REPO_PATH OLD NEW, OLD not empty"),
    cli("replace-not-found", *apply_change("--replace", "apps/app/values.yaml", "9.9.9", "1.4.2"),
        code=3, says="expected 1 match, found 0"),
    cli("file-missing-local", *apply_change("--file", "a.txt={tmp}/nope.txt"),
        says="cannot read {tmp}/nope.txt: No such file or directory"),
    cli("file-without-equals", *apply_change("--file", "a.txt"), says="is not REPO_PATH=LOCAL_PATH"),
    cli("file-given-twice", *apply_change(*WRITE, "--delete", "apps/app/values.yaml"),
        says="'apps/app/values.yaml' is given twice"),
    cli("file-and-its-directory", *apply_change("--file", f"apps={NEW}", "--delete", "apps/x"),
        says="is inside 'apps'"),
    cli("merge-method-unknown", *apply_change(*WRITE, "--merge-method", "octopus"),
        says="--merge-method: 'octopus' is not one of"),
    cli("local-and-github", *apply_change(*WRITE, "--local", "{forge}", "--github-url",
        "http://127.0.0.1:9/api/v3"), says="give one forge, not both"),
    cli("local-without-forge", *apply_change(*WRITE, "--local", "{tmp}/empty"),
        says="holds no forge"),
    cli("local-path-traversal", *apply_change("--local", "{forge}", "--delete", "../x"),
        says="contains '..'"),
    cli("usage-error-exits-1", *apply_change(*WRITE, "--format", "yaml"),
        says="Invalid value for '--format'", via=SUBPROCESS),
    cli("github-url-not-http", *plan_change("--delete", "x", "--github-url", "ftp://u:pw@example.com"),
        says="--github-url/GITHUB_API_URL: 'ftp://***@example.com' is not an http(s) URL",
        env={"GITHUB_TOKEN": "ghp_0123456789abcdef"}, via=SUBPROCESS),
]  # fmt: skip

FORGE_CASES = [
    cli("bad-token", *apply_change(*WRITE), env={"GITHUB_TOKEN": "ghp_WRONGwrongWRONG0123456789"},
        says="rejected the token", via=SUBPROCESS),
    cli("token-with-whitespace-inside", *apply_change(*WRITE), env={"GITHUB_TOKEN": "ghp_half other"},
        says="GITHUB_TOKEN: the token has whitespace"),
    cli("unknown-repository", *apply_change(*WRITE, repo="acme/nope"), says="acme/nope",
        via=SUBPROCESS),
    cli("unknown-base", *apply_change(*WRITE, "--base", "nope"),
        says="the base branch 'nope' does not exist", via=SUBPROCESS),
]  # fmt: skip

_DEEP = "[" * 100_000 + "]" * 100_000

PLAN_CASES = [
    plan_file("plan-not-json", "this is not JSON\n", says="is not JSON"),
    plan_file("plan-edited-byte", PlanDoc(raw=_edit_a_byte), says="digest: is "),
    plan_file("plan-format-version-1", PlanDoc(edit=_version(1)), says="format_version: is 1;"),
    plan_file("plan-format-version-99", PlanDoc(edit=_version(99)), says="format_version: is 99;"),
    plan_file("plan-for-another-repo", PlanDoc(), "--repo", "acme/other",
              says="--repo: is acme/other but the plan is for acme/deployments"),
    plan_file("plan-truncated", PlanDoc(raw=_truncate), says="is not JSON"),
    plan_file("plan-unknown-action", PlanDoc(edit=_unknown_action), says="plan.actions[0]"),
    plan_file("plan-unknown-request-key", PlanDoc(edit=_unknown_request_key),
              says="request.run_as: is not a request field"),
    plan_file("plan-request-path-traversal", PlanDoc(edit=_traversal_in_request),
              says="request.files['../../etc/cron.d/x']"),
    plan_file("plan-bad-base64", PlanDoc(edit=_bad_base64), says="is not valid base64"),
    plan_file("plan-not-utf8", PlanDoc(raw=_not_utf8), says="is not JSON"),
    plan_file("plan-a-list", "[]\n", says="must be a JSON object"),
    plan_file("plan-and-a-change", PlanDoc(), "--branch", "x",
              says="give PLAN_FILE or a change, not both"),
    plan_file("plan-deeply-nested", _DEEP, says="is not JSON"),
    plan_file("plan-added-merge", PlanDoc(edit=_added_merge),
              says="actions[3]: the plan merges the pull request it opens (merge), but the planner derives no"),
    plan_file("plan-commit-to-main", PlanDoc(edit=_commit_to_main),
              says="actions[0]: the plan commits 1 file(s) to 'main', but the planner derives"),
    plan_file("plan-expect-other-digest", PlanDoc(), "--expect-digest", "0" * 64,
              says="--expect-digest: is sha256:0000"),
    plan_file("plan-unsigned-with-key", PlanDoc(), env={"PRPLAN_PLAN_KEY": "k"},
              says="signature: is missing"),
    Case(id="show-edited-plan", via=RUNNER, code=1, args=("show", PLAN),
         files={"plan.json": PlanDoc(raw=_edit_a_byte)}, says="the plan was edited after it was made"),
]  # fmt: skip

CHANGESET_CASES = [
    cli("changeset-not-utf8", **changeset(_set_doc(ENTRY).encode() + b"# caf\xe9\n"),
        says="can't decode byte 0xe9"),
    cli("changeset-not-yaml", **changeset("version: [1\n"), says="is not YAML"),
    cli("changeset-missing-version", **changeset(_set_doc(ENTRY, head="defaults: {branch: b}\n")),
        says="version: is None; this prplan reads version 1"),
    cli("changeset-unknown-key", **changeset(_set_doc(ENTRY) + "owner: me\n"),
        says="owner: is not a change set field"),
    cli("changeset-unknown-entry-key", **changeset(_set_doc(ENTRY + "    force: true\n")),
        says="changes[0].force: is not a change field"),
    cli("changeset-entry-without-repo",
        **changeset(_set_doc("  - files: {apps/app/values.yaml: new.yaml}\n")),
        says="changes[0].repo: is required"),
    cli("changeset-duplicate-repo-branch", **changeset(_set_doc(ENTRY + ENTRY)),
        says="changes[1]: acme/deployments via prplan/set is also changes[0]: once per set"),
    cli("changeset-set-not-a-mapping",
        **changeset(_set_doc(f"  - repo: {REPO}\n    set: {{apps/app/values.yaml: '1.4.2'}}\n")),
        says="must map key paths to values"),
    # (A plain 2024-01-01 in set: is now the text as written, not a date.)
    cli("changeset-set-json-not-json",
        **changeset(_set_doc(f"  - repo: {REPO}\n    set_json: {{apps/app/values.yaml: {{image.tag: '[1,'}}}}\n")),
        says="is not JSON"),
    cli("changeset-missing-local-file",
        **changeset(_set_doc(f"  - repo: {REPO}\n    files: {{a.yaml: missing.yaml}}\n")),
        says="cannot read missing.yaml: No such file or directory"),
    cli("changeset-path-traversal",
        **changeset(_set_doc(f"  - repo: {REPO}\n    delete: ['../../x']\n")),
        says="contains '..'"),
    cli("changeset-bad-branch",
        **changeset(_set_doc(ENTRY, head="version: 1\ndefaults: {branch: 'a..b'}\n")),
        says="changes[0].branch: 'a..b' is not a valid git branch name"),
    cli("changeset-and-repo", **changeset(_set_doc(ENTRY), "--repo", REPO),
        says="a change set names its own repositories"),
    cli("changeset-files-is-a-list",
        **changeset(_set_doc(f"  - repo: {REPO}\n    files: [apps/app/values.yaml]\n")),
        says="changes[0].files"),
    cli("changeset-delete-is-a-number",
        **changeset(_set_doc(f"  - repo: {REPO}\n    delete: 5\n")),
        says="changes[0].delete"),
    cli("changeset-delete-is-a-string",
        **changeset(_set_doc(f"  - repo: {REPO}\n    delete: README\n")),
        says="changes[0].delete"),
]  # fmt: skip

API_CASES = [
    api("api-path-dotdot", request(files={"../x": "y"}), prplan.InvalidRequestError,
        "contains '..'", field="files['../x']"),
    api("api-path-escapes", request(files={"a/../../b": None}), prplan.InvalidRequestError,
        "contains '..'", field="files['a/../../b']"),
    api("api-path-absolute", request(files={"/etc/passwd": None}), prplan.InvalidRequestError,
        "is absolute", field="files['/etc/passwd']"),
    api("api-path-git-hooks", request(files={".GIT/hooks/pre-commit": "#!/bin/sh\n"}),
        prplan.InvalidRequestError, "'.git' component", field="files['.GIT/hooks/pre-commit']"),
    api("api-path-git-short-name", request(files={"git~1/config": "x"}),
        prplan.InvalidRequestError, "opens as .git", field="files['git~1/config']"),
    api("api-path-git-trailing-dot", request(files={".git./hooks/x": "x"}),
        prplan.InvalidRequestError, "'.git' component", field="files['.git./hooks/x']"),
    api("api-path-nul", request(files={"a\x00b": "x"}), prplan.InvalidRequestError,
        "NUL or control", field="files['a\\x00b']"),
    api("api-branch-at-brace", request(branch="@{-1}"), prplan.InvalidRequestError,
        "contains '@{'", field="branch"),
    api("api-branch-control", request(branch="a\x07b"), prplan.InvalidRequestError,
        "control character", field="branch"),
    api("api-title-nul", request(title="a\x00b"), prplan.InvalidRequestError, "NUL",
        field="title"),
    api("api-repo-invalid", request(repo="acme/a b"), prplan.InvalidRequestError, "name 'a b'",
        field="repo"),
    api("api-file-over-limit", request(files={"big.bin": bytes(LIMIT + 1)}),
        prplan.InvalidRequestError, "100 MiB", field="files['big.bin']"),
    api("api-regex-does-not-compile",
        request(files={"apps/app/values.yaml": Replace(old="(", new="", regex=True)}),
        prplan.InvalidRequestError, "is not a valid regular expression",
        field="files['apps/app/values.yaml'].old"),
    api("api-json-set-nan", request(files={"config.json": JsonSet(path="a", value=float("nan"))}),
        prplan.InvalidRequestError, "JSON cannot represent", field="files['config.json'].value"),
    api("api-yaml-set-bad-path", request(files={"apps/app/values.yaml": YamlSet(path="a..b", value=1)}),
        prplan.InvalidRequestError, "empty key", field="files['apps/app/values.yaml'].path"),
    api("api-github-url-without-host", Call("prplan.GitHubClient", kwargs={"token": "t", "base_url": "https:///api/v3"}),
        prplan.InvalidRequestError, "is not an http(s) URL", field="base_url"),
    api("api-edits-regex", Call("prplan.edits.apply_edits", (b"x\n", [Replace(old="(", new="", regex=True)]),
        {"filename": "a.txt"}), prplan.InvalidRequestError, "not a valid regular expression",
        field="edits[0].old"),
    api("api-edits-not-utf8", Call("prplan.edits.apply_edits", (NOT_UTF8, [YamlSet(path="image.tag", value="2")]),
        {"filename": "apps/latin1.yaml"}), EditError, "file is not UTF-8 text (byte 0xe9"),
    api("api-edits-key-path-dotdot", Call("prplan.edits.parse_path", ("a..b",)), ValueError,
        "empty key at position 2"),
    api("api-edits-key-path-bracket", Call("prplan.edits.parse_path", ("[x]",)), ValueError,
        "bad index at position 0"),
    api("api-plan-not-json", Call("prplan.Plan.from_json", ("{",)), prplan.PlanFormatError,
        "is not JSON", field="plan"),
    api("api-plan-edited-byte", Call("prplan.Plan.from_json", (PlanDoc(raw=_edit_a_byte),)),
        prplan.PlanFormatError, "edited after it was made", field="digest"),
    api("api-plan-format-version-1", Call("prplan.Plan.from_json", (PlanDoc(edit=_version(1)),)),
        prplan.PlanFormatError, "reads versions 3, 4", field="format_version"),
    api("api-plan-request-traversal",
        Call("prplan.Plan.from_json", (PlanDoc(edit=_traversal_in_request),)),
        prplan.PlanFormatError, "contains '..'", field="request.files['../../etc/cron.d/x']"),
    api("api-plan-deeply-nested", Call("prplan.Plan.from_json", (_DEEP,)), prplan.PlanFormatError,
        "is not JSON", field="plan"),
    api("api-changeset-not-a-mapping", Call("prplan.run.changeset_file.parse_changeset", ([1, 2],)),
        prplan.InvalidRequestError, "must be a mapping", field="change set"),
    api("api-changeset-missing-version",
        Call("prplan.run.changeset_file.parse_changeset", ({"changes": [{"repo": REPO, "branch": "b", "delete": ["x"]}]},)),
        prplan.InvalidRequestError, "reads version 1", field="version"),
    api("api-changeset-duplicate",
        Call("prplan.run.changeset_file.parse_changeset", ({"version": 1, "defaults": {"branch": "b"},
             "changes": [{"repo": REPO, "delete": ["x"]}, {"repo": REPO, "delete": ["y"]}]},)),
        prplan.InvalidRequestError, "once per set", field="changes[1]"),
    api("api-changeset-bad-set-value",
        Call("prplan.run.changeset_file.parse_changeset", ({"version": 1, "changes": [{"repo": REPO,
             "branch": "b", "set": {"a.yaml": {"x": datetime.date(2024, 1, 1)}}}]},)),
        prplan.InvalidRequestError, "has type date", field="changes[0].set['a.yaml']['x'].value"),
    api("api-changeset-set-is-a-list",
        Call("prplan.run.changeset_file.parse_changeset", ({"version": 1, "changes": [{"repo": REPO,
             "branch": "b", "set": ["a.yaml"]}]},)),
        prplan.InvalidRequestError, "set", field="changes[0].set"),
    api("api-head-is-base-refused",
        Call("prplan.compat.add_or_modify_files",
             (FORGE, SimpleNamespace(name=REPO, master_branch="main"), "main", None, "bot",
              {"apps/app/values.yaml": NEW_VALUES}),
             {"create_pr": True, "automerge": False, "allow_modification": True}),
        prplan.RefusedError, "is the base branch"),
]  # fmt: skip

CATALOGUE: list[Case] = (
    PATH_CASES
    + BRANCH_CASES
    + REPO_CASES
    + CHANGE_CASES
    + FORGE_CASES
    + PLAN_CASES
    + CHANGESET_CASES
    + API_CASES
)

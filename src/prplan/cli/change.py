"""The change a user asks for on the command line: its options (``--file``,
``--set``, ``--from-dir``...), the files and edits they name, read from
disk, and the ``ChangeRequest`` they make, every problem reported at once.

Apart from the commands because `plan` and `apply` take the same change,
and `prplan forge push`/`create-repo` read a directory as ``--from-dir`` does
(``read_dir``: never a file outside it).
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from prplan.cli.options import Bad
from prplan.core.request import (
    BranchPolicy,
    ChangeRequest,
    MergeMethod,
    MergeWhen,
    OnClosed,
    parse_duration,
)
from prplan.errors import InvalidRequestError, Problem

__all__ = ["change_options", "given", "read_files", "read_dir", "request_from"]

F = TypeVar("F", bound=Callable[..., Any])


def _choices(kind: Any) -> str:
    return "[" + "|".join(m.value for m in kind) + "]"


#: Pull-request metadata (docs/concepts.md), after the change's own options.
_METADATA_OPTIONS = [
    click.option("--label", "labels", multiple=True, metavar="NAME",
                 help="Add this label to the pull request (created if the repository lacks it). "
                 "Repeatable. Nothing a human added is removed."),
    click.option("--assignee", "assignees", multiple=True, metavar="LOGIN",
                 help="Assign the pull request to LOGIN. Repeatable."),
    click.option("--reviewer", "reviewers", multiple=True, metavar="LOGIN",
                 help="Request LOGIN's review (not again once they reviewed). Repeatable."),
    click.option("--team-reviewer", "team_reviewers", multiple=True, metavar="[ORG/]SLUG",
                 help="Request a team's review. Repeatable."),
    click.option("--draft/--no-draft", default=None,
                 help="--draft opens a new pull request as a draft (an open one is never made a "
                 "draft again); --no-draft marks an open draft ready for review. Neither: left as it is."),
    click.option("--milestone", default=None, metavar="TITLE",
                 help="Set the pull request's milestone, by title (looked up; one someone set is kept)."),
]  # fmt: skip


#: Pull requests kept up to date and identities stated (docs/concepts.md).
_TEXT_OPTIONS = [
    click.option("--update-pr", is_flag=True,
                 help="Rewrite the title and body of prplan's own open pull request (its marker names "
                 "this request) when they differ; a human's text below prplan's line is kept."),
    click.option("--close-superseded", is_flag=True,
                 help="Close prplan's own open pull request, with a comment, once base already holds "
                 "the content (and delete its branch with --delete-branch)."),
    click.option("--co-author", "co_authors", multiple=True, metavar="'NAME <EMAIL>'",
                 help="A Co-authored-by: trailer in the commit message (the commit stays signed). "
                 "Repeatable."),
    click.option("--author", default=None, metavar="'NAME <EMAIL>'",
                 help="Make the commit with this author instead of the token's identity: GitHub "
                 "then does not sign it (the plan says so)."),
]  # fmt: skip
_TEXT_KEYS = ("update_pr", "close_superseded", "co_authors", "author")


def change_options(func: F) -> F:
    options = [
        click.option("--branch", help="The head branch the change goes through (the base itself: commit directly)."),
        click.option("--base", help="The branch to land on (default: the repository's default branch)."),
        click.option("--file", "files", multiple=True, metavar="REPO_PATH=LOCAL_PATH",
                     help="Write LOCAL_PATH's content to REPO_PATH. Repeatable."),
        click.option("--delete", "deletes", multiple=True, metavar="REPO_PATH", help="Delete REPO_PATH. Repeatable."),
        click.option("--set", "sets", multiple=True, metavar="REPO_PATH:KEY.PATH=VALUE",
                     help="Edit a YAML/JSON file: set KEY.PATH (dotted; [i] or [name=x] for list items) to VALUE, "
                     "as written: a string stays a string (1.10 too), a number a number; a new key's value is "
                     "inferred, and written as a string when it would not read back as written. Comments and "
                     "formatting are kept. Repeatable."),
        click.option("--set-string", "set_strings", multiple=True, metavar="REPO_PATH:KEY.PATH=VALUE",
                     help="As --set, with VALUE always a string. Repeatable."),
        click.option("--set-json", "set_jsons", multiple=True, metavar="REPO_PATH:KEY.PATH=JSON",
                     help="As --set, with the value given as JSON (a number, true, null, a list, an object). "
                     "Repeatable."),
        click.option("--replace", "replaces", multiple=True, nargs=3, metavar="REPO_PATH OLD NEW",
                     help="Edit a file: replace the text OLD (exactly once) by NEW. Repeatable."),
        click.option("--from-dir", "from_dir", type=click.Path(file_okay=False, path_type=Path),
                     help="Write every file under DIR to the same relative path (.git is left out). "
                     "Symbolic links are refused, never followed or committed as links. Content only, "
                     "as with --file: a file that exists keeps its mode (an executable stays 100755), "
                     "a new file is committed 100644 even if executable here."),
        click.option("--create-pr/--no-create-pr", default=True, show_default=True,
                     help="Open a pull request for the change."),
        click.option("--automerge/--no-automerge", default=False, show_default=True,
                     help="Merge the pull request that carries the change."),
        click.option("--allow-modification/--no-allow-modification", default=True, show_default=True,
                     help="May existing files be changed or deleted."),
        # Enum options are plain strings checked by ChangeRequest, so a bad
        # value is reported together with every other problem, not alone.
        click.option("--merge-method", default="merge", show_default=True, metavar=_choices(MergeMethod)),
        click.option("--merge-when", default="auto", show_default=True, metavar=_choices(MergeWhen),
                     help="With --automerge, when to merge: auto merges now if the pull request is "
                     "mergeable, else enables GitHub's auto-merge (or enqueues it where base has a merge "
                     "queue); now merges now or refuses; wait is auto, then waits for the merge. Without "
                     "--automerge nothing is merged and this changes nothing."),
        click.option("--wait-timeout", default="30m", show_default=True, metavar="DURATION",
                     help="How long --merge-when wait waits: 90s, 30m, 1h, or seconds."),
        click.option("--title", default="", help="Pull request title (default: 'prplan: update BRANCH')."),
        click.option("--body", default="", help="Pull request body."),
        click.option("--on-closed", default="new", show_default=True, metavar=_choices(OnClosed),
                     help="When the latest pull request was closed unmerged."),
        click.option("--branch-policy", default="safe", show_default=True, metavar=_choices(BranchPolicy),
                     help="A branch holding others' commits: refuse (safe) or reset."),
        click.option("--delete-branch", is_flag=True, help="Delete the branch after merging."),
        click.option("--merge-foreign-commits", is_flag=True,
                     help="Merge even when the branch holds commits prplan did not make (the plan "
                     "lists them); without it such a merge is refused."),
    ]  # fmt: skip
    for option in reversed([*options, *_METADATA_OPTIONS, *_TEXT_OPTIONS]):
        func = option(func)
    return func


CHANGE_KEYS = (
    "branch", "base", "files", "deletes", "sets", "set_strings", "set_jsons", "replaces", "from_dir", "create_pr",
    "automerge", "allow_modification",
    "merge_method", "title", "body", "on_closed", "branch_policy", "delete_branch",
    "merge_foreign_commits", "merge_when", "wait_timeout",
    "labels", "assignees", "reviewers", "team_reviewers", "draft", "milestone", *_TEXT_KEYS,
)  # fmt: skip

_OPTION_OF = {
    "repo": "--repo", "branch": "--branch", "base": "--base", "files": "--file/--delete/--from-dir",
    "merge_method": "--merge-method", "merge_when": "--merge-when", "wait_timeout": "--wait-timeout",
    "on_closed": "--on-closed", "branch_policy": "--branch-policy",
    "title": "--title", "body": "--body", "commit_message": "--title",
    "labels": "--label", "assignees": "--assignee", "reviewers": "--reviewer",
    "team_reviewers": "--team-reviewer", "draft": "--draft", "update_pr": "--update-pr",
    "close_superseded": "--close-superseded", "co_authors": "--co-author", "author": "--author",
}  # fmt: skip


_FILE_FIELD = re.compile(r"^files\[(?P<quote>['\"])(?P<path>.*?)(?P=quote)\](?P<rest>.*)$")


def _option(field: str) -> str:
    """The command-line option behind a request field: files['p'] is --file/
    --delete p; files['p'].path (an edit's field) is --set/--replace p."""
    match = _FILE_FIELD.match(field)
    if match:
        if match["rest"]:
            return f"--set/--replace {match['path']}"
        return f"--file/--delete {match['path']}"
    field = "co_authors" if field.startswith("co_authors[") else field
    return _OPTION_OF.get(field, f"--{field.replace('_', '-')}")


def read_files(
    files: tuple[str, ...], deletes: tuple[str, ...], from_dir: Path | None
) -> tuple[dict[str, bytes | None], list[Problem]]:
    contents: dict[str, bytes | None] = {}
    problems: list[Problem] = []

    def put(path: str, content: bytes | None, origin: str) -> None:
        if path in contents:
            problems.append(
                Problem(origin, f"{path!r} is given twice; name each repository path once")
            )
        contents[path] = content

    if from_dir is not None:
        if not from_dir.is_dir():
            problems.append(Problem("--from-dir", f"{from_dir} is not a directory"))
        else:
            for relative, content in read_dir(from_dir, problems):
                put(relative, content, "--from-dir")
    for spec in files:
        repo_path, sep, local_path = spec.partition("=")
        if not sep or not repo_path or not local_path:
            problems.append(Problem("--file", f"{spec!r} is not REPO_PATH=LOCAL_PATH"))
            continue
        try:
            put(repo_path, Path(local_path).read_bytes(), "--file")
        except OSError as error:
            problems.append(
                Problem("--file", f"{spec}: cannot read {local_path}: {error.strerror}")
            )
    for path in deletes:
        put(path, None, "--delete")
    return contents, problems


def read_dir(
    root: Path, problems: list[Problem], executable: set[str] | None = None
) -> list[tuple[str, bytes]]:
    """Every regular file under ``root`` (``.git`` left out), never reading
    outside it: a symbolic link, to a file or a directory, anywhere in the
    tree, is a problem, not followed (it could put a file from elsewhere,
    a secret, into the plan); so is a FIFO, socket or device. The paths of
    files executable by their owner (git's test for 100755) go into
    ``executable`` when given."""
    found: list[tuple[str, bytes]] = []

    def visit(directory: Path, prefix: str) -> None:
        with os.scandir(directory) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                relative = prefix + entry.name
                if entry.name == ".git":
                    continue
                if entry.is_symlink():
                    problems.append(
                        Problem(
                            "--from-dir",
                            f"{relative} is a symbolic link; prplan reads no file outside "
                            f"{root} and commits no links: copy the file in, or remove the link",
                        )
                    )
                elif entry.is_dir(follow_symlinks=False):
                    visit(Path(entry.path), relative + "/")
                elif entry.is_file(follow_symlinks=False):
                    content = _read_regular(Path(entry.path))
                    if content is None:
                        problems.append(
                            Problem("--from-dir", f"{relative} was replaced while read: run again")
                        )
                    else:
                        found.append((relative, content))
                        if (
                            executable is not None
                            and entry.stat(follow_symlinks=False).st_mode & stat.S_IXUSR
                        ):
                            executable.add(relative)
                else:
                    problems.append(
                        Problem("--from-dir", f"{relative} is not a regular file: remove it")
                    )

    visit(root, "")
    return found


def _read_regular(path: Path) -> bytes | None:
    """The content of ``path`` if it is still a regular file when opened (a
    link swapped in after listing is not followed), else None."""
    try:
        fd = os.open(
            path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        )
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            return None
        return file.read()


def _read_edits(
    sets: tuple[str, ...],
    replaces: tuple[tuple[str, str, str], ...],
    set_strings: tuple[str, ...] = (),
    set_jsons: tuple[str, ...] = (),
) -> tuple[dict[str, tuple[Any, ...]], list[Problem]]:
    """--set values are kept as written and typed against the file when the
    edit is applied (``prplan.edits.values``); --set-string and --set-json say the
    type themselves. Edits of one file apply in the order given."""
    from prplan.edits import Replace, set_edit, split_assignment

    edits: dict[str, list[Any]] = {}
    problems: list[Problem] = []
    given = [("--set", spec) for spec in sets]
    given += [("--set-string", spec) for spec in set_strings]
    given += [("--set-json", spec) for spec in set_jsons]
    for option, spec in given:
        path, colon, assignment = spec.partition(":")
        split = split_assignment(assignment)
        if not colon or split is None or not path or not split[0]:
            value_name = "JSON" if option == "--set-json" else "VALUE"
            problems.append(Problem(option, f"{spec!r} is not REPO_PATH:KEY.PATH={value_name}"))
            continue
        key, text = split
        if option == "--set-json":
            try:
                value: object = json.loads(text)
            except ValueError as error:
                problems.append(Problem(option, f"{spec}: the value is not JSON: {error}"))
                continue
        else:
            value = text
        edit = set_edit(path, key, value, as_written=option == "--set")
        edits.setdefault(path, []).append(edit)
    for path, old, new in replaces:
        if not path or not old:
            problems.append(
                Problem("--replace", f"{(path, old, new)!r}: give REPO_PATH OLD NEW, OLD not empty")
            )
            continue
        if ":" in path and "=" in path and (old.startswith("--") or new.startswith("--")):
            # The old form, --replace PATH:OLD=NEW, swallowed the next options.
            problems.append(
                Problem("--replace", f"takes three arguments, REPO_PATH OLD NEW; got {path!r}")
            )
            continue
        edits.setdefault(path, []).append(Replace(old=old, new=new))
    return {path: tuple(items) for path, items in edits.items()}, problems


def request_from(repo: str | None, change: dict[str, Any]) -> ChangeRequest:
    problems: list[Problem] = []
    if not repo:
        problems.append(Problem("--repo", "is required: the repository as OWNER/NAME"))
    if not change["branch"]:
        problems.append(Problem("--branch", "is required: the head branch the change goes through"))
    read, file_problems = read_files(change["files"], change["deletes"], change["from_dir"])
    edits, edit_problems = _read_edits(
        change.get("sets", ()),
        change.get("replaces", ()),
        change.get("set_strings", ()),
        change.get("set_jsons", ()),
    )
    files: dict[str, Any] = dict(read)
    for path, path_edits in edits.items():
        if path in files:
            file_problems.append(
                Problem(
                    "--set/--replace", f"{path!r} is also written or deleted; edit it or replace it"
                )
            )
        files[path] = path_edits
    problems += file_problems + edit_problems
    if not files and not file_problems and not edit_problems:
        problems.append(
            Problem("--file/--delete/--from-dir", "name at least one file to write, delete or edit")
        )
    try:
        request = ChangeRequest(
            repo=repo or "missing/missing",
            branch=change["branch"] or "missing",
            base=change["base"],
            files=files or {"placeholder": None},
            create_pr=change["create_pr"],
            automerge=change["automerge"],
            allow_modification=change["allow_modification"],
            merge_method=change["merge_method"],
            title=change["title"],
            body=change["body"],
            on_closed=change["on_closed"],
            branch_policy=change["branch_policy"],
            delete_branch=change["delete_branch"],
            merge_foreign_commits=change["merge_foreign_commits"],
            merge_when=change["merge_when"],
            wait_timeout=_wait_timeout(change["wait_timeout"], problems),
            labels=change["labels"],
            assignees=change["assignees"],
            reviewers=change["reviewers"],
            team_reviewers=change["team_reviewers"],
            draft=change["draft"],
            milestone=change["milestone"],
            **{key: change[key] for key in _TEXT_KEYS if key in change},
        )
    except InvalidRequestError as error:
        problems += [Problem(_option(p.field), p.message) for p in error.problems]
        raise Bad(problems) from None
    if problems:
        raise Bad(problems)
    return request


def _wait_timeout(text: str, problems: list[Problem]) -> float:
    """``--wait-timeout`` in seconds; a bad one is reported with the rest."""
    try:
        return parse_duration(text)
    except ValueError as error:
        problems.append(Problem("--wait-timeout", str(error)))
        return 1800.0


def given(change: dict[str, Any]) -> list[str]:
    """The change options given on the command line (not their defaults)."""
    context = click.get_current_context()
    plural = {
        "files": "file",
        "deletes": "delete",
        "sets": "set",
        "set_strings": "set_string",
        "set_jsons": "set_json",
        "replaces": "replace",
    }
    return [
        f"--{plural.get(key, key).replace('_', '-')}"
        for key in CHANGE_KEYS
        if context.get_parameter_source(key) is click.core.ParameterSource.COMMANDLINE
    ]

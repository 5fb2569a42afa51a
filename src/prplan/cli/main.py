"""The ``prplan`` command: plan files for review, apply exactly what was
reviewed, keep an audit trail.

Exit codes (also in ``--help``):

* ``prplan plan``: 0 nothing to do, 2 changes planned, 3 refused, 1 error.
* ``prplan apply``: 0 applied or nothing to do, 3 refused, 4 stale plan
  (nothing written), 5 failed part-way (the outcome says what was done),
  1 error.

Invalid input exits 1 with one line per problem, naming the option and the
fix, before anything is read from or written to a forge. The token comes
from ``GITHUB_TOKEN`` or ``GH_TOKEN`` only, never from a flag, and is never
printed.
"""

from __future__ import annotations

import functools
import json
import os
import re
import stat
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from prplan.cli.demo import run_demo
from prplan.cli.forge import COMMANDS as FORGE_COMMANDS
from prplan.cli.forge import forge_users
from prplan.cli.render import (
    DEFAULT_VIEW,
    View,
    changeset_markdown,
    outcome_text,
    plan_markdown,
    plan_text,
)
from prplan.core.integrity import check_plan, normalise_digest
from prplan.core.lifecycle import mermaid
from prplan.core.plan import PLAN_KEY_ENV, Plan, Review, redacted_for_review, signature_status
from prplan.core.planner import plan as make_plan
from prplan.core.request import BranchPolicy, ChangeRequest, MergeMethod, OnClosed
from prplan.errors import (
    InvalidRequestError,
    Problem,
    PrplanError,
    StalePlanError,
    mask_url_credentials,
)
from prplan.run.audit import AuditTrail, audit_path_problem, forge_address
from prplan.run.changeset import (
    ChangeSetPlan,
    ChangeSetResult,
    EntryResult,
    apply_changeset,
    plan_changeset,
)
from prplan.run.changeset_file import load_changeset
from prplan.run.executor import apply as apply_plan
from prplan.run.observe import observe
from prplan.run.outcome import ActionResult, Outcome, OutcomeStatus, Reporter
from prplan.run.port import ForgeClient, RequestCount, counting_requests
from prplan.run.review import changeset_with_review, read_review, with_review
from prplan.tools.specgen import decision_table_markdown

__all__ = ["main", "cli", "EXIT"]

F = TypeVar("F", bound=Callable[..., Any])

#: Exit codes, by name.
EXIT = {"ok": 0, "error": 1, "changes": 2, "refused": 3, "stale": 4, "failed": 5}
_EXIT_HELP = {
    "plan": "Exit codes: 0 nothing to do, 2 changes planned, 3 refused, 1 error.",
    "apply": "Exit codes: 0 applied or nothing to do, 3 refused, 4 stale plan (nothing written), "
    "5 failed part-way, 1 error.",
}


class Bad(click.ClickException):
    """Invalid input: one line per problem, exit 1."""

    exit_code = 1

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"error: {p.field}: {p.message}" for p in problems))

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


# --- colour -------------------------------------------------------------------------

_COLOURS = {
    "title": {"bold": True},
    "refused": {"fg": "red", "bold": True},
    "failed": {"fg": "red", "bold": True},
    "ok": {"fg": "green"},
    "action": {"fg": "cyan"},
    "add": {"fg": "green"},
    "delete": {"fg": "red"},
    "modify": {"fg": "yellow"},
    "note": {"fg": "bright_black"},
}


def _colour_enabled() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _style(text: str, role: str) -> str:
    return click.style(text, **_COLOURS.get(role, {}))  # type: ignore[arg-type]


def _echo(text: str) -> None:
    colour = _colour_enabled()
    click.echo(text, nl=False, color=colour)


# --- targets ------------------------------------------------------------------------


def target_options(func: F) -> F:
    @click.option(
        "--repo", metavar="OWNER/NAME", help="The repository (a saved plan names its own)."
    )
    @click.option(
        "--local",
        "local",
        type=click.Path(file_okay=False, path_type=Path),
        help="Use the embedded local forge in DIR (what `prplan forge serve --data DIR` serves). No network, no token.",
    )
    @click.option(
        "--github-url",
        metavar="URL",
        help="GitHub's API: default $GITHUB_API_URL, else https://api.github.com. Token: $GITHUB_TOKEN or $GH_TOKEN.",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _client(local: Path | None, github_url: str | None) -> ForgeClient:
    if local is not None and github_url is not None:
        raise Bad([Problem("--local/--github-url", "give one forge, not both")])
    if local is not None:
        from prplan.forges.local import LocalForge

        if not (local / "forge.sqlite").exists():
            raise Bad(
                [
                    Problem(
                        "--local",
                        f"{local} holds no forge; create one with `prplan forge create-repo`",
                    )
                ]
            )
        return LocalForge.open(local)
    from prplan.forges.github import GitHubClient

    # The token's variable is named in warnings and problems, never its value.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            client = GitHubClient.from_env(base_url=github_url)
        except InvalidRequestError as error:
            raise Bad(list(error.problems)) from None
    for warning in caught:
        click.echo(f"warning: {warning.message}", err=True)
    return client


def _plan_key() -> bytes | None:
    """The plan key from PRPLAN_PLAN_KEY (never printed). Set but empty is
    refused: it is what a CI secret that does not exist expands to, and
    would silently turn signing off."""
    value = os.environ.get(PLAN_KEY_ENV)
    if value is None:
        return None
    if not value:
        raise Bad(
            [
                Problem(
                    PLAN_KEY_ENV,
                    "is set but empty (a missing CI secret?): set it to the plan key, or unset it",
                )
            ]
        )
    return value.encode("utf-8")


def _in_plan(plan_file: Path | None, problem: Problem) -> Problem:
    """A problem of a plan, named as the user gave it: the option, or the
    field of PLAN_FILE."""
    if problem.field == "expect_digest":
        return Problem("--expect-digest", problem.message)
    return (
        problem if plan_file is None else Problem(f"{plan_file}: {problem.field}", problem.message)
    )


def _on_a_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _confirm(what: str, yes: bool) -> None:
    """A change planned just now is applied only after a yes: --yes, or the
    answer on a terminal. (A saved plan was approved by its review.)"""
    if yes:
        return
    if not _on_a_terminal():
        raise Bad(
            [
                Problem(
                    "--yes",
                    f"is required to apply {what} planned just now without a terminal to confirm "
                    "on; or save it with `prplan plan --out FILE`, review it, and apply the file",
                )
            ]
        )
    if not click.confirm(f"Apply {what}?", default=False):
        click.echo("Nothing was applied.", err=True)
        sys.exit(EXIT["error"])


# --- the change -----------------------------------------------------------------------


def _choices(kind: Any) -> str:
    return "[" + "|".join(m.value for m in kind) + "]"


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
    for option in reversed(options):
        func = option(func)
    return func


_CHANGE_KEYS = (
    "branch", "base", "files", "deletes", "sets", "set_strings", "set_jsons", "replaces", "from_dir", "create_pr",
    "automerge", "allow_modification",
    "merge_method", "title", "body", "on_closed", "branch_policy", "delete_branch",
    "merge_foreign_commits",
)  # fmt: skip

_OPTION_OF = {
    "repo": "--repo", "branch": "--branch", "base": "--base", "files": "--file/--delete/--from-dir",
    "merge_method": "--merge-method", "on_closed": "--on-closed", "branch_policy": "--branch-policy",
    "title": "--title", "body": "--body", "commit_message": "--title",
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
    return _OPTION_OF.get(field, f"--{field.replace('_', '-')}")


def _read_files(
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
            for relative, content in _read_dir(from_dir, problems):
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


def _read_dir(
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
    edit is applied (``_edit_values``); --set-string and --set-json say the
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


def _request(repo: str | None, change: dict[str, Any]) -> ChangeRequest:
    problems: list[Problem] = []
    if not repo:
        problems.append(Problem("--repo", "is required: the repository as OWNER/NAME"))
    if not change["branch"]:
        problems.append(Problem("--branch", "is required: the head branch the change goes through"))
    read, file_problems = _read_files(change["files"], change["deletes"], change["from_dir"])
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
        )
    except InvalidRequestError as error:
        problems += [Problem(_option(p.field), p.message) for p in error.problems]
        raise Bad(problems) from None
    if problems:
        raise Bad(problems)
    return request


def _given(change: dict[str, Any]) -> list[str]:
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
        for key in _CHANGE_KEYS
        if context.get_parameter_source(key) is click.core.ParameterSource.COMMANDLINE
    ]


# --- rendering ------------------------------------------------------------------------


def _show_plan(
    the_plan: Plan, fmt: str, view: View = DEFAULT_VIEW, review: Review | None = None
) -> None:
    """The plan in ``fmt``; ``review``: old contents read for a plan that
    does not carry them (a version 3 plan shown with a forge named)."""
    if fmt == "json":
        click.echo(the_plan.to_json(), nl=False)
    elif fmt == "markdown":
        click.echo(plan_markdown(the_plan, review=review, view=view), nl=False)
    else:
        _echo(plan_text(the_plan, _style, review=review, view=view))


def _show_outcome(outcome: Outcome, fmt: str) -> None:
    if fmt == "json":
        click.echo(outcome.to_json(), nl=False)
    elif fmt == "markdown":
        # A fence longer than any backtick run in the text (a title, an error):
        # nothing in it can close the block.
        text = outcome_text(outcome)
        fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", text)), default=0))
        click.echo(f"### Outcome\n\n{fence}\n{text}{fence}\n", nl=False)
    else:
        _echo(outcome_text(outcome, _style))


class _Progress(Reporter):
    """Progress on stderr, for people watching a terminal."""

    def __init__(self, total: int) -> None:
        self.total = total

    def action_started(self, repo: str, index: int, action: object) -> None:
        kind = getattr(action, "kind", "")
        click.echo(
            f"[{index + 1}/{self.total}] {repo}: {getattr(kind, 'value', kind)} ...", err=True
        )


class _Both(Reporter):
    def __init__(self, *reporters: Reporter) -> None:
        self.reporters = reporters

    def action_started(self, repo: str, index: int, action: object) -> None:
        for reporter in self.reporters:
            reporter.action_started(repo, index, action)

    def action_finished(self, repo: str, action: object, result: ActionResult) -> None:
        for reporter in self.reporters:
            reporter.action_finished(repo, action, result)

    def finished(self, outcome: Outcome) -> None:
        for reporter in self.reporters:
            reporter.finished(outcome)


def _view_options(func: F) -> F:
    func = click.option("--no-diagram", "no_diagram", is_flag=True,
                        help="Markdown: leave out the lifecycle diagram.")(func)  # fmt: skip
    return click.option("--no-diff", "no_diff", is_flag=True,
                        help="text and markdown: list changed files without their diffs.")(func)  # fmt: skip


def _format_option(func: F) -> F:
    return click.option(
        "--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True,
        help="text for terminals, markdown for a pull request or review, json for programs.",
    )(func)  # fmt: skip


# --- change sets ----------------------------------------------------------------------


def _changeset_options(func: F) -> F:
    func = click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64),
                        help="Change sets: repositories observed at once (writes are always one at a time).")(func)  # fmt: skip
    return click.option("--changeset", type=click.Path(dir_okay=False, path_type=Path),
                        help="A change set file (YAML): many repositories, in stages. See docs/changesets.md.")(func)  # fmt: skip


def _plan_repo(raw: bytes) -> str:
    import json

    try:
        return str(json.loads(raw)["request"]["repo"])
    except (ValueError, KeyError, TypeError, RecursionError):
        return ""


def _is_redacted(raw: bytes) -> bool:
    import json

    try:
        return json.loads(raw).get("redacted") is True
    except (ValueError, AttributeError, RecursionError):
        return False  # not a plan document at all: Plan.from_json says why


def _is_changeset(path: Path) -> bool:
    import json

    try:
        return bool(json.loads(path.read_bytes()).get("kind") == "changeset")
    except (ValueError, AttributeError, RecursionError):
        return False


def _plan_changeset(
    file: Path,
    repo: str | None,
    change: dict[str, Any],
    local: Path | None,
    github_url: str | None,
    concurrency: int,
) -> tuple[ForgeClient, ChangeSetPlan]:
    given = _given(change) + (["--repo"] if repo else [])
    if given:
        raise Bad(
            [Problem(", ".join(given), "a change set names its own repositories and changes")]
        )
    try:
        the_set = load_changeset(file)
    except InvalidRequestError as error:
        raise Bad([Problem(f"{file}: {p.field}", p.message) for p in error.problems]) from None
    client = _client(local, github_url)
    total = sum(len(stage.requests) for stage in the_set.stages)
    with _bar(f"observing {total} repositories", total) as advance:
        planned = plan_changeset(client, the_set, concurrency=concurrency, on_planned=advance)
    return client, planned


class _Bar:
    def __init__(self, label: str, total: int) -> None:
        self.label, self.total = label, total
        self.progress: Any = None
        self.task: Any = None

    def __enter__(self) -> Callable[..., None]:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress

            self.progress = Progress(console=Console(stderr=True))
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=self.total)
        return self.advance

    def advance(self, *_: object) -> None:
        if self.progress is not None:
            self.progress.advance(self.task)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


def _bar(label: str, total: int) -> _Bar:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise."""
    return _Bar(label, total)


def _show_changeset(
    the_set: ChangeSetPlan,
    fmt: str,
    view: View = DEFAULT_VIEW,
    reviews: dict[int, Review] | None = None,
) -> None:
    """The change set in ``fmt``; ``reviews``: old contents read for plans
    that do not carry them, by position in ``the_set.plans``."""
    if fmt == "json":
        click.echo(the_set.to_json(), nl=False)
        return
    reviews = reviews or {}
    position = {id(p): index for index, p in enumerate(the_set.plans)}

    def review_of(one: Plan) -> Review | None:
        return one.review or reviews.get(position[id(one)])

    if fmt == "markdown":
        click.echo(
            changeset_markdown(
                the_set.stages, the_set.digest, format_version=the_set.format_version,
                reviews=review_of, view=view,
            ),
            nl=False,
        )  # fmt: skip
        return
    for name, plans in the_set.stages:
        click.echo(f"== stage {name}: {len(plans)} repositories")
        for one in plans:
            _show_plan(one, fmt, view, review_of(one))
    if fmt != "markdown":
        changes = sum(1 for p in the_set.plans if p.actions)
        click.echo(f"change set digest: sha256:{the_set.digest} ({changes} of {len(the_set.plans)} "
                   f"repositories to change, {len(the_set.refused)} refused)")  # fmt: skip


def _asks_to_apply_changeset(
    the_set: ChangeSetPlan, *, saved: bool, yes: bool, skip_refused: bool
) -> bool:
    """A change set planned just now needs a yes before it is applied (on a
    terminal, or --yes; see ``_confirm``). A saved plan was reviewed already;
    a set that will write nothing (no changes, or refusals without
    --skip-refused) needs no answer."""
    if saved or yes or not the_set.has_changes:
        return False
    return not (the_set.refused and not skip_refused)


def _changeset_exit(result: ChangeSetResult) -> int:
    """A failure first; a stale plan is exit 4 only when nothing was written
    (else the set failed part-way); then a refusal; then any entry short of
    its goal (its later stages never started)."""
    statuses = {entry.status for entry in result.entries}
    if "failed" in statuses:
        return EXIT["failed"]
    if "stale" in statuses:
        return EXIT["failed"] if result.wrote else EXIT["stale"]
    if "refused" in statuses:
        return EXIT["refused"]
    return EXIT["ok"] if result.ok else EXIT["failed"]


def _apply_changeset(
    plan_file: Path | None, file: Path | None, repo: str | None, change: dict[str, Any], local: Path | None,
    github_url: str | None, concurrency: int, write_concurrency: int, keep_going: bool,
    audit_log: Path | None, fmt: str, yes: bool, expect_digest: str | None, skip_refused: bool,
    view: View = DEFAULT_VIEW,
) -> None:  # fmt: skip
    if plan_file is not None:
        if file is not None or _given(change):
            raise Bad([Problem("--changeset", "a saved change set plan already holds its changes")])
        if repo is not None:
            # As for one repository's saved plan: an option the plan does not
            # take is refused, never silently ignored.
            raise Bad([Problem("--repo", "a saved change set plan names its own repositories; "
                               "drop --repo (to change fewer repositories, plan a smaller set)")])  # fmt: skip
        import json

        key = _plan_key()
        try:
            the_set = ChangeSetPlan.from_dict(json.loads(plan_file.read_bytes()), key=key)
        except InvalidRequestError as error:
            raise Bad(
                [Problem(f"{plan_file}: {p.field}", p.message) for p in error.problems]
            ) from None
        client = _client(local, github_url)
        recheck = True
    else:
        assert file is not None
        client, the_set = _plan_changeset(file, repo, change, local, github_url, concurrency)
        if fmt == "text" and view.diffs:  # shown before it is applied: with its diffs
            the_set = changeset_with_review(the_set, client, concurrency)
        recheck = False
    planned_at = time.monotonic()
    if expect_digest is not None and expect_digest != the_set.digest:
        raise Bad([Problem("--expect-digest", f"is sha256:{expect_digest} but the change set's digest "
                           f"is sha256:{the_set.digest}: it is not the one that was reviewed")])  # fmt: skip
    if fmt == "text":
        _show_changeset(the_set, fmt, view)
    if _asks_to_apply_changeset(
        the_set, saved=plan_file is not None, yes=yes, skip_refused=skip_refused
    ):
        _confirm("this change set", yes)
    trail = _audit_trail(audit_log, client)
    reporter, audited = (
        trail.for_changeset(the_set.stages, the_set.digest) if trail is not None else (None, None)
    )
    try:
        with _bar("applying", len(the_set.plans)) as advance:

            def on_entry(entry: EntryResult) -> None:
                advance()
                if audited is not None:
                    audited(entry)

            result = apply_changeset(
                client, the_set, concurrency=concurrency, keep_going=keep_going,
                skip_refused=skip_refused, recheck=recheck,
                write_concurrency=write_concurrency, observed_at=planned_at,
                reporter=reporter, on_entry=on_entry,
            )  # fmt: skip
    except InvalidRequestError as error:  # a plan in the set is not what the planner derives
        raise Bad([Problem(p.field, p.message) for p in error.problems]) from None
    finally:
        if trail is not None:
            trail.close()
    if fmt == "json":
        import json

        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        _summary(result)
    sys.exit(_changeset_exit(result))


def _audit_trail(path: Path | None, client: ForgeClient) -> AuditTrail | None:
    """The audit file, opened for appending (its place was checked before
    anything was observed; this catches it vanishing since)."""
    if path is None:
        return None
    try:
        return AuditTrail(path, forge=forge_address(client))
    except OSError as error:
        raise Bad([Problem("--audit-log", f"cannot open {path}: {error.strerror}")]) from None


def _summary(result: ChangeSetResult) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"change set sha256:{result.digest[:16]}")
    for column in ("stage", "repository", "pull request", "outcome", "goal", "requests"):
        table.add_column(column)
    for entry in result.entries:
        outcome = entry.outcome
        pr = f"#{outcome.pull_request}" if outcome and outcome.pull_request else ""
        requests = f"{outcome.requests.reads}r/{outcome.requests.writes}w" if outcome else ""
        goal = entry.goal.value if entry.reached_goal else f"{entry.goal.value}: not reached"
        table.add_row(entry.stage, entry.repo, pr, entry.status, goal, requests)
    console = Console(no_color=not _colour_enabled(), width=120, force_terminal=_colour_enabled())
    console.print(table)
    notes: list[str] = []
    for entry in result.entries:
        if entry.error or (entry.outcome and entry.outcome.error):
            click.echo(f"{entry.repo}: {entry.error or entry.outcome.error}", err=True)  # type: ignore[union-attr]
        elif entry.outcome is not None and not entry.reached_goal:
            click.echo(
                f"{entry.repo}: {entry.status}, short of its goal ({entry.goal.value})", err=True
            )
        if entry.note and entry.note not in notes:
            notes.append(entry.note)  # once: it is the same for a whole stage
    for note in notes:
        click.echo(note, err=True)


# --- commands ---------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="prplan")
def cli() -> None:
    """Change files in Git repositories through pull requests, by plan.

    `prplan plan` shows what would happen and why; `prplan apply` does exactly
    that (or refuses a plan the repository has moved away from)."""


@cli.command(epilog=_EXIT_HELP["plan"])
@target_options
@change_options
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Save the plan as JSON, for `prplan apply PLAN_FILE` after review.")  # fmt: skip
@click.option("--redact-content", is_flag=True,
              help="Store file digests, not contents, in the plan (--out, json). Applying it then needs the "
              "same --file inputs again, checked against the digests.")  # fmt: skip
@_changeset_options
@_format_option
@_view_options
def plan(
    repo: str | None,
    local: Path | None,
    github_url: str | None,
    out: Path | None,
    redact_content: bool,
    changeset: Path | None,
    concurrency: int,
    fmt: str,
    no_diff: bool,
    no_diagram: bool,
    **change: Any,
) -> None:
    """Plan a change, or a change set: observe, decide, print the plan. Writes nothing to the forge.

    The plan shows a diff of every file (--no-diff: the files only). A plan
    saved with --out carries the old contents its diffs start from, so
    `prplan show` needs no forge (--redact-content: digests only)."""
    view = View(diffs=not no_diff, diagram=not no_diagram)
    if changeset is not None:
        if redact_content:
            raise Bad(
                [
                    Problem(
                        "--redact-content",
                        "is not available for change sets yet; plan them without it",
                    )
                ]
            )
        key = _plan_key()
        client, the_set = _plan_changeset(changeset, repo, change, local, github_url, concurrency)
        # Saved with what its review needs: `prplan show` then needs no forge.
        the_set = changeset_with_review(the_set, client, concurrency)
        if out is not None:
            out.write_text(the_set.to_json(key=key), encoding="utf-8")
        _show_changeset(the_set, fmt, view)
        if the_set.refused:
            sys.exit(EXIT["refused"])
        sys.exit(EXIT["changes"] if the_set.has_changes else EXIT["ok"])
    request = _request(repo, change)
    key = _plan_key()
    client = _client(local, github_url)
    # Saved with the old contents its diffs need: `prplan show` needs no forge.
    the_plan = with_review(make_plan(observe(client, request), request), client)
    try:
        document = the_plan.to_json(redact=redact_content, key=key)
    except InvalidRequestError as error:
        raise Bad(list(error.problems)) from None
    if out is not None:
        out.write_text(document, encoding="utf-8")
    if fmt == "json":
        click.echo(document, nl=False)
    else:
        _show_plan(the_plan, fmt, view)
    if the_plan.refusal is not None:
        sys.exit(EXIT["refused"])
    sys.exit(EXIT["changes"] if the_plan.actions else EXIT["ok"])


@cli.command(epilog=_EXIT_HELP["apply"])
@click.argument(
    "plan_file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@target_options
@change_options
@click.option(
    "--yes", is_flag=True, help="Do not ask for confirmation (it is asked only on a terminal)."
)
@click.option("--audit-log", type=click.Path(path_type=Path),
              help="Append JSON lines to FILE: each write when it starts and when it ends, and each plan's "
              "outcome (change sets: every entry's, run or not). See docs/audit.md.")  # fmt: skip
@click.option("--expect-digest", metavar="SHA256",
              help="Apply only the plan (or change set) with this digest: the one that was reviewed.")  # fmt: skip
@_changeset_options
@click.option("--write-concurrency", default=1, show_default=True, type=click.IntRange(1, 32),
              help="Change sets: repositories written at once. 1 is what GitHub asks of integrations; "
              "raise it only for a forge that allows concurrent writes.")  # fmt: skip
@click.option("--keep-going", is_flag=True,
              help="Change sets: finish the stage past a failed entry (later stages still never start).")  # fmt: skip
@click.option("--skip-refused", is_flag=True,
              help="Change sets: apply the entries that are not refused. Without it, a change set whose plan "
              "holds a refusal is not applied at all (exit 3).")  # fmt: skip
@_format_option
@_view_options
def apply(
    plan_file: Path | None, repo: str | None, local: Path | None, github_url: str | None,
    yes: bool, audit_log: Path | None, expect_digest: str | None, changeset: Path | None, concurrency: int,
    write_concurrency: int, keep_going: bool, skip_refused: bool, fmt: str, no_diff: bool, no_diagram: bool,
    **change: Any,
) -> None:  # fmt: skip
    """Apply a saved plan (PLAN_FILE), or plan and apply a change (or --changeset) in one go.

    A saved plan is checked against the repository first and refused, writing
    nothing, if a fact it relied on has moved, and refused if it is not exactly
    what the planner derives from its own request and snapshot (a hand-edited
    plan). With PRPLAN_PLAN_KEY set, only a plan signed with that key is
    applied. A change planned now is applied after confirmation on a terminal,
    else only with --yes. A change set is applied stage by stage; a stage
    starts only when every entry of the one before reached its goal
    (exit 5 when one did not; see docs/changesets.md)."""
    if audit_log is not None:
        # Before anything is observed: a run must never go unrecorded.
        problem = audit_path_problem(audit_log)
        if problem is not None:
            raise Bad([Problem("--audit-log", problem)])
    if expect_digest is not None:
        try:
            expect_digest = normalise_digest(expect_digest, "--expect-digest")
        except InvalidRequestError as error:
            raise Bad(list(error.problems)) from None
    saved_set = plan_file is not None and _is_changeset(plan_file)
    if plan_file is not None and changeset is not None:
        raise Bad(
            [
                Problem(
                    "PLAN_FILE/--changeset",
                    "give a saved plan or a change set to plan now, not both",
                )
            ]
        )
    view = View(diffs=not no_diff, diagram=not no_diagram)
    if skip_refused and changeset is None and not saved_set:
        raise Bad([Problem("--skip-refused", "is for change sets; a refused plan for one repository applies nothing")])  # fmt: skip
    if changeset is not None or saved_set:
        _apply_changeset(plan_file if saved_set else None, changeset, repo, change, local, github_url,
                         concurrency, write_concurrency, keep_going, audit_log, fmt, yes, expect_digest, skip_refused,
                         view)  # fmt: skip
    if plan_file is not None:
        raw = plan_file.read_bytes()
        given = _given(change)
        redacted = _is_redacted(raw)
        contents: dict[str, bytes | None] | None = None
        if redacted:
            # A plan saved with --redact-content: the files come again from the
            # command line and must match the reviewed digests.
            not_files = [
                g
                for g in given
                if g not in {"--file", "--from-dir"}  # deletions are in the plan already
            ]  # option names
            if not_files:
                raise Bad(
                    [
                        Problem(
                            ", ".join(not_files),
                            "a saved plan already holds its change; give only --file/--from-dir",
                        )
                    ]
                )
            read, problems = _read_files(change["files"], change["deletes"], change["from_dir"])
            if problems:
                raise Bad(problems)
            contents = read
        elif given:
            raise Bad(
                [
                    Problem(
                        ", ".join(given),
                        "a saved plan already holds its change; give PLAN_FILE or a change, not both",
                    )
                ]
            )
        key = _plan_key()
        client = _client(local, github_url)
        document_repo = _plan_repo(raw)

        def read_blob(sha: str) -> bytes:
            return client.read_blob(document_repo, sha)

        try:
            the_plan = Plan.from_json(
                raw, contents=contents, read_blob=read_blob if redacted else None, key=key
            )
            check_plan(the_plan, expect_digest=expect_digest)  # before it is shown as a plan
        except InvalidRequestError as error:
            raise Bad([_in_plan(plan_file, p) for p in error.problems]) from None
        if repo is not None and repo != the_plan.request.repo:
            raise Bad([Problem("--repo", f"is {repo} but the plan is for {the_plan.request.repo}")])
        recheck = True
        observed_at: float | None = None
        observed_with: RequestCount | None = None
    else:
        request = _request(repo, change)
        client = _client(local, github_url)
        with counting_requests() as observing:
            the_plan = make_plan(observe(client, request), request)
        observed_with = observing.count  # the outcome counts the observation too
        recheck = False  # planned just now; compare-and-swap guards every write
        observed_at = time.monotonic()  # before any prompt: the wait counts
    if fmt != "json":
        # The diffs a version 3 plan (or one planned now) does not carry are
        # read from the forge named anyway; never for a redacted plan's view.
        wants = view.diffs and the_plan.review is None
        review = read_review(the_plan, client) if wants else None
        _show_plan(the_plan, fmt, view, review)
    if the_plan.actions and plan_file is None:
        _confirm("this plan", yes)
    reporters: list[Reporter] = []
    trail = _audit_trail(audit_log, client)
    audit = trail.log(the_plan) if trail is not None else None
    if audit is not None:
        reporters.append(audit)
    if sys.stderr.isatty():
        reporters.append(_Progress(len(the_plan.actions)))
    try:
        outcome = apply_plan(
            the_plan, client, reporter=_Both(*reporters), recheck=recheck,
            observed_at=observed_at, expect_digest=expect_digest, observed_with=observed_with,
        )  # fmt: skip
    except InvalidRequestError as error:  # not the derived plan, or not the reviewed one
        raise Bad([_in_plan(None, p) for p in error.problems]) from None
    except PrplanError as error:  # stale, or the forge failed while checking: on the record
        if audit is not None:
            audit.stopped(error)
        if not isinstance(error, StalePlanError):
            raise
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT["stale"])
    finally:
        if trail is not None:
            trail.close()
    _show_outcome(outcome, fmt)
    if outcome.status is OutcomeStatus.REFUSED:
        sys.exit(EXIT["refused"])
    sys.exit(EXIT["failed"] if outcome.status is OutcomeStatus.FAILED else EXIT["ok"])


@cli.command()
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--local",
    type=click.Path(file_okay=False, path_type=Path),
    help="A plan of format version 3 carries no old contents: read them here for diffs.",
)
@click.option("--github-url", metavar="URL", help="As --local, from GitHub.")
@_format_option
@_view_options
def show(
    plan_file: Path,
    local: Path | None,
    github_url: str | None,
    fmt: str,
    no_diff: bool,
    no_diagram: bool,
) -> None:
    """Show a saved plan, of one repository or a change set, without the forge.

    A plan saved by `prplan plan --out` carries the old contents its diffs
    start from. A plan of format version 3 does not: each diff says so,
    unless the forge is named (--local or --github-url) to read them. A
    redacted plan (--redact-content) carries digests only: its diffs are
    withheld, and its digest cannot be checked without the contents.

    A plan that is not what the planner derives from its own request and
    snapshot (edited by hand) is refused, as apply would. The last line says
    whether the plan is signed and whether the signature verifies with
    PRPLAN_PLAN_KEY (on stderr with --format json)."""
    raw = plan_file.read_bytes()
    key = _plan_key()
    view = View(diffs=not no_diff, diagram=not no_diagram, redacted=_is_redacted(raw))

    def bad(error: InvalidRequestError) -> Bad:
        return Bad([Problem(f"{plan_file}: {p.field}", p.message) for p in error.problems])

    def reader() -> ForgeClient | None:
        named = (local or github_url) and fmt != "json" and view.diffs
        return _client(local, github_url) if named else None

    if _is_changeset(plan_file):
        try:
            the_set = ChangeSetPlan.from_dict(json.loads(raw))
            for one in the_set.plans:
                check_plan(one)
        except InvalidRequestError as error:
            raise bad(error) from None
        client = reader()
        reviews = {}
        if client is not None:
            reviews = {
                index: read_review(one, client)
                for index, one in enumerate(the_set.plans)
                if one.review is None
            }
        _show_changeset(the_set, fmt, view, reviews)
    else:
        try:
            if view.redacted:  # digests only: shown, not checked (its digest covers the contents)
                document = json.loads(raw)
                the_plan = redacted_for_review(document) if isinstance(document, dict) else None
                if the_plan is None:
                    raise Bad([Problem(str(plan_file), "is not a plan document")])
            else:
                the_plan = Plan.from_json(raw)
                check_plan(the_plan)
        except InvalidRequestError as error:
            raise bad(error) from None
        if view.redacted and fmt == "json":
            click.echo(raw.decode("utf-8"), nl=False)  # the document as saved, digests and all
        else:
            client = None if view.redacted or the_plan.review is not None else reader()
            review = read_review(the_plan, client) if client is not None else None
            _show_plan(the_plan, fmt, view, review)
    status = f"signature: {signature_status(json.loads(raw), key)}"
    # Only the text view is for a person reading stdout; JSON and Markdown
    # are documents (a PR comment), so the verdict goes to stderr.
    click.echo(status, err=fmt != "text")


@cli.command()
def demo() -> None:
    """Run the main job end to end on a temporary local forge: plan, apply,
    re-plan (empty), and reuse an open pull request."""
    sys.exit(run_demo(click.echo))


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "markdown"]),
    default="markdown",
    show_default=True,
)
def states(fmt: str) -> None:
    """Print the lifecycle diagram (Mermaid) or the decision table (Markdown)."""
    click.echo(mermaid() if fmt == "mermaid" else decision_table_markdown(), nl=False)


@cli.group()
def forge() -> None:
    """The local forge: serve it as a GitHub-compatible API, create repositories,
    and see and change what is in it as a person would (repos, branches, prs,
    log, cat, push, open-pr, merge-pr, close-pr), served or not."""


#: The forge directory, as both forge commands take it.
_data_option = click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of the forge (created if missing): bare repositories and forge.sqlite.",
)


@forge.command("serve")
@_data_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind. Loopback by default: the forge has no other protection than --token.",
)
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on; 0 picks a free one (printed).",
)
@click.option(
    "--token",
    envvar="PRPLAN_FORGE_TOKEN",
    default=None,
    show_envvar=True,
    help="Require this token on every request (401 otherwise); it acts as login `prplan`. "
    "Prefer the environment variable.",
)
@click.option(
    "--user",
    "users",
    multiple=True,
    metavar="LOGIN=TOKEN",
    envvar="PRPLAN_FORGE_USERS",
    show_envvar=True,
    help="Accept TOKEN as the user LOGIN (repeatable; the variable takes them space-separated): "
    "the pull requests it opens and merges are recorded as LOGIN's.",
)
@click.option(
    "--faults",
    "faults_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file of fault rules to inject (see docs/github.md).",
)
@click.option("--verbose", is_flag=True, help="Log every request to stderr.")
def forge_serve(
    data: Path,
    host: str,
    port: int,
    token: str | None,
    users: tuple[str, ...],
    faults_file: Path | None,
    verbose: bool,
) -> None:
    """Serve the forge in DATA as GitHub's REST API (and git over HTTP) until interrupted.

    Prints one line, `prplan forge listening on http://HOST:PORT/api/v3`; point
    GITHUB_API_URL (or PyGithub's base_url) at it."""
    from prplan.forges.local import LocalForge
    from prplan.forges.local.faults import Faults
    from prplan.forges.local.server.app import ForgeApp, ForgeServer

    try:
        faults = Faults.from_file(faults_file) if faults_file else Faults()
    except InvalidRequestError as error:
        raise Bad([Problem(f"--faults {p.field}", p.message) for p in error.problems]) from None
    logins = forge_users(users, token)
    app = ForgeApp(LocalForge.open(data), token=token, users=logins, faults=faults)
    try:
        server = ForgeServer(app, host=host, port=port, quiet=not verbose)
    except OSError as error:
        raise Bad(
            [Problem("--host/--port", f"cannot listen on {host}:{port}: {error.strerror}")]
        ) from None
    click.echo(f"prplan forge listening on {server.api_url}")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@forge.command("create-repo")
@click.argument("name")
@_data_option
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory whose files become the initial commit (.git is left out; executable files are committed 100755; symbolic links are refused).",
)
@click.option("--default-branch", default="main", show_default=True)
def forge_create_repo(name: str, data: Path, source: Path | None, default_branch: str) -> None:
    """Create repository NAME (OWNER/NAME) in the forge in DATA."""
    from prplan.forges.local import LocalForge

    files: dict[str, bytes] = {}
    executable: set[str] = set()
    if source is not None:
        # As --from-dir reads: never outside the directory (links refused).
        problems: list[Problem] = []
        files = dict(_read_dir(source, problems, executable))
        if problems:
            raise Bad([Problem("--from", p.message) for p in problems])
    forge_ = LocalForge.open(data)
    try:
        sha = forge_.create_repo(name, files, default_branch=default_branch, executable=executable)
    except InvalidRequestError as error:
        raise Bad([Problem(p.field, p.message) for p in error.problems]) from None
    except PrplanError as error:
        raise Bad([Problem("NAME", str(error))]) from None
    finally:
        forge_.close()
    click.echo(f"created {name} ({len(files)} file(s), {default_branch} at {sha[:7]}) in {data}")


# The commands a person drives the forge with live in _forge_cli.py.
for _command in FORGE_COMMANDS:
    forge.add_command(_command)


def main() -> None:
    """Entry point: click's own usage errors exit 2, which `prplan plan` uses
    for "changes planned"; here every usage error exits 1."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        # A usage error is invalid input (1); others carry their own code
        # (a forge command's refusal is 3).
        sys.exit(EXIT["error"] if isinstance(error, click.UsageError) else error.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT["error"])
    except InvalidRequestError as error:
        for problem in error.problems:
            click.echo(f"error: {problem.field}: {problem.message}", err=True)
        sys.exit(EXIT["error"])
    except PrplanError as error:
        # Whatever raised it, a URL's user-info (a password, a token) is not shown.
        click.echo(f"error: {mask_url_credentials(str(error))}", err=True)
        sys.exit(EXIT["error"])

"""``prplan forge`` commands a person drives: see what is in a local forge
(``repos``, ``branches``, ``prs``, ``log``, ``cat``) and act on it as a human
collaborator would (``push``, ``open-pr``, ``merge-pr``, ``close-pr``).

Each works on ``--data DIR``, whether or not ``prplan forge serve`` is
serving the same directory: the forge's cross-process lock orders their
calls, and the server sees what they did on its next request.

Exit codes: 0 done; 1 invalid input, or what was named does not exist (the
message names the argument); 3 the forge refused (a merge conflict, a pull
request that already exists or has nothing to merge, a branch that moved).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from prplan import errors
from prplan.cli.change import read_dir
from prplan.core.names import branch_problems, repo_problems
from prplan.errors import Problem
from prplan.forges.local.identity import HUMAN

if TYPE_CHECKING:
    from prplan.forges.local import LocalForge

__all__ = ["COMMANDS", "REFUSED", "forge_users", "data_option"]

F = TypeVar("F", bound=Callable[..., Any])

#: The exit code when the forge refuses a write (as `prplan apply`'s "refused").
REFUSED = 3

_EXIT_HELP = (
    "Exit codes: 0 done, 1 invalid input or not found, 3 refused by the forge "
    "(conflict, nothing to merge, already exists)."
)

# GitHub's rule for a login: letters, digits and single hyphens, 1-39 long.
_LOGIN = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}")
_IDENTITY = re.compile(r"(?P<name>[^<>]*[^<>\s])\s*<(?P<email>[^<>\s]+)>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: GitHub's limits for a pull request's title and body.
_TITLE_LIMIT, _BODY_LIMIT = 256, 65_536


class _Problems(click.ClickException):
    """Invalid input or something absent: one ``error: WHERE: WHAT`` line each, exit 1."""

    exit_code = 1

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("\n".join(f"error: {p.field}: {p.message}" for p in problems))

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


class _Refused(click.ClickException):
    """The forge said no: exit 3 with its reason."""

    exit_code = REFUSED

    def show(self, file: Any = None) -> None:
        click.echo(f"refused: {self.message}", err=True)


def _fail(field: str, message: str) -> _Problems:
    return _Problems([Problem(field, message)])


# --- arguments ---------------------------------------------------------------------


def data_option(help: str) -> Callable[[F], F]:
    """``--data DIR``: the forge's directory, as every forge command takes it."""
    return click.option(
        "--data",
        "data",
        required=True,
        type=click.Path(file_okay=False, path_type=Path),
        help=help,
    )


_data_option = data_option(
    "Directory of the forge, as given to `prplan forge serve --data` (it may be serving)."
)
_repo_argument = click.argument("repo", metavar="REPO")


def _login_option(what: str) -> Callable[[F], F]:
    return click.option(
        "--as",
        "login",
        default="human",
        show_default=True,
        metavar="LOGIN",
        help=f"The forge login recorded as the one who {what} (as a token's owner on GitHub).",
    )


def _choice(name: str, choices: list[str], help: str) -> Callable[[F], F]:
    """An option taking one of ``choices``, the first by default."""
    return click.option(
        name, type=click.Choice(choices), default=choices[0], show_default=True, help=help
    )


def _login_problems(login: str) -> list[Problem]:
    if _LOGIN.fullmatch(login):
        return []
    return [
        Problem(
            "--as",
            f"{_shown(login)!r} is not a login: 1-39 letters, digits or single '-', "
            "not starting or ending with '-'",
        )
    ]


def forge_users(specs: Sequence[str], token: str | None) -> dict[str, str]:
    """``forge serve --user LOGIN=TOKEN`` (repeatable) -> {login: token}.
    Messages never repeat a token: a malformed value is named by position."""
    users: dict[str, str] = {}
    owners = {} if token is None else {token: "--token"}
    problems: list[Problem] = []
    for index, spec in enumerate(specs, start=1):
        login, sep, secret = spec.partition("=")
        where = f"--user #{index}"
        if not sep or not login or not secret:
            problems.append(
                Problem(where, "give LOGIN=TOKEN (the value is not shown: it may hold a token)")
            )
        elif not _LOGIN.fullmatch(login):
            problems.append(
                Problem(where, "the login is 1-39 letters, digits or single '-', not "
                        "starting or ending with '-'")
            )  # fmt: skip
        elif re.search(r"[\s\x00-\x1f\x7f]", secret):
            problems.append(
                Problem(f"--user {login}", "the token contains a space or control character")
            )
        elif login in users:
            problems.append(Problem(f"--user {login}", "is given twice; give each login once"))
        elif secret in owners:
            problems.append(
                Problem(
                    f"--user {login}",
                    f"its token is also {owners[secret]}'s; give each user its own",
                )
            )
        else:
            users[login] = secret
            owners[secret] = login
    if problems:
        raise _Problems(problems)
    return users


@contextlib.contextmanager
def _opened(data: Path, repo: str | None = None) -> Iterator[LocalForge]:
    """The forge in ``data`` (never a new one: a typo in --data is an error),
    with forge errors turned into exit codes. ``repo`` is checked to exist."""
    if repo is not None:
        problems = repo_problems("REPO", repo)
        if problems:
            raise _Problems(problems)
    if not (data / "forge.sqlite").is_file():
        raise _fail(
            "--data",
            f"{data} holds no forge; create one with `prplan forge create-repo OWNER/NAME --data {data}`",
        )
    from prplan.forges.local import LocalForge  # loads dulwich: only for a forge command

    forge = LocalForge.open(data)
    try:
        if repo is not None and repo not in forge.repositories():
            known = ", ".join(forge.repositories()) or "none yet"
            raise _fail("REPO", f"no repository {repo!r} in {data} (it has: {known})")
        yield forge
    except errors.InvalidRequestError as error:
        raise _Problems(error.problems) from None
    except errors.NotFoundError as error:
        raise _fail("not found", str(error)) from None
    except (errors.MergeBlocked, errors.ConflictError) as error:
        raise _Refused(str(error)) from None
    except errors.ForgeError as error:
        if error.status is None:  # not the forge's verdict: it could not answer (a held lock)
            raise click.ClickException(str(error)) from None
        raise _Refused(str(error)) from None
    except errors.PrplanError as error:
        raise click.ClickException(str(error)) from None
    finally:
        forge.close()


def _commit_of(forge: LocalForge, repo: str, ref: str, field: str) -> str:
    """A branch name or full commit sha -> the commit's sha, or an error naming ``field``."""
    branches = forge.branches(repo)
    if ref in branches:
        return branches[ref]
    if re.fullmatch(r"[0-9a-f]{40}", ref):
        with contextlib.suppress(errors.NotFoundError):
            forge.commit_parents(repo, ref)  # it is a commit of this repository
            return ref
    raise _fail(
        field,
        f"no branch or commit {_shown(ref)!r} in {repo} "
        f"(branches: {', '.join(sorted(branches))}; a commit is its full 40-hex sha)",
    )


def _shown(text: str) -> str:
    """Text from the forge as one terminal line: control characters (a
    newline in a title, an escape sequence) are shown escaped, never obeyed."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _columns(rows: list[list[str]]) -> None:
    """Print rows as aligned columns (the last one ragged)."""
    if not rows:
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]).rstrip())


# --- what is there -------------------------------------------------------------------


@click.command("repos", epilog=_EXIT_HELP)
@_data_option
def repos(data: Path) -> None:
    """List the repositories in the forge, with their default branch."""
    with _opened(data) as forge:
        names = forge.repositories()
        if not names:
            click.echo(f"no repositories in {data}; create one with `prplan forge create-repo`")
            return
        _columns([[name, forge.default_branch(name)] for name in names])


@click.command("branches", epilog=_EXIT_HELP)
@_repo_argument
@_data_option
def branches(repo: str, data: Path) -> None:
    """List REPO's branches and the commit each is at; `*` marks the default branch."""
    with _opened(data, repo) as forge:
        default = forge.default_branch(repo)
        _columns(
            [
                ["*" if name == default else " ", name, sha[:7]]
                for name, sha in sorted(forge.branches(repo).items())
            ]
        )


def _state(row: dict[str, Any]) -> str:
    return "merged" if row["merged"] else str(row["state"])


@click.command("prs", epilog=_EXIT_HELP)
@_repo_argument
@_data_option
@_choice("--state", ["open", "closed", "all"], "Which pull requests: closed includes merged ones.")
def prs(repo: str, data: Path, state: str) -> None:
    """List REPO's pull requests: number, head → base, author, state, title."""
    with _opened(data, repo) as forge:
        rows = [r for r in forge.pull_rows(repo) if state in {"all", r["state"]}]
    if not rows:
        click.echo(f"no {'' if state == 'all' else state + ' '}pull requests in {repo}")
        return
    _columns(
        [
            [
                f"#{row['number']}",
                f"{row['head']} → {row['base']}",
                row["author"] or "(unknown)",  # opened before the forge recorded authors
                _state(row),
                _shown(row["title"]),
            ]
            for row in rows
        ]
    )


@click.command("log", epilog=_EXIT_HELP)
@_repo_argument
@click.argument("branch", metavar="BRANCH")
@_data_option
@click.option("--max-count", "-n", type=click.IntRange(min=1), help="Show at most N commits.")
def log(repo: str, branch: str, data: Path, max_count: int | None) -> None:
    """List the commits on BRANCH (or a full commit sha), newest first: sha, author, summary."""
    with _opened(data, repo) as forge:
        commits = forge.log(repo, _commit_of(forge, repo, branch, "BRANCH"))
    _columns([[c.sha[:7], _shown(c.author), _shown(c.summary)] for c in commits[:max_count]])


@click.command("cat", epilog=_EXIT_HELP)
@_repo_argument
@click.argument("ref", metavar="REF")
@click.argument("path", metavar="PATH")
@_data_option
def cat(repo: str, ref: str, path: str, data: Path) -> None:
    """Print the file PATH at REF (a branch or a full commit sha) exactly, byte for byte."""
    with _opened(data, repo) as forge:
        content = forge.read_file(repo, _commit_of(forge, repo, ref, "REF"), path)
    if content is None:
        raise _fail("PATH", f"{repo} has no file {_shown(path)!r} at {ref}")
    click.echo(content, nl=False)  # bytes: written as they are, not decoded


# --- what a person does ----------------------------------------------------------------


def _author(value: str) -> str:
    match = _IDENTITY.fullmatch(value.strip())
    if match is None or _CONTROL.search(value):
        raise _fail("--author", f"{_shown(value)!r} is not 'Name <email>'")
    return f"{match['name'].strip()} <{match['email']}>"


def _read_tree(source: Path) -> tuple[dict[str, bytes], set[str]]:
    """DIR's files (``.git`` left out; links and special files refused, as
    ``plan --from-dir`` does) and which of them are executable."""
    problems: list[Problem] = []
    files = dict(read_dir(source, problems))
    if problems:
        raise _Problems([Problem("--from", p.message) for p in problems])
    executable = {p for p in files if os.stat(source / p, follow_symlinks=False).st_mode & 0o100}
    return files, executable


@click.command("push", epilog=_EXIT_HELP)
@_repo_argument
@click.argument("branch", metavar="BRANCH")
@_data_option
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory whose content becomes the branch's whole tree (.git left out): files "
    "not in it are deleted.",
)
@click.option(
    "--author",
    default=HUMAN,
    show_default=True,
    metavar='"NAME <EMAIL>"',
    help="The commit's author.",
)
@click.option("--message", "-m", help="The commit message.  [default: Update BRANCH from DIR]")
def push(
    repo: str, branch: str, data: Path, source: Path, author: str, message: str | None
) -> None:
    """Push one commit to BRANCH whose tree is exactly DIR's content, as a
    person pushes a working copy. A new BRANCH starts from the default branch.
    Nothing is committed when BRANCH already has that content."""
    problems = branch_problems("BRANCH", branch)
    if problems:
        raise _Problems(problems)
    identity = _author(author)
    files, executable = _read_tree(source)
    text = message or f"Update {branch} from {source.name or source.resolve().name}"
    with _opened(data, repo) as forge:
        existed = branch in forge.branches(repo)
        try:
            sha = forge.push_tree(
                repo, branch, files, executable=executable, message=text, author=identity
            )
        except errors.InvalidRequestError as error:  # a file name git or GitHub would refuse
            raise _Problems([Problem("--from", p.message) for p in error.problems]) from None
        if sha is None:
            where = forge.branches(repo)[branch][:7]
            said = "already has" if existed else "created at the default branch, which has"
            click.echo(f"{repo}: {branch} {said} {source}'s content; nothing committed ({where})")
            return
    click.echo(f"pushed {repo} {branch} at {sha[:7]}: {len(files)} file(s) from {source}")


@click.command("open-pr", epilog=_EXIT_HELP)
@_repo_argument
@_data_option
@click.option("--head", required=True, metavar="BRANCH", help="The branch with the changes.")
@click.option(
    "--base", metavar="BRANCH", help="The branch to merge into.  [default: the default branch]"
)
@click.option("--title", required=True, help="The pull request's title (one line).")
@click.option("--body", default="", help="The pull request's description.")
@_login_option("opened it")
def open_pr(
    repo: str, data: Path, head: str, base: str | None, title: str, body: str, login: str
) -> None:
    """Open a pull request in REPO from --head into --base; prints its number."""
    problems = branch_problems("--head", head)
    if base is not None:
        problems += branch_problems("--base", base)
    if not title.strip():
        problems.append(Problem("--title", "is empty; give the pull request a title"))
    elif _CONTROL.search(title):
        problems.append(Problem("--title", "contains a newline or control character; one line"))
    elif len(title) > _TITLE_LIMIT:
        problems.append(
            Problem("--title", f"is {len(title)} characters; GitHub allows {_TITLE_LIMIT}")
        )
    if len(body) > _BODY_LIMIT:
        problems.append(
            Problem("--body", f"is {len(body)} characters; GitHub allows {_BODY_LIMIT}")
        )
    problems += _login_problems(login)
    if problems:
        raise _Problems(problems)
    with _opened(data, repo) as forge:
        known = forge.branches(repo)
        for field, name in (("--head", head), ("--base", base)):
            if name is not None and name not in known:
                raise _fail(field, f"no branch {name!r} in {repo} (push it first)")
        number = forge.open_pr(repo, head, base, title=title, body=body, author=login)
        into = base or forge.default_branch(repo)
    click.echo(f"opened {repo}#{number}: {head} → {into} by {login}")


@click.command("merge-pr", epilog=_EXIT_HELP)
@_repo_argument
@click.argument("number", metavar="NUMBER", type=click.IntRange(min=1))
@_data_option
@_choice(
    "--method", ["merge", "squash", "rebase"], "How to merge, as GitHub's merge button offers."
)
@_login_option("merged it")
def merge_pr(repo: str, number: int, data: Path, method: str, login: str) -> None:
    """Merge pull request NUMBER of REPO as a person presses the merge button."""
    if _login_problems(login):
        raise _Problems(_login_problems(login))
    with _opened(data, repo) as forge:
        row = _pull(forge, repo, number)
        sha = forge.merge_pr(repo, number, method, by=login)
    click.echo(f"merged {repo}#{number} into {row['base']} at {sha[:7]} ({method}) by {login}")


@click.command("close-pr", epilog=_EXIT_HELP)
@_repo_argument
@click.argument("number", metavar="NUMBER", type=click.IntRange(min=1))
@_data_option
def close_pr(repo: str, number: int, data: Path) -> None:
    """Close pull request NUMBER of REPO without merging it (its branch stays)."""
    with _opened(data, repo) as forge:
        row = _pull(forge, repo, number)
        if row["merged"]:
            raise _Refused(f"{repo}#{number} is merged; a merged pull request stays merged")
        if row["state"] == "closed":
            click.echo(f"{repo}#{number} was already closed")
            return
        forge.close_pr(repo, number)
    click.echo(f"closed {repo}#{number}")


def _pull(forge: LocalForge, repo: str, number: int) -> dict[str, Any]:
    try:
        return forge.pull_row(repo, number)
    except errors.NotFoundError:
        count = len(forge.pull_rows(repo))
        raise _fail("NUMBER", f"{repo} has no pull request #{number} (it has {count})") from None


#: Registered on the `prplan forge` group by forge_cmd.
COMMANDS = [repos, branches, prs, log, cat, push, open_pr, merge_pr, close_pr]

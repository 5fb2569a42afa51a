"""`prplan forge protect | status | approve`: a person's (or a CI's) merge
gates on the local forge, served or not. ``--checks`` of ``forge serve``
(the stand-in CI) is parsed here too."""

from __future__ import annotations

import re
from pathlib import Path

import click

from prplan.cli.forge import (
    _EXIT_HELP,
    _commit_of,
    _data_option,
    _login_option,
    _login_problems,
    _opened,
    _Problems,
    _pull,
    _repo_argument,
)
from prplan.errors import Problem

__all__ = ["GATE_COMMANDS", "parse_checks"]

_CHECK = re.compile(r"(?P<context>[^=]+)=(?P<state>success|failure)(?::(?P<delay>\d+(?:\.\d+)?))?")


def parse_checks(specs: tuple[str, ...]) -> list[tuple[str, str, float]]:
    """``--checks CONTEXT=success|failure[:SECONDS]`` -> (context, state, delay)."""
    out, problems = [], []
    for index, spec in enumerate(specs, start=1):
        found = _CHECK.fullmatch(spec)
        if found is None:
            problems.append(Problem(f"--checks #{index}", f"{spec!r}: give CONTEXT=success|failure"
                                    "[:SECONDS], e.g. ci/lint=success:0.5"))  # fmt: skip
            continue
        out.append((found["context"], found["state"], float(found["delay"] or 0)))
    if problems:
        raise _Problems(problems)
    return out


@click.command("protect", epilog=_EXIT_HELP)
@_repo_argument
@click.argument("branch", metavar="BRANCH")
@_data_option
@click.option("--require-check", "checks", multiple=True, metavar="CONTEXT",
              help="A status context (or check run name) that must pass (repeatable).")  # fmt: skip
@click.option("--require-approvals", type=click.IntRange(0, 6), default=0, show_default=True,
              help="Approving reviews required.")  # fmt: skip
@click.option("--strict", is_flag=True, help="The branch must be up to date with BRANCH to merge.")
@click.option("--merge-queue", is_flag=True, help="Merges go through a merge queue.")
@click.option("--enforce-admins", is_flag=True,
              help="The rules hold for administrators too (otherwise their merges pass them).")  # fmt: skip
def protect(repo: str, branch: str, data: Path, checks: tuple[str, ...],
            require_approvals: int, strict: bool, merge_queue: bool,
            enforce_admins: bool) -> None:  # fmt: skip
    """Protect BRANCH of REPO as GitHub's branch protection does (replacing
    what protected it before): required checks, approvals, a merge queue. A
    protected branch can be neither deleted nor force-pushed."""
    with _opened(data, repo) as forge:
        forge.protect_branch(repo, branch, required_checks=checks, strict=strict,
                             required_approvals=require_approvals, merge_queue=merge_queue,
                             enforce_admins=enforce_admins)  # fmt: skip
    wanted = ", ".join(checks) or "none"
    click.echo(f"protected {repo} {branch}: checks {wanted}; approvals {require_approvals}"
               f"{'; strict' if strict else ''}{'; merge queue' if merge_queue else ''}"
               f"{'; enforced for admins' if enforce_admins else ''}")  # fmt: skip


@click.command("admin", epilog=_EXIT_HELP)
@_repo_argument
@click.argument("login", metavar="LOGIN")
@_data_option
@click.option("--remove", is_flag=True, help="LOGIN is no longer an administrator.")
def admin(repo: str, login: str, data: Path, remove: bool) -> None:
    """Make LOGIN an administrator of REPO (a token acting as LOGIN then
    merges past branch protection that is not --enforce-admins, as on GitHub)."""
    if _login_problems(login):
        raise _Problems([Problem("LOGIN", p.message) for p in _login_problems(login)])
    with _opened(data, repo) as forge:
        forge.set_admin(repo, login, not remove)
    click.echo(f"{login} is {'no longer ' if remove else ''}an administrator of {repo}")


@click.command("status", epilog=_EXIT_HELP)
@_repo_argument
@click.argument("ref", metavar="REF")
@click.argument("context", metavar="CONTEXT")
@click.argument(
    "state", metavar="STATE", type=click.Choice(["error", "failure", "pending", "success"])
)
@_data_option
def status(repo: str, ref: str, context: str, state: str, data: Path) -> None:
    """Report commit status CONTEXT as STATE on REF (a branch or a commit's
    full sha) of REPO, as a CI system does. Auto-merge and merge queues act
    on it at once."""
    with _opened(data, repo) as forge:
        sha = _commit_of(forge, repo, ref, "REF")
        forge.set_status(repo, sha, context, state)
    click.echo(f"{repo} {sha[:7]}: {context} is {state}")


@click.command("approve", epilog=_EXIT_HELP)
@_repo_argument
@click.argument("number", metavar="NUMBER", type=click.IntRange(min=1))
@_data_option
@_login_option("approved it")
def approve(repo: str, number: int, data: Path, login: str) -> None:
    """Approve pull request NUMBER of REPO as a reviewer (not its author)."""
    if _login_problems(login):
        raise _Problems(_login_problems(login))
    with _opened(data, repo) as forge:
        _pull(forge, repo, number)
        forge.approve(repo, number, login)
    click.echo(f"{login} approved {repo}#{number}")


GATE_COMMANDS = [protect, admin, status, approve]

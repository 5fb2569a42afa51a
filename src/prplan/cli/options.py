"""What every ``prplan`` command shares: exit codes, invalid input (``Bad``),
the options that name a forge and shape the output, the forge client they
select, the plan key, the confirmation prompt and the audit log.

Apart from the commands so each command module reads as its own story, and
so the one question "is this a terminal?" (``_on_a_terminal``) is asked in
one place.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import click

from prplan.cli.render import View
from prplan.core.integrity import normalise_digest
from prplan.core.plan_json import PLAN_KEY_ENV
from prplan.core.request import DEFAULT_WAIT_TIMEOUT
from prplan.errors import InvalidRequestError, Problem
from prplan.run.audit import AuditTrail, audit_path_problem, forge_address
from prplan.run.port import ForgeClient

__all__ = [
    "EXIT",
    "EXIT_HELP",
    "Bad",
    "ApplyOptions",
    "target_options",
    "format_option",
    "view_options",
    "changeset_options",
    "forge_client",
    "plan_key",
    "confirm",
    "checked_apply_inputs",
    "audit_trail",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Exit codes, by name.
EXIT = {"ok": 0, "error": 1, "changes": 2, "refused": 3, "stale": 4, "failed": 5, "timed_out": 6}
EXIT_HELP = {
    "plan": "Exit codes: 0 nothing to do, 2 changes planned, 3 refused, 1 error.",
    "apply": "Exit codes: 0 applied or nothing to do (merged, or auto-merge enabled, or queued), "
    "3 refused (or disarmed: prplan turned off its own auto-merge because its branch holds "
    "commits prplan did not make), 4 stale plan (nothing written), 5 failed part-way (a merge blocked, a required "
    "check failed), 6 timed out waiting for a merge (--merge-when wait, a change set's stage), "
    "1 error.",
}


class Bad(click.ClickException):
    """Invalid input: one line per problem, exit 1."""

    exit_code = 1

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"error: {p.field}: {p.message}" for p in problems))

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


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
    @click.option(
        "--github-transport",
        type=click.Choice(["graphql", "rest"]),
        default="graphql",
        show_default=True,
        expose_value=False,
        callback=_remember_transport,
        help="How prplan reads and writes GitHub: GraphQL (one query to observe, a new change in 3 writes, commits signed by GitHub) or the REST Git Data API throughout (see docs/github.md).",
    )
    @click.option(
        "--app-id",
        metavar="ID",
        expose_value=False,
        callback=_remember_app,
        help="Act as this GitHub App (default $GITHUB_APP_ID), with --app-key-file; without "
        "$GITHUB_APP_INSTALLATION_ID its installation is found per repository (docs/github.md).",
    )
    @click.option(
        "--app-key-file",
        metavar="PEM",
        expose_value=False,
        callback=_remember_app,
        help="The GitHub App's private key file (default $GITHUB_APP_PRIVATE_KEY_PATH, "
        "or the key itself in $GITHUB_APP_PRIVATE_KEY).",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


_TRANSPORT = "prplan.github_transport"
_APP = "prplan.github_app"


def _remember_app(ctx: click.Context, parameter: click.Parameter, value: str | None) -> None:
    """``--app-id``/``--app-key-file``, kept where ``forge_client`` finds them."""
    if value is not None:
        ctx.meta.setdefault(_APP, {})[str(parameter.name)] = value


def _remember_transport(ctx: click.Context, _: click.Parameter, value: str) -> str:
    """``--github-transport``, kept where ``forge_client`` finds it, so no
    command has to pass it along."""
    ctx.meta[_TRANSPORT] = value
    return value


def forge_client(local: Path | None, github_url: str | None) -> ForgeClient:
    """The forge the options name: the local one in DIR, else GitHub (token
    from the environment, read by ``GitHubClient.from_env``)."""
    if local is not None and github_url is not None:
        raise Bad([Problem("--local/--github-url", "give one forge, not both")])
    if local is not None:
        from prplan.forges.local import LocalForge

        context = click.get_current_context(silent=True)
        if context is not None and context.meta.get(_APP):
            raise Bad([Problem("--app-id/--app-key-file", "act on GitHub: drop --local")])

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
            context = click.get_current_context(silent=True)
            transport = context.meta.get(_TRANSPORT, "graphql") if context else "graphql"
            app = dict(context.meta.get(_APP, {})) if context else {}
            client = GitHubClient.from_env(base_url=github_url, transport=transport, **app)
        except InvalidRequestError as error:
            # The library names its argument; the command names its option.
            raise Bad(
                [
                    Problem("--github-url/GITHUB_API_URL", p.message)
                    if p.field == "base_url"
                    else p
                    for p in error.problems
                ]
            ) from None
    for warning in caught:
        click.echo(f"warning: {warning.message}", err=True)
    return client


def plan_key() -> bytes | None:
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


def _on_a_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def confirm(what: str, yes: bool) -> None:
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


def view_options(func: F) -> F:
    func = click.option("--no-diagram", "no_diagram", is_flag=True,
                        help="Markdown: leave out the lifecycle diagram.")(func)  # fmt: skip
    return click.option("--no-diff", "no_diff", is_flag=True,
                        help="text and markdown: list changed files without their diffs.")(func)  # fmt: skip


def format_option(func: F) -> F:
    return click.option(
        "--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True,
        help="text for terminals, markdown for a pull request or review, json for programs.",
    )(func)  # fmt: skip


def changeset_options(func: F) -> F:
    func = click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64),
                        help="Change sets: repositories observed at once (writes are always one at a time).")(func)  # fmt: skip
    return click.option("--changeset", type=click.Path(dir_okay=False, path_type=Path),
                        help="A change set file (YAML): many repositories, in stages. See docs/changesets.md.")(func)  # fmt: skip


# --- apply -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ApplyOptions:
    """What `prplan apply` was told, apart from what to apply: where, how
    to show it, whether to ask, where to record it; ``change``: the change
    options as click passed them."""

    repo: str | None
    change: dict[str, Any]
    local: Path | None
    github_url: str | None
    yes: bool
    audit_log: Path | None
    expect_digest: str | None
    fmt: str
    view: View
    concurrency: int = 8
    write_concurrency: int = 1
    keep_going: bool = False
    skip_refused: bool = False
    #: change sets: seconds a stage waits for GitHub's merges (its own
    #: ``timeout`` first)
    stage_timeout: float = DEFAULT_WAIT_TIMEOUT


def checked_apply_inputs(audit_log: Path | None, expect_digest: str | None) -> str | None:
    """The audit log's place is checked before anything is observed (a run
    must never go unrecorded); the expected digest is returned normalised."""
    if audit_log is not None:
        problem = audit_path_problem(audit_log)
        if problem is not None:
            raise Bad([Problem("--audit-log", problem)])
    if expect_digest is None:
        return None
    try:
        return normalise_digest(expect_digest, "--expect-digest")
    except InvalidRequestError as error:
        raise Bad(list(error.problems)) from None


def audit_trail(path: Path | None, client: ForgeClient) -> AuditTrail | None:
    """The audit file, opened for appending (its place was checked before
    anything was observed; this catches it vanishing since)."""
    if path is None:
        return None
    try:
        return AuditTrail(path, forge=forge_address(client))
    except OSError as error:
        raise Bad([Problem("--audit-log", f"cannot open {path}: {error.strerror}")]) from None

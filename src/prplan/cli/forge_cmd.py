"""`prplan forge`: the group, and the commands that make a forge: ``serve``
(the local forge as GitHub's REST API) and ``create-repo``. The commands a
person drives the forge with (repos, branches, prs, log, cat, push,
open-pr, merge-pr, close-pr) live in ``forge``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from prplan.cli.change import read_dir
from prplan.cli.forge import COMMANDS, data_option, forge_users
from prplan.cli.forge_app import app_serve_options, serve_apps
from prplan.cli.forge_gates import GATE_COMMANDS, parse_checks
from prplan.cli.options import Bad
from prplan.errors import InvalidRequestError, Problem, PrplanError

__all__ = ["forge"]


@click.group()
def forge() -> None:
    """The local forge: serve it as a GitHub-compatible API, create repositories,
    and see and change what is in it as a person would (repos, branches, prs,
    log, cat, push, open-pr, merge-pr, close-pr), served or not."""


#: The forge directory, as both forge commands take it.
_data_option = data_option(
    "Directory of the forge (created if missing): bare repositories and forge.sqlite."
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
@click.option(
    "--checks",
    "checks",
    multiple=True,
    metavar="CONTEXT=STATE[:SECONDS]",
    help="A stand-in CI: report status CONTEXT as STATE (success or failure) on every new "
    "pull request head, SECONDS (fractional allowed; 0 by default) after it appears (repeatable).",
)
@app_serve_options
@click.option("--verbose", is_flag=True, help="Log every request to stderr.")
def forge_serve(
    data: Path,
    host: str,
    port: int,
    token: str | None,
    users: tuple[str, ...],
    faults_file: Path | None,
    checks: tuple[str, ...],
    verbose: bool,
) -> None:
    """Serve the forge in DATA as GitHub's REST API (and git over HTTP) until interrupted.

    Prints one line, `prplan forge listening on http://HOST:PORT/api/v3`; point
    GITHUB_API_URL (or PyGithub's base_url) at it."""
    from prplan.forges.local import LocalForge
    from prplan.forges.local.faults import Faults
    from prplan.forges.local.server.app import ForgeApp, ForgeServer
    from prplan.forges.local.server.stand_in_ci import CheckSpec, StandInCI

    try:
        faults = Faults.from_file(faults_file) if faults_file else Faults()
    except InvalidRequestError as error:
        raise Bad([Problem(f"--faults {p.field}", p.message) for p in error.problems]) from None
    logins = forge_users(users, token)
    reports = [CheckSpec(*spec) for spec in parse_checks(checks)]
    apps = serve_apps()
    app = ForgeApp(LocalForge.open(data), token=token, users=logins, faults=faults, apps=apps)
    try:
        server = ForgeServer(app, host=host, port=port, quiet=not verbose)
    except OSError as error:
        raise Bad(
            [Problem("--host/--port", f"cannot listen on {host}:{port}: {error.strerror}")]
        ) from None
    ci = StandInCI(app.forge, reports).start() if reports else None
    click.echo(f"prplan forge listening on {server.api_url}")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if ci is not None:
            ci.stop()
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
        files = dict(read_dir(source, problems, executable))
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


# The commands a person drives the forge with live in forge.py.
for _command in COMMANDS + GATE_COMMANDS:
    forge.add_command(_command)

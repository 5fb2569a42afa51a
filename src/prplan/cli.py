"""The ``prplan`` command. (The full plan/apply/show commands come with the
command-line issue; for now: ``demo``, ``states`` and ``forge``.)"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._demo import run_demo
from ._errors import PrplanError
from ._lifecycle import mermaid
from ._specgen import decision_table_markdown

__all__ = ["main", "cli"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="prplan")
def cli() -> None:
    """Change files in Git repositories through pull requests, by plan."""


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
    """The local forge: serve it as a GitHub-compatible API, create repositories."""


@forge.command("serve")
@click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of the forge (created if missing): bare repositories and forge.sqlite.",
)
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
    help="Require this token on every request (401 otherwise). Prefer the environment variable.",
)
@click.option(
    "--faults",
    "faults_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file of fault rules to inject (see docs/github.md).",
)
@click.option("--verbose", is_flag=True, help="Log every request to stderr.")
def forge_serve(
    data: Path, host: str, port: int, token: str | None, faults_file: Path | None, verbose: bool
) -> None:
    """Serve the forge in DATA as GitHub's REST API (and git over HTTP) until interrupted.

    Prints one line, `prplan forge listening on http://HOST:PORT/api/v3`; point
    GITHUB_API_URL (or PyGithub's base_url) at it."""
    from .localforge import LocalForge
    from .localforge._faults import Faults
    from .localforge._rest import ForgeApp, ForgeServer

    try:
        faults = Faults.from_file(faults_file) if faults_file else Faults()
    except PrplanError as error:
        raise click.UsageError(str(error)) from None
    app = ForgeApp(LocalForge.open(data), token=token, faults=faults)
    try:
        server = ForgeServer(app, host=host, port=port, quiet=not verbose)
    except OSError as error:
        raise click.UsageError(
            f"--host/--port: cannot listen on {host}:{port}: {error.strerror}"
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
@click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of the forge (created if missing).",
)
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory whose files become the initial commit (.git is left out).",
)
@click.option("--default-branch", default="main", show_default=True)
def forge_create_repo(name: str, data: Path, source: Path | None, default_branch: str) -> None:
    """Create repository NAME (OWNER/NAME) in the forge in DATA."""
    from .localforge import LocalForge

    files: dict[str, bytes] = {}
    if source is not None:
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source)
            if path.is_file() and ".git" not in relative.parts:
                files[relative.as_posix()] = path.read_bytes()
    forge_ = LocalForge.open(data)
    try:
        sha = forge_.create_repo(name, files, default_branch=default_branch)
    except PrplanError as error:
        raise click.UsageError(str(error)) from None
    finally:
        forge_.close()
    click.echo(f"created {name} ({len(files)} file(s), {default_branch} at {sha[:7]}) in {data}")


def main() -> None:
    cli()

"""The ``prplan`` command. (The full plan/apply/show commands come with the
command-line issue; for now: ``demo`` and ``states``.)"""

from __future__ import annotations

import sys

import click

from ._demo import run_demo
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


def main() -> None:
    cli()

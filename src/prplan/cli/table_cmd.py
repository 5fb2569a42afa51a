"""`prplan states`: the lifecycle diagram (Mermaid) or the decision table
(Markdown), as ``specs/`` holds them (``table_doc`` makes both)."""

from __future__ import annotations

import click

from prplan.cli.table_doc import decision_table_markdown, lifecycle_mermaid

__all__ = ["states"]


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "markdown"]),
    default="markdown",
    show_default=True,
)
def states(fmt: str) -> None:
    """Print the lifecycle diagram (Mermaid) or the decision table (Markdown)."""
    click.echo(lifecycle_mermaid() if fmt == "mermaid" else decision_table_markdown(), nl=False)

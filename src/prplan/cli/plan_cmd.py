"""`prplan plan`: observe, decide and print the plan of one change or a
change set; writes nothing to the forge (``--out`` saves the plan for
review and `prplan apply PLAN_FILE`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from prplan.cli import options as opt
from prplan.cli.change import change_options, request_from
from prplan.cli.changeset_cmd import plan_set
from prplan.cli.options import EXIT, Bad
from prplan.cli.output import show_changeset, show_plan
from prplan.cli.render import View
from prplan.core.planner import plan as make_plan
from prplan.errors import InvalidRequestError, Problem
from prplan.run.observe import observe
from prplan.run.review import changeset_with_review, with_review

__all__ = ["plan"]


@click.command(epilog=opt.EXIT_HELP["plan"])
@opt.target_options
@change_options
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Save the plan as JSON, for `prplan apply PLAN_FILE` after review.")  # fmt: skip
@click.option("--redact-content", is_flag=True,
              help="Store file digests, not contents, in the plan (--out, json). Applying it then needs the "
              "same --file inputs again, checked against the digests.")  # fmt: skip
@opt.changeset_options
@opt.format_option
@opt.view_options
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
            raise Bad([Problem("--redact-content",
                               "is not available for change sets yet; plan them without it")])  # fmt: skip
        _plan_changeset(changeset, repo, change, local, github_url, concurrency, out, fmt, view)
    request = request_from(repo, change)
    key = opt.plan_key()
    client = opt.forge_client(local, github_url)
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
        show_plan(the_plan, fmt, view)
    if the_plan.refusal is not None:
        sys.exit(EXIT["refused"])
    sys.exit(EXIT["changes"] if the_plan.actions else EXIT["ok"])


def _plan_changeset(
    changeset: Path, repo: str | None, change: dict[str, Any], local: Path | None,
    github_url: str | None, concurrency: int, out: Path | None, fmt: str, view: View,
) -> None:  # fmt: skip
    """`prplan plan --changeset`: exits with the set's exit code."""
    key = opt.plan_key()
    client, the_set = plan_set(changeset, repo, change, local, github_url, concurrency)
    # Saved with what its review needs: `prplan show` then needs no forge.
    the_set = changeset_with_review(the_set, client, concurrency)
    if out is not None:
        out.write_text(the_set.to_json(key=key), encoding="utf-8")
    show_changeset(the_set, fmt, view)
    if the_set.refused:
        sys.exit(EXIT["refused"])
    sys.exit(EXIT["changes"] if the_set.has_changes else EXIT["ok"])

"""`prplan show PLAN_FILE`: a saved plan, of one repository or a change
set, shown without the forge (unless a version 3 plan needs it for its
diffs), checked as `apply` checks it, and whether its signature verifies.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click

from prplan.cli import saved
from prplan.cli.options import Bad, forge_client, format_option, plan_key, view_options
from prplan.cli.output import show_changeset, show_plan
from prplan.cli.render import View
from prplan.core.integrity import check_plan
from prplan.core.plan import Plan, redacted_for_review
from prplan.core.plan_json import signature_status
from prplan.errors import InvalidRequestError, Problem
from prplan.run.changeset import ChangeSetPlan
from prplan.run.port import ForgeClient
from prplan.run.review import read_review

__all__ = ["show"]

#: The forge to read old contents from, when one is named and diffs are shown.
_Reader = Callable[[], ForgeClient | None]


@click.command()
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--local",
    type=click.Path(file_okay=False, path_type=Path),
    help="A plan of format version 3 carries no old contents: read them here for diffs.",
)
@click.option("--github-url", metavar="URL", help="As --local, from GitHub.")
@format_option
@view_options
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
    key = plan_key()
    view = View(diffs=not no_diff, diagram=not no_diagram, redacted=saved.is_redacted(raw))

    def reader() -> ForgeClient | None:
        named = (local or github_url) and fmt != "json" and view.diffs
        return forge_client(local, github_url) if named else None

    if saved.is_changeset(plan_file):
        _show_set(plan_file, raw, fmt, view, reader)
    else:
        _show_one(plan_file, raw, fmt, view, reader)
    status = f"signature: {signature_status(json.loads(raw), key)}"
    # Only the text view is for a person reading stdout; JSON and Markdown
    # are documents (a PR comment), so the verdict goes to stderr.
    click.echo(status, err=fmt != "text")


def _bad(plan_file: Path, error: InvalidRequestError) -> Bad:
    return Bad([Problem(f"{plan_file}: {p.field}", p.message) for p in error.problems])


def _show_set(plan_file: Path, raw: bytes, fmt: str, view: View, reader: _Reader) -> None:
    try:
        the_set = ChangeSetPlan.from_dict(json.loads(raw))
        for one in the_set.plans:
            check_plan(one)
    except InvalidRequestError as error:
        raise _bad(plan_file, error) from None
    client = reader()
    reviews = {}
    if client is not None:
        reviews = {
            index: read_review(one, client)
            for index, one in enumerate(the_set.plans)
            if one.review is None
        }
    show_changeset(the_set, fmt, view, reviews)


def _show_one(plan_file: Path, raw: bytes, fmt: str, view: View, reader: _Reader) -> None:
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
        raise _bad(plan_file, error) from None
    if view.redacted and fmt == "json":
        click.echo(raw.decode("utf-8"), nl=False)  # the document as saved, digests and all
    else:
        client = None if view.redacted or the_plan.review is not None else reader()
        review = read_review(the_plan, client) if client is not None else None
        show_plan(the_plan, fmt, view, review)

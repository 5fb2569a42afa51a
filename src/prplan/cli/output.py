"""What the commands print: plans, outcomes and change sets in the format
asked for, colour on a terminal only, progress on stderr.

Apart from the commands so that every command shows a plan the same way;
the views themselves are pure (``render``, ``render_md``).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from prplan.cli.render import DEFAULT_VIEW, View, outcome_text, plan_text
from prplan.cli.render_md import changeset_markdown, plan_markdown
from prplan.core.actions import Review
from prplan.core.plan import Plan
from prplan.run.changeset import ChangeSetPlan, ChangeSetResult
from prplan.run.outcome import ActionResult, Outcome, Reporter
from prplan.run.waiting import Waiter, Waiting

__all__ = [
    "show_plan",
    "show_outcome",
    "show_changeset",
    "changeset_summary",
    "Progress",
    "Both",
    "bar",
    "waiter",
]


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


def show_plan(
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


def show_outcome(outcome: Outcome, fmt: str) -> None:
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


class Progress(Reporter):
    """Progress on stderr, for people watching a terminal."""

    def __init__(self, total: int) -> None:
        self.total = total

    def action_started(self, repo: str, index: int, action: object) -> None:
        kind = getattr(action, "kind", "")
        click.echo(
            f"[{index + 1}/{self.total}] {repo}: {getattr(kind, 'value', kind)} ...", err=True
        )


def waiter() -> Waiter:
    """How the command waits for merges: with a progress line on stderr
    when it is a terminal (per pull request: waiting for checks / queued /
    merged), silently otherwise."""
    if not sys.stderr.isatty():
        return Waiter()

    def progress(state: Sequence[Waiting], elapsed: float) -> None:
        click.echo(f"waiting ({elapsed:.0f}s): " + "; ".join(w.words() for w in state), err=True)

    return Waiter(progress=progress)


class Both(Reporter):
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


def bar(label: str, total: int) -> _Bar:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise."""
    return _Bar(label, total)


def show_changeset(
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
            show_plan(one, fmt, view, review_of(one))
    if fmt != "markdown":
        changes = sum(1 for p in the_set.plans if p.actions)
        click.echo(f"change set digest: sha256:{the_set.digest} ({changes} of {len(the_set.plans)} "
                   f"repositories to change, {len(the_set.refused)} refused)")  # fmt: skip


def changeset_summary(result: ChangeSetResult) -> None:
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

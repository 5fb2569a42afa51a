"""Change sets on the command line: `prplan plan --changeset FILE` and
`prplan apply --changeset FILE` (or a saved change set plan), many
repositories in stages.

Apart from the one-repository commands because a change set is observed
many repositories at once, asks once for the whole set, is applied stage by
stage and ends in one exit code for every entry (``_changeset_exit``).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from prplan.cli.change import given
from prplan.cli.options import EXIT, ApplyOptions, Bad, audit_trail, confirm, forge_client, plan_key
from prplan.cli.output import bar, changeset_summary, show_changeset, waiter
from prplan.core.request import DEFAULT_WAIT_TIMEOUT, parse_duration
from prplan.errors import InvalidRequestError, Problem
from prplan.run.changeset import (
    ChangeSetPlan,
    ChangeSetResult,
    EntryResult,
    apply_changeset,
    plan_changeset,
)
from prplan.run.changeset_file import load_changeset
from prplan.run.port import ForgeClient
from prplan.run.review import changeset_with_review

__all__ = ["plan_set", "apply_set", "apply_set_options", "stage_seconds"]

F = TypeVar("F", bound=Callable[..., Any])


def apply_set_options(func: F) -> F:
    """The options only `prplan apply` of a change set takes."""
    func = click.option("--skip-refused", is_flag=True,
                        help="Change sets: apply the entries that are not refused. Without it, a change set whose plan "
                        "holds a refusal is not applied at all (exit 3).")(func)  # fmt: skip
    func = click.option("--stage-timeout", metavar="DURATION",
                        help="Change sets: how long a stage waits for GitHub to merge the pull requests it left to "
                        "auto-merge or a merge queue before the next stage may start (90s, 30m, 1h, or seconds; "
                        "a stage's own timeout comes first). Default: 30m. Past it: exit 6.")(func)  # fmt: skip
    func = click.option("--keep-going", is_flag=True,
                        help="Change sets: finish the stage past a failed entry (later stages still never start).")(func)  # fmt: skip
    return click.option("--write-concurrency", default=1, show_default=True, type=click.IntRange(1, 32),
                        help="Change sets: repositories written at once. 1 is what GitHub asks of integrations; "
                        "raise it only for a forge that allows concurrent writes.")(func)  # fmt: skip


def plan_set(
    file: Path,
    repo: str | None,
    change: dict[str, Any],
    local: Path | None,
    github_url: str | None,
    concurrency: int,
) -> tuple[ForgeClient, ChangeSetPlan]:
    """The change set in ``file``, observed and planned; no change option may
    be given with it (it names its own repositories and changes)."""
    named = given(change) + (["--repo"] if repo else [])
    if named:
        raise Bad(
            [Problem(", ".join(named), "a change set names its own repositories and changes")]
        )
    try:
        the_set = load_changeset(file)
    except InvalidRequestError as error:
        raise Bad([Problem(f"{file}: {p.field}", p.message) for p in error.problems]) from None
    client = forge_client(local, github_url)
    total = sum(len(stage.requests) for stage in the_set.stages)
    with bar(f"observing {total} repositories", total) as advance:
        planned = plan_changeset(client, the_set, concurrency=concurrency, on_planned=advance)
    return client, planned


def _asks_to_apply_changeset(
    the_set: ChangeSetPlan, *, saved: bool, yes: bool, skip_refused: bool
) -> bool:
    """A change set planned just now needs a yes before it is applied (on a
    terminal, or --yes; see ``options.confirm``). A saved plan was reviewed already;
    a set that will write nothing (no changes, or refusals without
    --skip-refused) needs no answer."""
    if saved or yes or not the_set.has_changes:
        return False
    return not (the_set.refused and not skip_refused)


def stage_seconds(text: str | None) -> float:
    """``--stage-timeout`` in seconds (30 minutes when not given)."""
    if text is None:
        return DEFAULT_WAIT_TIMEOUT
    try:
        return parse_duration(text)
    except ValueError as error:
        raise Bad([Problem("--stage-timeout", str(error))]) from None


def _changeset_exit(result: ChangeSetResult) -> int:
    """A failure first; a stale plan is exit 4 only when nothing was written
    (else the set failed part-way); then a stage that timed out waiting for
    merges (6); then a refusal or a disarm (3); then any entry short of its goal (its later
    stages never started)."""
    statuses = {entry.status for entry in result.entries}
    if "failed" in statuses:
        return EXIT["failed"]
    if "timed_out" in statuses:
        return EXIT["timed_out"]
    if "stale" in statuses:
        return EXIT["failed"] if result.wrote else EXIT["stale"]
    # Disarmed: prplan turned its own auto-merge off over someone's commits;
    # like a refusal, known from the plan, and for a human to look at (3).
    if statuses & {"refused", "disarmed"}:
        return EXIT["refused"]
    return EXIT["ok"] if result.ok else EXIT["failed"]


def apply_set(plan_file: Path | None, file: Path | None, o: ApplyOptions) -> NoReturn:
    """`prplan apply` of a change set: the saved one in ``plan_file``, or the
    one in ``file`` planned now. Exits with the set's exit code."""
    if plan_file is not None:
        client, the_set = _saved_set(plan_file, file, o)
    else:
        assert file is not None
        client, the_set = plan_set(file, o.repo, o.change, o.local, o.github_url, o.concurrency)
        if o.fmt == "text" and o.view.diffs:  # shown before it is applied: with its diffs
            the_set = changeset_with_review(the_set, client, o.concurrency)
    planned_at = time.monotonic()
    if o.expect_digest is not None and o.expect_digest != the_set.digest:
        raise Bad([Problem("--expect-digest", f"is sha256:{o.expect_digest} but the change set's digest "
                           f"is sha256:{the_set.digest}: it is not the one that was reviewed")])  # fmt: skip
    if o.fmt == "text":
        show_changeset(the_set, o.fmt, o.view)
    if _asks_to_apply_changeset(
        the_set, saved=plan_file is not None, yes=o.yes, skip_refused=o.skip_refused
    ):
        confirm("this change set", o.yes)
    result = _run_set(client, the_set, o, recheck=plan_file is not None, planned_at=planned_at)
    if o.fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        changeset_summary(result)
    sys.exit(_changeset_exit(result))


def _saved_set(
    plan_file: Path, file: Path | None, o: ApplyOptions
) -> tuple[ForgeClient, ChangeSetPlan]:
    """A saved change set plan, read (and its signature checked) before the
    forge is opened; an option it does not take is refused, never ignored."""
    if file is not None or given(o.change):
        raise Bad([Problem("--changeset", "a saved change set plan already holds its changes")])
    if o.repo is not None:
        # As for one repository's saved plan: an option the plan does not
        # take is refused, never silently ignored.
        raise Bad([Problem("--repo", "a saved change set plan names its own repositories; "
                           "drop --repo (to change fewer repositories, plan a smaller set)")])  # fmt: skip
    key = plan_key()
    try:
        the_set = ChangeSetPlan.from_dict(json.loads(plan_file.read_bytes()), key=key)
    except InvalidRequestError as error:
        raise Bad([Problem(f"{plan_file}: {p.field}", p.message) for p in error.problems]) from None
    return forge_client(o.local, o.github_url), the_set


def _run_set(
    client: ForgeClient,
    the_set: ChangeSetPlan,
    o: ApplyOptions,
    *,
    recheck: bool,
    planned_at: float,
) -> ChangeSetResult:
    """Apply the set, every entry on the audit log and the progress bar."""
    trail = audit_trail(o.audit_log, client)
    reporter, audited = (
        trail.for_changeset(the_set.stages, the_set.digest) if trail is not None else (None, None)
    )
    try:
        with bar("applying", len(the_set.plans)) as advance:

            def on_entry(entry: EntryResult) -> None:
                advance()
                if audited is not None:
                    audited(entry)

            return apply_changeset(
                client, the_set, concurrency=o.concurrency, keep_going=o.keep_going,
                skip_refused=o.skip_refused, recheck=recheck,
                write_concurrency=o.write_concurrency, observed_at=planned_at,
                reporter=reporter, on_entry=on_entry, stage_timeout=o.stage_timeout,
                waiter=waiter(),
            )  # fmt: skip
    except InvalidRequestError as error:  # a plan in the set is not what the planner derives
        raise Bad([Problem(p.field, p.message) for p in error.problems]) from None
    finally:
        if trail is not None:
            trail.close()

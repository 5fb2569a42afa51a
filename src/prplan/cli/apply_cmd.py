"""`prplan apply`: apply exactly what was reviewed, in one of three modes,
each its own function: a saved plan of one repository (``_apply_saved``),
a change planned now and confirmed (``_plan_now``), or a change set
(``changeset_cmd.apply_set``). One repository's plan, however it came,
is applied by ``_execute``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click

from prplan.cli import options as opt
from prplan.cli import saved
from prplan.cli.change import change_options, given, read_files, request_from
from prplan.cli.changeset_cmd import apply_set, apply_set_options, stage_seconds
from prplan.cli.options import EXIT, Bad
from prplan.cli.output import Both, Progress, show_outcome, show_plan, waiter
from prplan.cli.render import View
from prplan.core.integrity import check_plan
from prplan.core.plan import Plan
from prplan.core.planner import plan as make_plan
from prplan.errors import InvalidRequestError, Problem, PrplanError, StalePlanError, WaitTimedOut
from prplan.run.executor import apply as apply_plan
from prplan.run.observe import observe
from prplan.run.outcome import Outcome, OutcomeStatus, Reporter
from prplan.run.port import ForgeClient, RequestCount, counting_requests
from prplan.run.review import read_review

__all__ = ["apply"]


@click.command(epilog=opt.EXIT_HELP["apply"])
@click.argument(
    "plan_file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@opt.target_options
@change_options
@click.option(
    "--yes", is_flag=True, help="Do not ask for confirmation (it is asked only on a terminal)."
)
@click.option("--audit-log", type=click.Path(path_type=Path),
              help="Append JSON lines to FILE: each write when it starts and when it ends, and each plan's "
              "outcome (change sets: every entry's, run or not). See docs/audit.md.")  # fmt: skip
@click.option("--expect-digest", metavar="SHA256",
              help="Apply only the plan (or change set) with this digest: the one that was reviewed.")  # fmt: skip
@opt.changeset_options
@apply_set_options
@opt.format_option
@opt.view_options
def apply(
    plan_file: Path | None, repo: str | None, local: Path | None, github_url: str | None,
    yes: bool, audit_log: Path | None, expect_digest: str | None, changeset: Path | None, concurrency: int,
    write_concurrency: int, keep_going: bool, skip_refused: bool, stage_timeout: str | None, fmt: str,
    no_diff: bool, no_diagram: bool, **change: Any,
) -> None:  # fmt: skip
    """Apply a saved plan (PLAN_FILE), or plan and apply a change (or --changeset) in one go.

    A saved plan is checked against the repository first and refused, writing
    nothing, if a fact it relied on has moved, and refused if it is not exactly
    what the planner derives from its own request and snapshot (a hand-edited
    plan). With PRPLAN_PLAN_KEY set, only a plan signed with that key is
    applied. A change planned now is applied after confirmation on a terminal,
    else only with --yes. A change set is applied stage by stage; a stage
    starts only when every entry of the one before reached its goal
    (exit 5 when one did not; see docs/changesets.md)."""
    expect_digest = opt.checked_apply_inputs(audit_log, expect_digest)
    saved_set = plan_file is not None and saved.is_changeset(plan_file)
    _check_mode(plan_file, changeset, saved_set=saved_set, skip_refused=skip_refused)
    if stage_timeout is not None and changeset is None and not saved_set:
        raise Bad([Problem("--stage-timeout", "is for change sets (--changeset, or a saved change set plan)")])  # fmt: skip
    o = opt.ApplyOptions(
        repo=repo, change=change, local=local, github_url=github_url, yes=yes,
        audit_log=audit_log, expect_digest=expect_digest, fmt=fmt,
        view=View(diffs=not no_diff, diagram=not no_diagram), concurrency=concurrency,
        write_concurrency=write_concurrency, keep_going=keep_going, skip_refused=skip_refused,
        stage_timeout=stage_seconds(stage_timeout),
    )  # fmt: skip
    if changeset is not None or saved_set:
        apply_set(plan_file if saved_set else None, changeset, o)
    if plan_file is not None:
        the_plan, client = _apply_saved(plan_file, o)
        _execute(the_plan, client, o, from_file=True)
    the_plan, client, observed_at, observed_with = _plan_now(o)
    _execute(
        the_plan, client, o, from_file=False, observed_at=observed_at, observed_with=observed_with
    )


def _check_mode(
    plan_file: Path | None, changeset: Path | None, *, saved_set: bool, skip_refused: bool
) -> None:
    """One mode at a time, and only the options it takes."""
    if plan_file is not None and changeset is not None:
        raise Bad([Problem("PLAN_FILE/--changeset",
                           "give a saved plan or a change set to plan now, not both")])  # fmt: skip
    if skip_refused and changeset is None and not saved_set:
        raise Bad([Problem("--skip-refused", "is for change sets; a refused plan for one repository applies nothing")])  # fmt: skip


def _redacted_contents(change: dict[str, Any], named: list[str]) -> dict[str, bytes | None]:
    """A plan saved with --redact-content: the files come again from the
    command line and must match the reviewed digests."""
    not_files = [
        g
        for g in named
        if g not in {"--file", "--from-dir"}  # deletions are in the plan already
    ]  # option names
    if not_files:
        raise Bad([Problem(", ".join(not_files),
                           "a saved plan already holds its change; give only --file/--from-dir")])  # fmt: skip
    read, problems = read_files(change["files"], change["deletes"], change["from_dir"])
    if problems:
        raise Bad(problems)
    return read


def _apply_saved(plan_file: Path, o: opt.ApplyOptions) -> tuple[Plan, ForgeClient]:
    """A saved plan of one repository, checked (digest, signature, that the
    planner derives it) before it is shown or applied."""
    raw = plan_file.read_bytes()
    named = given(o.change)
    redacted = saved.is_redacted(raw)
    contents: dict[str, bytes | None] | None = None
    if redacted:
        contents = _redacted_contents(o.change, named)
    elif named:
        raise Bad([Problem(", ".join(named),
                           "a saved plan already holds its change; give PLAN_FILE or a change, not both")])  # fmt: skip
    key = opt.plan_key()
    client = opt.forge_client(o.local, o.github_url)
    document_repo = saved.plan_repo(raw)

    def read_blob(sha: str) -> bytes:
        return client.read_blob(document_repo, sha)

    try:
        the_plan = Plan.from_json(
            raw, contents=contents, read_blob=read_blob if redacted else None, key=key
        )
        check_plan(the_plan, expect_digest=o.expect_digest)  # before it is shown as a plan
    except InvalidRequestError as error:
        raise Bad([saved.in_plan(plan_file, p) for p in error.problems]) from None
    if o.repo is not None and o.repo != the_plan.request.repo:
        raise Bad([Problem("--repo", f"is {o.repo} but the plan is for {the_plan.request.repo}")])
    return the_plan, client


def _plan_now(o: opt.ApplyOptions) -> tuple[Plan, ForgeClient, float, RequestCount]:
    """The change on the command line, planned now; the outcome counts the
    observation's requests too."""
    request = request_from(o.repo, o.change)
    client = opt.forge_client(o.local, o.github_url)
    with counting_requests() as observing:
        the_plan = make_plan(observe(client, request), request)
    # compare-and-swap guards every write; the wait for an answer counts
    return the_plan, client, time.monotonic(), observing.count


def _execute(
    the_plan: Plan,
    client: ForgeClient,
    o: opt.ApplyOptions,
    *,
    from_file: bool,
    observed_at: float | None = None,
    observed_with: RequestCount | None = None,
) -> NoReturn:
    """Show the plan, ask when it was planned just now, apply it on the
    record, show the outcome; exits with the outcome's code. A saved plan is
    rechecked against the forge first."""
    if o.fmt != "json":
        # The diffs a version 3 plan (or one planned now) does not carry are
        # read from the forge named anyway; never for a redacted plan's view.
        wants = o.view.diffs and the_plan.review is None
        review = read_review(the_plan, client) if wants else None
        show_plan(the_plan, o.fmt, o.view, review)
    if the_plan.actions and not from_file:
        opt.confirm("this plan", o.yes)
    reporters: list[Reporter] = []
    trail = opt.audit_trail(o.audit_log, client)
    audit = trail.log(the_plan) if trail is not None else None
    if audit is not None:
        reporters.append(audit)
    if sys.stderr.isatty():
        reporters.append(Progress(len(the_plan.actions)))
    try:
        outcome = apply_plan(
            the_plan, client, reporter=Both(*reporters), recheck=from_file, observed_at=observed_at,
            expect_digest=o.expect_digest, observed_with=observed_with, waiter=waiter(),
        )  # fmt: skip
    except InvalidRequestError as error:  # not the derived plan, or not the reviewed one
        raise Bad([saved.in_plan(None, p) for p in error.problems]) from None
    except PrplanError as error:  # stale, or the forge failed while checking: on the record
        if audit is not None:
            audit.stopped(error)
        if not isinstance(error, StalePlanError):
            raise
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT["stale"])
    finally:
        if trail is not None:
            trail.close()
    show_outcome(outcome, o.fmt)
    sys.exit(_exit_code(outcome))


def _exit_code(outcome: Outcome) -> int:
    """0 for what was asked (merged, auto-merge enabled, queued, ...); a
    wait that ran out of time is 6, any other failure 5."""
    if outcome.status in {OutcomeStatus.REFUSED, OutcomeStatus.DISARMED}:
        return EXIT["refused"]  # disarmed: prplan's arming off, foreign commits to look at
    if outcome.status is not OutcomeStatus.FAILED:
        return EXIT["ok"]
    return EXIT["timed_out"] if outcome.error_type == WaitTimedOut.__name__ else EXIT["failed"]

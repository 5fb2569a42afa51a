"""``prplan demo``: the main job, end to end, on a throw-away local forge.

It is the README's first command, so it must work on a fresh machine with
no network and no token, and show what prplan is for in one screen or two.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from prplan.cli.render import outcome_text, plan_text
from prplan.core.planner import plan
from prplan.core.request import ChangeRequest, MergeWhen
from prplan.run.executor import apply
from prplan.run.observe import observe
from prplan.run.outcome import OutcomeStatus
from prplan.run.waiting import Waiter, wait_for_merges

if TYPE_CHECKING:
    from prplan.forges.local import LocalForge

__all__ = ["demo", "run_demo"]

VALUES_V1 = """\
# Helm values for the app (managed by the release pipeline)
image:
  repository: registry.example.com/acme/app
  tag: "1.4.1"
replicas: 3
"""


def _replicas(repo: str, count: int) -> ChangeRequest:
    """A change for human review: the released values scaled to ``count``
    replicas, through one pull request left open."""
    return ChangeRequest(
        repo=repo,
        branch="prplan/app-replicas",
        files={
            "apps/app/values.yaml": VALUES_V1.replace("1.4.1", "1.4.2").replace("3", str(count))
        },
        title=f"Scale app to {count} replicas",
        automerge=False,
    )


@click.command()
def demo() -> None:
    """Run the main job end to end on a temporary local forge: plan, apply,
    re-plan (empty), reuse an open pull request, and a release that waits
    for a required check and is merged by auto-merge."""
    sys.exit(run_demo(click.echo))


def run_demo(echo: Callable[[str], None] = print) -> int:
    from prplan.forges.local import LocalForge  # loads dulwich: only when the demo runs

    forge = LocalForge.in_memory()
    repo = "acme/deployments"
    forge.create_repo(repo, {"apps/app/values.yaml": VALUES_V1, "README.md": "# deployments\n"})
    echo(f"A local forge with {repo} (main holds apps/app/values.yaml, tag 1.4.1).\n")

    release = ChangeRequest(
        repo=repo,
        branch="prplan/app-1.4.2",
        files={"apps/app/values.yaml": VALUES_V1.replace("1.4.1", "1.4.2")},
        title="Deploy app 1.4.2",
        create_pr=True,
        automerge=True,
        delete_branch=True,
    )
    echo("== 1. Plan a release: new values file, via a pull request, merged automatically")
    first = plan(observe(forge, release), release)
    echo(plan_text(first))
    echo("== Apply exactly that plan")
    echo(outcome_text(apply(first, forge)))
    tag = (forge.read_file(repo, "main", "apps/app/values.yaml") or b"").decode()
    echo(f"main now says: {next(line.strip() for line in tag.splitlines() if 'tag' in line)}\n")

    echo("== 2. Plan the same request again: the repository already is as asked")
    again = plan(observe(forge, release), release)
    echo(plan_text(again))

    review = _replicas(repo, 5)
    echo("== 3. A change for human review: a pull request, left open")
    echo(outcome_text(apply(plan(observe(forge, review), review), forge)))

    revised = _replicas(repo, 4)
    echo("== 4. The request changes before review: the open pull request is reused")
    reuse = plan(observe(forge, revised), revised)
    echo(plan_text(reuse))
    outcome = apply(reuse, forge)
    echo(outcome_text(outcome))
    prs = forge.pull_requests(repo)
    echo("Pull requests on the forge:")
    for pr in prs:
        echo(f"  #{pr.number} {pr.title!r}: {'merged' if pr.merged else pr.state}")
    gated = _gated_release(forge, repo, echo)
    final = plan(observe(forge, revised), revised)
    converged = final.is_empty and again.is_empty and plan(observe(forge, gated), gated).is_empty
    echo("\nEvery re-plan is empty: converged." if converged else "\nNOT converged!")
    return 0 if converged else 1


def _gated_release(forge: LocalForge, repo: str, echo: Callable[[str], None]) -> ChangeRequest:
    """Step 5: main is protected by a required check that a stand-in CI
    reports half a second after each new pull request head; the release
    cannot merge at once, so GitHub's auto-merge is enabled, and the forge
    merges when the check turns green."""
    from prplan.forges.local.server.stand_in_ci import CheckSpec, StandInCI

    check = "ci/helm-template"
    forge.protect_branch(repo, "main", required_checks=(check,))
    echo(f"\n== 5. main now requires the check {check}; a stand-in CI reports it 0.5 s")
    echo("   after every new pull request head. The next release waits for it.")
    release = ChangeRequest(
        repo=repo,
        branch="prplan/app-1.4.3",
        files={"apps/app/values.yaml": VALUES_V1.replace("1.4.1", "1.4.3")},
        title="Deploy app 1.4.3",
        automerge=True,
        merge_when=MergeWhen.AUTO,
    )
    ci = StandInCI(forge, [CheckSpec(check, "success", 0.5)]).start()
    try:
        outcome = apply(plan(observe(forge, release), release), forge)
        echo(outcome_text(outcome))
        if outcome.status is OutcomeStatus.AUTO_MERGE_ENABLED and outcome.pull_request:
            echo(f"   waiting for {check} on pull request #{outcome.pull_request} ...")
            waiter = Waiter(first=0.2, factor=1.5, most=1.0)
            (done,) = wait_for_merges(
                forge, [(repo, outcome.pull_request)], timeout=30, waiter=waiter
            )
            merged = "merged by auto-merge" if done.merged else done.state
            echo(f"   {check}: success; pull request #{done.number} {merged}")
    finally:
        ci.stop()
    tag = (forge.read_file(repo, "main", "apps/app/values.yaml") or b"").decode()
    echo(f"main now says: {next(line.strip() for line in tag.splitlines() if 'tag' in line)}")
    return release

"""Merge gates end to end over HTTP (issue 14): the command against a served
local forge whose main branches are protected, with the stand-in CI
reporting on every new pull request head; and every gate x merge_when the
same through GitHubClient over HTTP as through the local forge directly."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import prplan
from prplan.cli import changeset_cmd, cli
from prplan.forges.local.server.app import ForgeServer
from prplan.forges.local.server.stand_in_ci import CheckSpec, StandInCI
from prplan.run.waiting import Waiter

from served import TOKEN, Served

CANARY, FLEET = "acme/canary", "acme/fleet"
CHECK = "ci/helm-template"


@pytest.fixture
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's waiter polls every 50 ms instead of 2 s (the stand-in CI
    reports after 50 ms): the same poller, on a shorter clock."""
    quick = Waiter(first=0.05, factor=1.0, most=0.05)
    monkeypatch.setattr(changeset_cmd, "waiter", lambda: quick)


@pytest.fixture
def gated(forge_server: ForgeServer) -> Iterator[Callable[[str], Served]]:
    """A served forge with two protected repositories and a stand-in CI that
    reports ``state`` for the required check 50 ms after each new head."""
    started: list[StandInCI] = []

    def make(state: str) -> Served:
        forge = prplan.LocalForge.in_memory()
        for repo in (CANARY, FLEET):
            forge.create_repo(repo, {"app.yaml": "tag: 1\n"})
            forge.protect_branch(repo, "main", required_checks=[CHECK])
        started.append(StandInCI(forge, [CheckSpec(CHECK, state, 0.05)], poll=0.01).start())
        return Served(forge_server, forge)

    yield make
    for ci in started:
        ci.stop()


def _changeset(tmp_path: Path) -> Path:
    (tmp_path / "app.yaml").write_text("tag: 2\n")
    change = {"files": {"app.yaml": str(tmp_path / "app.yaml")}}
    document = {
        "version": 1,
        "defaults": {"branch": "prplan/release-2", "automerge": True, "title": "Release 2"},
        "stages": [
            {"name": "canary", "changes": [{"repo": CANARY, **change}], "timeout": "20s"},
            {"name": "fleet", "changes": [{"repo": FLEET, **change}], "timeout": "20s"},
        ],
    }
    path = tmp_path / "release.json"
    path.write_text(json.dumps(document))
    return path


def _apply(served: Served, changeset: Path, audit: Path) -> tuple[int, str]:
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": served.server.api_url, "NO_COLOR": "1"}
    args = ["apply", "--changeset", str(changeset), "--yes", "--audit-log", str(audit)]
    done = CliRunner().invoke(cli, args, env=env)
    return done.exit_code, done.output


def test_a_two_stage_release_over_protected_repositories_waits_for_ci_then_merges(
    gated: Callable[[str], Served], quick_polls: None, tmp_path: Path
) -> None:
    served = gated("success")
    code, out = _apply(served, _changeset(tmp_path), tmp_path / "audit.jsonl")
    assert code == 0, out
    for repo in (CANARY, FLEET):
        assert served.forge.read_file(repo, "main", "app.yaml") == b"tag: 2\n"
        (pull,) = served.forge.pull_requests(repo)
        assert pull.merged  # by GitHub's (the forge's) auto-merge, once CI was green
    # The fleet's first write started only after the forge merged the canary.
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    fleet = [r["time"] for r in records if r.get("repo") == FLEET and r["type"] == "action_started"]
    merged_at = served.forge.pull_row(CANARY, 1)["merged_at"]
    first = datetime.datetime.fromisoformat(min(fleet).replace("Z", "+00:00")).timestamp()
    assert first >= merged_at - 0.001, (first, merged_at)
    assert served.violations == []


def test_a_failing_check_in_the_canary_stage_leaves_the_fleet_untouched(
    gated: Callable[[str], Served], quick_polls: None, tmp_path: Path
) -> None:
    served = gated("failure")
    code, out = _apply(served, _changeset(tmp_path), tmp_path / "audit.jsonl")
    assert code == 5, out  # MergeBlocked: a required check failed while waiting
    assert CHECK in out and "canary" in out
    (pull,) = served.forge.pull_requests(CANARY)
    assert pull.is_open and not pull.merged
    assert served.forge.read_file(CANARY, "main", "app.yaml") == b"tag: 1\n"
    assert served.forge.branches(FLEET).keys() == {"main"}  # not a branch, not a pull request
    assert served.forge.pull_requests(FLEET) == []


def test_a_check_reporting_between_the_refused_merge_and_the_arming_merges_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The race the stand-in CI met: the merge is refused (check pending),
    the check turns green, and GitHub then refuses to arm a pull request
    that can merge now. prplan merges it then, once."""
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(CANARY, {"app.yaml": "tag: 1\n"})
    forge.protect_branch(CANARY, "main", required_checks=[CHECK])
    arm = forge.enable_auto_merge

    def check_reports_first(*args: object, **options: object) -> object:
        (pull,) = forge.pull_requests(CANARY)
        forge.set_status(CANARY, pull.head_sha, CHECK, "success")
        return arm(*args, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(forge, "enable_auto_merge", check_reports_first)
    request = prplan.ChangeRequest(
        repo=CANARY, branch="prplan/r", files={"app.yaml": "tag: 2\n"}, automerge=True
    )
    outcome = prplan.apply(prplan.plan(prplan.observe(forge, request), request), forge)
    assert outcome.status is prplan.OutcomeStatus.MERGED, outcome.error
    assert forge.read_file(CANARY, "main", "app.yaml") == b"tag: 2\n"


# --- every gate x merge_when: over HTTP as directly -----------------------------------------

BRANCH = "prplan/up"
REPO = "acme/app"


def _gate_forge(gate: str, armed: bool, queue: bool) -> prplan.LocalForge:
    """A forge whose open pull request (prplan's, carrying the change) has
    ``gate``; ``armed``: a human enabled auto-merge; ``queue``: main merges
    through a merge queue."""
    forge = prplan.LocalForge.in_memory(clock=lambda: 1_764_000_000.0)
    forge.create_repo(REPO, {"app.yaml": "tag: 1\n", "other.yaml": "x: 1\n"})
    request = _request("auto")
    prplan.apply(
        prplan.plan(prplan.observe(forge, attrs_no_merge(request)), attrs_no_merge(request)),
        forge,
    )
    (pull,) = forge.pull_requests(REPO)
    checks = [CHECK] if gate in {"pending", "failing", "behind"} else []
    forge.protect_branch(
        REPO,
        "main",
        required_checks=checks,
        required_approvals=1 if gate == "needs_review" else 0,
        strict=gate == "behind",
        merge_queue=queue,
    )
    if gate == "failing":
        forge.set_status(REPO, pull.head_sha, CHECK, "failure")
    if gate == "behind":
        forge.set_status(REPO, pull.head_sha, CHECK, "success")
        forge.push(REPO, "main", {"other.yaml": "x: 2\n"}, message="Base moves on")
    if gate == "conflict":
        forge.push(REPO, "main", {"app.yaml": "tag: 3\n"}, message="Base changes the file")
    if gate == "draft":
        forge.set_draft(REPO, pull.number, True)
    if armed:
        forge.enable_auto_merge(REPO, pull.number, "merge", by="human")
    return forge


def attrs_no_merge(request: prplan.ChangeRequest) -> prplan.ChangeRequest:
    import attrs

    return attrs.evolve(request, automerge=False)


def _request(when: str) -> prplan.ChangeRequest:
    return prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"app.yaml": "tag: 2\n"}, automerge=True,
        merge_when=when, title="Up",
    )  # fmt: skip


#: (gate, armed, queue): auto-merge can be armed only where the gate blocks.
GATES = [
    ("clean", False, False),
    ("clean", False, True),
    ("pending", False, False),
    ("pending", True, False),
    ("pending", False, True),
    ("failing", False, False),
    ("needs_review", False, False),
    ("needs_review", True, False),
    ("behind", False, False),
    ("conflict", False, False),
    ("draft", False, False),
]
CASES = [(g, a, q, w) for g, a, q in GATES for w in ("auto", "now")]


@pytest.mark.parametrize(
    ("gate", "armed", "queue", "when"),
    CASES,
    ids=[f"{g}{'-armed' if a else ''}{'-queue' if q else ''}-{w}" for g, a, q, w in CASES],
)
@pytest.mark.parametrize("transport", ["graphql", "rest"])
def test_every_gate_is_planned_and_applied_over_http_as_directly(
    gate: str, armed: bool, queue: bool, when: str, transport: str, forge_server: ForgeServer
) -> None:
    request = _request(when)
    direct = _gate_forge(gate, armed, queue)
    served = Served(forge_server, _gate_forge(gate, armed, queue))
    client = served.new_client(transport=transport, retries=0, timeout=5)

    seen_direct, seen_http = prplan.observe(direct, request), prplan.observe(client, request)
    (pull,) = [p for p in seen_http.pull_requests if p.is_open]
    assert pull.gate.value == gate
    assert (pull.armed.value != "none") == armed and seen_http.merge_queue == queue
    plan_direct, plan_http = prplan.plan(seen_direct, request), prplan.plan(seen_http, request)
    assert (plan_http.rule, plan_http.actions, plan_http.refusal) == (
        plan_direct.rule, plan_direct.actions, plan_direct.refusal,
    )  # fmt: skip

    outcome_direct = prplan.apply(plan_direct, direct)
    outcome_http = prplan.apply(plan_http, client)
    assert (outcome_http.status, outcome_http.error_type) == (
        outcome_direct.status, outcome_direct.error_type,
    )  # fmt: skip
    pulls = [(p.number, p.state, p.merged) for p in served.forge.pull_requests(REPO)]
    assert pulls == [(p.number, p.state, p.merged) for p in direct.pull_requests(REPO)]
    assert served.violations == []


@pytest.mark.parametrize("over_http", [False, True], ids=["direct", "http"])
def test_a_protected_head_branch_is_never_reset_directly_as_over_http(
    over_http: bool, forge_server: ForgeServer
) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(CANARY, {"app.yaml": "tag: 1\n"})
    forge.push(CANARY, "prplan/r", {"notes.txt": "a human's\n"}, message="Mine")
    forge.protect_branch(CANARY, "prplan/r")
    client: prplan.ForgeClient = Served(forge_server, forge).client if over_http else forge
    request = prplan.ChangeRequest(
        repo=CANARY, branch="prplan/r", files={"app.yaml": "tag: 2\n"}, branch_policy="reset"
    )
    plan = prplan.plan(prplan.observe(client, request), request)
    assert plan.refusal is not None and plan.refusal.code.value == "branch_protected"

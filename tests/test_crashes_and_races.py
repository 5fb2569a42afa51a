"""Crashes and races, through the real command against the forge over HTTP.

Crashes: ``prplan apply`` (plan and apply in one go) is SIGKILLed while the
server holds its k-th write, for every write it makes on the way from no
branch to a merged pull request with its branch deleted, in two modes:

* ``boundary``: the held write is dropped without being handled, so the
  process dies between two writes;
* ``mid-request``: the held write is handled after the process died, so the
  write happens and its answer is lost.

Running the same command again must exit 0 and leave exactly the state an
uninterrupted run leaves on a fresh forge built the same way.

Races: two processes applying the same request at once, and a human acting
on the forge between ``prplan plan --out`` and ``prplan apply PLAN``.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import prplan
from prplan.forges.local.server.app import API, ForgeServer
from prplan.run.executor import _Run

from served import FIXED_CLOCK, TOKEN, Served, fixed_clock

REPO = "acme/app"
BRANCH = "prplan/bump"
VALUES = b"tag: 2\n"
LOGO = b"\x89PNG\x00new\xff"  # not UTF-8: a blob write of its own

#: The writes of an uninterrupted run, in order (checked by the first test).
WRITES = [
    ("POST", f"/repos/{REPO}/git/blobs"),
    ("POST", f"/repos/{REPO}/git/trees"),
    ("POST", f"/repos/{REPO}/git/commits"),
    ("POST", f"/repos/{REPO}/git/refs"),
    ("POST", f"/repos/{REPO}/pulls"),
    ("PUT", f"/repos/{REPO}/pulls/1/merge"),
    ("DELETE", f"/repos/{REPO}/git/refs/heads/{BRANCH}"),
]
#: How long the server holds the write it was told to: long enough to see the
#: injection and kill the process (milliseconds), short enough to keep the run fast.
HOLD = 1.0
#: The same over GraphQL: the mutations, after the one observe query.
GRAPHQL_WRITES = [
    ("POST", "WriteBranchAndCommit"),
    ("POST", "CreatePullRequest"),
    ("POST", "MergePullRequest"),
    ("POST", "UpdateRefs"),
]
TRANSPORTS = ("rest", "graphql")


def _fresh_forge() -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory(clock=fixed_clock)
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n", "logo.png": b"\x89PNG\x00old"})
    return forge


def _local_files(directory: Path) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "values.yaml").write_bytes(VALUES)
    (directory / "logo.png").write_bytes(LOGO)
    return [
        "--file",
        f"values.yaml={directory / 'values.yaml'}",
        "--file",
        f"logo.png={directory / 'logo.png'}",
    ]


def _change(directory: Path, transport: str = "rest") -> list[str]:
    """The change's options: both files, merged, branch deleted, through ``transport``."""
    return [
        "--github-transport",
        transport,
        "--repo",
        REPO,
        "--branch",
        BRANCH,
        *_local_files(directory),
        "--automerge",
        "--delete-branch",
    ]


def _env(server: ForgeServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"GH_TOKEN", "GITHUB_TOKEN"}}
    env.update(GITHUB_TOKEN=TOKEN, GITHUB_API_URL=server.api_url, NO_COLOR="1")
    return env


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "prplan", *args]


def _run(server: ForgeServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(*args), env=_env(server), capture_output=True, text=True, timeout=60
    )


def _state(forge: prplan.LocalForge) -> dict[str, Any]:
    """Everything observable that the change decides."""
    return {
        "files on main": forge.files(REPO, "main"),
        "main": forge.branches(REPO).get("main"),  # the fixed clock makes shas repeatable
        "history of main": [(c.summary, c.by_prplan) for c in forge.log(REPO, "main")],
        "branches": sorted(forge.branches(REPO)),
        "pull requests": [
            (p.number, p.state, p.merged, p.title, p.head_branch, p.base_branch)
            for p in forge.pull_requests(REPO)
        ],
    }


def _writes(served: Served) -> list[tuple[str, str]]:
    return [
        (method, path[len(API) :])
        for method, path, _ in served.app.log.entries
        # a GraphQL query (REST asks one: does base merge through a queue) reads
        if method in {"POST", "PATCH", "PUT", "DELETE"} and not path.endswith("/graphql")
    ]


Uninterrupted = dict[str, tuple[dict[str, Any], list[tuple[str, str]]]]


@pytest.fixture(scope="module")
def uninterrupted(
    forge_server: ForgeServer, tmp_path_factory: pytest.TempPathFactory
) -> Uninterrupted:
    """Per transport, the state an uninterrupted run leaves on a fresh forge,
    and its writes (REST) or its GraphQL documents' operations (GraphQL)."""
    out: Uninterrupted = {}
    for transport in TRANSPORTS:
        served = Served(forge_server, _fresh_forge())
        change = _change(tmp_path_factory.mktemp("local"), transport)
        done = _run(forge_server, "apply", *change, "--yes")
        assert done.returncode == 0, done.stderr
        operations = [("POST", operation) for operation in served.check.operations]
        out[transport] = (
            _state(served.forge),
            _writes(served) if transport == "rest" else operations,
        )
    return out


def test_an_uninterrupted_run_makes_the_writes_the_kill_points_assume(
    uninterrupted: Uninterrupted,
) -> None:
    for transport, writes in (
        ("rest", WRITES),
        ("graphql", [("POST", "Observe"), *GRAPHQL_WRITES]),
    ):
        state, made = uninterrupted[transport]
        assert made == writes
        assert state["files on main"] == {"values.yaml": VALUES, "logo.png": LOGO}
        assert state["branches"] == ["main"]
        assert [pr[1:3] for pr in state["pull requests"]] == [("closed", True)]
    # The same commits (the fixed clock gives them one time: their order may differ).
    assert sorted(uninterrupted["rest"][0]["history of main"]) == sorted(
        uninterrupted["graphql"][0]["history of main"]
    )


def _hold_and_kill(served: Served, process: subprocess.Popen[bytes]) -> None:
    """Wait until the server holds the write, then SIGKILL the process."""
    deadline = time.monotonic() + 20
    while not served.faults.injected:
        assert process.poll() is None, "the command ended before the write was held"
        assert time.monotonic() < deadline, "the write was never held"
        time.sleep(0.002)
    seen = time.monotonic()
    process.kill()
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    # The process died while the server still held the write: the kill point is the one named.
    assert time.monotonic() - seen < HOLD / 2


def _hold(served: Served, transport: str, k: int, mode: str) -> tuple[str, str]:
    """Make the server hold the k-th write; the (method, what) it must be."""
    drop = {"drop": "before"} if mode == "boundary" else {}
    if transport == "graphql":  # the k-th mutation: after the one observe query
        served.faults.add(method="POST", path=r"/graphql$", skip=1 + k, delay=HOLD, times=1, **drop)
        return GRAPHQL_WRITES[k]
    served.faults.add(
        method="POST|PATCH|PUT|DELETE", path=r"^/repos/", skip=k, delay=HOLD, times=1, **drop
    )
    return WRITES[k]


def _held(served: Served, k: int, entry: tuple[str, str, int] | None = None) -> tuple[str, str]:
    """What the server held (or ``entry``, a request it handled): (method,
    path under the API), a GraphQL document by its operation (the (1+k)-th)."""
    if entry is None:
        method, path, _ = served.faults.injected[0]  # its path is under the API already
    else:
        method, path = entry[0], entry[1][len(API) :] if entry[1].startswith(API) else entry[1]
    if path.endswith("/graphql"):
        return method, served.check.operations[1 + k]
    return method, path


def _kill_at(served: Served, transport: str, k: int, mode: str, command: list[str]) -> None:
    """Run ``command``, SIGKILL it while the server holds its k-th write, and
    (mid-request) wait until the server handled that write for the dead client."""
    write = _hold(served, transport, k, mode)
    process = subprocess.Popen(
        command, env=_env(served.server), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _hold_and_kill(served, process)
    handled = len(served.app.log.entries)  # the client is dead: only the held write may follow
    served.faults.release()  # the process died while the write was held: let it go on now
    assert _held(served, k) == write, "the k-th write is the one held"
    if mode == "mid-request":
        # The server handles the write after its client died: it happens, its answer is lost.
        deadline = time.monotonic() + HOLD + 30  # generous: a loaded machine is slow, not wrong
        while len(served.app.log.entries) == handled:
            assert time.monotonic() < deadline, "the held write was never handled"
            time.sleep(0.01)
        (late,) = served.app.log.entries[handled:]
        assert _held(served, k, late) == write and late[2] < 300, late
    served.faults.clear()


#: A kill mid-request at each write (the write happens, its answer is lost:
#: the re-run must adopt it, never make it twice), over both transports
#: (GraphQL's 4 writes: branch and commit, pull request, merge, delete).
#: At the boundaries only before REST's first write: a kill between two
#: writes leaves on the forge exactly what a kill mid-request of the one
#: before leaves (that write handled, the next never sent), so those
#: boundary cases proved nothing more and cost ~11 s of the CI budget.
KILLS = (
    [("rest", 0, "boundary")]
    + [("rest", k, "mid-request") for k in range(len(WRITES))]
    + [("graphql", k, "mid-request") for k in range(len(GRAPHQL_WRITES))]
)


@pytest.mark.parametrize(
    ("transport", "k", "mode"), KILLS, ids=[f"{t}-write{k}-{m}" for t, k, m in KILLS]
)
def test_a_kill_at_any_write_converges_on_rerun(
    transport: str,
    k: int,
    mode: str,
    forge_server: ForgeServer,
    tmp_path: Path,
    uninterrupted: Uninterrupted,
) -> None:
    expected, _ = uninterrupted[transport]
    served = Served(forge_server, _fresh_forge())
    command = _command("apply", *_change(tmp_path, transport), "--yes")
    _kill_at(served, transport, k, mode, command)

    again = subprocess.run(
        command, env=_env(forge_server), capture_output=True, text=True, timeout=60
    )

    assert again.returncode == 0, again.stdout + again.stderr
    state = _state(served.forge)
    assert state == expected
    pulls = served.forge.pull_requests(REPO)
    assert len(pulls) <= 1 and [p.merged for p in pulls] == [True]
    assert served.violations == []


# --- races --------------------------------------------------------------------------------


#: Five attempts in all (~2.5 s each on a loaded machine): three over REST, two over GraphQL.
TWINS = [("rest", attempt) for attempt in range(3)] + [("graphql", a) for a in range(2)]


@pytest.mark.parametrize(("transport", "attempt"), TWINS, ids=[f"{t}-{a}" for t, a in TWINS])
def test_two_processes_applying_the_same_request_at_once(
    transport: str, attempt: int, forge_server: ForgeServer, tmp_path: Path
) -> None:
    served = Served(forge_server, _fresh_forge())
    change = _change(tmp_path, transport)
    processes = [
        subprocess.Popen(
            _command("apply", *change, "--yes"),
            env=_env(forge_server),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60) for p in processes]
    codes = [p.returncode for p in processes]
    results = list(zip(codes, outputs, strict=True))

    assert all(code in {0, 4, 5} for code in codes), results
    assert 0 in codes, results
    (pr,) = served.forge.pull_requests(REPO)
    assert pr.head_branch == BRANCH and pr.merged
    assert served.forge.files(REPO, "main") == {"values.yaml": VALUES, "logo.png": LOGO}

    again = _run(forge_server, "apply", *change, "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    planned = _run(forge_server, "plan", *change)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert [p.number for p in served.forge.pull_requests(REPO)] == [pr.number]
    assert BRANCH not in served.forge.branches(REPO)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_stalled_twin_never_opens_a_second_pull_request(
    transport: str, forge_server: ForgeServer, tmp_path: Path
) -> None:
    """The same race, with one process stalled (a slow network, a rate-limit
    wait) between observing and its first write while the other one runs the
    whole change, down to deleting the branch. The stalled one's plan ("no
    branch, no pull request") is then stale in a way no compare-and-swap sees:
    the branch it creates is absent again. It must not open a second pull
    request nor land the change a second time."""
    ticks = itertools.count(FIXED_CLOCK)  # each commit its own second, as on a real clock
    forge = prplan.LocalForge.in_memory(clock=lambda: next(ticks))
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n", "logo.png": b"\x89PNG\x00old"})
    served = Served(forge_server, forge)
    # The stall ends when the test releases it (below), not by this bound: a
    # bound large enough that a loaded machine (the suite runs on every
    # core) still finishes the other run inside it.
    stall = 15.0
    if transport == "graphql":  # its first write: the branch and the commit
        served.faults.add(method="POST", path=r"/graphql$", skip=1, delay=stall, times=1)
    else:
        served.faults.add(method="POST", path=r"/git/blobs$", delay=stall, times=1)
    change = _change(tmp_path, transport)
    stalled = subprocess.Popen(
        _command("apply", *change, "--yes"),
        env=_env(forge_server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not served.faults.injected:
        assert stalled.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    held = time.monotonic()
    other = _run(forge_server, "apply", *change, "--yes")
    assert time.monotonic() - held < stall, "the other run must finish while the first is held"
    # The other run is done. The stall must still be one the executor counts
    # as a stall (longer than its recheck threshold) before the stalled run goes on.
    time.sleep(max(0.0, held + _Run.PR_RECHECK_AFTER + 0.5 - time.monotonic()))
    served.faults.release()
    assert other.returncode == 0, other.stdout + other.stderr
    output = stalled.communicate(timeout=60)

    assert stalled.returncode in {0, 4, 5}, output
    pulls = forge.pull_requests(REPO)
    assert [p.merged for p in pulls] == [True], (
        f"pull requests {[(p.number, p.state, p.merged) for p in pulls]}; "
        f"the stalled run said:\n{output[0][-900:]}"
    )
    ours = [c for c in forge.log(REPO, "main") if c.by_prplan]
    assert len(ours) == 1, "the change lands once"
    again = _run(forge_server, "apply", *change, "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    assert _run(forge_server, "plan", *change).returncode == 0
    assert BRANCH not in forge.branches(REPO)


def _merge(forge: prplan.LocalForge, number: int) -> None:
    forge.merge_pr(REPO, number)


def _close(forge: prplan.LocalForge, number: int) -> None:
    forge.close_pr(REPO, number)


def _push_branch(forge: prplan.LocalForge, number: int) -> None:
    forge.push(REPO, BRANCH, {"notes.md": "a reviewer's note\n"}, message="Add a note")


def _push_base(forge: prplan.LocalForge, number: int) -> None:
    forge.push(REPO, "main", {"values.yaml": "tag: 1.9\n"}, message="Hotfix")


HUMANS = {
    "merges-the-pr": (_merge, "pull requests"),
    "closes-the-pr": (_close, "pull requests"),
    "pushes-to-the-branch": (_push_branch, f"branch {BRANCH}"),
    "pushes-to-base": (_push_base, "values.yaml on base"),
}


#: Every human over REST; over GraphQL (the saved plan's recheck is one
#: query) the two that move what it reads differently: the branch, and a
#: pull request's state (~2.5 s each).
STALE = [(human, "rest") for human in HUMANS] + [
    ("pushes-to-the-branch", "graphql"),
    ("merges-the-pr", "graphql"),
]


@pytest.mark.parametrize(("human", "transport"), STALE, ids=[f"{h}-{t}" for h, t in STALE])
def test_a_human_acting_between_plan_and_apply_makes_the_plan_stale(
    human: str, transport: str, forge_server: ForgeServer, tmp_path: Path
) -> None:
    forge = _fresh_forge()
    # An earlier run's pull request, left open for review.
    earlier = prplan.ChangeRequest(repo=REPO, branch=BRANCH, files={"values.yaml": "tag: 1.5\n"})
    first = prplan.apply(prplan.plan(prplan.observe(forge, earlier), earlier), forge)
    assert first.status is prplan.OutcomeStatus.CREATED
    served = Served(forge_server, forge)
    plan_file = tmp_path / "plan.json"
    change = _change(tmp_path / "local", transport)
    planned = _run(forge_server, "plan", *change, "--out", str(plan_file))
    assert planned.returncode == 2, planned.stdout + planned.stderr

    act, named = HUMANS[human]
    act(forge, first.pull_request)  # type: ignore[arg-type]
    before = (forge.branches(REPO), forge.pull_requests(REPO), served.app.log.writes)

    applied = _run(forge_server, "apply", "--github-transport", transport, str(plan_file))

    assert applied.returncode == 4, applied.stdout + applied.stderr
    assert named in applied.stderr, applied.stderr
    assert (forge.branches(REPO), forge.pull_requests(REPO), served.app.log.writes) == before


# --- races over GraphQL, in-process: findings of the suites above -------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_human_commit_of_the_same_tree_on_the_same_parent_is_not_adopted(
    transport: str, forge_server: ForgeServer
) -> None:
    """A human pushes, between prplan's plan and its commit, exactly the
    tree prplan predicted onto the same parent. ``createCommitOnBranch``
    loses its compare-and-swap (``STALE_DATA``); the read-back that adopts a
    lost answer must not take the human's commit for prplan's (its message
    is not prplan's sealed one): the run loses the race, typed."""
    forge = _fresh_forge()
    earlier = prplan.ChangeRequest(repo=REPO, branch=BRANCH, files={"values.yaml": "tag: 1.5\n"})
    prplan.apply(prplan.plan(prplan.observe(forge, earlier), earlier), forge)
    served = Served(forge_server, forge)
    client = served.new_client(transport=transport, retries=3, backoff=0.0, timeout=5)
    request = prplan.ChangeRequest(repo=REPO, branch=BRANCH, files={"values.yaml": VALUES})
    plan = prplan.plan(prplan.observe(client, request), request)
    pushed: list[str] = []

    class HumanPushesTheSameTree(prplan.Reporter):
        def action_started(self, repo: str, index: int, action: object) -> None:
            if isinstance(action, prplan.Commit):  # after the recheck, before the commit
                pushed.append(forge.push(REPO, BRANCH, {"values.yaml": VALUES}, message="By hand"))

    outcome = prplan.apply(plan, client, reporter=HumanPushesTheSameTree())

    (human,) = pushed
    assert outcome.status is prplan.OutcomeStatus.FAILED, outcome
    assert outcome.error_type == "ConflictError", outcome.error
    assert forge.branches(REPO)[BRANCH] == human
    assert not forge.log(REPO, BRANCH)[0].by_prplan

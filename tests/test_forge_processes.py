"""The on-disk local forge shared by several processes (issue 9, part 8).

A forge directory is used by ``prplan forge serve`` and by CLI runs with
``--local`` at the same time. Before the cross-process lock, two runs racing
on one branch lost updates (a run reported "created PR #1" while its commit
was unreachable and the pull request carried the other run's content) and
crashed with dulwich's ``FileLocked`` tracebacks.

Here: exact compare-and-swap on refs (unit tests), a lock held by another
process (timeout, clear error), and real races between processes, through
the Python API (forked processes) and through ``prplan apply`` (subprocesses),
after which the "no lost update" invariants are checked.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import filelock
import pytest

import prplan
from prplan import ConflictError, ForgeError
from prplan.forges.local.server.app import ForgeServer

from served import Served

REPO = "acme/app"
PATH = "values.yaml"
BASE_CONTENT = b"tag: 0\n"


def _new_forge(directory: Path) -> None:
    forge = prplan.LocalForge.open(directory)
    forge.create_repo(REPO, {PATH: BASE_CONTENT})
    forge.close()


@pytest.fixture(params=["memory", "disk"])
def forge(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[prplan.LocalForge]:
    if request.param == "memory":
        made = prplan.LocalForge.in_memory()
    else:
        made = prplan.LocalForge.open(tmp_path / "forge")
    made.create_repo(REPO, {PATH: BASE_CONTENT})
    yield made
    made.close()


# --- exact compare-and-swap ---------------------------------------------------------------


def test_expected_absent_fails_when_the_branch_exists_and_moves_nothing(
    forge: prplan.LocalForge,
) -> None:
    theirs = forge.push(REPO, "topic", {PATH: "theirs\n"})
    main = forge.branches(REPO)["main"]

    with pytest.raises(ConflictError, match="topic"):
        forge.commit_files(
            REPO, "topic", parent_sha=main, files={PATH: b"ours\n"}, message="m", create=True
        )
    # The branch-level primitive itself: "expected absent" never overwrites.
    with pytest.raises(ConflictError, match="not at nothing"):
        forge._set_branch(REPO, "topic", main, expected=None)

    assert forge.branches(REPO)["topic"] == theirs
    assert forge.read_file(REPO, "topic", PATH) == b"theirs\n"


def test_update_with_a_wrong_expected_sha_fails_and_moves_nothing(
    forge: prplan.LocalForge,
) -> None:
    first = forge.push(REPO, "topic", {PATH: "one\n"})
    second = forge.push(REPO, "topic", {PATH: "two\n"})

    with pytest.raises(ConflictError, match=f"not at {first[:7]}"):
        forge.reset_branch(REPO, "topic", first, expected_sha=first)
    with pytest.raises(ConflictError, match="someone pushed"):
        forge.commit_files(REPO, "topic", parent_sha=first, files={PATH: b"x\n"}, message="m")
    with pytest.raises(ConflictError):  # expected a sha, but the branch is absent
        forge.reset_branch(REPO, "gone", first, expected_sha=first)

    assert forge.branches(REPO)["topic"] == second
    assert "gone" not in forge.branches(REPO)


def test_creating_a_ref_that_exists_is_refused(forge: prplan.LocalForge) -> None:
    main = forge.branches(REPO)["main"]
    forge.create_ref(REPO, "refs/tags/v1", main)
    other = forge.push(REPO, "topic", {PATH: "x\n"})

    with pytest.raises(ForgeError, match="already exists"):
        forge.create_ref(REPO, "refs/tags/v1", other)
    assert forge.refs(REPO, "refs/tags/") == {"refs/tags/v1": main}


def test_a_ref_locked_by_another_git_process_is_a_conflict_not_a_traceback(
    tmp_path: Path,
) -> None:
    forge = prplan.LocalForge.open(tmp_path / "forge")
    forge.create_repo(REPO, {PATH: BASE_CONTENT})
    head = forge.push(REPO, "topic", {PATH: "one\n"})
    # What git leaves while it writes a ref (or after it was killed doing so).
    lock = tmp_path / "forge" / "repos" / f"{REPO}.git" / "refs" / "heads" / "topic.lock"
    lock.write_text("")

    with pytest.raises(ConflictError, match=r"another git process .*'\.lock' file"):
        forge.push(REPO, "topic", {PATH: "two\n"})
    with pytest.raises(ConflictError, match="another git process"):
        forge.remove_branch(REPO, "topic")
    assert forge.branches(REPO)["topic"] == head

    lock.unlink()
    forge.push(REPO, "topic", {PATH: "two\n"})
    assert forge.read_file(REPO, "topic", PATH) == b"two\n"


# --- the lock between processes ----------------------------------------------------------


def test_a_call_waits_for_another_process_then_gives_up_with_a_clear_error(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "forge"
    _new_forge(directory)
    forge = prplan.LocalForge.open(directory, lock_timeout=0.3)
    # Another process's lock, as `prplan forge serve` holds it during a push
    # (flock locks of two open files conflict even within one process).
    other = filelock.FileLock(directory / "forge.lock")

    with other:
        with pytest.raises(ForgeError, match=r"forge\.lock for over 0\.3 s.*nothing was changed"):
            forge.push(REPO, "topic", {PATH: "x\n"})
        with pytest.raises(ForgeError, match=r"forge\.lock"):
            forge.branch_sha(REPO, "main")  # reads wait too: they see no half-done write
    assert "topic" not in forge.branches(REPO)

    forge.push(REPO, "topic", {PATH: "x\n"})
    assert forge.read_file(REPO, "topic", PATH) == b"x\n"


def test_an_in_memory_forge_takes_no_file_lock(tmp_path: Path) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {PATH: BASE_CONTENT})
    forge.push(REPO, "topic", {PATH: "x\n"})
    assert forge.root is None
    assert list(tmp_path.iterdir()) == []


# --- real races ---------------------------------------------------------------------------


def _request(branch: str, content: bytes) -> prplan.ChangeRequest:
    return prplan.ChangeRequest(
        repo=REPO, branch=branch, files={PATH: content}, create_pr=True, title=f"Set {branch}"
    )


def _racer(
    directory: str, branch: str, content: bytes, recheck: bool, start: Any, out: str
) -> None:
    """One run in a forked process: observe, plan, apply; what it reported goes to ``out``."""
    record: dict[str, Any] = {"content": content.decode()}
    try:
        forge = prplan.LocalForge.open(directory)
        request = _request(branch, content)
        start.wait(timeout=30)
        plan = prplan.plan(prplan.observe(forge, request), request)
        outcome = prplan.apply(plan, forge, recheck=recheck)
        done = {r.index for r in outcome.actions if r.status == "done"}
        record.update(
            status=outcome.status.value,
            error_type=outcome.error_type,
            pull_request=outcome.pull_request,
            commits=[r.sha for r in outcome.actions if r.kind == "commit" and r.status == "done"],
            # Commits this run said it drops (a reset of a branch holding only prplan's commits).
            dropped=[
                c.sha
                for i, action in enumerate(plan.actions)
                if i in done and isinstance(action, prplan.ResetBranch)
                for c in action.dropped
            ],
        )
    except prplan.StalePlanError as error:
        record.update(status="raised", error_type=type(error).__name__, commits=[], dropped=[])
    except BaseException as error:  # the test reports it: a race must never crash a run
        record.update(status="crashed", error_type=type(error).__name__)
        record["traceback"] = traceback.format_exc()
    Path(out).write_text(json.dumps(record))


def _check_no_lost_update(
    forge: prplan.LocalForge, branch: str, runs: list[dict[str, Any]]
) -> None:
    """What every run reported is true of the forge after the race."""
    context = json.dumps(runs, indent=1)
    for run in runs:
        # Every run ends in success or a typed "you lost the race", never a crash.
        assert run["status"] in {"created", "updated", "unchanged", "failed", "raised"}, context
        if run["status"] in {"failed", "raised"}:
            assert run["error_type"] in {"ConflictError", "StalePlanError"}, context
    assert any(run["status"] in {"created", "updated"} for run in runs), context

    head = forge.branches(REPO)[branch]
    on_branch = {c.sha for c in forge.log(REPO, branch)}
    dropped = {sha for run in runs for sha in run["dropped"]}
    reported: dict[str, str] = {}
    for run in runs:
        for sha in run["commits"]:
            reported[sha] = run["content"]
            # A reported commit holds exactly what its run wrote ...
            assert forge.read_file(REPO, sha, PATH) == run["content"].encode(), context
            # ... and stays on the branch, unless a run said it drops it.
            assert sha in on_branch or sha in dropped, context
    # The branch holds a commit some run reported (no silent write), with its content.
    assert head in reported, context
    # One pull request, following the branch: it carries the last reported content.
    (pull,) = [p for p in forge.pull_requests(REPO) if p.head_branch == branch]
    assert pull.state == "open" and pull.head_sha == head, context
    assert forge.read_file(REPO, pull.head_sha, PATH) == reported[head].encode()
    assert {run["pull_request"] for run in runs if run.get("pull_request")} == {pull.number}


RACES = 20


def test_processes_racing_on_one_branch_never_lose_an_update(tmp_path: Path) -> None:
    directory = tmp_path / "forge"
    _new_forge(directory)
    context = multiprocessing.get_context("fork")
    every: list[list[dict[str, Any]]] = []
    for race in range(RACES):
        branch = f"prplan/race-{race}"
        start = context.Barrier(2)
        outs = [tmp_path / f"race-{race}-{who}.json" for who in "ab"]
        processes = [
            context.Process(
                target=_racer,
                args=(
                    str(directory),
                    branch,
                    f"tag: {race}{who}\n".encode(),
                    race % 2 == 0,  # half as a saved plan (rechecked), half planned just now
                    start,
                    str(out),
                ),
            )
            for who, out in zip("ab", outs, strict=True)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=60)
            assert process.exitcode == 0
        every.append([json.loads(out.read_text()) for out in outs])

    forge = prplan.LocalForge.open(directory)
    for race, runs in enumerate(every):
        _check_no_lost_update(forge, f"prplan/race-{race}", runs)
    # The races were real: in some of them one run lost.
    statuses = [run["status"] for runs in every for run in runs]
    assert {"failed", "raised", "unchanged"} & set(statuses), statuses
    assert forge.branches(REPO)["main"] == forge.log(REPO, "main")[0].sha


CLI_RACES = 2


def _apply_command(directory: Path, branch: str, file: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "prplan",
        "apply",
        "--repo",
        REPO,
        "--local",
        str(directory),
        "--branch",
        branch,
        "--file",
        f"{PATH}={file}",
        "--title",
        f"Set {branch}",
        "--format",
        "json",
        "--yes",
    ]


def test_prplan_apply_processes_racing_exit_cleanly_and_lose_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "forge"
    _new_forge(directory)
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("GITHUB_TOKEN", None), env.pop("GH_TOKEN", None)
    for race in range(CLI_RACES):
        branch = f"prplan/cli-race-{race}"
        files = []
        for who in "ab":
            file = tmp_path / f"{race}{who}.yaml"
            file.write_bytes(f"tag: {race}{who}\n".encode())
            files.append(file)
        processes = [
            subprocess.Popen(
                _apply_command(directory, branch, file),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for file in files
        ]
        runs = []
        for file, process in zip(files, processes, strict=True):
            stdout, stderr = process.communicate(timeout=60)
            # 0 applied (or nothing left to do), 4 stale plan, 5 a compare-and-swap lost.
            assert process.returncode in {0, 4, 5}, (process.returncode, stdout, stderr)
            assert "Traceback" not in stderr and "FileLocked" not in stderr, stderr
            run: dict[str, Any] = {"content": file.read_text(), "dropped": []}
            if process.returncode == 4:
                run.update(status="raised", error_type="StalePlanError", commits=[])
            else:
                outcome = json.loads(stdout)
                done = [a for a in outcome["actions"] if a["status"] == "done"]
                run.update(
                    status=outcome["status"],
                    error_type=outcome["error_type"],
                    pull_request=outcome["pull_request"],
                    commits=[a["sha"] for a in done if a["kind"] == "commit"],
                )
                if any(a["kind"] == "reset_branch" for a in done):
                    run["dropped"] = ["*"]  # the CLI's outcome does not list them
            runs.append(run)
        forge = prplan.LocalForge.open(directory)
        if any(run["dropped"] for run in runs):
            for run in runs:  # a reported reset: only the last commit must be on the branch
                run["dropped"] = [c for r in runs for c in r["commits"]]
        _check_no_lost_update(forge, branch, runs)
        forge.close()


# --- a person's git push through the server, racing a run on the directory ---------------


def _git(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"GIT_TERMINAL_PROMPT": "0", "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "HOME": str(cwd), "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}  # fmt: skip
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=env
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")
def test_a_push_that_lost_the_race_to_a_run_on_the_directory_is_rejected(
    forge_server: ForgeServer, tmp_path: Path
) -> None:
    directory = tmp_path / "forge"
    _new_forge(directory)
    served = Served(forge_server, prplan.LocalForge.open(directory), token=None)
    work = tmp_path / "work"
    assert (
        _git("clone", "-q", f"{forge_server.url}/{REPO}.git", str(work), cwd=tmp_path).returncode
        == 0
    )
    (work / "human.txt").write_text("from git\n")
    assert _git("add", "human.txt", cwd=work).returncode == 0
    assert _git("commit", "-qm", "From git", cwd=work).returncode == 0
    # Hold the push after git read the refs, while another process writes main.
    served.faults.add(method="POST", path=".*git-receive-pack", delay=1.0, times=1)
    push = subprocess.Popen(
        ["git", "push", "origin", "main"], cwd=work, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                                "HOME": str(work), "GIT_TERMINAL_PROMPT": "0"},
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not served.faults.injected:
        assert push.poll() is None and time.monotonic() < deadline, push.communicate()
        time.sleep(0.01)
    run = prplan.LocalForge.open(directory)  # as `prplan apply --local` would, meanwhile
    theirs = run.push(REPO, "main", {PATH: "tag: theirs\n"})
    served.faults.release()  # the other writer is done: the held push may go on now
    _, stderr = push.communicate(timeout=60)

    # The push is refused, saying why, and the other writer's commit stays.
    assert push.returncode != 0, stderr
    assert "moved meanwhile" in stderr, stderr
    assert run.branches(REPO)["main"] == theirs
    assert run.read_file(REPO, "main", "human.txt") is None
    # Fetch, rebase, push again: both changes are there.
    assert _git("pull", "-q", "--rebase", "origin", "main", cwd=work).returncode == 0
    assert _git("push", "-q", "origin", "main", cwd=work).returncode == 0
    assert run.read_file(REPO, "main", "human.txt") == b"from git\n"
    assert run.read_file(REPO, "main", PATH) == b"tag: theirs\n"

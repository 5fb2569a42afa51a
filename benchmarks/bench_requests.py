"""Requests per change, counted at the server, for prplan and two peers (a
naive PyGithub script; git clone + commit + push, then REST for the pull
request and the merge, as create-pull-request does); and how many simple
GETs per second the local forge serves.

    .venv/bin/python benchmarks/bench_requests.py [--json]

Everything runs against ``prplan forge`` served on loopback in this process.
The naive script does what the legacy helper's callers did: a branch, then
per file ``get_contents`` and ``create_file``/``update_file`` (one commit per
file), then ``create_pull`` and ``merge``. The git peer clones over smart
HTTP (shallow, one branch), commits every file at once, pushes a new branch,
then opens and merges the pull request through PyGithub.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import github
from github import Auth, Github

import prplan
from prplan.forges.local.server.app import ForgeApp, ForgeServer

github.set_log_level(logging.WARNING)
TOKEN = "bench-token"
REPO = "acme/deployments"


def _files(count: int, version: str, *, binary: int = 0) -> dict[str, bytes]:
    files = {
        f"apps/app-{i:04d}/values.yaml": f"image:\n  tag: '{version}'\n".encode()
        for i in range(count)
    }
    for i in range(binary):
        files[f"charts/logo-{i}.png"] = b"\x89PNG\r\n\x1a\n" + version.encode() + bytes(range(256))
    return files


def _serve(files: dict[str, bytes]) -> tuple[ForgeServer, prplan.LocalForge]:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, files)
    return ForgeServer(ForgeApp(forge, token=TOKEN)).start(), forge


def _commits_on(forge: prplan.LocalForge, ref: str) -> int:
    return len(forge.log(REPO, ref))


def prplan_change(count: int, *, binary: int = 0, transport: str = "rest") -> dict[str, Any]:
    """(a)/(c): no branch -> merged PR; (b): the same request again."""
    server, forge = _serve(_files(count, "1.0", binary=binary))
    app = server.app
    try:
        client = prplan.GitHubClient(token=TOKEN, base_url=server.api_url, transport=transport)
        # The login the plans name (issue 15's identity line): read once per
        # client (REST: GET /user; GraphQL: in the observe query),
        # measured apart from the change (GraphQL: none to measure).
        if transport == "rest":
            client.writer()
        login = {"reads": app.log.reads, "writes": app.log.writes}
        app.log.reset()
        request = prplan.ChangeRequest(
            repo=REPO, branch="prplan/release-2.0", files=_files(count, "2.0", binary=binary),
            title="Release 2.0", automerge=True,
        )  # fmt: skip
        before = _commits_on(forge, "main")
        started = time.perf_counter()
        plan = prplan.plan(prplan.observe(client, request), request)
        outcome = prplan.apply(plan, client, recheck=False)  # plan + apply in one run
        first = {
            "reads": app.log.reads,
            "writes": app.log.writes,
            "seconds": time.perf_counter() - started,
        }
        assert outcome.status is prplan.OutcomeStatus.MERGED, outcome.error
        # A merge commit plus prplan's one commit: the change itself is one commit.
        first["commits"] = _commits_on(forge, "main") - before - 1
        app.log.reset()
        again = prplan.plan(prplan.observe(client, request), request)
        assert again.is_empty
        rerun = {"reads": app.log.reads, "writes": app.log.writes}
        return {"files": count, "binary": binary, "change": first, "rerun": rerun, "login": login}
    finally:
        server.stop()


def prplan_protected(transport: str, *, gate: str, when: str = "auto") -> dict[str, Any]:
    """A new change into a protected base under ``merge_when='auto'``: prplan
    arms GitHub's auto-merge first there (``run/gated.py``). ``gate``
    ``pending`` (a required check not reported yet): armed, GitHub merges
    later; ``clean`` (protected, nothing required): GitHub refuses to arm a
    pull request that can merge now, and prplan merges it. Under ``when``
    ``now`` (gate clean): the gate is read right before the direct merge
    (one query more), then merged."""
    server, forge = _serve(_files(3, "1.0"))
    forge.protect_branch(REPO, "main", required_checks=["ci"] if gate == "pending" else [])
    app = server.app
    try:
        client = prplan.GitHubClient(token=TOKEN, base_url=server.api_url, transport=transport)
        request = prplan.ChangeRequest(
            repo=REPO, branch="prplan/release-2.0", files=_files(3, "2.0"),
            title="Release 2.0", automerge=True, merge_when=when,
        )  # fmt: skip
        plan = prplan.plan(prplan.observe(client, request), request)
        outcome = prplan.apply(plan, client, recheck=False)
        want = prplan.OutcomeStatus.AUTO_MERGE_ENABLED if gate == "pending" else "merged"
        assert outcome.status == want, outcome.error
        return {"reads": app.log.reads, "writes": app.log.writes, "status": outcome.status.value}
    finally:
        server.stop()


def prplan_saved_plan(count: int, *, transport: str) -> dict[str, Any]:
    """A plan saved for review, then applied: the recheck included."""
    server, _ = _serve(_files(count, "1.0"))
    app = server.app
    try:
        client = prplan.GitHubClient(token=TOKEN, base_url=server.api_url, transport=transport)
        request = prplan.ChangeRequest(
            repo=REPO, branch="prplan/release-2.0", files=_files(count, "2.0"),
            title="Release 2.0", automerge=True,
        )  # fmt: skip
        saved = prplan.Plan.from_json(
            prplan.plan(prplan.observe(client, request), request).to_json()
        )
        app.log.reset()
        outcome = prplan.apply(saved, client)
        assert outcome.status is prplan.OutcomeStatus.MERGED, outcome.error
        return {"files": count, "reads": app.log.reads, "writes": app.log.writes}
    finally:
        server.stop()


def naive_change(count: int) -> dict[str, Any]:
    server, forge = _serve(_files(count, "1.0"))
    app = server.app
    try:
        gh = Github(base_url=server.api_url, auth=Auth.Token(TOKEN),
                    seconds_between_requests=None, seconds_between_writes=None)  # fmt: skip
        before = _commits_on(forge, "main")
        started = time.perf_counter()
        repo = gh.get_repo(REPO)
        branch = "legacy/release-2.0"
        repo.create_git_ref(f"refs/heads/{branch}", repo.get_branch(repo.default_branch).commit.sha)
        for path, content in _files(count, "2.0").items():
            try:
                current = repo.get_contents(path, ref=branch)
            except github.UnknownObjectException:
                repo.create_file(path, f"add {path}", content, branch=branch)
            else:
                assert not isinstance(current, list)
                repo.update_file(path, f"update {path}", content, current.sha, branch=branch)
        pr = repo.create_pull(base=repo.default_branch, head=branch, title="Release 2.0")
        pr.merge()
        return {
            "files": count,
            "reads": app.log.reads,
            "writes": app.log.writes,
            "commits": _commits_on(forge, "main") - before - 1,
            "seconds": time.perf_counter() - started,
        }
    finally:
        server.stop()


def _git(*args: str, cwd: Path | None = None) -> None:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "bench",
           "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "bench@example.com"}  # fmt: skip
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def git_push_change(count: int) -> dict[str, Any]:
    """create-pull-request's way: clone, commit every file, push a new
    branch, then REST for the pull request and the merge."""
    server, forge = _serve(_files(count, "1.0"))
    app = server.app
    try:
        url = server.url.replace("http://", f"http://x-access-token:{TOKEN}@")
        before = _commits_on(forge, "main")
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(scratch) / "work"
            _git("clone", "-q", "--depth", "1", "-b", "main", f"{url}/{REPO}.git", str(work))
            for path, content in _files(count, "2.0").items():
                (work / path).parent.mkdir(parents=True, exist_ok=True)
                (work / path).write_bytes(content)
            _git("add", "-A", cwd=work)
            _git("commit", "-q", "-m", "Release 2.0", cwd=work)
            _git("push", "-q", "origin", "HEAD:refs/heads/peer/release-2.0", cwd=work)
        gh = Github(base_url=server.api_url, auth=Auth.Token(TOKEN),
                    seconds_between_requests=None, seconds_between_writes=None)  # fmt: skip
        repo = gh.get_repo(REPO)
        pr = repo.create_pull(base="main", head="peer/release-2.0", title="Release 2.0")
        pr.merge()
        return {
            "files": count,
            "reads": app.log.reads,
            "writes": app.log.writes,
            "commits": _commits_on(forge, "main") - before - 1,
            "seconds": time.perf_counter() - started,
        }
    finally:
        server.stop()


def forge_gets_per_second(seconds: float = 2.0) -> dict[str, Any]:
    """Sequential simple GETs (a ref), one connection each as PyGithub's
    pool would see with this server, from one client thread."""
    server, _ = _serve({"README.md": b"hi\n"})
    try:
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
            connection.request(
                "GET",
                f"/api/v3/repos/{REPO}/git/ref/heads/main",
                headers={"Authorization": f"token {TOKEN}"},
            )
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            connection.close()
            count += 1
        elapsed = time.perf_counter() - started
        return {"requests": count, "seconds": elapsed, "per_second": count / elapsed}
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    results: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPU(s)",
        "prplan_3": prplan_change(3),
        "prplan_100": prplan_change(100),
        "prplan_1000": prplan_change(1000),
        "prplan_3_plus_2_binary": prplan_change(3, binary=2),
        "prplan_graphql_3": prplan_change(3, transport="graphql"),
        "prplan_graphql_1000": prplan_change(1000, transport="graphql"),
        "saved_rest_3": prplan_saved_plan(3, transport="rest"),
        "saved_graphql_3": prplan_saved_plan(3, transport="graphql"),
        "protected_graphql_pending": prplan_protected("graphql", gate="pending"),
        "protected_graphql_clean": prplan_protected("graphql", gate="clean"),
        "protected_rest_pending": prplan_protected("rest", gate="pending"),
        "protected_rest_clean": prplan_protected("rest", gate="clean"),
        "protected_graphql_now": prplan_protected("graphql", gate="clean", when="now"),
        "protected_rest_now": prplan_protected("rest", gate="clean", when="now"),
        "naive_3": naive_change(3),
        "naive_100": naive_change(100),
        "git_push_3": git_push_change(3),
        "git_push_100": git_push_change(100),
        "forge_gets": forge_gets_per_second(),
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return 0

    def total(row: dict[str, Any]) -> int:
        return int(row["reads"] + row["writes"])

    a, c = results["prplan_3"], results["prplan_1000"]
    print(f"Python {results['python']} on {results['machine']}")
    print(f"{'':38}{'reads':>7}{'writes':>8}{'total':>7}{'commits':>9}{'seconds':>9}")
    for name in (
        "prplan_3", "prplan_100", "prplan_1000", "prplan_3_plus_2_binary",
        "prplan_graphql_3", "prplan_graphql_1000",
    ):  # fmt: skip
        row = results[name]["change"]
        print(
            f"{name + ': change':38}{row['reads']:>7}{row['writes']:>8}{total(row):>7}{row['commits']:>9}{row['seconds']:>9.2f}"
        )
        rerun = results[name]["rerun"]
        print(f"{name + ': re-run':38}{rerun['reads']:>7}{rerun['writes']:>8}{total(rerun):>7}")
        login = results[name]["login"]
        print(
            f"{name + ': login, once per client':38}{login['reads']:>7}{login['writes']:>8}{total(login):>7}"
        )
    for name in ("saved_rest_3", "saved_graphql_3"):
        row = results[name]
        print(
            f"{name + ': apply a saved plan':38}{row['reads']:>7}{row['writes']:>8}{total(row):>7}"
        )
    for name in (
        "protected_graphql_pending", "protected_graphql_clean",
        "protected_rest_pending", "protected_rest_clean",
        "protected_graphql_now", "protected_rest_now",
    ):  # fmt: skip
        row = results[name]
        label = f"{name}: {'armed' if row['status'] == 'auto_merge_enabled' else 'merged'}"
        print(f"{label:38}{row['reads']:>7}{row['writes']:>8}{total(row):>7}")
    for name in ("naive_3", "naive_100", "git_push_3", "git_push_100"):
        row = results[name]
        print(
            f"{name:38}{row['reads']:>7}{row['writes']:>8}{total(row):>7}{row['commits']:>9}{row['seconds']:>9.2f}"
        )
    gets = results["forge_gets"]
    print(
        f"forge: {gets['per_second']:.0f} simple GETs per second ({gets['requests']} in {gets['seconds']:.1f} s)"
    )

    ratio = total(results["naive_100"]) / total(results["prplan_100"]["change"])
    goals = [
        (
            "(a) 3-file change <= 10 requests and one commit",
            total(a["change"]) <= 10 and a["change"]["commits"] == 1,
        ),
        (
            # 8: the open pull requests *into* the branch are read too (is it in use?)
            "(b) re-run <= 8 reads and no writes",
            a["rerun"]["reads"] <= 8 and a["rerun"]["writes"] == 0,
        ),
        ("(c) 1,000 files: same count as (a)", total(c["change"]) == total(a["change"])),
        (
            "    binary files: +1 request each",
            total(results["prplan_3_plus_2_binary"]["change"]) == total(a["change"]) + 2,
        ),
        (f">= 20x fewer than naive at 100 files ({ratio:.0f}x)", ratio >= 20),
        (">= 300 simple GETs/s", gets["per_second"] >= 300),
        (
            "GraphQL: 3 files -> merged PR <= 4 requests (1 read, 3 writes)",
            total(g3 := results["prplan_graphql_3"]["change"]) <= 4 and g3["writes"] <= 3,
        ),
        (
            "GraphQL: 1,000 files the same",
            total(results["prplan_graphql_1000"]["change"]) == total(g3),
        ),
        (
            "GraphQL: re-run with nothing to do: 1 read",
            total(results["prplan_graphql_3"]["rerun"]) == 1,
        ),
        (
            "GraphQL: apply a saved plan (recheck included) <= 4",
            total(results["saved_graphql_3"]) <= 4,
        ),
        (
            # the gate read right before a direct merge into a protected base
            "GraphQL, protected base, now, gate clean: merged PR <= 5 (2 reads, 3 writes)",
            total(p := results["protected_graphql_now"]) <= 5 and p["writes"] <= 3,
        ),
        (
            "GraphQL, protected base, auto: armed <= 4, clean and merged <= 5",
            total(results["protected_graphql_pending"]) <= 4
            and total(results["protected_graphql_clean"]) <= 5,
        ),
    ]
    print("\nGoals")
    for label, ok in goals:
        print(f"  {label}: {'pass' if ok else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

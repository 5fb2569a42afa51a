"""How fast is the planner? A standalone benchmark, not a test.

    .venv/bin/python benchmarks/bench_planner.py          # a table
    .venv/bin/python benchmarks/bench_planner.py --json   # the same figures as JSON

It measures the pure ``prplan.plan(snapshot, request)`` on snapshots built
by hand (so no forge cost is mixed in), then the costs around a large plan:
its JSON round trip, and ``observe`` + ``plan`` against an in-memory
``LocalForge``. It prints the figures next to the goals but never fails on
them: timings depend on the machine, so a slow run is information, not an
error. Figures are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import prplan

# The goals the figures are compared with (docs/benchmarks.md).
GOAL_PLANS_PER_SECOND = 10_000  # one-file request
GOAL_LARGE_PLAN_MS = 50.0  # 1,000-file request

REPO = "acme/deployments"
BRANCH = "prplan/bench"
LARGE = 1_000

# Stand-ins for commit shas: the planner only compares them, never resolves them.
BASE_SHA = "b" * 40
BRANCH_SHA = "c" * 40


# --- timing -------------------------------------------------------------------


def time_once(work: Callable[[], object], number: int = 1) -> float:
    """Seconds for ``number`` calls of ``work``."""
    start = time.perf_counter()
    for _ in range(number):
        work()
    return time.perf_counter() - start


def calibrate(work: Callable[[], object], min_seconds: float = 0.2) -> int:
    """How many calls make one run last at least ``min_seconds``: long enough
    that timer resolution and one-off hiccups are noise, short enough to
    repeat."""
    number = 1
    while time_once(work, number) < min_seconds:
        number *= 2
    return number


def throughput(work: Callable[[], object], runs: int) -> float:
    """Calls per second, from the best of ``runs`` runs. The best run is the
    one least disturbed by the rest of the machine, so it is the most
    repeatable figure for a pure function."""
    number = calibrate(work)
    best = min(time_once(work, number) for _ in range(runs))
    return number / best


def latency_ms(work: Callable[[], object], runs: int) -> dict[str, float]:
    """Best and median milliseconds of single calls, after one warm-up call
    (imports, caches and the first allocation of big structures are not what
    a user waits for on every run)."""
    work()
    samples = [time_once(work) * 1000 for _ in range(runs)]
    return {"best_ms": min(samples), "median_ms": statistics.median(samples)}


# --- situations ---------------------------------------------------------------


def content(i: int, tag: str) -> bytes:
    """A small Helm values file, like the files prplan is meant to change."""
    return (
        f"image:\n  repository: registry.example.com/acme/app-{i:04d}\n  tag: '{tag}'\n"
        "replicas: 3\n"
    ).encode()


def path(i: int) -> str:
    return f"apps/app-{i:04d}/values.yaml"


def request_for(count: int, tag: str = "1.4.2") -> prplan.ChangeRequest:
    files = {path(i): content(i, tag) for i in range(count)}
    return prplan.ChangeRequest(repo=REPO, branch=BRANCH, files=files, title="Deploy 1.4.2")


def blobs(count: int, tag: str) -> dict[str, str | None]:
    return {path(i): prplan.git_blob_sha(content(i, tag)) for i in range(count)}


def snapshot(**facts: Any) -> prplan.RepoSnapshot:
    """A snapshot of REPO/BRANCH with main at BASE_SHA; ``facts`` override."""
    fields: dict[str, Any] = {
        "repo": REPO,
        "default_branch": "main",
        "base": "main",
        "base_sha": BASE_SHA,
        "branch": BRANCH,
        "branch_sha": None,
    }
    fields.update(facts)
    return prplan.RepoSnapshot(**fields)


def no_branch(count: int) -> prplan.RepoSnapshot:
    """First run of a change: base holds the old content, nothing else exists."""
    return snapshot(base_blobs=blobs(count, "1.4.1"))


def open_pr_outdated(count: int) -> prplan.RepoSnapshot:
    """A pull request is open, but its branch carries an earlier version of
    the change (the request was revised before review)."""
    pr = prplan.PullRequestInfo(
        number=7,
        state="open",
        merged=False,
        head_branch=BRANCH,
        base_branch="main",
        head_sha=BRANCH_SHA,
        title="Deploy 1.4.2",
    )
    commit = prplan.CommitInfo(
        sha=BRANCH_SHA,
        summary="Deploy 1.4.2-rc1",
        author="prplan",
        tree_sha="a" * 40,
        sealed_tree="a" * 40,
    )
    return snapshot(
        branch_sha=BRANCH_SHA,
        pull_requests=(pr,),
        base_blobs=blobs(count, "1.4.1"),
        branch_blobs=blobs(count, "1.4.2-rc1"),
        branch_contains_base=True,
        commits_beyond_base=(commit,),
    )


def in_place(count: int) -> prplan.RepoSnapshot:
    """A re-run after the change was merged: base already holds it."""
    merged = prplan.PullRequestInfo(
        number=6,
        state="closed",
        merged=True,
        head_branch=BRANCH,
        base_branch="main",
        head_sha=BRANCH_SHA,
        merge_sha=BASE_SHA,
    )
    return snapshot(pull_requests=(merged,), base_blobs=blobs(count, "1.4.2"))


# name -> (snapshot builder, the rule the planner must pick). Checking the rule
# before timing guarantees each figure measures the situation it is named after.
SITUATIONS: dict[str, tuple[Callable[[int], prplan.RepoSnapshot], str]] = {
    "no PR, no branch": (no_branch, "absent_propose"),
    "open PR, branch lacks change": (open_pr_outdated, "open_update"),
    "content already in place": (in_place, "in_place"),
}


def checked_plan(
    situation: str, request: prplan.ChangeRequest, snap: prplan.RepoSnapshot
) -> prplan.Plan:
    result = prplan.plan(snap, request)
    expected = SITUATIONS[situation][1]
    if result.rule != expected:
        sys.exit(
            f"benchmark setup is wrong: {situation!r} planned {result.rule!r}, not {expected!r}"
        )
    return result


# --- measurements -------------------------------------------------------------


def bench_one_file(runs: int) -> dict[str, float]:
    """Plans per second for a one-file request, per situation."""
    request = request_for(1)
    out = {}
    for name, (build, _) in SITUATIONS.items():
        snap = build(1)
        checked_plan(name, request, snap)
        out[name] = throughput(lambda snap=snap: prplan.plan(snap, request), runs)
    return out


def bench_large(runs: int) -> dict[str, dict[str, float]]:
    """Milliseconds for the steps around a 1,000-file request."""
    request = request_for(LARGE)
    snap = no_branch(LARGE)
    large = checked_plan("no PR, no branch", request, snap)
    document = large.to_json()
    if prplan.Plan.from_json(document) != large:
        sys.exit("benchmark setup is wrong: the plan does not survive its JSON round trip")
    return {
        "plan": latency_ms(lambda: prplan.plan(snap, request), runs),
        "to_json": latency_ms(large.to_json, runs),
        "from_json": latency_ms(lambda: prplan.Plan.from_json(document), runs),
        "round trip": latency_ms(lambda: prplan.Plan.from_json(large.to_json()), runs),
        "observe + plan (LocalForge)": bench_local_forge(request, runs),
    }


def bench_local_forge(request: prplan.ChangeRequest, runs: int) -> dict[str, float]:
    """``observe`` + ``plan`` on an in-memory forge whose repository holds the
    1,000 files at their old content: the whole read side of a real run,
    without a network."""
    forge = prplan.LocalForge.in_memory(clock=lambda: 1_700_000_000.0)
    forge.create_repo(REPO, {path(i): content(i, "1.4.1") for i in range(LARGE)})
    try:
        checked_plan("no PR, no branch", request, prplan.observe(forge, request))
        return latency_ms(lambda: prplan.plan(prplan.observe(forge, request), request), runs)
    finally:
        forge.close()


def machine() -> dict[str, Any]:
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "cpu_count": os.cpu_count(),
        "prplan": prplan.__version__,
    }


def run(runs: int) -> dict[str, Any]:
    one_file = bench_one_file(runs)
    large = bench_large(runs)
    slowest = min(one_file.values())
    return {
        "machine": machine(),
        "runs": runs,
        "one_file_plans_per_second": one_file,
        "large_request_ms": large,
        "large_request_files": LARGE,
        "goals": {
            "one_file_plans_per_second": {
                "goal": GOAL_PLANS_PER_SECOND,
                "measured_slowest_situation": slowest,
                "pass": slowest >= GOAL_PLANS_PER_SECOND,
            },
            "large_plan_ms": {
                "goal": GOAL_LARGE_PLAN_MS,
                "measured_median": large["plan"]["median_ms"],
                "pass": large["plan"]["median_ms"] <= GOAL_LARGE_PLAN_MS,
            },
        },
    }


# --- output -------------------------------------------------------------------


def verdict(passed: bool) -> str:
    return "pass" if passed else "FAIL"


def print_table(results: dict[str, Any]) -> None:
    info = results["machine"]
    print(f"Python {info['python']} on {info['platform']}")
    print(f"machine {info['machine']}, {info['cpu_count']} CPU(s), prplan {info['prplan']}")
    print(f"best of {results['runs']} runs\n")

    print(f"{'1-file request':<34} {'plans/s':>10}")
    for name, rate in results["one_file_plans_per_second"].items():
        print(f"  {name:<32} {rate:>10,.0f}")

    print(f"\n{results['large_request_files']:,}-file request{'':<18} {'best ms':>8} {'median':>8}")
    for name, ms in results["large_request_ms"].items():
        print(f"  {name:<32} {ms['best_ms']:>8.1f} {ms['median_ms']:>8.1f}")

    goals = results["goals"]
    rate = goals["one_file_plans_per_second"]
    large = goals["large_plan_ms"]
    print("\nGoals")
    print(
        f"  >= {rate['goal']:,} plans/s, 1 file (slowest situation): "
        f"{rate['measured_slowest_situation']:,.0f}  {verdict(rate['pass'])}"
    )
    print(
        f"  <= {large['goal']:.0f} ms, 1,000-file plan (median): "
        f"{large['measured_median']:.1f}  {verdict(large['pass'])}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (default 5)")
    args = parser.parse_args(argv)
    results = run(max(args.runs, 1))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

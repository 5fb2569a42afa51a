"""A change set over many repositories against a forge with latency.

    .venv/bin/python benchmarks/bench_changeset.py [--repos 100] [--latency 0.05] [--json]

The local forge is served on loopback with ``--latency`` seconds added to
every request (fault injection) and no write spacing. Measured in the same
run, each as a subprocess (so peak memory is the client's own):

* prplan: ``prplan apply --changeset FILE`` (observe concurrently, writes one
  at a time, as on GitHub), over REST and over GraphQL
  (``--github-transport graphql``: the whole set observed in a few queries);
* a sequential loop over the single-repository command,
  ``prplan apply --repo R --set ... --automerge --yes``, once per repository.

It reports wall time, requests per repository (counted at the server), the
peak resident memory of the prplan process, and projects the wall time on
github.com with 1 s between writes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import prplan
from prplan.forges.local.server.app import ForgeApp, ForgeServer

VALUES = "# api values\nimage:\n  repository: registry.example.com/acme/api\n  tag: '1.4.1'\nreplicas: 2\n"
TOKEN = "bench-token"


def _forge(repos: int) -> tuple[ForgeServer, list[str]]:
    forge = prplan.LocalForge.in_memory()
    names = [f"acme/cluster-{i:03d}" for i in range(repos)]
    for name in names:
        forge.create_repo(name, {"apps/api/values.yaml": VALUES})
    return ForgeServer(ForgeApp(forge, token=TOKEN)), names


def _run(args: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    """(wall seconds, exit code, peak RSS in KiB) of a subprocess."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "prplan", *args], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(
            f"prplan {' '.join(args)} failed: {process.stderr.read().decode() if process.stderr else ''}"
        )
    return time.perf_counter() - started, process.returncode, usage.ru_maxrss


def measure(repos: int, latency: float) -> dict[str, Any]:
    results: dict[str, Any] = {"repos": repos, "latency_s": latency}
    for mode in ("changeset", "changeset_graphql", "changeset_w4", "sequential"):
        server, names = _forge(repos)
        server.app.faults.add(method="*", path=".*", delay=latency, times=0)
        server.start()
        env = {
            **os.environ,
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_API_URL": server.api_url,
            "NO_COLOR": "1",
        }
        try:
            if mode.startswith("changeset"):
                with tempfile.TemporaryDirectory() as tmp:
                    changeset = Path(tmp) / "release.yaml"
                    changeset.write_text(json.dumps({
                        "version": 1,
                        "defaults": {"branch": "release/api-1.4.2", "automerge": True, "title": "Release api 1.4.2"},
                        "changes": [{"repo": n, "set": {"apps/api/values.yaml": {"image.tag": "1.4.2"}}} for n in names],
                    }))  # fmt: skip
                    # Transports named: GraphQL is the default since issue 13,
                    # and the figures in docs/benchmarks.md name theirs.
                    extra = {
                        "changeset": ["--github-transport", "rest"],
                        "changeset_w4": ["--write-concurrency", "4", "--github-transport", "rest"],
                        "changeset_graphql": ["--github-transport", "graphql"],
                    }.get(mode, [])
                    seconds, _, rss = _run(
                        ["apply", "--changeset", str(changeset), "--yes", *extra], env
                    )
            else:
                seconds, rss = 0.0, 0
                for name in names:
                    one, _, peak = _run(["apply", "--repo", name, "--branch", "release/api-1.4.2", "--automerge",
                                         "--set", "apps/api/values.yaml:image.tag=1.4.2", "--yes", "--github-transport", "rest"], env)  # fmt: skip
                    seconds, rss = seconds + one, max(rss, peak)
            log = server.app.log
            results[mode] = {
                "seconds": seconds,
                "reads": log.reads,
                "writes": log.writes,
                "requests_per_repo": (log.reads + log.writes) / repos,
                "peak_rss_mb": rss / 1024,
            }
            merged = sum(
                1
                for n in names
                if server.app.forge.read_file(n, "main", "apps/api/values.yaml") != VALUES.encode()
            )
            assert merged == repos, f"{mode}: only {merged} of {repos} repositories changed"
        finally:
            server.stop()
    cs = results["changeset"]
    results["speedup"] = results["sequential"]["seconds"] / cs["seconds"]
    results["speedup_w4"] = results["sequential"]["seconds"] / results["changeset_w4"]["seconds"]
    results["speedup_graphql"] = (
        results["sequential"]["seconds"] / results["changeset_graphql"]["seconds"]
    )
    # github.com: the same requests, with 1 s between writes (serialised) and the reads overlapping.
    results["projected_github_s"] = cs["writes"] * 1.0 + cs["reads"] * latency / 8
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=100)
    parser.add_argument(
        "--latency", type=float, default=0.05, help="seconds added to every request"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = measure(args.repos, args.latency)
    results["machine"] = (
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPU(s)"
    )
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        results["machine"], f"- {args.repos} repositories, {args.latency * 1000:.0f} ms per request"
    )
    for mode in ("changeset", "changeset_graphql", "changeset_w4", "sequential"):
        row = results[mode]
        print(f"  {mode:11} {row['seconds']:7.1f} s  {row['reads']:5} reads {row['writes']:5} writes  "
              f"{row['requests_per_repo']:.1f} requests/repo  peak {row['peak_rss_mb']:.0f} MB")  # fmt: skip
    print(f"  speed-up {results['speedup']:.1f}x (writes one at a time), {results['speedup_w4']:.1f}x "
          f"(--write-concurrency 4), {results['speedup_graphql']:.1f}x (GraphQL, writes one at a time; "
          "goal >= 5x)")  # fmt: skip
    print(f"  projected on github.com with 1 s write spacing: "
          f"{results['projected_github_s'] / 60:.1f} min")  # fmt: skip
    cs = results["changeset"]
    gq = results["changeset_graphql"]
    goals = [
        (
            ">= 5x faster than the sequential loop, GraphQL, writes one at a time",
            results["speedup_graphql"] >= 5,
        ),
        (
            ">= 5x faster than the sequential loop (--write-concurrency 4)",
            results["speedup_w4"] >= 5,
        ),
        ("<= 10 requests per repository (GraphQL)", gq["requests_per_repo"] <= 10),
        ("peak memory <= 200 MB", max(cs["peak_rss_mb"], gq["peak_rss_mb"]) <= 200),
    ]
    for label, ok in goals:
        print(f"  {label}: {'pass' if ok else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

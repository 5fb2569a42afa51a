"""Run the whole fault matrix (every point × every fault) and print figures.

    .venv/bin/python benchmarks/fault_matrix.py [--json]

Points and faults are those of tests/fault_matrix.py; the test suite runs a
subset of the same cases.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import prplan
from prplan.forges.local.server.app import ForgeApp, ForgeServer

import fault_matrix


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    server = ForgeServer(ForgeApp(prplan.LocalForge.in_memory())).start()
    started = time.perf_counter()
    results = []
    try:
        for point, *_ in fault_matrix.POINTS:
            for fault in fault_matrix.FAULTS:
                results.append(fault_matrix.run_case(server, point, fault))
    finally:
        server.stop()
    verdicts = collections.Counter(r.verdict for r in results)
    figures = {
        "cases": len(results),
        "points": len(fault_matrix.POINTS),
        "faults": len(fault_matrix.FAULTS),
        "injected": sum(r.injected for r in results),
        "converged_first_run": verdicts["converged"],
        "typed_error_then_converged": verdicts["typed_error"],
        "violations": sum(len(r.violations) for r in results),
        "seconds": round(time.perf_counter() - started, 1),
        "typed_errors": sorted(
            {r.detail.split(":")[0] for r in results if r.verdict == "typed_error"}
        ),
    }
    if args.json:
        print(
            json.dumps(
                {"figures": figures, "cases": [r.__dict__ for r in results]}, indent=2, default=list
            )
        )
        return 0
    print(f"{figures['points']} points × {figures['faults']} faults = {figures['cases']} cases "
          f"({figures['injected']} injected) in {figures['seconds']} s")  # fmt: skip
    print(f"  converged on the first run (retried or resolved): {figures['converged_first_run']}")
    print(
        f"  a typed error, then converged on a re-run:        {figures['typed_error_then_converged']}"
    )
    print(f"  violations:                                       {figures['violations']}")
    print(f"  typed errors seen: {', '.join(figures['typed_errors'])}")
    by_fault = collections.defaultdict(collections.Counter)
    for r in results:
        by_fault[r.fault][r.verdict] += 1
    for fault, counts in by_fault.items():
        print(
            f"  {fault:20} converged {counts['converged']:2}  typed error {counts['typed_error']:2}"
        )
    for r in results:
        if r.violations:
            print(f"  VIOLATION {r.point} {r.fault}: {r.violations}")
    return 1 if figures["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())

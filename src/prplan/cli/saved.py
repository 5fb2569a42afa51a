"""What a saved plan file is, read before it is parsed: a change set or one
repository's plan, redacted (digests only) or not, and for which repository.

Apart from the commands because `apply` and `show` both sniff the file to
choose how to read it; none of these checks trusts the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from prplan.errors import Problem

__all__ = ["plan_repo", "is_redacted", "is_changeset", "in_plan"]


def plan_repo(raw: bytes) -> str:
    try:
        return str(json.loads(raw)["request"]["repo"])
    except (ValueError, KeyError, TypeError, RecursionError):
        return ""


def is_redacted(raw: bytes) -> bool:
    try:
        return json.loads(raw).get("redacted") is True
    except (ValueError, AttributeError, RecursionError):
        return False  # not a plan document at all: Plan.from_json says why


def is_changeset(path: Path) -> bool:
    try:
        return bool(json.loads(path.read_bytes()).get("kind") == "changeset")
    except (ValueError, AttributeError, RecursionError):
        return False


def in_plan(plan_file: Path | None, problem: Problem) -> Problem:
    """A problem of a plan, named as the user gave it: the option, or the
    field of PLAN_FILE."""
    if problem.field == "expect_digest":
        return Problem("--expect-digest", problem.message)
    return (
        problem if plan_file is None else Problem(f"{plan_file}: {problem.field}", problem.message)
    )

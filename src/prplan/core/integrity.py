"""Is this plan one to apply? ``check_plan`` answers before anything is read
or written.

A plan's digest proves only that nobody changed the document *without*
recomputing the digest, which anyone can do. So ``apply`` trusts nothing in
a plan it did not derive itself: the planner is pure, so
``plan(p.observed, p.request)`` gives back exactly ``p`` for every plan it
made. A plan whose actions (or refusal, rule, notes, resolved edits) differ
was edited by hand: a merge added, a commit retargeted at base, a file's
content swapped. What re-derivation cannot catch, an edit of the request
itself re-planned offline, the reviewer's pinned digest (``expect_digest``)
and the plan key's signature (``_plan.sign``) do.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from prplan.core.plan import _CONVERTER, Plan
from prplan.core.snapshot import git_blob_sha
from prplan.errors import InvalidRequestError, PlanIntegrityError, Problem

__all__ = ["check_plan", "normalise_digest"]

_DIGEST = re.compile(r"^[0-9a-f]{64}$")

#: The planner's inputs: the same in both plans by construction. Every other
#: field of the plan (a field added later included) is compared.
_INPUTS = ("request", "observed")

#: At most this many differences are named: one is enough to refuse, a few
#: help to see what was done.
_MAX_NAMED = 5


def normalise_digest(value: str, field: str = "expect_digest") -> str:
    """A pinned digest as `prplan plan` prints it (``sha256:`` optional)."""
    digest = value.strip().lower().removeprefix("sha256:")
    if not _DIGEST.match(digest):
        raise InvalidRequestError(
            [
                Problem(
                    field,
                    f"{value!r} is not a plan digest: give the 64 hex digits `prplan plan` "
                    "prints after 'digest: sha256:'",
                )
            ],
            what="digest",
        )
    return digest


def check_plan(plan: Plan, *, expect_digest: str | None = None) -> None:
    """Raise ``PlanIntegrityError`` unless ``plan`` is the reviewed one
    (``expect_digest``) and exactly what the planner derives from its own
    request and snapshot."""
    if expect_digest is not None and normalise_digest(expect_digest) != plan.digest:
        raise PlanIntegrityError(
            [
                Problem(
                    "expect_digest",
                    f"is sha256:{normalise_digest(expect_digest)} but this plan's digest is "
                    f"sha256:{plan.digest}: it is not the plan that was reviewed. Apply the "
                    "reviewed plan file, or review this one",
                )
            ]
        )
    from prplan.core.planner import plan as derive  # the planner imports this package's plans

    try:
        derived = derive(plan.observed, plan.request)
    except Exception as error:  # a hand-made snapshot the planner cannot read
        raise PlanIntegrityError(
            [
                Problem(
                    "plan",
                    f"the planner derives no plan from its own request and snapshot ({error}): "
                    "it was not made by prplan. Make and review a new plan",
                )
            ]
        ) from None
    # What a reviewer's diffs start from is read beside the planner, not
    # derived (checked against its blob shas when read); the version is the
    # plan's own: a version 3 plan decides as this one does.
    derived = attrs.evolve(derived, review=plan.review, format_version=plan.format_version)
    differences = plan_differences(plan, derived)
    if differences:
        named = differences[:_MAX_NAMED]
        if len(differences) > len(named):
            named.append(Problem("plan", f"and {len(differences) - len(named)} more difference(s)"))
        named.append(
            Problem(
                "plan",
                "is not what the planner derives from its own request and snapshot: it was "
                "edited after it was made (or made by a prplan that decides differently). "
                "Nothing was applied; make and review a new plan",
            )
        )
        raise PlanIntegrityError(named)


def plan_differences(given: Plan, derived: Plan) -> list[Problem]:
    """Where ``given`` departs from ``derived``, one problem each, in words."""
    ours: dict[str, Any] = _CONVERTER.unstructure(given)
    theirs: dict[str, Any] = _CONVERTER.unstructure(derived)
    problems: list[Problem] = []
    for key in sorted(set(ours) | set(theirs), key=_in_plan_order):
        if key in _INPUTS or ours.get(key) == theirs.get(key):
            continue
        if key == "actions":
            problems += _action_differences(ours[key], theirs[key])
        elif key == "resolved":
            problems.append(
                Problem(
                    "resolved",
                    f"the plan writes {_resolved(ours[key])}; the request's edits give "
                    f"{_resolved(theirs[key])}",
                )
            )
        else:
            problems.append(
                Problem(
                    key,
                    f"the plan has {_brief(ours[key])}, the planner derives {_brief(theirs[key])}",
                )
            )
    return problems


def _in_plan_order(key: str) -> tuple[int, str]:
    """What was seen and decided first, then the actions, then the rest."""
    order = ("pr_state", "start", "rule", "refusal", "actions", "notes", "resolved")
    return (order.index(key) if key in order else len(order), key)


def _action_differences(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> list[Problem]:
    problems = []
    for index in range(max(len(ours), len(theirs))):
        mine = ours[index] if index < len(ours) else None
        derived = theirs[index] if index < len(theirs) else None
        field = f"actions[{index}]"
        if mine == derived:
            continue
        if derived is None:
            assert mine is not None
            problems.append(
                Problem(field, f"the plan {_does(mine)}, but the planner derives no such action")
            )
        elif mine is None:
            problems.append(
                Problem(field, f"the plan lacks an action the planner derives: it {_does(derived)}")
            )
        elif mine["type"] != derived["type"]:
            problems.append(
                Problem(
                    field, f"the plan {_does(mine)}, but the planner derives: it {_does(derived)}"
                )
            )
        else:
            for name in sorted(set(mine) | set(derived)):
                if mine.get(name) != derived.get(name):
                    problems.append(
                        Problem(
                            f"{field}.{name}",
                            f"the plan has {_brief(mine.get(name))}, the planner derives "
                            f"{_brief(derived.get(name))}",
                        )
                    )
    return problems


def _does(action: dict[str, Any]) -> str:
    """An action in words: what it does to the repository."""
    kind = action.get("type")
    if kind == "create_branch":
        return f"creates branch {action['branch']!r} at {str(action['sha'])[:7]}"
    if kind == "reset_branch":
        return f"resets branch {action['branch']!r} to {str(action['to_sha'])[:7]}"
    if kind == "commit":
        return f"commits {len(action['files'])} file(s) to {action['branch']!r}"
    if kind == "create_pull_request":
        return f"opens a pull request from {action['head']!r} into {action['base']!r}"
    if kind == "merge_pull_request":
        number = action.get("number")
        which = "the pull request it opens" if number is None else f"pull request #{number}"
        return f"merges {which} ({action['method']})"
    if kind == "delete_branch":
        return f"deletes branch {action['branch']!r}"
    return f"does {kind!r}"


def _resolved(entries: list[dict[str, Any]]) -> str:
    """Resolved files by path and blob, never their content (it may be secret)."""
    if not entries:
        return "no edited file"
    parts = []
    for entry in entries:
        value = entry.get("content")
        if value is None:
            parts.append(f"{entry['path']!r} deleted")
        else:
            data = _CONVERTER.structure(value, bytes)
            parts.append(f"{entry['path']!r} as blob {git_blob_sha(data)[:10]}")
    return ", ".join(parts)


def _brief(value: object, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."

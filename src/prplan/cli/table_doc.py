"""The decision table and the lifecycle as documents: the Markdown of
``specs/decision-table.md`` (`prplan states`), the rows a plan's Markdown
view quotes (``rule_condition``, ``rule_outcome``), and the 15 scenarios of
the legacy helper's matrix, each mapped to its rule.

Apart from the commands because `prplan states`, the Markdown view of a
plan and the spec generator (``prplan.tools.specgen``) all show the same
table the same way.
"""

from __future__ import annotations

import attrs

from prplan.core.request import BranchPolicy, OnClosed
from prplan.core.states import BranchSituation, PRState
from prplan.core.table import DIMENSIONS, RULES, TRANSITIONS, Rule, Situation, decide, space_size

__all__ = [
    "decision_table_markdown",
    "lifecycle_mermaid",
    "rule_condition",
    "rule_outcome",
    "LEGACY_SCENARIOS",
    "LegacyScenario",
    "legacy_situation",
]


@attrs.frozen
class LegacyScenario:
    number: int
    prs: str  # "none" | "open" | "merged" | "two open"
    create_pr: bool
    automerge: bool
    extra_message: bool


#: The 15 scenarios of the legacy helper's matrix (../shared/legacy/).
LEGACY_SCENARIOS: tuple[LegacyScenario, ...] = (
    *(
        LegacyScenario(n, prs, c, a, False)
        for n, (prs, c, a) in enumerate(
            [
                (prs, c, a)
                for prs in ("none", "open", "merged")
                for c, a in ((True, True), (True, False), (False, True), (False, False))
            ],
            start=1,
        )
    ),
    LegacyScenario(13, "two open", True, True, False),
    LegacyScenario(14, "none", True, True, True),
    LegacyScenario(15, "open", True, True, True),
)

_LEGACY_PR = {
    "none": PRState.NONE,
    "open": PRState.OPEN,
    "merged": PRState.MERGED,
    "two open": PRState.MULTIPLE,
}
_LEGACY_BRANCH = {
    # The legacy callers' typical repository: a fresh branch when there is no
    # PR; the PR's own branch when one is open; the merged PR's branch left
    # behind (GitHub keeps it unless deleted) when merged.
    "none": BranchSituation.ABSENT,
    "open": BranchSituation.DISPOSABLE,
    "merged": BranchSituation.DISPOSABLE,
    "two open": BranchSituation.DISPOSABLE,
}


def _common_situation(
    pr: PRState, branch: BranchSituation, create_pr: bool, automerge: bool
) -> Situation:
    """New content not yet on base, modification allowed, default policies."""
    return Situation(
        pr=pr,
        branch=branch,
        head_is_base=False,
        in_place=False,
        modifies=True,
        pr_behind=False,
        edit_fails=False,
        create_pr=create_pr,
        automerge=automerge,
        allow_modification=True,
        on_closed=OnClosed.NEW,
        branch_policy=BranchPolicy.SAFE,
        delete_branch=False,
    )


def legacy_situation(scenario: LegacyScenario) -> Situation:
    """The situation a legacy scenario describes: new content not yet on base,
    default flags otherwise."""
    return _common_situation(
        _LEGACY_PR[scenario.prs],
        _LEGACY_BRANCH[scenario.prs],
        scenario.create_pr,
        scenario.automerge,
    )


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def rule_condition(rule: Rule) -> str:
    parts = []
    for dim in DIMENSIONS:  # in the table's order, not the rule's
        if dim not in rule.when:
            continue
        values = [v for v in DIMENSIONS[dim] if v in rule.when[dim]]
        if len(values) == 1:
            parts.append(f"{dim} = {_value(values[0])}")
        else:
            parts.append(f"{dim} ∈ {{{', '.join(_value(v) for v in values)}}}")
    return "; ".join(parts) or "(always)"


def rule_outcome(rule: Rule) -> str:
    if rule.refuse is not None:
        return f"**refuse** `{rule.refuse.value}`"
    if not rule.actions and not rule.then_delete:
        return "nothing"
    steps = [f"`{kind.value}`" for kind in rule.actions]
    if rule.then_delete:
        steps.append("(`delete_branch` if delete_branch)")
    return " → ".join(steps)


def _situation_outcome(situation: Situation) -> tuple[Rule, str]:
    rule = decide(situation)
    if rule.refuse is not None:
        return rule, f"refuse `{rule.refuse.value}`"
    kinds = rule.actions_for(situation)
    return rule, " → ".join(k.value for k in kinds) if kinds else "nothing"


_DIMENSION_MEANING = {
    "pr": "pull requests from the branch into base: none; one open; none open and the latest merged; "
    "none open and the latest closed unmerged; two or more open",
    "branch": "absent; exactly at base; holds the requested content (and contains base when no "
    "pull request is open); disposable (lacks it, and is an ancestor of base, or the head of one "
    "of its pull requests, or only prplan's commits); foreign (lacks it, and has others' commits)",
    "head_is_base": "the request's branch is the base branch itself",
    "edit_fails": "a structured edit (yaml-set, json-set, replace...) cannot be applied to the file it edits",
    "pr_behind": "an open pull request cannot deliver a requested path by being merged: base "
    "changed it after the branch forked, away from content the fork point already had as requested",
    "in_place": "base already holds every requested path as requested",
    "modifies": "a requested path exists with other content, or is to be deleted, on base "
    "(or on the branch when a pull request is open)",
    "create_pr": "the request's flag: open a pull request for the change",
    "automerge": "the request's flag: merge the pull request that carries the change",
    "allow_modification": "the request's flag: may existing files be changed or deleted",
    "on_closed": "the request's policy when the latest pull request was closed unmerged "
    "(enumerated only where it was)",
    "branch_policy": "the request's policy for a branch with foreign commits (enumerated only "
    "where the branch is foreign)",
    "delete_branch": "the request's flag: delete the branch after merging",
    "not_a_file": "a requested path is a directory, a submodule or lies under a file (a parent is a "
    "file, symlink or submodule) on base or on the branch, or an edited path is a symlink",
    "branch_protected": "the branch is the repository's default branch, or the forge reports it "
    "protected (enumerated only where the branch would be reset)",
    "foreign_on_head": "the branch has commits beyond base that are not provably prplan's (sealed "
    "with the tree they wrote), or more than the forge listed (enumerated only where the branch "
    "has commits beyond base; always true for a foreign branch)",
    "branch_in_use": "the branch is the head of an open pull request into another base, or the base "
    "of an open pull request (enumerated only where the branch exists)",
    "unmerged_on_branch": "the branch holds commits that neither base nor the head of any of its "
    "pull requests (merged, closed or open) contains, and base lacks some of their changes: "
    "deleting it would lose them (enumerated only "
    "where a merged pull request's disposable branch is to be deleted)",
    "merge_foreign_commits": "the request's flag: merge even when the head holds commits prplan "
    "did not make (enumerated only where they exist and automerge is on)",
    "gate": "what stands between the open pull request and its merge, as GitHub reports it (see "
    "[gates.md](gates.md)): mergeable now; required checks pending; a required check failed; "
    "approving reviews missing; behind base (strict checks); conflicting; a draft (enumerated "
    "only where an open pull request is to be merged)",
    "armed": "a merge is on its way for the open pull request, whoever armed it: none; GitHub's "
    "auto-merge enabled; in the merge queue (enumerated where the gate is)",
    "armed_by": "who armed the open pull request's merge, read whatever automerge says: nobody; "
    "prplan (the login its token acts as); someone else, or a login the forge did not name "
    "(enumerated where a pull request is open on an existing branch)",
    "merge_queue": "base merges through a merge queue (enumerated only where a merge can be planned)",
    "merge_when": "the request's choice of when automerge merges: now if the gate is clean, else "
    "by auto-merge or the queue (auto); now or refuse (now); as auto, then wait for the merge "
    "(wait; the waiting is the executor's) (enumerated only where a merge can be planned)",
    "close_superseded": "the request says close_superseded: close prplan's own open pull request "
    "once base holds the change (enumerated only where an open pull request meets such a base)",
    "pr_own": "the open pull request's body carries prplan's marker with this request's id, "
    "on a line of its own outside code blocks, and the login prplan acts as (when known) "
    "opened it (enumerated only where close_superseded is on)",
}


_FLAG_PAIRS = ((True, True), (True, False), (False, True), (False, False))


def decision_table_markdown() -> str:
    """``specs/decision-table.md``: the dimensions, the rules in order, the
    lifecycle, then the common cases and the legacy scenarios expanded."""
    out = _introduction() + _rules() + _lifecycle() + _common_cases() + _legacy()
    return "\n".join(out) + "\n"


def _introduction() -> list[str]:
    out = [
        "# prplan decision table",
        "",
        "<!-- Generated by `python -m prplan.tools.specgen --write specs` from `prplan.core.table`."
        " Do not edit: tests/test_specs.py fails when this file differs from the code. -->",
        "",
        "This is the normative specification of what prplan does. The planner reduces what it",
        "observed and what was asked to a *situation*, then takes the **first** rule below whose",
        "conditions all hold. A dimension a rule does not name matches any value. The planner",
        "makes no other decision: it only fills in shas, paths and reasons.",
        "",
        "## Situation dimensions",
        "",
        "| dimension | values | meaning |",
        "|---|---|---|",
    ]
    for dim, values in DIMENSIONS.items():
        out.append(
            f"| `{dim}` | {', '.join(_value(v) for v in values)} | {_DIMENSION_MEANING[dim]} |"
        )
    return out


def _rules() -> list[str]:
    out = [
        "",
        "## Rules (first match wins)",
        "",
        "| # | rule | when | then | note |",
        "|---|---|---|---|---|",
    ]
    for number, rule in enumerate(RULES, 1):
        out.append(
            f"| {number} | `{rule.name}` | {rule_condition(rule)} | {rule_outcome(rule)} "
            f"| {rule.note} |"
        )
    return out


def _lifecycle() -> list[str]:
    out = [
        "",
        "The table is total: a test enumerates every one of the "
        f"{space_size():,} points of the situation space and checks that a rule matches, that its",
        "actions are a legal path in the lifecycle below, and that the path ends where the flags ask.",
        "Dimensions about the head, the policies, the gate and the merge settings are enumerated",
        "only where they can change the answer (see their meaning above, and `prplan.core.space`);",
        "a test flips the held ones and checks that the answer stays the same.",
        "",
        "## Lifecycle (the `transitions` machine; actions are its triggers)",
        "",
        "| action | from | to |",
        "|---|---|---|",
    ]
    for kind, source, dest in TRANSITIONS:
        out.append(f"| `{kind.value}` | {source.value} | {dest.value} |")
    return [*out, "", "Diagram: [`lifecycle.mmd`](lifecycle.mmd)."]


def _table_section(title: str, intro: list[str], columns: list[str]) -> list[str]:
    """A section that is a table: its heading, what it shows, the table's head."""
    head = "| " + " | ".join(columns) + " |"
    return ["", f"## {title}", "", *intro, "", head, "|" + "---|" * len(columns)]


def _common_cases() -> list[str]:
    out = _table_section(
        "Every pull-request state, branch situation and flag pair",
        [
            "The common case expanded: content differs from base, modification allowed, "
            "`on_closed=new`, `branch_policy=safe`, `delete_branch` off."
        ],
        ["pr", "branch", "create_pr", "automerge", "rule", "actions"],
    )
    for pr in PRState:
        for branch in BranchSituation:
            for create_pr, automerge in _FLAG_PAIRS:
                situation = _common_situation(pr, branch, create_pr, automerge)
                rule, outcome = _situation_outcome(situation)
                out.append(
                    f"| {pr.value} | {branch.value} | {_value(create_pr)} | {_value(automerge)} "
                    f"| `{rule.name}` | {outcome} |"
                )
    return out


def _legacy() -> list[str]:
    out = _table_section(
        "The legacy scenarios",
        [
            "The 15 scenarios of the legacy `add_or_modify_files` matrix, each mapped to its rule.",
            "`extra_message` does not change the decision (it goes into the pull request body).",
            "A merged PR's branch is taken as left behind at the PR's head (disposable).",
        ],
        ["#", "existing PRs", "create_pr", "automerge", "extra_message", "rule", "actions"],
    )
    for scenario in LEGACY_SCENARIOS:
        rule, outcome = _situation_outcome(legacy_situation(scenario))
        out.append(
            f"| {scenario.number} | {scenario.prs} | {_value(scenario.create_pr)} "
            f"| {_value(scenario.automerge)} | {'yes' if scenario.extra_message else 'no'} "
            f"| `{rule.name}` | {outcome} |"
        )
    return out


def lifecycle_mermaid() -> str:
    """``specs/lifecycle.mmd``: the lifecycle diagram (`prplan states --format mermaid`)."""
    # The state machine library (and the asyncio it loads) costs every command
    # ~40 ms of start-up; only this diagram needs it.
    from prplan.core.lifecycle import mermaid

    return mermaid()

"""specs/ is generated from the decision table; it must not drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from prplan import Stage
from prplan.core.lifecycle import mermaid
from prplan.core.table import RULES, TRANSITIONS
from prplan.tools.specgen import generate

SPECS = Path(__file__).resolve().parent.parent / "specs"


@pytest.mark.parametrize("name", sorted(generate()))
def test_committed_spec_matches_the_code(name: str) -> None:
    committed = (SPECS / name).read_text(encoding="utf-8")
    assert committed == generate()[name], (
        f"specs/{name} is out of date: run `python -m prplan.tools.specgen --write specs`"
    )


def test_decision_table_lists_every_rule_in_order() -> None:
    table = generate()["decision-table.md"].split("## Rules", 1)[1].split("\n## ", 1)[0]
    positions = [table.index(f"| `{rule.name}` |") for rule in RULES]
    assert positions == sorted(positions)


def test_mermaid_has_every_stage_and_transition() -> None:
    text = mermaid()
    assert text.startswith("---") and "stateDiagram-v2" in text
    for stage in Stage:
        assert f'state "{stage.value}" as {stage.value}' in text
    edges = {
        line.split(": ", 1)[0].strip(): line.split(": ", 1)[1].split(" | ")
        for line in text.splitlines()
        if " --> " in line and ": " in line
    }
    for kind, source, dest in TRANSITIONS:
        # one edge per (source, destination): its triggers joined by " | "
        assert kind.value in edges[f"{source.value} --> {dest.value}"], (kind, source, dest)
    assert "s_active" not in text.split("classDef")[-1].split("\n", 1)[1]


def test_mermaid_highlights_a_path() -> None:
    text = mermaid(highlight=[Stage.BRANCH_READY, Stage.COMMITTED], current=Stage.NO_BRANCH)
    assert "Class no_branch s_active" in text
    assert "Class branch_ready s_previous" in text
    assert "Class committed s_previous" in text
    assert "Class merged s_default" in text

"""No decision or wording is keyed on a rule's name: what a rule says lives
on its row of the decision table (``note``, ``mentions``), so renaming a
rule can never silently drop what it says."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

import prplan
from prplan.core.planner import _notes
from prplan.core.space import all_situations
from prplan.core.table import RULES, Mention, Rule, Situation, decide

SRC = Path(prplan.__file__).parent


def _is_name(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in {"name", "rule"}


def _strings(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_strings(item) for item in node.elts)
    return False


def _name_comparisons(tree: ast.AST) -> list[int]:
    """Lines comparing ``x.name`` or ``x.rule`` with a string constant."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_name(s) for s in sides) and any(_strings(s) for s in sides):
                found.append(node.lineno)
    return found


def test_the_scan_finds_a_comparison_of_a_rule_name() -> None:
    bad = 'if rule.name == "in_place":\n    pass\nif plan.rule in ("a", "b"):\n    pass\n'
    assert _name_comparisons(ast.parse(bad)) == [1, 3]
    assert _name_comparisons(ast.parse("if rule.mentions is Mention.OPEN:\n    pass\n")) == []


@pytest.mark.parametrize("path", sorted(SRC.joinpath("core").rglob("*.py")), ids=str)
def test_no_rule_name_is_compared_as_a_string_in_the_core(path: Path) -> None:
    assert _name_comparisons(ast.parse(path.read_text(encoding="utf-8"))) == []


@functools.cache
def _first_situations() -> dict[str, Situation]:
    """For each rule, the first situation of the enumerated space the table
    decides by it: one pass, stopping once every rule with a note has one
    (the product of a rule's own condition values grew past millions of
    points with the gate's dimensions)."""
    wanted = {rule.name for rule in RULES if rule.note}
    found: dict[str, Situation] = {}
    for situation in all_situations():
        rule = decide(situation)
        if rule.name in wanted and rule.name not in found:
            found[rule.name] = situation
            if len(found) == len(wanted):
                break
    return found


def _situation_for(rule: Rule) -> Situation:
    """A situation the table decides by ``rule``."""
    situation = _first_situations().get(rule.name)
    assert situation is not None, f"no situation is decided by {rule.name}"
    return situation


@functools.cache
def _snapshot() -> prplan.RepoSnapshot:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo("acme/app", {"a.txt": "one\n"})
    request = prplan.ChangeRequest(repo="acme/app", branch="b", files={"a.txt": b"two\n"})
    return prplan.observe(forge, request)


@pytest.mark.parametrize("rule", [r for r in RULES if r.note], ids=lambda r: r.name)
def test_every_rule_with_a_note_says_it(rule: Rule) -> None:
    situation = _situation_for(rule)
    assert rule.note in _notes(rule, situation, _snapshot())


@pytest.mark.parametrize("mention", list(Mention))
def test_every_mention_names_its_pull_request(mention: Mention) -> None:
    assert "#12" in mention.words(12)

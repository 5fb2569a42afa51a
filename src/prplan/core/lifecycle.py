"""The lifecycle of one change as a ``transitions`` state machine, built from
``table.TRANSITIONS``, and its Mermaid diagram.

The machine is the referee for plans: a plan's actions, fired as triggers
from the plan's start stage, must be legal (an illegal trigger raises
``MachineError`` naming the stage and the trigger) and must end where the
request's flags ask. A ``Machine`` is not thread-safe, so each walk builds
its own; they are small.
"""

from __future__ import annotations

from collections.abc import Iterable

from transitions import Machine
from transitions.extensions import GraphMachine

from prplan.core.states import ActionKind, Stage
from prplan.core.table import TRANSITIONS

__all__ = ["Lifecycle", "walk", "mermaid"]


class Lifecycle:
    """The model object the machine drives; ``state`` is a ``Stage`` value."""

    state: str


_STATES = [stage.value for stage in Stage]
_TRANSITIONS = [[kind.value, src.value, dst.value] for kind, src, dst in TRANSITIONS]


def walk(start: Stage, actions: Iterable[ActionKind]) -> list[Stage]:
    """Fire ``actions`` from ``start``; return every stage visited (start
    included). Raises ``transitions.MachineError`` on an illegal action."""
    model = Lifecycle()
    Machine(
        model=model,
        states=_STATES,
        transitions=_TRANSITIONS,
        initial=start.value,
        auto_transitions=False,
    )
    visited = [start]
    for kind in actions:
        model.trigger(kind.value)  # type: ignore[attr-defined]
        visited.append(Stage(model.state))
    return visited


def mermaid(
    highlight: Iterable[Stage] = (), current: Stage | None = None, end: Stage | None = None
) -> str:
    """The lifecycle as Mermaid ``stateDiagram-v2`` text.

    ``current`` marks a stage as active (transitions' own styling);
    ``highlight`` marks stages a plan passes through. Without arguments the
    output is the neutral diagram committed as ``specs/lifecycle.mmd``."""
    model = Lifecycle()
    initial = (current or Stage.NO_BRANCH).value
    GraphMachine(
        model=model,
        initial=initial,
        graph_engine="mermaid",
        title="prplan change lifecycle",
        show_conditions=False,
        states=_STATES,
        transitions=_TRANSITIONS,
        auto_transitions=False,
    )
    text: str = model.get_graph().draw(None)  # type: ignore[attr-defined]
    # Mermaid's frontmatter is YAML: a bare title line is not valid there.
    text = text.replace(
        "---\nprplan change lifecycle\n---", "---\ntitle: prplan change lifecycle\n---", 1
    )
    if current is None:
        # transitions styles the initial state as active; the neutral
        # diagram should not single any stage out.
        text = text.replace(f"Class {initial} s_active", f"Class {initial} s_default")
    marked = {stage.value for stage in highlight} - {initial if current else ""}
    for stage in sorted(marked):
        text = text.replace(f"Class {stage} s_default", f"Class {stage} s_previous")
    if end is not None and end is not current:
        # Where this plan ends: a class of our own, declared beside transitions' ones.
        text = text.replace(
            "  classDef s_default",
            "  classDef s_end color:darkgreen,fill:palegreen\n  classDef s_default",
            1,
        )
        text = text.replace(f"Class {end.value} s_previous", f"Class {end.value} s_end")
        text = text.replace(f"Class {end.value} s_default", f"Class {end.value} s_end")
    return text.rstrip() + "\n"

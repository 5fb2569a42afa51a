"""Reading a YAML document's node tree: where a value is written (its exact
span, through aliases and merge keys), and the document's own style (its
indentation, the quotes it prefers). The splicer writes where this module
points, in the style it measures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any, cast

import attrs
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from prplan.edits.document import Refused
from prplan.edits.paths import Segment, format_path

__all__ = [
    "Loc",
    "via_alias",
    "is_alias",
    "locate",
    "content_end",
    "line_after",
    "line_start",
    "skip_comment_lines",
    "block_indent",
    "Indents",
    "measure_indents",
    "preferred_quote",
    "sibling_quotes",
]


@attrs.frozen
class Loc:
    """Where a path's leaf sits in the node tree."""

    parent: Node
    key: ScalarNode | None  # the key node; None in a sequence, and for a new key
    value: Node | None  # None for a new key


def via_alias(key: Node, value: Node) -> bool:
    """An alias yields the anchor's node, which sits before its use."""
    return bool(value.start_mark.index < key.end_mark.index)


def is_alias(loc: Loc) -> bool:
    """Is the leaf an alias (``*name``)? Its node is then the anchor's, and
    its marks point there, not at the leaf."""
    node = loc.value
    if node is None:
        return False
    if loc.key is not None:
        return via_alias(loc.key, node)
    items = loc.parent.value
    index = next(i for i, item in enumerate(items) if item is node)
    before = items[index - 1].start_mark.index if index else loc.parent.start_mark.index - 1
    return bool(node.start_mark.index <= before)


def locate(
    root: Node | None, data: Any, resolved: list[Any], segments: list[Segment]
) -> Loc | None:
    """The nodes for the leaf, matched to the data by position (``.lc``).
    None when they cannot be matched (a merged-in key, a complex key): the
    caller then re-dumps instead of splicing. Refuses a path that goes
    *through* an alias or merge key: the edit would change the anchor, and
    so every other place that uses it."""
    node: Any = root
    here: Any = data
    for depth, key in enumerate(resolved):
        last = depth == len(resolved) - 1
        where = format_path(segments[: depth + 1])
        if isinstance(here, dict):
            if not isinstance(node, MappingNode):
                return None
            key_node: Any = None
            value_node: Any = None
            if key in here:
                try:
                    line, column = cast(Any, here).lc.key(key)  # ruamel's CommentedMap
                except (KeyError, AttributeError, TypeError):
                    line = column = -1
                for k, v in node.value:
                    if (k.start_mark.line, k.start_mark.column) == (line, column):
                        key_node, value_node = k, v
                        break
                if key_node is None:
                    if not last and len(getattr(here, "merge", ())) > 0:
                        raise Refused(
                            f"{where!r} comes from a merge key ('<<'); editing through it "
                            "would change the mapping it is merged from: edit that one"
                        )
                    return None
                if not last and via_alias(key_node, value_node):
                    raise Refused(
                        f"{where!r} is an alias ('*'); editing through it would change the "
                        "anchor and every alias of it: edit the anchor's own path"
                    )
            if last:
                return Loc(parent=node, key=key_node, value=value_node)
            node, here = value_node, here[key]
        else:
            if not isinstance(node, SequenceNode) or len(node.value) != len(here):
                return None
            item = node.value[key]
            if last:
                return Loc(parent=node, key=None, value=item)
            before = node.value[key - 1].start_mark.index if key else node.start_mark.index - 1
            if item.start_mark.index <= before:
                raise Refused(
                    f"{where!r} is an alias ('*'); editing through it would change the "
                    "anchor and every alias of it: edit the anchor's own path"
                )
            node, here = item, here[key]
    return None


def content_end(text: str, node: Node) -> int | None:
    """The index just past the last character of ``node`` itself, or None
    for an empty value. Block collections end where the *next* token starts
    (after comments and blank lines), so their end is their last child's."""
    if isinstance(node, ScalarNode):
        start, end = node.start_mark.index, node.end_mark.index
        if node.style in ("|", ">"):
            # Clipped or stripped block scalars own no trailing blank lines;
            # a kept one (|+) does.
            head = text[start : text.find("\n", start) if "\n" in text[start:] else len(text)]
            return end if "+" in head.split("#")[0] else len(text[:end].rstrip())
        return None if start == end else end
    if getattr(node, "flow_style", False):
        return int(node.end_mark.index)
    if isinstance(node, MappingNode) and node.value:
        key, value = node.value[-1]
        if via_alias(key, value):
            return int(key.end_mark.index)
        end = content_end(text, value)
        return int(key.end_mark.index) if end is None else end
    if isinstance(node, SequenceNode) and node.value:
        if (
            len(node.value) > 1
            and node.value[-1].start_mark.index <= node.value[-2].start_mark.index
        ):
            return None  # an alias item: its text is not where the node says
        return content_end(text, node.value[-1])
    return None


def line_after(text: str, end: int) -> int:
    """The start of the line after the one holding ``text[end - 1]``."""
    if end > 0 and text[end - 1] == "\n":
        return end
    newline = text.find("\n", end)
    return len(text) if newline < 0 else newline + 1


def line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def skip_comment_lines(text: str, pos: int, column: int, *, deeper_only: bool) -> int:
    """Skip the comment lines right after an entry that belong to it: those
    indented past the entry's column (a commented-out example under
    ``resources: {}``) and, when adding after the last entry, those at its
    column too. A blank line ends the run."""
    while pos < len(text):
        newline = text.find("\n", pos)
        line = text[pos : len(text) if newline < 0 else newline]
        body = line.lstrip(" ")
        indent = len(line) - len(body)
        if not body.startswith("#") or indent < column or (deeper_only and indent == column):
            break
        pos = len(text) if newline < 0 else newline + 1
    return pos


def block_indent(text: str, node: ScalarNode) -> int | None:
    """The column of a block scalar's content."""
    begin = text.find("\n", node.start_mark.index) + 1
    for line in text[begin : node.end_mark.index].split("\n"):
        if line.strip():
            return len(line) - len(line.lstrip(" "))
    return None


@attrs.frozen
class Indents:
    mapping: int
    sequence: int
    offset: int


def _entries(node: Node | None, *, through_aliases: bool) -> Iterator[tuple[Node | None, Node]]:
    """Every mapping entry and sequence item under ``node``, depth first, as
    (key, value); the key is None for an item. An alias's value is the
    anchor's node: walked again ``through_aliases``, else skipped."""
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if through_aliases or not via_alias(key, value):
                yield key, value
                yield from _entries(value, through_aliases=through_aliases)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            yield None, item
            yield from _entries(item, through_aliases=through_aliases)


def measure_indents(root: Node | None, guess: int | None, guess_offset: int | None) -> Indents:
    """The document's own indentation, measured on its nodes; ruamel's
    ``load_yaml_guess_indent`` (which takes the first sequence's indent for
    mappings too) only fills what cannot be measured."""
    mappings: Counter[int] = Counter()
    sequences: Counter[tuple[int, int]] = Counter()

    for key, value in _entries(root, through_aliases=False):
        if key is None:
            continue
        column = key.start_mark.column
        if isinstance(value, MappingNode) and not value.flow_style and value.value:
            mappings[value.value[0][0].start_mark.column - column] += 1
        if isinstance(value, SequenceNode) and not value.flow_style and value.value:
            item = value.value[0]
            sequences[(item.start_mark.column - column, value.start_mark.column - column)] += 1
    measured_mapping = next((n for n, _ in mappings.most_common() if n > 0), None)
    # ruamel's guess is the first sequence's item indent when there is one.
    mapping = measured_mapping or (guess if guess_offset is None else None) or 2
    measured = next((s for s, _ in sequences.most_common() if s[0] >= s[1] + 2), None)
    if measured is not None:
        sequence, offset = measured
    elif guess_offset is not None and guess is not None and guess >= guess_offset + 2:
        sequence, offset = guess, guess_offset
    else:
        sequence, offset = mapping, 0
    return Indents(mapping=mapping, sequence=sequence, offset=offset)


def preferred_quote(root: Node | None) -> str:
    """The quote character the document mostly uses for values: a value that
    must be quoted follows the house style."""
    counts: Counter[str] = Counter()
    values = [] if root is None else [root]
    values += [value for _, value in _entries(root, through_aliases=True)]
    for node in values:
        if isinstance(node, ScalarNode) and node.style in ("'", '"'):
            counts[node.style] += 1
    return "'" if counts["'"] > counts['"'] else '"'


def sibling_quotes(parent: MappingNode) -> tuple[str | None, str | None]:
    """The quote character most keys and most string values of a mapping
    use, if most are quoted: a new entry looks like its neighbours."""
    keys: Counter[str | None] = Counter()
    values: Counter[str | None] = Counter()
    for key, value in parent.value:
        if isinstance(key, ScalarNode):
            keys[key.style] += 1
        if (
            isinstance(value, ScalarNode)
            and not via_alias(key, value)
            and str(value.tag).endswith(":str")
            and value.style in (None, "'", '"')
        ):
            values[value.style] += 1

    def pick(counts: Counter[str | None]) -> str | None:
        best = "'" if counts["'"] > counts['"'] else '"'
        return best if counts[best] > counts[None] else None

    return pick(keys), pick(values)

"""Change-set values as written: ``set: {values.yaml: {image.tag: 1.10}}``
means the text ``1.10``, where a YAML loader reads the float 1.1.

Separate from the change-set file's parser (``changeset_file``) because it
works on the YAML node tree, not on loaded data: it finds each ``set``-family
and ``replace`` value's text as written in the file and puts it back into the
loaded document, before the parser reads the document.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

__all__ = ["SET_KEYS", "Unwritable", "Written", "WrittenTree", "keep_written"]

#: The keys that set values in files (``set:`` keeps a plain value's text).
SET_KEYS = ("set", "set_string", "set_json")


class Written(str):
    """A plain (unquoted) value of a change's ``set:``, ``set_string:``,
    ``set_json:`` or ``replace:``, as written in the file: ``1.10`` stays
    ``1.10``, where the YAML loader would have made it the float 1.1."""


@attrs.frozen
class WrittenTree:
    """A list or mapping given to ``set:``, each scalar in it as written:
    a plain one as its text (``1.10``), any other as a double-quoted text
    (``"1.10"``), so that the edit types each one (``prplan.edits.values``)."""

    tree: object


@attrs.frozen
class Unwritable:
    """A ``set:`` value holding something no edit can write (``!!binary``):
    reported as a problem of its entry."""

    reason: str


def keep_written(root: object, document: object, text: str) -> None:
    """Replace the keys and values of the changes' ``set``-family and
    ``replace`` maps in ``document`` by their text as written, found in the
    node tree ``root`` of the same file (``text``): ``1.10`` is not the float
    1.1, in a key, a value or anywhere inside a list or mapping value. Merge
    keys (``<<``) are followed as the loader follows them."""
    from ruamel.yaml.nodes import SequenceNode

    def listed(node: object, data: object) -> list[tuple[Any, Any]]:
        if not isinstance(node, SequenceNode) or not isinstance(data, list):
            return []
        return list(zip(node.value, data, strict=False)) if len(node.value) == len(data) else []

    if not isinstance(document, dict):
        return
    top = _node_entries(root)
    changes = listed(top.get("changes"), document.get("changes"))
    for stage_node, stage in listed(top.get("stages"), document.get("stages")):
        if isinstance(stage, dict):
            changes += listed(_node_entries(stage_node).get("changes"), stage.get("changes"))
    for change_node, change in changes:
        if not isinstance(change, dict):
            continue
        entries = _node_entries(change_node)
        for kind in (*SET_KEYS, "replace"):
            if kind in change and kind in entries:
                spec = _written_spec(kind, entries[kind], text)
                if spec is not None:
                    change[kind] = spec


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _node_entries(node: object) -> dict[str, Any]:
    """A mapping node's values by their keys' text, with the entries of
    merged mappings (``<<``) that the mapping does not override, as YAML
    merges them. Empty for anything else."""
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    if not isinstance(node, MappingNode):
        return {}
    own: dict[str, Any] = {}
    merged: dict[str, Any] = {}
    for key, value in node.value:
        if not isinstance(key, ScalarNode):
            continue
        if key.tag == _MERGE_TAG:
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:  # the first merged mapping wins
                for name, item in _node_entries(source).items():
                    merged.setdefault(name, item)
        else:
            own[str(key.value)] = value
    return {**merged, **own}


def _written_spec(kind: str, node: object, text: str) -> dict[str, Any] | None:
    """``{file: {key: value}}`` rebuilt from the nodes, keys and plain
    values as written; None when its shape is not that (the parser then
    says what it must be)."""
    from ruamel.yaml.nodes import MappingNode

    files = _node_entries(node)
    if not isinstance(node, MappingNode) or len(files) != len(node.value):
        return None  # a complex key, or a merge key among the files
    spec: dict[str, Any] = {}
    for name, file_node in files.items():
        if not isinstance(file_node, MappingNode):
            return None
        spec[name] = {
            key: _written_value(kind, value, text, key)
            for key, value in _node_entries(file_node).items()
        }
    return spec


def _explicit_tag(node: Any, text: str) -> str | None:
    """The tag written on a node (``!!str``), after its anchor if any."""
    found = re.match(r"(?:&\S+\s+)?(!\S*)", text[node.start_mark.index :])
    return found.group(1) if found else None


def _construct(node: Any) -> object:
    from ruamel.yaml import YAML

    return YAML(typ="safe").constructor.construct_object(node, deep=True)


def _written_value(kind: str, node: Any, text: str, where: str) -> object:
    """One value of a ``set``-family or ``replace`` map: a plain scalar's
    text (``Written``); for ``set:``, a list or mapping of texts
    (``WrittenTree``); anything else as loaded (quoted, tagged)."""
    from ruamel.yaml.nodes import ScalarNode

    if isinstance(node, ScalarNode):
        if node.style is None and _explicit_tag(node, text) is None:
            return Written(node.value)
        return _construct(node)
    if kind != "set":
        return _construct(node)
    try:
        return WrittenTree(_texts(node, text, where))
    except _UnwritableError as error:
        return Unwritable(str(error))


class _UnwritableError(Exception):
    pass


def _texts(node: Any, text: str, where: str) -> object:
    """A list or mapping node as a tree of texts (see ``WrittenTree``)."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    from prplan.edits import canonical, yaml_double

    if isinstance(node, MappingNode):
        return {
            key: _texts(value, text, f"{where}.{key}") for key, value in _node_entries(node).items()
        }
    if isinstance(node, SequenceNode):
        return [_texts(item, text, f"{where}[{i}]") for i, item in enumerate(node.value)]
    tag = _explicit_tag(node, text)
    if node.style is None and tag is None:
        return str(node.value)
    value = _construct(node)
    if isinstance(value, str):
        return yaml_double(value)
    if value is None or isinstance(value, bool | int | float):
        return canonical(value)  # !!float 1.10: the number, which 1.1 reads as
    raise _UnwritableError(
        f"{where} has the tag {tag}; set: writes text, numbers, booleans, null, "
        "lists and mappings: drop the tag to write it as text"
    )

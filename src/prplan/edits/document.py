"""What the YAML and JSON editors share: finding a path in a parsed
document, typing the value to write there, changing the parsed data, and
comparing two documents the way YAML tells values apart.

Both editors work the same way: parse, resolve the path against the data,
change the data to get the intended document, then write text that parses
back to exactly that. This module holds the steps that do not depend on the
syntax. Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, cast

import attrs

from prplan.edits.paths import Segment, Select, format_path
from prplan.edits.values import canonical, type_written

__all__ = [
    "Refused",
    "Change",
    "resolve_change",
    "value_at",
    "mutate",
    "comparable",
    "same_value",
    "newline_of",
]


class Refused(Exception):
    """Internal: an edit cannot be applied; ``apply_edits`` turns it into an
    ``EditError`` carrying the edit."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@attrs.frozen
class Change:
    """One set or delete, as the YAML and JSON editors take it."""

    segments: list[Segment]
    value: object
    delete: bool
    as_written: bool
    notes: list[str]


def _type_name(value: object, is_json: bool) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number" if is_json else ("an integer" if isinstance(value, int) else "a float")
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object" if is_json else "a mapping"
    if isinstance(value, list):
        return "an array" if is_json else "a sequence"
    return f"a {type(value).__name__}"


def _find_key(mapping: dict[Any, Any], segment: str, is_json: bool) -> Any:
    """The key of ``mapping`` that ``segment`` names, or None. YAML keys may
    be integers (``80:``); a path names them by their digits."""
    if segment in mapping:
        return segment
    if not is_json and segment.isdigit():
        for key in mapping:
            if isinstance(key, int) and not isinstance(key, bool) and str(int(key)) == segment:
                return key
    return None


def _resolve(
    data: Any, segments: list[Segment], *, create: bool, is_json: bool, notes: list[str]
) -> tuple[list[Any], bool, list[str]]:
    """The document's own keys along ``segments``, whether the leaf exists,
    and the keys of missing parent mappings below the last resolved key
    (with ``create``, a new key's missing parents are created, as Helm's
    ``--set`` does; not list items). A selector resolves to the position of
    the one item it matches, said in ``notes``."""
    want_map = "an object" if is_json else "a mapping"
    want_seq = "an array" if is_json else "a sequence"
    resolved: list[Any] = []
    node: Any = data
    for depth, segment in enumerate(segments):
        here = segments[:depth]
        last = depth == len(segments) - 1
        in_list = not isinstance(segment, str)
        want = want_seq if in_list else want_map
        if not isinstance(node, list if in_list else dict):
            if not here:
                if node is None and not is_json:
                    raise Refused(
                        f"the document is empty; {format_path(segments[:1])!r} does not exist"
                    )
                raise Refused(f"the document is {_type_name(node, is_json)}, not {want}")
            raise Refused(f"{format_path(here)!r} is {_type_name(node, is_json)}, not {want}")
        if isinstance(segment, Select):
            key: Any = _select(cast(list[Any], node), segment, segments[: depth + 1], is_json)
            concrete = [*segments[:depth], key]
            notes.append(f"{format_path(segments[: depth + 1])} is item {format_path(concrete)}")
        elif isinstance(segment, int):
            if segment >= len(node):
                items = "1 item" if len(node) == 1 else f"{len(node)} items"
                where = format_path(here) if here else "the document"
                where = repr(where) if here else where
                raise Refused(f"index {segment} is out of range: {where} has {items}")
            key = segment
        else:
            key = _find_key(cast(dict[Any, Any], node), segment, is_json)
            if key is None:
                below = segments[depth + 1 :]
                if create and all(isinstance(s, str) for s in below):
                    return [*resolved, segment], False, [str(s) for s in below]
                raise Refused(f"{format_path(segments[: depth + 1])!r} does not exist")
        resolved.append(key)
        if not last:
            node = node[key]
    return resolved, True, []


def _select(items: list[Any], select: Select, where: Sequence[Segment], is_json: bool) -> int:
    """The position of the one item whose ``select.key`` holds
    ``select.value``, written as in the file (``80``, ``true``)."""
    found = [
        i
        for i, item in enumerate(items)
        if isinstance(item, dict)
        and (key := _find_key(item, select.key, is_json)) is not None
        and not isinstance(item[key], dict | list)
        and canonical(item[key]) == select.value
    ]
    if len(found) == 1:
        return found[0]
    if not found:
        matched = "no item"
    else:
        matched = f"{len(found)} items (" + ", ".join(f"[{i}]" for i in found) + ")"
    raise Refused(f"{format_path(where)!r} matches {matched}; it must match exactly one")


def resolve_change(
    data: Any, change: Change, *, is_json: bool, yaml11: bool = False
) -> tuple[list[Any], bool, object]:
    """Resolve the change's path in ``data``: the keys, whether the leaf
    exists, and the value to write there (typed, when the change holds the
    text a user wrote; wrapped in the new parent mappings a path needs).
    ``yaml11``: the document says ``%YAML 1.1``."""
    resolved, exists, below = _resolve(
        data, change.segments, create=not change.delete, is_json=is_json, notes=change.notes
    )
    value = change.value
    where = format_path(change.segments)
    if change.as_written:
        current = value_at(data, resolved) if exists else None
        if isinstance(value, str):
            typed = type_written(
                value, current, exists=exists, is_json=is_json, where=where, yaml11=yaml11
            )
            value = typed.value
            if typed.note:
                change.notes.append(typed.note)
        else:
            value = _type_texts(value, change.segments, is_json, yaml11, change.notes)
    if not exists and not change.delete:
        for key in reversed(below):
            value = {key: value}
        parents = format_path(change.segments[: len(change.segments) - len(below)])
        change.notes.append(
            f"adds key {where}" + (f" (with new parent mappings from {parents})" if below else "")
        )
    return resolved, exists, value


def _type_texts(
    value: object, here: list[Segment], is_json: bool, yaml11: bool, notes: list[str]
) -> object:
    """A list or mapping of texts as written (a change set's ``set:`` value
    ``{tag: 1.10}``), each text typed as for a new key: the collection
    replaces what is there, so nothing in it has a type yet."""
    if isinstance(value, dict):
        return {
            key: _type_texts(item, [*here, key], is_json, yaml11, notes)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _type_texts(item, [*here, i], is_json, yaml11, notes) for i, item in enumerate(value)
        ]
    assert isinstance(value, str)  # edit_problems checks it
    where = format_path(here)
    typed = type_written(value, None, exists=False, is_json=is_json, where=where, yaml11=yaml11)
    if typed.note:
        notes.append(typed.note)
    return typed.value


def value_at(data: Any, keys: Sequence[Any]) -> Any:
    for key in keys:
        data = data[key]
    return data


def mutate(data: Any, resolved: list[Any], value: object, *, delete: bool) -> None:
    parent = value_at(data, resolved[:-1])
    try:
        if delete:
            del parent[resolved[-1]]
        else:
            parent[resolved[-1]] = copy.deepcopy(value)
    except Exception as exc:  # ruamel's merge-key bookkeeping can fail (KeyError)
        raise Refused(
            f"the YAML library could not apply this edit ({type(exc).__name__}: {exc}); "
            "a merge key ('<<') or alias using this mapping is probably in the way"
        ) from None


def comparable(value: Any, *, ordered: bool, active: frozenset[int] = frozenset()) -> Any:
    """A comparable form that keeps YAML's distinctions that Python's ``==``
    loses (``1 == True == 1.0``; ruamel's str subclasses are all one str).
    ``ordered`` compares mappings with their key order, as in the file."""
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", bool(value))
    if isinstance(value, int):
        return ("int", int(value))
    if isinstance(value, float):
        return ("float", repr(float(value)))  # repr: nan equals nan, 1.0 is not 1
    if isinstance(value, str):
        return ("str", str(value))
    # Anything else (a date, a tagged scalar, a set) is compared by its
    # type and repr, below.
    if isinstance(value, dict | list | tuple):
        if id(value) in active:
            raise Refused("the document is recursive (an alias inside its own anchor)")
        inner = active | {id(value)}
        if isinstance(value, dict):
            items = [
                (
                    comparable(k, ordered=ordered, active=inner),
                    comparable(v, ordered=ordered, active=inner),
                )
                for k, v in value.items()
            ]
            return ("map", tuple(items) if ordered else tuple(sorted(items, key=repr)))
        return ("seq", tuple(comparable(v, ordered=ordered, active=inner) for v in value))
    return ("other", type(value).__name__, repr(value))


def same_value(current: Any, value: object) -> bool:
    return bool(comparable(current, ordered=False) == comparable(value, ordered=False))


def newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"

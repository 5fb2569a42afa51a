"""Editing a JSON document byte-exactly. It is parsed with the standard
library; a value replaced, a member added or removed is spliced into the
original text, written in the indentation, separators and escaping detected
from the source, so that no other number or escape in the file is rewritten
(``1.50`` stays ``1.50``). Separate from the YAML editor: JSON is YAML, but a
YAML edit would write YAML syntax into a JSON file. Pure.
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs

from prplan.edits import document
from prplan.edits.values import value_problems, written_text

__all__ = ["is_json_document", "json_edit"]

_JSON_WS = " \t\r\n"


def is_json_document(text: str) -> bool:
    """Is the text a JSON object or array (whatever the file is called)?"""
    if text.lstrip(_JSON_WS)[:1] not in ("{", "["):
        return False
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


@attrs.frozen
class _JsonStyle:
    indent: int | str | None
    separators: tuple[str, str]
    ensure_ascii: bool
    lead: str
    trail: str
    newline: str


#: (indent, separators, ensure_ascii): how ``json.dumps`` is told to write.
_Settings = tuple[int | str | None, tuple[str, str], bool]


def _json_style(text: str, data: Any) -> _JsonStyle:
    """How the source was written: its settings (``_dumps_settings``), the
    white space around it and its line break."""
    body = text.strip(_JSON_WS)
    plain = body.replace("\r\n", "\n")
    indent, separators, ensure_ascii = _dumps_settings(plain, data)
    return _JsonStyle(
        indent=indent,
        separators=separators,
        ensure_ascii=ensure_ascii,
        lead=text[: len(text) - len(text.lstrip(_JSON_WS))],
        trail=text[len(text.rstrip(_JSON_WS)) :],
        newline=document.newline_of(body),
    )


def _dumps_settings(plain: str, data: Any) -> _Settings:
    """Exactly the ``json.dumps`` settings that reproduce ``plain`` when some
    do, else the indentation of its first indented line (multi-line) or the
    spacing after its first colon (one line)."""
    options: list[tuple[int | str | None, tuple[str, str]]] = [
        (None, (", ", ": ")),
        (None, (",", ":")),
        *((n, (",", ": ")) for n in (2, 4, 1, 3, 8)),
        ("\t", (",", ": ")),
    ]
    for ensure_ascii in (False, True):
        for indent, separators in options:
            dumped = json.dumps(
                data, indent=indent, separators=separators, ensure_ascii=ensure_ascii
            )
            if dumped == plain:
                return indent, separators, ensure_ascii
    ensure_ascii = plain.isascii() and "\\u" in plain
    if "\n" in plain:
        found = re.search(r"\n([ \t]+)\S", plain)
        spaces = found.group(1) if found else "  "
        return (len(spaces) if set(spaces) == {" "} else spaces), (",", ": "), ensure_ascii
    found = re.match(r'[\[{]\s*(?:"(?:[^"\\]|\\.)*"\s*:|[^,\]}]*,)(\s?)', plain)
    separators = (", ", ": ") if found is None or found.group(1) else (",", ":")
    return None, separators, ensure_ascii


@attrs.frozen
class _Member:
    """One member of a JSON object or array, as written."""

    key: str | int  # the object key, or the array index
    start: int  # where the member starts (its key, or the item)
    key_end: int  # where its key ends (``start`` for an array item)
    value_start: int
    value_end: int


def _json_skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _JSON_WS:
        pos += 1
    return pos


def _json_members(text: str, pos: int) -> list[_Member]:
    """The members of the object or array opening at ``pos``, found with the
    standard decoder (``raw_decode`` parses one value and says where it
    ends). The text is known to parse."""
    decoder = json.JSONDecoder()
    closer = "}" if text[pos] == "{" else "]"
    members: list[_Member] = []
    i = _json_skip(text, pos + 1)
    while text[i] != closer:
        start = key_end = i
        key: str | int = len(members)
        if closer == "}":
            key, key_end = decoder.raw_decode(text, i)
            i = _json_skip(text, key_end)
            i = _json_skip(text, i + 1)  # the ':'
        _, end = decoder.raw_decode(text, i)
        members.append(_Member(key=key, start=start, key_end=key_end, value_start=i, value_end=end))
        i = _json_skip(text, end)
        if text[i] == ",":
            i = _json_skip(text, i + 1)
    return members


def _json_closer(text: str, pos: int) -> int:
    """Where the object or array opening at ``pos`` closes."""
    return json.JSONDecoder().raw_decode(text, pos)[1] - 1


def _json_find(text: str, resolved: list[Any]) -> int | None:
    """Where the value at ``resolved`` starts; with a duplicate key the last
    one counts, as for ``json.loads``."""
    pos = _json_skip(text, 0)
    for key in resolved:
        if text[pos] != ("[" if isinstance(key, int) else "{"):
            return None
        hits = [m for m in _json_members(text, pos) if m.key == key]
        if not hits:
            return None
        pos = hits[-1].value_start
    return pos


def _json_indent_before(text: str, pos: int) -> str | None:
    """The indentation of the line ``pos`` starts, or None when something
    else precedes it on that line (a one-line container)."""
    line_start = text.rfind("\n", 0, pos) + 1
    indent = text[line_start:pos]
    return indent if not indent.strip(_JSON_WS) else None


def _json_line_indent(text: str, pos: int) -> str:
    """The indentation of the line holding ``pos``."""
    line_start = text.rfind("\n", 0, pos) + 1
    line = text[line_start:pos]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _json_form(value: object, style: _JsonStyle, indent: str | None) -> str:
    """A value written at a place indented by ``indent`` (None: inline)."""
    written = written_text(value)
    if written is not None:  # a number as the user wrote it
        return written
    if indent is None or style.indent is None:
        # Inline: an indented document's inline lists are spaced as people write them.
        separators = style.separators if style.indent is None else (", ", ": ")
        return json.dumps(value, separators=separators, ensure_ascii=style.ensure_ascii)
    dumped = json.dumps(value, indent=style.indent, ensure_ascii=style.ensure_ascii)
    return dumped.replace("\n", style.newline + indent)


def _json_inline_separators(
    text: str, style: _JsonStyle, members: list[_Member]
) -> tuple[str, str]:
    """The item and key separators of a one-line container, as its own
    members are written (``", "`` and ``": "``), else as the document's."""
    default = style.separators if style.indent is None else (", ", ": ")
    item = default[0]
    if len(members) > 1:
        between = text[members[-2].value_end : members[-1].start]
        if "\n" not in between:
            item = between
    colon = default[1]
    last = members[-1] if members else None
    if last is not None and last.key_end != last.start:
        colon = text[last.key_end : last.value_start]
    return item, colon


def _json_set(
    text: str, style: _JsonStyle, resolved: list[Any], value: object, *, exists: bool
) -> str | None:
    """The value replaced in place, or a member added after the last one
    (or into an empty object); None for a shape the splicer does not know."""
    parent = _json_find(text, resolved[:-1])
    if parent is None:
        return None
    members = _json_members(text, parent)
    hits = [i for i, m in enumerate(members) if m.key == resolved[-1]]
    if exists:
        if not hits:
            return None
        member = members[hits[-1]]
        form = _json_form(value, style, _json_indent_before(text, member.start))
        return text[: member.value_start] + form + text[member.value_end :]
    key = json.dumps(resolved[-1], ensure_ascii=style.ensure_ascii)
    if not members:
        return _json_fill(text, style, parent, key, value)
    last = members[-1]
    indent = _json_indent_before(text, last.start)
    item, colon = _json_inline_separators(text, style, members)
    form = _json_form(value, style, indent)
    if indent is None:
        added = item + key + colon + form
    else:
        added = "," + style.newline + indent + key + colon + form
    return text[: last.value_end] + added + text[last.value_end :]


def _json_fill(text: str, style: _JsonStyle, parent: int, key: str, value: object) -> str:
    """The first member of an empty object: on its own line in an indented
    document, as ``json.dumps`` would write it; else inline."""
    closer = _json_closer(text, parent)
    if style.indent is None:
        inner = key + style.separators[1] + _json_form(value, style, None)
        return text[: parent + 1] + inner + text[closer:]
    outer = _json_line_indent(text, parent)
    unit = style.indent if isinstance(style.indent, str) else " " * style.indent
    inner = outer + unit
    body = style.newline + inner + key + ": " + _json_form(value, style, inner)
    return text[: parent + 1] + body + style.newline + outer + text[closer:]


def _json_remove(text: str, resolved: list[Any]) -> str | None:
    """A member removed with its separator; every member with that key, as
    ``json.loads`` would otherwise see the one before. The last member goes
    with the space around it: ``{}``, ``[]``."""
    parent = _json_find(text, resolved[:-1])
    if parent is None:
        return None
    while True:
        members = _json_members(text, parent)
        hits = [i for i, m in enumerate(members) if m.key == resolved[-1]]
        if not hits:
            return text
        index = hits[-1]
        if len(members) == 1:
            text = text[: parent + 1] + text[_json_closer(text, parent) :]
        elif index > 0:
            text = text[: members[index - 1].value_end] + text[members[index].value_end :]
        else:
            text = text[: members[0].start] + text[members[1].start :]
        if isinstance(resolved[-1], int):
            return text  # one array item; the next one moved into its place


def json_edit(text: str, change: document.Change) -> str:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise document.Refused(
            f"does not parse as JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise document.Refused("does not parse as JSON: nested too deeply") from None
    resolved, exists, value = document.resolve_change(data, change, is_json=True)
    if not change.delete:
        problems = value_problems(value, "the value", True, set())
        if problems:
            raise document.Refused(f"the file is JSON, and {problems[0]}")
    if (
        exists
        and not change.delete
        and document.same_value(document.value_at(data, resolved), value)
    ):
        start = _json_find(text, resolved)
        written = written_text(value)
        if written is None or start is None:
            return text
        if text[start : json.JSONDecoder().raw_decode(text, start)[1]] == written:
            return text  # else the same number, written as asked (1.1 -> 1.10)
    style = _json_style(text, data)
    document.mutate(data, resolved, value, delete=change.delete)
    # Only the edited value's bytes change: re-serialising would rewrite
    # every number and escape in the file (1.50 -> 1.5, \/ -> /).
    try:
        if change.delete:
            candidate = _json_remove(text, resolved)
        else:
            candidate = _json_set(text, style, resolved, value, exists=exists)
    except (ValueError, IndexError):  # a shape the splicer does not know
        candidate = None
    if candidate is not None and _json_reads_as(candidate, data):
        return candidate
    raise document.Refused(
        "cannot make this edit without rewriting other parts of the file; "
        "edit the file and write it whole (--file) instead"
    )


def _json_reads_as(text: str, data: Any) -> bool:
    try:
        return bool(
            document.comparable(json.loads(text), ordered=True)
            == document.comparable(data, ordered=True)
        )
    except ValueError:
        return False

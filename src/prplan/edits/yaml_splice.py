"""Splicing YAML: the candidate texts for one edit, each the original with
only the edited entry's bytes changed: a value replaced, an entry rewritten,
a key inserted after its last sibling, an entry or item deleted, in block
or flow style. Candidates are yielded best first; ``prplan.edits.yaml``
keeps the first that parses to the intended document.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from prplan.edits.values import SCALAR_TYPES, yaml11_not_a_string
from prplan.edits.yaml_nodes import (
    Loc,
    content_end,
    is_alias,
    line_after,
    line_start,
    sibling_quotes,
    skip_comment_lines,
    via_alias,
)
from prplan.edits.yaml_text import (
    YamlDoc,
    dump_yaml,
    entry_tails,
    indent_lines,
    scalar_forms,
    scalar_texts,
    yaml_double,
    yaml_single,
)

__all__ = ["replace_candidates", "insert_candidates", "delete_candidates"]

#: Keys written plain when new (if they read back as the same string).
_PLAIN_KEY_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*")


def replace_candidates(doc: YamlDoc, loc: Loc, value: object) -> Iterator[str]:
    text, node = doc.text, loc.value
    assert node is not None
    scalar = type(value) in SCALAR_TYPES
    aliased = is_alias(loc)
    if scalar and isinstance(node, ScalarNode) and not aliased and node.style in (None, "'", '"'):
        start, end = node.start_mark.index, node.end_mark.index
        old = text[start:end]
        if start == end and node.value == "" and loc.key is not None:
            # "key:" with nothing after it: write after the colon.
            colon = text.find(":", loc.key.end_mark.index)
            if colon >= 0 and not text[loc.key.end_mark.index : colon].strip():
                for candidate in scalar_texts(value, None, doc.quote):
                    yield text[: colon + 1] + " " + candidate + text[colon + 1 :]
        elif "\n" not in old and (old[:1] == node.style if node.style else old[:1] not in "&!*"):
            for candidate in scalar_texts(value, node.style, doc.quote, old):
                yield text[:start] + candidate + text[end:]
    if getattr(loc.parent, "flow_style", False):
        if not aliased and not scalar and text[node.start_mark.index] not in "&!*":
            end = content_end(text, node)
            if end is not None:
                yield text[: node.start_mark.index] + _flow_form(value) + text[end:]
        return
    if loc.key is not None:
        yield from _rewrite_entry(doc, loc.key, node, value, aliased=aliased)
    elif not aliased:
        yield from _rewrite_item(doc, node, value)


def _value_line_end(text: str, start: int, end: int) -> tuple[int, str]:
    """Where the line holding the end of a value ends (before its line
    break), and the comment there when the value is on one line: a rewrite
    replaces ``text[start:line_end]`` and keeps that comment."""
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    if text[line_end - 1 : line_end] == "\r":
        line_end -= 1
    comment = ""
    if "\n" not in text[start:end]:
        match = re.match(r"(\s+#.*)$", text[end:line_end])
        comment = match.group(1) if match else ""
    return line_end, comment


def _rewrite_entry(
    doc: YamlDoc, key: ScalarNode, node: Node, value: object, *, aliased: bool
) -> Iterator[str]:
    """Rewrite a whole ``key: value`` entry of a block mapping (a multi-line
    or tagged value, a collection, an alias): from the key to the end of the
    value's last line. The key keeps its text, and a comment on a one-line
    value stays on the key's line."""
    text = doc.text
    start = key.start_mark.index
    end = None if aliased else content_end(text, node)
    if end is None:
        end = key.end_mark.index
    line_end, comment = _value_line_end(text, start, end)
    key_text = text[start : key.end_mark.index]
    column = key.start_mark.column
    for tail in entry_tails(doc, value, node, column, quote=None):
        first, sep, more = tail.partition("\n")
        entry = key_text + first + comment + sep + more
        yield text[:start] + indent_lines(entry, column, doc.newline) + text[line_end:]


def _rewrite_item(doc: YamlDoc, node: Node, value: object) -> Iterator[str]:
    """Rewrite one ``- item`` of a block sequence in place, as
    ``_rewrite_entry`` does for a mapping entry."""
    text = doc.text
    start = node.start_mark.index
    if not re.fullmatch(r" *- +", text[line_start(text, start) : start]):
        return
    end = content_end(text, node)
    if end is None:
        return
    line_end, comment = _value_line_end(text, start, end)
    column = node.start_mark.column
    if type(value) in SCALAR_TYPES:
        forms = scalar_forms(doc, value, node, column, quote=None)
    elif not value:
        forms = ["{}" if isinstance(value, dict) else "[]"]
    else:
        forms = [textwrap.dedent(dump_yaml(value, doc.indents, doc.quote)).rstrip("\n")]
    for form in forms:
        first, sep, more = form.partition("\n")
        item = first + comment + sep + more
        yield text[:start] + indent_lines(item, column, doc.newline) + text[line_end:]


def insert_candidates(doc: YamlDoc, loc: Loc, key: str, value: object) -> Iterator[str]:
    """A new key as the last entry of a block mapping, on its own line(s)
    after the last entry and the comments that belong to it."""
    parent, text = loc.parent, doc.text
    if not isinstance(parent, MappingNode) or not parent.value:
        return
    if parent.flow_style:
        yield from _flow_insert(doc, parent, key, value)
        return
    column = parent.value[0][0].start_mark.column
    end = content_end(text, parent)
    if end is None:
        return
    pos = skip_comment_lines(text, line_after(text, end), column, deeper_only=False)
    key_quote, value_quote = sibling_quotes(parent)
    single = yaml_single(key)
    quoted = single if (key_quote or doc.quote) == "'" and single else yaml_double(key)
    plain = [key] if _PLAIN_KEY_RE.fullmatch(key) and not yaml11_not_a_string(key) else []
    key_texts = [quoted, *plain] if key_quote else [*plain, quoted]
    for key_text in key_texts:
        for tail in entry_tails(doc, value, None, column, quote=value_quote):
            entry = " " * column + indent_lines(key_text + tail, column, doc.newline)
            if pos == len(text) and text and not text.endswith("\n"):
                yield text + doc.newline + entry
            else:
                yield text[:pos] + entry + doc.newline + text[pos:]


def delete_candidates(doc: YamlDoc, loc: Loc) -> Iterator[str]:
    """Remove an entry's lines: a key that starts its line, or a ``- `` item,
    through the end of its value and the deeper comment lines under it."""
    text, node = doc.text, loc.value
    assert node is not None
    if getattr(loc.parent, "flow_style", False):
        yield from _flow_delete(doc, loc)
        return
    if loc.key is not None:
        start = loc.key.start_mark.index
        first = line_start(text, start)
        if text[first:start].strip(" "):
            # "- key: ...": the first key of a sequence item. The next key
            # moves up behind the dash.
            entries = loc.parent.value
            if len(entries) > 1 and entries[0][0] is loc.key:
                yield text[:start] + text[entries[1][0].start_mark.index :]
            return
        end = None if via_alias(loc.key, node) else content_end(text, node)
        column = loc.key.start_mark.column
        last = line_after(text, loc.key.end_mark.index if end is None else end)
    else:
        start = node.start_mark.index
        first = line_start(text, start)
        dash = re.fullmatch(r"( *)- +", text[first:start])
        end = content_end(text, node)
        if dash is None or end is None or end <= start:
            return
        column = len(dash.group(1))
        last = line_after(text, end)
    yield text[:first] + text[skip_comment_lines(text, last, column, deeper_only=True) :]


def _flow_form(value: object) -> str:
    """A value inside ``{...}`` or ``[...]``: JSON is YAML's flow style."""
    return json.dumps(value, ensure_ascii=False)


def _flow_insert(doc: YamlDoc, parent: MappingNode, key: str, value: object) -> Iterator[str]:
    """``, key: value`` after the last entry of a flow mapping."""
    text = doc.text
    last_key, last_value = parent.value[-1]
    end = None if via_alias(last_key, last_value) else content_end(text, last_value)
    if end is None:
        return
    plain = [key] if _PLAIN_KEY_RE.fullmatch(key) and not yaml11_not_a_string(key) else []
    forms = (
        scalar_texts(value, None, doc.quote) if type(value) in SCALAR_TYPES else [_flow_form(value)]
    )
    for key_text in [*plain, yaml_double(key)]:
        for form in forms:
            yield text[:end] + f", {key_text}: {form}" + text[end:]


def _flow_delete(doc: YamlDoc, loc: Loc) -> Iterator[str]:
    """Remove an entry of a flow collection with the separator next to it:
    up to the next entry, or from the previous one when it is the last."""
    text, node, parent = doc.text, loc.value, loc.parent
    assert node is not None
    starts: list[int] = []
    ends: list[int | None] = []
    index = -1
    for i, entry in enumerate(parent.value):
        if isinstance(parent, MappingNode):
            key, value = entry
            starts.append(key.start_mark.index)
            ends.append(None if via_alias(key, value) else content_end(text, value))
            found = key is loc.key
        else:
            starts.append(entry.start_mark.index)
            ends.append(content_end(text, entry))
            found = entry is node
        if found:
            index = i
    ordered = all(a < b for a, b in zip([parent.start_mark.index, *starts], starts, strict=False))
    if index < 0 or ends[index] is None or not ordered:
        return  # an alias among the entries: its marks point at its anchor
    if index + 1 < len(starts):
        yield text[: starts[index]] + text[starts[index + 1] :]
    elif index > 0 and ends[index - 1] is not None:
        yield text[: ends[index - 1]] + text[ends[index] :]
    else:
        yield text[: starts[index]] + text[ends[index] :]

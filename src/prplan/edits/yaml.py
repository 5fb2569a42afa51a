"""Editing a YAML document byte-exactly: *byte-for-byte outside the edited
value*, because GitOps reviewers read the diff.

ruamel.yaml parses the document only to *locate* the value (node marks give
its exact span and quoting style), and new text is spliced into the original
(``prplan.edits.yaml_splice``). Every splice is checked by parsing the
result and comparing it with the intended document (the original with the
edit applied, in ruamel's own data model); a candidate that fails the check
is dropped, and when none is left the document is re-dumped by ruamel (round
trip, preserved quotes, the document's own indentation) and checked the same
way. A check that still fails is an error, never a wrong file.
"""

from __future__ import annotations

import io
import re
import warnings
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.nodes import Node, ScalarNode
from ruamel.yaml.util import load_yaml_guess_indent

from prplan.edits.document import (
    Change,
    Refused,
    comparable,
    mutate,
    newline_of,
    resolve_change,
    same_value,
    value_at,
)
from prplan.edits.paths import Segment, format_path
from prplan.edits.values import written_text
from prplan.edits.yaml_nodes import locate, measure_indents, preferred_quote
from prplan.edits.yaml_splice import delete_candidates, insert_candidates, replace_candidates
from prplan.edits.yaml_text import YamlDoc, dumper, quoted_for_yaml11

__all__ = ["yaml_edit"]


def _yaml_load(text: str) -> tuple[Any, Node | None, int | None, int | None]:
    """Data (round trip, quotes preserved), node tree and ruamel's guess of
    indentation. Parse errors become a reason with a line number."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a reused anchor: legal, and not ours to report
            data, indent, block_seq_indent = load_yaml_guess_indent(text, yaml=yaml)
            root = YAML(typ="rt").compose(text)
    except Exception as exc:  # ruamel raises assorted types on malformed input
        raise Refused(_yaml_error(exc)) from None
    return data, root, indent, block_seq_indent


def _yaml_error(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
    if mark is not None:
        return f"does not parse as YAML: line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"does not parse as YAML: {problem}"


def _yaml_reads_as(text: str, expected: Any) -> bool:
    """Does ``text`` parse to exactly ``expected`` (a ``comparable`` form)?"""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = YAML(typ="rt").load(text)
        return bool(comparable(data, ordered=True) == expected)
    except Exception:  # a candidate that does not parse is simply not it
        return False


#: A ``%YAML 1.1`` directive before the document starts.
_YAML11_RE = re.compile(r"(?:[ \t]*(?:#[^\n]*)?\r?\n|%(?!YAML)[^\n]*\n)*%YAML[ \t]+1\.1\b")


def _custom_tag(value: object) -> str | None:
    """The tag of a value tagged with one of its own (``!Ref``), else None."""
    tag = getattr(value, "tag", None)
    name = getattr(tag, "value", tag)
    if isinstance(name, str) and name and not name.startswith("tag:yaml.org,2002:"):
        return name
    return None


def _merged_in(data: Any, resolved: list[Any]) -> bool:
    """Is the leaf a key its mapping only has through a merge key (``<<``)?"""
    parent = value_at(data, resolved[:-1])
    own = getattr(parent, "_ok", None)  # ruamel's CommentedMap: its own keys
    return isinstance(parent, dict) and isinstance(own, set) and resolved[-1] not in own


def _written_otherwise(
    text: str,
    root: Node | None,
    data: Any,
    resolved: list[Any],
    segments: list[Segment],
    value: object,
) -> bool:
    """Is the number already there written otherwise than the user wrote
    it (``1`` for ``+1``, ``1.1`` for ``1.10``)? Then it is rewritten as
    given; any other value equal to what is there is already in place."""
    written = written_text(value)
    if written is None:
        return False
    try:
        loc = locate(root, data, resolved, segments)
    except Refused:  # through an alias: leave it be, it is in place
        return False
    old = loc.value if loc is not None else None
    if not isinstance(old, ScalarNode) or old.style is not None:
        return False
    return text[old.start_mark.index : old.end_mark.index] != written


def yaml_edit(text: str, change: Change) -> str:
    segments, delete = change.segments, change.delete
    data, root, guess, guess_offset = _yaml_load(text)
    yaml11 = _YAML11_RE.match(text) is not None
    resolved, exists, value = resolve_change(data, change, is_json=False, yaml11=yaml11)
    where = format_path(segments)
    if exists and not delete:
        tag = _custom_tag(value_at(data, resolved))
        if tag is not None:
            # !Ref foo set to bar: keep the tag (a reference) or drop it (a
            # string)? Either guess can be wrong, so say how to be exact.
            raise Refused(
                f"{where!r} has the tag {tag}, which prplan cannot keep or drop for you: "
                "change it with --replace (Replace) or write the file whole"
            )
        if _merged_in(data, resolved):
            change.notes.append(
                f"adds key {where} (it was merged in with '<<'; the merged mapping is unchanged)"
            )
    in_place = exists and not delete and same_value(value_at(data, resolved), value)
    if in_place and not _written_otherwise(text, root, data, resolved, segments, value):
        return text
    loc = locate(root, data, resolved, segments)
    doc = YamlDoc(
        text=text,
        root=root,
        indents=measure_indents(root, guess, guess_offset),
        quote=preferred_quote(root),
        newline=newline_of(text),
    )
    parent_size = len(value_at(data, resolved[:-1]))
    # The intended document, in ruamel's own model (an anchor edited at its
    # definition changes its aliases too, as YAML says it does).
    mutate(data, resolved, value, delete=delete)
    expected = comparable(data, ordered=True)
    emptied_or_filled = parent_size == (1 if delete else 0)
    if emptied_or_filled and len(resolved) > 1:
        # "key: {}" gaining its first entry, or losing its last: rewrite the
        # enclosing entry as a whole ("key:" + block, or "key: {}").
        outer = locate(root, data, resolved[:-1], segments)
        if outer is not None and outer.value is not None:
            container = _builtin(value_at(data, resolved[:-1]))
            for candidate in replace_candidates(doc, outer, container):
                if _yaml_reads_as(candidate, expected):
                    return candidate
    if loc is not None:
        if delete:
            candidates = delete_candidates(doc, loc)
        elif loc.value is None:
            candidates = insert_candidates(doc, loc, str(resolved[-1]), value)
        else:
            candidates = replace_candidates(doc, loc, value)
        for candidate in candidates:
            if _yaml_reads_as(candidate, expected):
                return candidate
    if not delete:  # strings YAML 1.1 reads otherwise are quoted in the dump too
        value_at(data, resolved[:-1])[resolved[-1]] = quoted_for_yaml11(value, doc.quote)
    return _yaml_redump(doc, data, expected)


def _builtin(value: Any) -> object:
    """Plain dicts, lists and scalars, for writing a container afresh."""
    if isinstance(value, dict):
        return {_builtin(k): _builtin(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_builtin(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind_of in (int, float, str):
        if isinstance(value, kind_of):
            return kind_of(value)
    return value


def _yaml_redump(doc: YamlDoc, data: Any, expected: Any) -> str:
    """The fallback: ruamel's round trip of the edited data, in the
    document's indentation, with its quotes, line endings, document marker
    and final newline (or lack of one)."""
    yaml = dumper(doc.indents)
    if re.match(r"(?:#[^\n]*\n|\s*\n)*---", doc.text):
        yaml.explicit_start = True
    stream = io.StringIO()
    try:
        yaml.dump(data, stream)
    except Exception as exc:  # ruamel's representer refuses some shapes
        raise Refused(f"cannot write the edited YAML: {exc}") from None
    out = stream.getvalue()
    if not doc.text.endswith("\n") and out.endswith("\n"):
        out = out[:-1]
    if doc.newline == "\r\n":
        out = out.replace("\n", "\r\n")
    if not _yaml_reads_as(out, expected):
        raise Refused(
            "cannot write this edit without changing other values "
            "(an anchor, alias or merge key in the way?)"
        )
    return out

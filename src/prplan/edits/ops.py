"""Structured edits of one file's bytes: set or delete a value in YAML or
JSON, or replace text. Pure: bytes in, bytes out, no I/O.

GitOps reviewers read the diff, so the rule is *byte-for-byte outside the
edited value*. YAML is therefore never re-serialised when it can be avoided:
ruamel.yaml parses the document only to *locate* the value (node marks give
its exact span and quoting style), and the new text is spliced into the
original. Every splice is checked by parsing the result and comparing it with
the intended document (the original with the edit applied, in ruamel's own
data model); a candidate that fails the check is dropped, and when none is
left the document is re-dumped by ruamel (round trip, preserved quotes, the
document's own indentation) and checked the same way. A check that still
fails is an error, never a wrong file.

JSON is parsed with the standard library; a scalar replaced by a scalar is
spliced, anything else is written back with the indentation, separators and
escaping detected from the source.

A set to the value already there returns the identical bytes: that is how
the planner recognises "already in place".
"""

from __future__ import annotations

import copy
import io
import json
import math
import re
import textwrap
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any, cast

import attrs
from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.util import load_yaml_guess_indent

from prplan.edits.values import (
    WrittenFloat,
    WrittenInt,
    canonical,
    type_written,
    written_text,
    yaml11_not_a_string,
)
from prplan.errors import InvalidRequestError, Problem, RepositoryDisagreesError

__all__ = [
    "YamlSet",
    "YamlDelete",
    "JsonSet",
    "JsonDelete",
    "Replace",
    "Edit",
    "EditError",
    "apply_edits",
    "edit_file",
    "set_edit",
    "split_assignment",
    "edit_problems",
    "parse_path",
    "format_path",
    "Select",
    "kind",
]

# --- the edits ---------------------------------------------------------------
#
# The classes do not validate themselves: the request that carries them calls
# ``edit_problems`` for each, so a user sees every problem of every edit at
# once, with the field it belongs to.


@attrs.frozen(kw_only=True)
class YamlSet:
    """Set the value at ``path`` (e.g. ``image.tag``, ``env[1].value``,
    ``env[name=LOG_LEVEL].value``). The leaf may be new in a mapping (added
    as its last key, with any missing parent mappings) or replaced.

    ``value`` is typed as given (a Python ``str`` is a string). With
    ``as_written=True`` it is the text a user wrote (``--set``, a change
    set's ``set:``), typed against the document: see ``_edit_values``; or a
    list or mapping of such texts (a change set's ``set: {k: {tag: 1.10}}``),
    each typed as for a new key (a quoted text, ``'"1.10"'``, is a string).
    A document that is JSON stays JSON."""

    path: str
    value: object
    as_written: bool = False


@attrs.frozen(kw_only=True)
class YamlDelete:
    """Delete the key or sequence item at ``path``; it must exist."""

    path: str


@attrs.frozen(kw_only=True)
class JsonSet:
    """As ``YamlSet``, for a JSON document."""

    path: str
    value: object
    as_written: bool = False


@attrs.frozen(kw_only=True)
class JsonDelete:
    """As ``YamlDelete``, for a JSON document."""

    path: str


@attrs.frozen(kw_only=True)
class Replace:
    """Replace ``old`` with ``new`` in the text. ``count`` is the number of
    matches *expected* (``None``: at least one); any other number is an error,
    so a replacement never silently does nothing or too much. With ``regex``,
    ``old`` is a Python regular expression and ``new`` may use
    backreferences (``\\1``, ``\\g<name>``)."""

    old: str
    new: str
    regex: bool = False
    count: int | None = 1


Edit = YamlSet | YamlDelete | JsonSet | JsonDelete | Replace

_KINDS: tuple[tuple[type, str], ...] = (
    (YamlSet, "yaml-set"),
    (YamlDelete, "yaml-delete"),
    (JsonSet, "json-set"),
    (JsonDelete, "json-delete"),
    (Replace, "replace"),
)


def kind(edit: object) -> str:
    """``yaml-set`` | ``yaml-delete`` | ``json-set`` | ``json-delete`` | ``replace``."""
    for cls, name in _KINDS:
        if isinstance(edit, cls):
            return name
    raise TypeError(f"not an edit: {type(edit).__name__}")


def _target(edit: Edit) -> str:
    if isinstance(edit, Replace):
        old = edit.old if len(edit.old) <= 60 else edit.old[:57] + "..."
        return repr(old)
    return edit.path


class EditError(RepositoryDisagreesError):
    """An edit cannot be applied to the file as it is: the file is missing or
    does not parse, a path does not exist, a replacement matched a different
    number of times. ``edit`` is the edit, ``reason`` says what is wrong and
    ``filename`` names the file. The request may be fine; the file disagrees."""

    def __init__(self, edit: Edit, reason: str, *, filename: str = "") -> None:
        self.edit = edit
        self.reason = reason
        self.filename = filename
        super().__init__(f"{kind(edit)} {_target(edit)}: {reason}")


class _Refused(Exception):
    """Internal: an edit cannot be applied; ``apply_edits`` turns it into an
    ``EditError`` carrying the edit."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


# --- paths -------------------------------------------------------------------

_BARE_RE = re.compile(r"[^.\[\]\"']+")
_INDEX_RE = re.compile(r"\[(0|[1-9][0-9]*)\]")
_PLAIN_SEGMENT_RE = re.compile(r"[^.\[\]\"'\s](?:[^.\[\]\"']*[^.\[\]\"'\s])?")
#: In a selector: a bare key runs to "=", a bare value to "]".
_SELECT_KEY_RE = re.compile(r"[^=\[\]\"'\s]+")
_SELECT_VALUE_RE = re.compile(r"[^\[\]\"'\s](?:[^\[\]\"']*[^\[\]\"'\s])?")


@attrs.frozen
class Select:
    """A path segment that picks the one sequence item whose ``key`` holds
    ``value``: ``env[name=LOG_LEVEL]``. Exactly one item must match."""

    key: str
    value: str

    def __str__(self) -> str:
        return format_path([self])


Segment = str | int | Select


def parse_path(path: str) -> list[Segment]:
    """``"image.tag"`` -> ``["image", "tag"]``; ``"containers[0].image"`` ->
    ``["containers", 0, "image"]``; a key holding dots (or brackets, quotes)
    is quoted: ``'annotations."app.kubernetes.io/name"'``. In double quotes
    ``\\"`` and ``\\\\`` are escapes; in single quotes ``''`` is one quote.
    ``env[name=LOG_LEVEL]`` selects the item of ``env`` whose ``name`` is
    ``LOG_LEVEL`` (a ``Select``); quote a value holding brackets or quotes:
    ``images[name="a[1]"]``. A path may start with an index or selector
    (``[0].name``) when the document is a sequence. Raises ``ValueError``
    saying what is wrong and where."""
    if not isinstance(path, str):
        raise ValueError(f"must be a string, got {type(path).__name__}")
    if not path:
        raise ValueError("is empty")
    out: list[Segment] = []
    pos, end = 0, len(path)
    while True:
        if pos < end and path[pos] in "\"'":
            key, pos = _quoted_segment(path, pos)
            out.append(key)
        elif not (pos == 0 and path.startswith("[")):
            match = _BARE_RE.match(path, pos)
            if match is None:
                raise ValueError(f"path {path!r} has an empty key at position {pos}")
            key = match.group()
            if key != key.strip():
                raise ValueError(
                    f"path {path!r}: key {key!r} has leading or trailing spaces; "
                    "quote it if they are meant"
                )
            out.append(key)
            pos = match.end()
        while pos < end and path[pos] == "[":
            index = _INDEX_RE.match(path, pos)
            if index is not None:
                out.append(int(index.group(1)))
                pos = index.end()
                continue
            select, pos = _selector(path, pos)
            out.append(select)
        if pos == end:
            return out
        if path[pos] != ".":
            raise ValueError(f"path {path!r} has an unexpected {path[pos]!r} at position {pos}")
        pos += 1
        if pos == end:
            raise ValueError(f"path {path!r} ends with '.'")


def _quoted_segment(path: str, pos: int) -> tuple[str, int]:
    quote = path[pos]
    chars: list[str] = []
    i = pos + 1
    while i < len(path):
        ch = path[i]
        if quote == '"' and ch == "\\":
            if i + 1 < len(path) and path[i + 1] in '"\\':
                chars.append(path[i + 1])
                i += 2
                continue
            raise ValueError(
                f'path {path!r}: unknown escape at position {i}; only \\" and \\\\ are escapes'
            )
        if ch == quote:
            if quote == "'" and path.startswith("''", i):
                chars.append("'")
                i += 2
                continue
            return "".join(chars), i + 1
        chars.append(ch)
        i += 1
    raise ValueError(f"path {path!r} has an unterminated {quote} quote at position {pos}")


def _selector(path: str, pos: int) -> tuple[Select, int]:
    """``[KEY=VALUE]`` at ``pos``; either side may be quoted."""
    bad = ValueError(
        f"path {path!r} has a bad index at position {pos}: expected [N] with N a "
        "non-negative integer, or [KEY=VALUE] to select the item whose KEY is VALUE"
    )
    i = pos + 1
    if i < len(path) and path[i] in "\"'":
        key, i = _quoted_segment(path, i)
    else:
        match = _SELECT_KEY_RE.match(path, i)
        if match is None:
            raise bad
        key, i = match.group(), match.end()
    if not path.startswith("=", i):
        raise bad
    i += 1
    if i < len(path) and path[i] in "\"'":
        value, i = _quoted_segment(path, i)
    else:
        match = _SELECT_VALUE_RE.match(path, i)
        if match is None:
            raise ValueError(
                f"path {path!r} has an empty or odd value at position {i}: quote a value "
                "that is empty, has leading or trailing spaces, brackets or quotes"
            )
        value, i = match.group(), match.end()
    if not path.startswith("]", i):
        raise ValueError(
            f"path {path!r}: expected ']' at position {i}; quote a selector value "
            "holding brackets or quotes"
        )
    return Select(key, value), i + 1


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_path(segments: Sequence[Segment]) -> str:
    """The inverse of ``parse_path``: keys that need it are double-quoted."""
    parts: list[str] = []
    for seg in segments:
        if isinstance(seg, int):
            parts.append(f"[{seg}]")
            continue
        if isinstance(seg, Select):
            key = seg.key if _SELECT_KEY_RE.fullmatch(seg.key) else _quoted(seg.key)
            # "=" parses in a bare value, but [name=A=B] reads as a typo.
            plain = _SELECT_VALUE_RE.fullmatch(seg.value) and "=" not in seg.value
            value = seg.value if plain else _quoted(seg.value)
            parts.append(f"[{key}={value}]")
            continue
        text = seg if _PLAIN_SEGMENT_RE.fullmatch(seg) else _quoted(seg)
        parts.append(("." if parts else "") + text)
    return "".join(parts)


def split_assignment(text: str) -> tuple[str, str] | None:
    """``KEY.PATH=VALUE`` split at the first ``=`` outside brackets and
    quotes (``env[name=X].value=1``), or None when there is none."""
    depth = 0
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(depth - 1, 0)
        elif ch == "=" and depth == 0:
            return text[:i], text[i + 1 :]
    return None


def is_json_name(filename: str) -> bool:
    """Does the file's name say JSON (``.json``, in any case)?"""
    return filename.lower().endswith(".json")


def set_edit(filename: str, path: str, value: object, *, as_written: bool) -> YamlSet | JsonSet:
    """The set edit for a file: JSON when its name says so; a YAML edit of a
    file whose content turns out to be JSON keeps it JSON."""
    kind_of = JsonSet if is_json_name(filename) else YamlSet
    return kind_of(path=path, value=value, as_written=as_written)


# --- validation --------------------------------------------------------------


def edit_problems(edit: object, field: str) -> list[Problem]:
    """Every problem with one edit, each with the field it belongs to
    (``field`` is where the edit sits, e.g. ``edits['values.yaml'][0]``).
    Empty when the edit is well-formed; whether it *applies* depends on the
    file and is only known to ``apply_edits``."""
    if not isinstance(edit, YamlSet | YamlDelete | JsonSet | JsonDelete | Replace):
        return [
            Problem(
                field,
                "must be an edit (YamlSet, YamlDelete, JsonSet, JsonDelete or Replace), "
                f"got {type(edit).__name__}",
            )
        ]
    if isinstance(edit, Replace):
        return _replace_problems(edit, field)
    problems: list[Problem] = []
    try:
        parse_path(edit.path)
    except ValueError as exc:
        problems.append(Problem(f"{field}.path", str(exc)))
    if isinstance(edit, YamlSet | JsonSet):
        is_json = isinstance(edit, JsonSet)
        if not isinstance(edit.as_written, bool):
            problems.append(Problem(f"{field}.as_written", "must be True or False"))
        elif edit.as_written and (found := _not_text(edit.value, "value")) is not None:
            problems.append(
                Problem(
                    f"{field}.value",
                    "must be the text as written (a str, or lists and mappings of str) "
                    f"with as_written=True, got {found}",
                )
            )
            return problems
        problems += [
            Problem(f"{field}.value", message)
            for message in _value_problems(edit.value, "value", is_json, set())
        ]
    return problems


def _not_text(value: object, where: str, depth: int = 0) -> str | None:
    """What in an as-written value is not text (``int at value['b'][0]``),
    or None: a change set's ``set:`` gives lists and mappings of texts."""
    if type(value) is str:
        return None
    if isinstance(value, dict | list | tuple) and depth < 100:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(value, dict) and type(key) is not str:
                return f"a key of type {type(key).__name__} in {where}"
            found = _not_text(item, f"{where}[{key!r}]", depth + 1)
            if found is not None:
                return found
        return None
    return type(value).__name__ if depth == 0 else f"{type(value).__name__} at {where}"


_SCALAR_TYPES = (str, int, float, bool, type(None), WrittenInt, WrittenFloat)


def _value_problems(value: object, where: str, is_json: bool, active: set[int]) -> list[str]:
    fmt = "JSON" if is_json else "YAML"
    kind_of = type(value)
    if kind_of in _SCALAR_TYPES:
        if isinstance(value, str) and not _encodable(value):
            return [f"{where} is not valid Unicode text (a lone surrogate?)"]
        if isinstance(value, float) and is_json and not math.isfinite(value):
            return [f"{where} is {value!r}, which JSON cannot represent"]
        return []
    if kind_of not in (dict, list, tuple):
        return [
            f"{where} has type {kind_of.__name__}; {fmt} values are str, int, float, bool, "
            "None, lists and dicts (with str keys)"
        ]
    if id(value) in active:
        return [f"{where} contains itself"]
    active = active | {id(value)}
    problems: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or type(key) is not str:
                problems.append(f"{where} has a key of type {type(key).__name__}; keys must be str")
            elif not _encodable(key):
                problems.append(f"{where} has a key that is not valid Unicode text")
            else:
                problems += _value_problems(item, f"{where}[{key!r}]", is_json, active)
    else:
        assert isinstance(value, list | tuple)
        for i, item in enumerate(value):
            problems += _value_problems(item, f"{where}[{i}]", is_json, active)
    return problems


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _replace_problems(edit: Replace, field: str) -> list[Problem]:
    problems: list[Problem] = []
    old_ok = new_ok = False
    if not isinstance(edit.old, str):
        problems.append(Problem(f"{field}.old", f"must be a string, got {type(edit.old).__name__}"))
    elif not edit.old:
        problems.append(Problem(f"{field}.old", "is empty; say what to replace"))
    elif not _encodable(edit.old):
        problems.append(Problem(f"{field}.old", "is not valid Unicode text (a lone surrogate?)"))
    else:
        old_ok = True
    if not isinstance(edit.new, str):
        problems.append(Problem(f"{field}.new", f"must be a string, got {type(edit.new).__name__}"))
    elif not _encodable(edit.new):
        problems.append(Problem(f"{field}.new", "is not valid Unicode text (a lone surrogate?)"))
    else:
        new_ok = True
    if not isinstance(edit.regex, bool):
        problems.append(Problem(f"{field}.regex", "must be True or False"))
    count: object = edit.count
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
        problems.append(Problem(f"{field}.count", "must be a whole number or None (at least one)"))
    elif isinstance(count, int) and count < 0:
        problems.append(Problem(f"{field}.count", f"is {count}; it must be 0 or more"))
    if edit.regex is True and old_ok:
        try:
            pattern = re.compile(edit.old)
        except re.error as exc:
            problems.append(Problem(f"{field}.old", f"is not a valid regular expression: {exc}"))
        else:
            if new_ok:
                problems += _template_problems(pattern, edit.new, f"{field}.new")
    return problems


def _template_problems(pattern: re.Pattern[str], template: str, field: str) -> list[Problem]:
    """Check backreferences in ``template`` against the groups of
    ``pattern`` without needing a match: an empty alternative always matches
    and keeps the pattern's group numbers and names."""
    try:
        probe = re.compile(f"(?:{pattern.pattern})|")
    except re.error:
        return []  # e.g. global inline flags must stay first; checked when applied
    match = probe.match("")
    assert match is not None  # the empty alternative matches ""
    try:
        match.expand(template)
    except (re.error, IndexError) as exc:
        return [Problem(field, f"is not a valid replacement for this pattern: {exc}")]
    return []


# --- applying ----------------------------------------------------------------


def apply_edits(content: bytes | None, edits: Sequence[Edit], *, filename: str) -> bytes:
    """Apply ``edits`` in order to a file's current ``content`` (``None``:
    the file does not exist) and return the new bytes. Raises ``EditError``
    when an edit does not apply (nothing is returned half-done), and
    ``InvalidRequestError`` for a malformed edit (``edit_problems``)."""
    return edit_file(content, edits, filename=filename)[0]


def edit_file(
    content: bytes | None, edits: Sequence[Edit], *, filename: str
) -> tuple[bytes, tuple[str, ...]]:
    """As ``apply_edits``, with what a reviewer should know about the result,
    each note starting with ``filename``: a key that is added (a typo in a
    path adds a key rather than failing), the item a selector resolved to, a
    value written as a string although it reads as a number."""
    problems = [p for i, edit in enumerate(edits) for p in edit_problems(edit, f"edits[{i}]")]
    if problems:
        raise InvalidRequestError(problems, what=f"edits for {filename}")
    if not edits:
        if content is None:
            # Returning b"" would create an empty file nobody asked for.
            raise InvalidRequestError(
                [Problem("edits", f"is empty, and {filename} does not exist")],
                what=f"edits for {filename}",
            )
        return content, ()
    if content is None:
        raise EditError(edits[0], "file does not exist", filename=filename)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EditError(
            edits[0],
            f"file is not UTF-8 text (byte 0x{content[exc.start]:02x} at offset {exc.start})",
            filename=filename,
        ) from None
    # A byte-order mark is not part of the document; put it back as found.
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    text = text[len(bom) :]
    notes: list[str] = []
    for edit in edits:
        try:
            text = _apply_one(text, edit, notes)
        except _Refused as exc:
            raise EditError(edit, exc.reason, filename=filename) from None
    return (bom + text).encode("utf-8"), tuple(f"{filename}: {note}" for note in notes)


@attrs.frozen
class _Change:
    """One set or delete, as the YAML and JSON editors take it."""

    segments: list[Segment]
    value: object
    delete: bool
    as_written: bool
    notes: list[str]


def _apply_one(text: str, edit: Edit, notes: list[str]) -> str:
    if isinstance(edit, Replace):
        return _replace(text, edit)
    delete = isinstance(edit, YamlDelete | JsonDelete)
    change = _Change(
        segments=parse_path(edit.path),
        value=None if isinstance(edit, YamlDelete | JsonDelete) else _normalized(edit.value),
        delete=delete,
        as_written=isinstance(edit, YamlSet | JsonSet) and edit.as_written,
        notes=notes,
    )
    # JSON is YAML, but a YAML edit of a JSON document would write YAML
    # syntax into it ({"a": 1, b: x}): a document that is JSON stays JSON.
    if isinstance(edit, JsonSet | JsonDelete) or _is_json_document(text):
        return _json_edit(text, change)
    return _yaml_edit(text, change)


def _is_json_document(text: str) -> bool:
    """Is the text a JSON object or array (whatever the file is called)?"""
    if text.lstrip(_JSON_WS)[:1] not in ("{", "["):
        return False
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _normalized(value: object) -> object:
    """A fresh copy with tuples as lists: nothing the caller holds ends up
    inside a document, and both serialisers know lists."""
    if isinstance(value, dict):
        return {key: _normalized(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normalized(item) for item in value]
    return value


# --- Replace -----------------------------------------------------------------


def _replace(text: str, edit: Replace) -> str:
    if edit.regex:
        try:
            new_text, found = re.subn(edit.old, edit.new, text)
        except re.error as exc:
            raise _Refused(f"bad pattern or replacement: {exc}") from None
    else:
        found = text.count(edit.old)
        new_text = text.replace(edit.old, edit.new)
    if edit.count is None:
        if found == 0:
            raise _Refused("expected at least 1 match, found 0")
    elif found != edit.count:
        plural = "match" if edit.count == 1 else "matches"
        raise _Refused(f"expected {edit.count} {plural}, found {found}")
    return new_text


# --- navigating a parsed document (YAML or JSON) -------------------------------


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
                    raise _Refused(
                        f"the document is empty; {format_path(segments[:1])!r} does not exist"
                    )
                raise _Refused(f"the document is {_type_name(node, is_json)}, not {want}")
            raise _Refused(f"{format_path(here)!r} is {_type_name(node, is_json)}, not {want}")
        if isinstance(segment, Select):
            key: Any = _select(cast(list[Any], node), segment, segments[: depth + 1], is_json)
            concrete = [*segments[:depth], key]
            notes.append(f"{format_path(segments[: depth + 1])} is item {format_path(concrete)}")
        elif isinstance(segment, int):
            if segment >= len(node):
                items = "1 item" if len(node) == 1 else f"{len(node)} items"
                where = format_path(here) if here else "the document"
                where = repr(where) if here else where
                raise _Refused(f"index {segment} is out of range: {where} has {items}")
            key = segment
        else:
            key = _find_key(cast(dict[Any, Any], node), segment, is_json)
            if key is None:
                below = segments[depth + 1 :]
                if create and all(isinstance(s, str) for s in below):
                    return [*resolved, segment], False, [str(s) for s in below]
                raise _Refused(f"{format_path(segments[: depth + 1])!r} does not exist")
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
    raise _Refused(f"{format_path(where)!r} matches {matched}; it must match exactly one")


def _resolve_change(
    data: Any, change: _Change, *, is_json: bool, yaml11: bool = False
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
        current = _get(data, resolved) if exists else None
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


def _get(data: Any, keys: Sequence[Any]) -> Any:
    for key in keys:
        data = data[key]
    return data


def _mutate(data: Any, resolved: list[Any], value: object, *, delete: bool) -> None:
    parent = _get(data, resolved[:-1])
    try:
        if delete:
            del parent[resolved[-1]]
        else:
            parent[resolved[-1]] = copy.deepcopy(value)
    except Exception as exc:  # ruamel's merge-key bookkeeping can fail (KeyError)
        raise _Refused(
            f"the YAML library could not apply this edit ({type(exc).__name__}: {exc}); "
            "a merge key ('<<') or alias using this mapping is probably in the way"
        ) from None


# --- comparing documents -----------------------------------------------------


def _typed(value: Any, *, ordered: bool, active: frozenset[int] = frozenset()) -> Any:
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
            raise _Refused("the document is recursive (an alias inside its own anchor)")
        inner = active | {id(value)}
        if isinstance(value, dict):
            items = [
                (_typed(k, ordered=ordered, active=inner), _typed(v, ordered=ordered, active=inner))
                for k, v in value.items()
            ]
            return ("map", tuple(items) if ordered else tuple(sorted(items, key=repr)))
        return ("seq", tuple(_typed(v, ordered=ordered, active=inner) for v in value))
    return ("other", type(value).__name__, repr(value))


def _same(current: Any, value: object) -> bool:
    return bool(_typed(current, ordered=False) == _typed(value, ordered=False))


# --- YAML ----------------------------------------------------------------------

#: Never re-wrap long lines in a re-dump: a wrapped line is a diff line.
_WIDE = 1 << 30

#: Characters YAML allows in a document as they are (YAML 1.2, 5.1), less the
#: line breaks and the byte-order mark, which must be escaped in a value.
_PRINTABLE_RE = re.compile(
    "[\t\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*"
)
#: Keys written plain when new (if they read back as the same string).
_PLAIN_KEY_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*")
_DOUBLE_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\0": "\\0",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}


def _yaml_double(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in _DOUBLE_ESCAPES:
            out.append(_DOUBLE_ESCAPES[ch])
        elif _PRINTABLE_RE.fullmatch(ch):
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _yaml_single(text: str) -> str | None:
    """Single-quoted form, or None when the text needs escapes (only double
    quotes have them)."""
    if "\t" in text or not _PRINTABLE_RE.fullmatch(text):
        return None
    return "'" + text.replace("'", "''") + "'"


def _yaml_scalar_texts(
    value: object, style: str | None, quote: str, old_text: str = ""
) -> list[str]:
    """How to write a scalar, best first. Each candidate is checked by
    parsing, so a plain form that would read back as another type (``1.10``,
    ``true``, ``''``) or break the line (``a #b``) simply loses to a quoted
    one. A quoted original keeps its quote character; a value that is not a
    string is written plain (quoting would make it a string)."""
    written = written_text(value)
    if written is not None:  # a number as the user wrote it (1.10, 0x10)
        plain = float(value) if isinstance(value, float) else int(cast(int, value))
        return [written, *_yaml_scalar_texts(plain, style, quote, old_text)]
    if isinstance(value, bool):
        word = "true" if value else "false"
        if old_text in ("True", "False"):
            word = word.capitalize()
        elif old_text in ("TRUE", "FALSE"):
            word = word.upper()
        return [word]
    if value is None:
        return ["null"]
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, float):
        if math.isnan(value):
            return [".nan"]
        if math.isinf(value):
            return [".inf" if value > 0 else "-.inf"]
        return [repr(value)]
    assert isinstance(value, str)
    single = _yaml_single(value)
    double = _yaml_double(value)
    texts: list[str] = []
    if style == "'":
        texts.append(single or double)
    elif style == '"':
        texts.append(double)
    else:
        if (
            value
            and value == value.strip()
            and _PRINTABLE_RE.fullmatch(value)
            and "\t" not in value
            and not yaml11_not_a_string(value)  # "no" is false to Helm
        ):
            texts.append(value)
        texts.append(single if quote == "'" and single else double)
    if double not in texts:
        texts.append(double)
    return texts


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
        raise _Refused(_yaml_error(exc)) from None
    return data, root, indent, block_seq_indent


def _yaml_error(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
    if mark is not None:
        return f"does not parse as YAML: line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"does not parse as YAML: {problem}"


def _yaml_reads_as(text: str, expected: Any) -> bool:
    """Does ``text`` parse to exactly ``expected`` (a ``_typed`` form)?"""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = YAML(typ="rt").load(text)
        return bool(_typed(data, ordered=True) == expected)
    except Exception:  # a candidate that does not parse is simply not it
        return False


@attrs.frozen
class _Loc:
    """Where a path's leaf sits in the node tree."""

    parent: Node
    key: ScalarNode | None  # the key node; None in a sequence, and for a new key
    value: Node | None  # None for a new key


def _via_alias(key: Node, value: Node) -> bool:
    """An alias yields the anchor's node, which sits before its use."""
    return bool(value.start_mark.index < key.end_mark.index)


def _yaml_locate(
    root: Node | None, data: Any, resolved: list[Any], segments: list[Segment]
) -> _Loc | None:
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
                        raise _Refused(
                            f"{where!r} comes from a merge key ('<<'); editing through it "
                            "would change the mapping it is merged from: edit that one"
                        )
                    return None
                if not last and _via_alias(key_node, value_node):
                    raise _Refused(
                        f"{where!r} is an alias ('*'); editing through it would change the "
                        "anchor and every alias of it: edit the anchor's own path"
                    )
            if last:
                return _Loc(parent=node, key=key_node, value=value_node)
            node, here = value_node, here[key]
        else:
            if not isinstance(node, SequenceNode) or len(node.value) != len(here):
                return None
            item = node.value[key]
            if last:
                return _Loc(parent=node, key=None, value=item)
            before = node.value[key - 1].start_mark.index if key else node.start_mark.index - 1
            if item.start_mark.index <= before:
                raise _Refused(
                    f"{where!r} is an alias ('*'); editing through it would change the "
                    "anchor and every alias of it: edit the anchor's own path"
                )
            node, here = item, here[key]
    return None


def _content_end(text: str, node: Node) -> int | None:
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
        if _via_alias(key, value):
            return int(key.end_mark.index)
        end = _content_end(text, value)
        return int(key.end_mark.index) if end is None else end
    if isinstance(node, SequenceNode) and node.value:
        if (
            len(node.value) > 1
            and node.value[-1].start_mark.index <= node.value[-2].start_mark.index
        ):
            return None  # an alias item: its text is not where the node says
        return _content_end(text, node.value[-1])
    return None


def _line_after(text: str, end: int) -> int:
    """The start of the line after the one holding ``text[end - 1]``."""
    if end > 0 and text[end - 1] == "\n":
        return end
    newline = text.find("\n", end)
    return len(text) if newline < 0 else newline + 1


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _skip_comment_lines(text: str, pos: int, column: int, *, deeper_only: bool) -> int:
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


@attrs.frozen
class _Indents:
    mapping: int
    sequence: int
    offset: int


def _measure_indents(root: Node | None, guess: int | None, guess_offset: int | None) -> _Indents:
    """The document's own indentation, measured on its nodes; ruamel's
    ``load_yaml_guess_indent`` (which takes the first sequence's indent for
    mappings too) only fills what cannot be measured."""
    mappings: Counter[int] = Counter()
    sequences: Counter[tuple[int, int]] = Counter()

    def walk(node: Node) -> None:
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if _via_alias(key, value):
                    continue
                column = key.start_mark.column
                if isinstance(value, MappingNode) and not value.flow_style and value.value:
                    mappings[value.value[0][0].start_mark.column - column] += 1
                if isinstance(value, SequenceNode) and not value.flow_style and value.value:
                    item = value.value[0]
                    sequences[
                        (item.start_mark.column - column, value.start_mark.column - column)
                    ] += 1
                walk(value)
        elif isinstance(node, SequenceNode):
            for item in node.value:
                walk(item)

    if root is not None:
        walk(root)
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
    return _Indents(mapping=mapping, sequence=sequence, offset=offset)


def _preferred_quote(root: Node | None) -> str:
    """The quote character the document mostly uses for values: a value that
    must be quoted follows the house style."""
    counts: Counter[str] = Counter()

    def walk(node: Node) -> None:
        if isinstance(node, ScalarNode):
            if node.style in ("'", '"'):
                counts[node.style] += 1
        elif isinstance(node, MappingNode):
            for _, value in node.value:
                walk(value)
        elif isinstance(node, SequenceNode):
            for item in node.value:
                walk(item)

    if root is not None:
        walk(root)
    return "'" if counts["'"] > counts['"'] else '"'


def _yaml_dumper(indents: _Indents) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = _WIDE
    yaml.indent(mapping=indents.mapping, sequence=indents.sequence, offset=indents.offset)
    return yaml


def _dump_yaml(data: Any, indents: _Indents, quote: str = '"') -> str:
    stream = io.StringIO()
    _yaml_dumper(indents).dump(_quoted_for_yaml11(data, quote), stream)
    return stream.getvalue()


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


@attrs.frozen
class _YamlDoc:
    text: str
    root: Node | None
    indents: _Indents
    quote: str
    newline: str


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
    parent = _get(data, resolved[:-1])
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
        loc = _yaml_locate(root, data, resolved, segments)
    except _Refused:  # through an alias: leave it be, it is in place
        return False
    old = loc.value if loc is not None else None
    if not isinstance(old, ScalarNode) or old.style is not None:
        return False
    return text[old.start_mark.index : old.end_mark.index] != written


def _yaml_edit(text: str, change: _Change) -> str:
    segments, delete = change.segments, change.delete
    data, root, guess, guess_offset = _yaml_load(text)
    yaml11 = _YAML11_RE.match(text) is not None
    resolved, exists, value = _resolve_change(data, change, is_json=False, yaml11=yaml11)
    where = format_path(segments)
    if exists and not delete:
        tag = _custom_tag(_get(data, resolved))
        if tag is not None:
            # !Ref foo set to bar: keep the tag (a reference) or drop it (a
            # string)? Either guess can be wrong, so say how to be exact.
            raise _Refused(
                f"{where!r} has the tag {tag}, which prplan cannot keep or drop for you: "
                "change it with --replace (Replace) or write the file whole"
            )
        if _merged_in(data, resolved):
            change.notes.append(
                f"adds key {where} (it was merged in with '<<'; the merged mapping is unchanged)"
            )
    in_place = exists and not delete and _same(_get(data, resolved), value)
    if in_place and not _written_otherwise(text, root, data, resolved, segments, value):
        return text
    loc = _yaml_locate(root, data, resolved, segments)
    doc = _YamlDoc(
        text=text,
        root=root,
        indents=_measure_indents(root, guess, guess_offset),
        quote=_preferred_quote(root),
        newline=_newline(text),
    )
    parent_size = len(_get(data, resolved[:-1]))
    # The intended document, in ruamel's own model (an anchor edited at its
    # definition changes its aliases too, as YAML says it does).
    _mutate(data, resolved, value, delete=delete)
    expected = _typed(data, ordered=True)
    emptied_or_filled = parent_size == (1 if delete else 0)
    if emptied_or_filled and len(resolved) > 1:
        # "key: {}" gaining its first entry, or losing its last: rewrite the
        # enclosing entry as a whole ("key:" + block, or "key: {}").
        outer = _yaml_locate(root, data, resolved[:-1], segments)
        if outer is not None and outer.value is not None:
            container = _builtin(_get(data, resolved[:-1]))
            for candidate in _replace_candidates(doc, outer, container):
                if _yaml_reads_as(candidate, expected):
                    return candidate
    if loc is not None:
        if delete:
            candidates = _delete_candidates(doc, loc)
        elif loc.value is None:
            candidates = _insert_candidates(doc, loc, str(resolved[-1]), value)
        else:
            candidates = _replace_candidates(doc, loc, value)
        for candidate in candidates:
            if _yaml_reads_as(candidate, expected):
                return candidate
    if not delete:  # strings YAML 1.1 reads otherwise are quoted in the dump too
        _get(data, resolved[:-1])[resolved[-1]] = _quoted_for_yaml11(value, doc.quote)
    return _yaml_redump(doc, data, expected)


def _quoted_for_yaml11(value: object, quote: str) -> object:
    """``value`` with each string (and key) that a YAML 1.1 reader would not
    read as a string (``no``, ``on``) marked to be dumped quoted."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    if isinstance(value, dict):
        return {
            _quoted_for_yaml11(key, quote): _quoted_for_yaml11(item, quote)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_quoted_for_yaml11(item, quote) for item in value]
    if type(value) is str and yaml11_not_a_string(value):
        single = quote == "'" and _yaml_single(value) is not None
        return SingleQuotedScalarString(value) if single else DoubleQuotedScalarString(value)
    return value


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


def _yaml_redump(doc: _YamlDoc, data: Any, expected: Any) -> str:
    """The fallback: ruamel's round trip of the edited data, in the
    document's indentation, with its quotes, line endings, document marker
    and final newline (or lack of one)."""
    yaml = _yaml_dumper(doc.indents)
    if re.match(r"(?:#[^\n]*\n|\s*\n)*---", doc.text):
        yaml.explicit_start = True
    stream = io.StringIO()
    try:
        yaml.dump(data, stream)
    except Exception as exc:  # ruamel's representer refuses some shapes
        raise _Refused(f"cannot write the edited YAML: {exc}") from None
    out = stream.getvalue()
    if not doc.text.endswith("\n") and out.endswith("\n"):
        out = out[:-1]
    if doc.newline == "\r\n":
        out = out.replace("\n", "\r\n")
    if not _yaml_reads_as(out, expected):
        raise _Refused(
            "cannot write this edit without changing other values "
            "(an anchor, alias or merge key in the way?)"
        )
    return out


def _replace_candidates(doc: _YamlDoc, loc: _Loc, value: object) -> Iterator[str]:
    text, node = doc.text, loc.value
    assert node is not None
    scalar = type(value) in _SCALAR_TYPES
    aliased = _is_alias(loc)
    if scalar and isinstance(node, ScalarNode) and not aliased and node.style in (None, "'", '"'):
        start, end = node.start_mark.index, node.end_mark.index
        old = text[start:end]
        if start == end and node.value == "" and loc.key is not None:
            # "key:" with nothing after it: write after the colon.
            colon = text.find(":", loc.key.end_mark.index)
            if colon >= 0 and not text[loc.key.end_mark.index : colon].strip():
                for candidate in _yaml_scalar_texts(value, None, doc.quote):
                    yield text[: colon + 1] + " " + candidate + text[colon + 1 :]
        elif "\n" not in old and (old[:1] == node.style if node.style else old[:1] not in "&!*"):
            for candidate in _yaml_scalar_texts(value, node.style, doc.quote, old):
                yield text[:start] + candidate + text[end:]
    if getattr(loc.parent, "flow_style", False):
        if not aliased and not scalar and text[node.start_mark.index] not in "&!*":
            end = _content_end(text, node)
            if end is not None:
                yield text[: node.start_mark.index] + _flow_form(value) + text[end:]
        return
    if loc.key is not None:
        yield from _rewrite_entry(doc, loc.key, node, value, aliased=aliased)
    elif not aliased:
        yield from _rewrite_item(doc, node, value)


def _is_alias(loc: _Loc) -> bool:
    """Is the leaf an alias (``*name``)? Its node is then the anchor's, and
    its marks point there, not at the leaf."""
    node = loc.value
    if node is None:
        return False
    if loc.key is not None:
        return _via_alias(loc.key, node)
    items = loc.parent.value
    index = next(i for i, item in enumerate(items) if item is node)
    before = items[index - 1].start_mark.index if index else loc.parent.start_mark.index - 1
    return bool(node.start_mark.index <= before)


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
    doc: _YamlDoc, key: ScalarNode, node: Node, value: object, *, aliased: bool
) -> Iterator[str]:
    """Rewrite a whole ``key: value`` entry of a block mapping (a multi-line
    or tagged value, a collection, an alias): from the key to the end of the
    value's last line. The key keeps its text, and a comment on a one-line
    value stays on the key's line."""
    text = doc.text
    start = key.start_mark.index
    end = None if aliased else _content_end(text, node)
    if end is None:
        end = key.end_mark.index
    line_end, comment = _value_line_end(text, start, end)
    key_text = text[start : key.end_mark.index]
    column = key.start_mark.column
    for tail in _entry_tails(doc, value, node, column, quote=None):
        first, sep, more = tail.partition("\n")
        entry = key_text + first + comment + sep + more
        yield text[:start] + _indent_lines(entry, column, doc.newline) + text[line_end:]


def _rewrite_item(doc: _YamlDoc, node: Node, value: object) -> Iterator[str]:
    """Rewrite one ``- item`` of a block sequence in place, as
    ``_rewrite_entry`` does for a mapping entry."""
    text = doc.text
    start = node.start_mark.index
    if not re.fullmatch(r" *- +", text[_line_start(text, start) : start]):
        return
    end = _content_end(text, node)
    if end is None:
        return
    line_end, comment = _value_line_end(text, start, end)
    column = node.start_mark.column
    if type(value) in _SCALAR_TYPES:
        forms = _scalar_forms(doc, value, node, column, quote=None)
    elif not value:
        forms = ["{}" if isinstance(value, dict) else "[]"]
    else:
        forms = [textwrap.dedent(_dump_yaml(value, doc.indents, doc.quote)).rstrip("\n")]
    for form in forms:
        first, sep, more = form.partition("\n")
        item = first + comment + sep + more
        yield text[:start] + _indent_lines(item, column, doc.newline) + text[line_end:]


def _block_indent(text: str, node: ScalarNode) -> int | None:
    """The column of a block scalar's content."""
    begin = text.find("\n", node.start_mark.index) + 1
    for line in text[begin : node.end_mark.index].split("\n"):
        if line.strip():
            return len(line) - len(line.lstrip(" "))
    return None


def _yaml_literal(value: str, indent: int) -> str | None:
    """``value`` as a literal block scalar (``|``) whose lines sit ``indent``
    columns right of its key, or None when it cannot be one."""
    body = value.rstrip("\n")
    trailing = len(value) - len(body)
    if not body or indent < 1 or indent > 9 or not _PRINTABLE_RE.fullmatch(body.replace("\n", "")):
        return None
    chomp = "-" if trailing == 0 else "" if trailing == 1 else "+"
    indicator = str(indent) if body.startswith(" ") else ""
    lines = "".join("\n" + (" " * indent + line if line else "") for line in body.split("\n"))
    return "|" + indicator + chomp + lines + "\n" * max(trailing - 1, 0)


def _scalar_forms(
    doc: _YamlDoc, value: object, old: Node | None, column: int, *, quote: str | None
) -> list[str]:
    """How to write a scalar that replaces ``old`` (or is new, quoted like
    its siblings when ``quote``): a literal block stays a literal block."""
    style = quote
    if isinstance(old, ScalarNode) and old.style in ("'", '"'):
        style = old.style
    forms: list[str] = []
    if (
        isinstance(value, str)
        and "\n" in value
        and isinstance(old, ScalarNode)
        and old.style == "|"
    ):
        indent = _block_indent(doc.text, old)
        literal = None if indent is None else _yaml_literal(value, indent - column)
        if literal is not None:
            forms.append(literal)
    return forms + _yaml_scalar_texts(value, style, doc.quote)


def _entry_tails(
    doc: _YamlDoc, value: object, old: Node | None, column: int, *, quote: str | None
) -> list[str]:
    """What follows a key: ``: 1.4.2``, or ``:`` and an indented block."""
    if type(value) in _SCALAR_TYPES:
        return [": " + t for t in _scalar_forms(doc, value, old, column, quote=quote)]
    dumped = _dump_yaml({"k": value}, doc.indents, doc.quote)
    return [dumped[1:].rstrip("\n")]


def _indent_lines(entry: str, column: int, newline: str) -> str:
    """Indent the lines after the first by ``column``; blank lines stay
    blank."""
    lines = entry.split("\n")
    return newline.join(
        [lines[0]] + [(" " * column + line) if line else line for line in lines[1:]]
    )


def _sibling_quotes(parent: MappingNode) -> tuple[str | None, str | None]:
    """The quote character most keys and most string values of a mapping
    use, if most are quoted: a new entry looks like its neighbours."""
    keys: Counter[str | None] = Counter()
    values: Counter[str | None] = Counter()
    for key, value in parent.value:
        if isinstance(key, ScalarNode):
            keys[key.style] += 1
        if (
            isinstance(value, ScalarNode)
            and not _via_alias(key, value)
            and str(value.tag).endswith(":str")
            and value.style in (None, "'", '"')
        ):
            values[value.style] += 1

    def pick(counts: Counter[str | None]) -> str | None:
        best = "'" if counts["'"] > counts['"'] else '"'
        return best if counts[best] > counts[None] else None

    return pick(keys), pick(values)


def _insert_candidates(doc: _YamlDoc, loc: _Loc, key: str, value: object) -> Iterator[str]:
    """A new key as the last entry of a block mapping, on its own line(s)
    after the last entry and the comments that belong to it."""
    parent, text = loc.parent, doc.text
    if not isinstance(parent, MappingNode) or not parent.value:
        return
    if parent.flow_style:
        yield from _flow_insert(doc, parent, key, value)
        return
    column = parent.value[0][0].start_mark.column
    end = _content_end(text, parent)
    if end is None:
        return
    pos = _skip_comment_lines(text, _line_after(text, end), column, deeper_only=False)
    key_quote, value_quote = _sibling_quotes(parent)
    single = _yaml_single(key)
    quoted = single if (key_quote or doc.quote) == "'" and single else _yaml_double(key)
    plain = [key] if _PLAIN_KEY_RE.fullmatch(key) and not yaml11_not_a_string(key) else []
    key_texts = [quoted, *plain] if key_quote else [*plain, quoted]
    for key_text in key_texts:
        for tail in _entry_tails(doc, value, None, column, quote=value_quote):
            entry = " " * column + _indent_lines(key_text + tail, column, doc.newline)
            if pos == len(text) and text and not text.endswith("\n"):
                yield text + doc.newline + entry
            else:
                yield text[:pos] + entry + doc.newline + text[pos:]


def _delete_candidates(doc: _YamlDoc, loc: _Loc) -> Iterator[str]:
    """Remove an entry's lines: a key that starts its line, or a ``- `` item,
    through the end of its value and the deeper comment lines under it."""
    text, node = doc.text, loc.value
    assert node is not None
    if getattr(loc.parent, "flow_style", False):
        yield from _flow_delete(doc, loc)
        return
    if loc.key is not None:
        start = loc.key.start_mark.index
        first = _line_start(text, start)
        if text[first:start].strip(" "):
            # "- key: ...": the first key of a sequence item. The next key
            # moves up behind the dash.
            entries = loc.parent.value
            if len(entries) > 1 and entries[0][0] is loc.key:
                yield text[:start] + text[entries[1][0].start_mark.index :]
            return
        end = None if _via_alias(loc.key, node) else _content_end(text, node)
        column = loc.key.start_mark.column
        last = _line_after(text, loc.key.end_mark.index if end is None else end)
    else:
        start = node.start_mark.index
        first = _line_start(text, start)
        dash = re.fullmatch(r"( *)- +", text[first:start])
        end = _content_end(text, node)
        if dash is None or end is None or end <= start:
            return
        column = len(dash.group(1))
        last = _line_after(text, end)
    yield text[:first] + text[_skip_comment_lines(text, last, column, deeper_only=True) :]


def _flow_form(value: object) -> str:
    """A value inside ``{...}`` or ``[...]``: JSON is YAML's flow style."""
    return json.dumps(value, ensure_ascii=False)


def _flow_insert(doc: _YamlDoc, parent: MappingNode, key: str, value: object) -> Iterator[str]:
    """``, key: value`` after the last entry of a flow mapping."""
    text = doc.text
    last_key, last_value = parent.value[-1]
    end = None if _via_alias(last_key, last_value) else _content_end(text, last_value)
    if end is None:
        return
    plain = [key] if _PLAIN_KEY_RE.fullmatch(key) and not yaml11_not_a_string(key) else []
    forms = (
        _yaml_scalar_texts(value, None, doc.quote)
        if type(value) in _SCALAR_TYPES
        else [_flow_form(value)]
    )
    for key_text in [*plain, _yaml_double(key)]:
        for form in forms:
            yield text[:end] + f", {key_text}: {form}" + text[end:]


def _flow_delete(doc: _YamlDoc, loc: _Loc) -> Iterator[str]:
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
            ends.append(None if _via_alias(key, value) else _content_end(text, value))
            found = key is loc.key
        else:
            starts.append(entry.start_mark.index)
            ends.append(_content_end(text, entry))
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


# --- JSON ----------------------------------------------------------------------

_JSON_WS = " \t\r\n"


@attrs.frozen
class _JsonStyle:
    indent: int | str | None
    separators: tuple[str, str]
    ensure_ascii: bool
    lead: str
    trail: str
    newline: str


def _json_style(text: str, data: Any) -> _JsonStyle:
    """How the source was written: exactly what ``json.dumps`` settings
    reproduce it when some do, else the indentation of its first indented
    line (multi-line) or the spacing after its first colon (one line)."""
    body = text.strip(_JSON_WS)
    lead = text[: len(text) - len(text.lstrip(_JSON_WS))]
    trail = text[len(text.rstrip(_JSON_WS)) :]
    newline = _newline(body)
    plain = body.replace("\r\n", "\n")
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
                return _JsonStyle(
                    indent=indent,
                    separators=separators,
                    ensure_ascii=ensure_ascii,
                    lead=lead,
                    trail=trail,
                    newline=newline,
                )
    ensure_ascii = plain.isascii() and "\\u" in plain
    guessed: int | str | None
    if "\n" in plain:
        found = re.search(r"\n([ \t]+)\S", plain)
        spaces = found.group(1) if found else "  "
        guessed = len(spaces) if set(spaces) == {" "} else spaces
        separators = (",", ": ")
    else:
        guessed = None
        found = re.match(r'[\[{]\s*(?:"(?:[^"\\]|\\.)*"\s*:|[^,\]}]*,)(\s?)', plain)
        separators = (", ", ": ") if found is None or found.group(1) else (",", ":")
    return _JsonStyle(
        indent=guessed,
        separators=separators,
        ensure_ascii=ensure_ascii,
        lead=lead,
        trail=trail,
        newline=newline,
    )


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


def _json_edit(text: str, change: _Change) -> str:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Refused(
            f"does not parse as JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise _Refused("does not parse as JSON: nested too deeply") from None
    resolved, exists, value = _resolve_change(data, change, is_json=True)
    if not change.delete:
        problems = _value_problems(value, "the value", True, set())
        if problems:
            raise _Refused(f"the file is JSON, and {problems[0]}")
    if exists and not change.delete and _same(_get(data, resolved), value):
        start = _json_find(text, resolved)
        written = written_text(value)
        if written is None or start is None:
            return text
        if text[start : json.JSONDecoder().raw_decode(text, start)[1]] == written:
            return text  # else the same number, written as asked (1.1 -> 1.10)
    style = _json_style(text, data)
    _mutate(data, resolved, value, delete=change.delete)
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
    raise _Refused(
        "cannot make this edit without rewriting other parts of the file; "
        "edit the file and write it whole (--file) instead"
    )


def _json_reads_as(text: str, data: Any) -> bool:
    try:
        return bool(_typed(json.loads(text), ordered=True) == _typed(data, ordered=True))
    except ValueError:
        return False

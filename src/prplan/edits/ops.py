"""Structured edits of one file's bytes: the edit types (set or delete a
value in YAML or JSON, replace text), their validation, and applying a list
of them to a file. Pure: bytes in, bytes out, no I/O.

This module says *what* an edit is and sends each to its editor:
``prplan.edits.yaml`` (the byte-exact YAML splicer), ``prplan.edits.json``,
``prplan.edits.replace``. GitOps reviewers read the diff, so every editor
keeps the file byte-for-byte outside the edited value.

A set to the value already there returns the identical bytes: that is how
the planner recognises "already in place".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from prplan.edits.document import Change, Refused
from prplan.edits.json import is_json_document, json_edit
from prplan.edits.paths import parse_path
from prplan.edits.replace import replace_text, template_problems
from prplan.edits.values import encodable, value_problems
from prplan.edits.yaml import yaml_edit
from prplan.errors import InvalidRequestError, Problem, RepositoryDisagreesError

# What is public is listed once, in prplan.edits.__all__.

# --- the edits ---------------------------------------------------------------
#
# The classes do not validate themselves: the request that carries them calls
# ``edit_problems`` for each, so a user sees every problem of every edit at
# once, with the field it belongs to.


@attrs.frozen(kw_only=True)
class _SetValue:
    """The fields of a set, the same for YAML and JSON: the two are distinct
    types so that a plan says which syntax the user asked for."""

    path: str
    value: object
    as_written: bool = False


@attrs.frozen(kw_only=True)
class _DeleteValue:
    """The field of a delete, the same for YAML and JSON."""

    path: str


@attrs.frozen(kw_only=True)
class YamlSet(_SetValue):
    """Set the value at ``path`` (e.g. ``image.tag``, ``env[1].value``,
    ``env[name=LOG_LEVEL].value``). The leaf may be new in a mapping (added
    as its last key, with any missing parent mappings) or replaced.

    ``value`` is typed as given (a Python ``str`` is a string). With
    ``as_written=True`` it is the text a user wrote (``--set``, a change
    set's ``set:``), typed against the document: see ``prplan.edits.values``;
    or a list or mapping of such texts (a change set's ``set: {k: {tag: 1.10}}``),
    each typed as for a new key (a quoted text, ``'"1.10"'``, is a string).
    A document that is JSON stays JSON."""


@attrs.frozen(kw_only=True)
class YamlDelete(_DeleteValue):
    """Delete the key or sequence item at ``path``; it must exist."""


@attrs.frozen(kw_only=True)
class JsonSet(_SetValue):
    """As ``YamlSet``, for a JSON document."""


@attrs.frozen(kw_only=True)
class JsonDelete(_DeleteValue):
    """As ``YamlDelete``, for a JSON document."""


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


def is_json_name(filename: str) -> bool:
    """Does the file's name say JSON (``.json``, in any case)?"""
    return filename.lower().endswith(".json")


def set_edit(filename: str, path: str, value: object, *, as_written: bool) -> YamlSet | JsonSet:
    """The set edit for a file: JSON when its name says so; a YAML edit of a
    file whose content turns out to be JSON keeps it JSON."""
    kind_of = JsonSet if is_json_name(filename) else YamlSet
    return kind_of(path=path, value=value, as_written=as_written)


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
            for message in value_problems(edit.value, "value", is_json, set())
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


def _replace_problems(edit: Replace, field: str) -> list[Problem]:
    problems: list[Problem] = []
    old_ok = new_ok = False
    if not isinstance(edit.old, str):
        problems.append(Problem(f"{field}.old", f"must be a string, got {type(edit.old).__name__}"))
    elif not edit.old:
        problems.append(Problem(f"{field}.old", "is empty; say what to replace"))
    elif not encodable(edit.old):
        problems.append(Problem(f"{field}.old", "is not valid Unicode text (a lone surrogate?)"))
    else:
        old_ok = True
    if not isinstance(edit.new, str):
        problems.append(Problem(f"{field}.new", f"must be a string, got {type(edit.new).__name__}"))
    elif not encodable(edit.new):
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
                problems += template_problems(pattern, edit.new, f"{field}.new")
    return problems


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
        except Refused as exc:
            raise EditError(edit, exc.reason, filename=filename) from None
    return (bom + text).encode("utf-8"), tuple(f"{filename}: {note}" for note in notes)


def _apply_one(text: str, edit: Edit, notes: list[str]) -> str:
    if isinstance(edit, Replace):
        return replace_text(text, edit.old, edit.new, regex=edit.regex, count=edit.count)
    delete = isinstance(edit, YamlDelete | JsonDelete)
    change = Change(
        segments=parse_path(edit.path),
        value=None if isinstance(edit, YamlDelete | JsonDelete) else _normalized(edit.value),
        delete=delete,
        as_written=isinstance(edit, YamlSet | JsonSet) and edit.as_written,
        notes=notes,
    )
    # JSON is YAML, but a YAML edit of a JSON document would write YAML
    # syntax into it ({"a": 1, b: x}): a document that is JSON stays JSON.
    if isinstance(edit, JsonSet | JsonDelete) or is_json_document(text):
        return json_edit(text, change)
    return yaml_edit(text, change)


def _normalized(value: object) -> object:
    """A fresh copy with tuples as lists: nothing the caller holds ends up
    inside a document, and both serialisers know lists."""
    if isinstance(value, dict):
        return {key: _normalized(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normalized(item) for item in value]
    return value

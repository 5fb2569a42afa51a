"""Typing a value given as text (``--set``, a change set's ``set:``).

``1.10`` is a version to a deployment team and the float 1.1 to a YAML
parser: prplan keeps the text as written and decides its type by this
precedence (docs/changesets.md, "How values are typed"):

1. an explicit type (``--set-string``, ``--set-json``, the Python edit types):
   not handled here, the value arrives typed;
2. the type of the scalar already at the key: a string stays a string, a
   number stays a number when the new text is one (written as the text
   says), a boolean stays a boolean when the text is one; otherwise the text
   is written as a string, with a note;
3. YAML 1.2 inference for a new key (or one holding null or a collection);
   a value that would print differently from what was written (``1.10``,
   ``010``, ``1e3``) is written as a string, with a note.

A quoted text (``'"1.10"'``) is a string whatever the key holds. A document
that declares ``%YAML 1.1`` reads the text as YAML 1.1 does. Helm and
Kubernetes read YAML with a YAML 1.1 reader, where ``no``, ``on`` and ``y``
are booleans: such a text is a string only when the key holds one (and the
writer quotes it); on a boolean it is that boolean. Pure.
"""

from __future__ import annotations

import functools
import json
import math
import re
import warnings
from typing import Any

import attrs

__all__ = [
    "Typed",
    "type_written",
    "WrittenInt",
    "WrittenFloat",
    "written_text",
    "yaml11_not_a_string",
    "SCALAR_TYPES",
    "value_problems",
    "encodable",
]

#: A number as JSON writes it (RFC 8259, section 6).
_JSON_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


class WrittenInt(int):
    """An integer that is written as the user wrote it (``0x10``, ``010``)."""

    written: str

    def __new__(cls, value: int, written: str) -> WrittenInt:
        self = super().__new__(cls, value)
        self.written = written
        return self

    def __getnewargs__(self) -> tuple[int, str]:  # type: ignore[override]
        return int(self), self.written  # copy.deepcopy makes one with these


class WrittenFloat(float):
    """A float that is written as the user wrote it (``1.10``, ``1e3``)."""

    written: str

    def __new__(cls, value: float, written: str) -> WrittenFloat:
        self = super().__new__(cls, value)
        self.written = written
        return self

    def __getnewargs__(self) -> tuple[float, str]:  # type: ignore[override]
        return float(self), self.written


def written_text(value: object) -> str | None:
    """The text a number is to be written as, if the user gave one."""
    written = getattr(value, "written", None)
    return written if isinstance(written, str) else None


@attrs.frozen
class Typed:
    value: object
    note: str | None = None


#: YAML 1.1's booleans, in any case (go-yaml, which Helm uses, takes y and n
#: too), and its null: plain, a YAML 1.1 reader does not read them as strings.
_YAML11_BOOLEANS = {"y": True, "yes": True, "on": True, "true": True,
                    "n": False, "no": False, "off": False, "false": False}  # fmt: skip


@functools.cache
def _yaml11_resolver() -> Any:
    from ruamel.yaml.resolver import VersionedResolver

    return VersionedResolver(version=(1, 1))


def yaml11_not_a_string(text: str) -> bool:
    """Would a YAML 1.1 reader (Helm's and Kubernetes' go-yaml, PyYAML) take
    this text, written plain, as something other than a string (``no``,
    ``on``, ``1:20``, ``0b1``)? Such a string must be quoted."""
    from ruamel.yaml.nodes import ScalarNode

    if text.lower() in _YAML11_BOOLEANS or text.lower() in ("null", "~"):
        return True
    tag = _yaml11_resolver().resolve(ScalarNode, text, (True, False))
    return not str(tag).endswith(":str")


def _read(text: str, *, yaml11: bool = False) -> tuple[object, bool]:
    """The text read as one YAML 1.2 scalar (YAML 1.1 with ``yaml11``), and
    whether it was quoted. Anything that is not a plain scalar of a known
    type is the text itself."""
    from ruamel.yaml import YAML

    stripped = text.strip()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = YAML(typ="safe").load(("%YAML 1.1\n--- " if yaml11 else "") + text)
    except Exception:  # not YAML at all: it is text
        return text, False
    quoted = stripped[:1] in ("'", '"') and isinstance(value, str)
    if quoted:
        return value, True
    if value is None or isinstance(value, str | bool | int | float):
        return value, False
    return text, False  # a date, a collection, a tagged value: the text


def _is_collection(text: str) -> bool:
    """Is the text a YAML flow list or mapping (``[1.10, 2]``, ``{x: 1}``)?"""
    from ruamel.yaml import YAML

    if text.strip()[:1] not in ("[", "{"):
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return isinstance(YAML(typ="safe").load(text), list | dict)
    except Exception:  # not YAML: text
        return False


def canonical(value: object) -> str:
    """How prplan writes a scalar when nobody says otherwise."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(float(value))
    return str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_number(text: str, value: object, *, is_json: bool) -> object | None:
    """The number ``text`` says, kept in its own notation, or None when it is
    not a number (in JSON: not a JSON number literal)."""
    if not _is_number(value):
        return None
    stripped = text.strip()
    if is_json and not _JSON_NUMBER_RE.fullmatch(stripped):
        return None
    if is_json:
        value = json.loads(stripped)
        if isinstance(value, float) and not math.isfinite(value):
            return None  # 1e400: JSON readers disagree on it
    if canonical(value) == stripped:
        return value
    if isinstance(value, int):
        return WrittenInt(value, stripped)
    assert isinstance(value, float)
    return WrittenFloat(value, stripped)


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if _is_number(value) else "a string"


def type_written(
    text: str, current: object, *, exists: bool, is_json: bool, where: str, yaml11: bool = False
) -> Typed:
    """The value ``text`` stands for at ``where``, given what is there now
    (``current``, when ``exists``), by the precedence above; ``yaml11``: the
    document says ``%YAML 1.1``."""
    typed = _type_written(text, current, exists=exists, is_json=is_json, where=where, yaml11=yaml11)
    if yaml11 and typed.note is None and _is_number(typed.value):
        as_12, _ = _read(text)
        if _is_number(as_12) and canonical(as_12) != canonical(typed.value):
            # 010 is 8 in YAML 1.1 and 10 in 1.2: say which one the file gets.
            return Typed(
                typed.value,
                f"{where}: the document is YAML 1.1 (%YAML 1.1), where {text.strip()} "
                f"reads as {canonical(typed.value)}, not {canonical(as_12)}",
            )
    return typed


def _type_written(
    text: str, current: object, *, exists: bool, is_json: bool, where: str, yaml11: bool
) -> Typed:
    value, quoted = _read(text, yaml11=yaml11 and not is_json)
    if quoted:
        return Typed(value)
    word = text.strip()
    if exists and current is not None and not isinstance(current, dict | list):
        if isinstance(current, str) and not isinstance(current, bool):
            return Typed(text)
        if isinstance(current, bool):
            if isinstance(value, bool):
                return Typed(value)
            if not is_json and word.lower() in _YAML11_BOOLEANS:
                # "enabled: no" means false to Helm: a boolean stays one.
                meant = _YAML11_BOOLEANS[word.lower()]
                return Typed(
                    meant, f"{where}: {word} is written as {canonical(meant)}, the boolean it means"
                )
        elif _is_number(current):
            number = _as_number(text, value, is_json=is_json)
            if number is not None:
                return Typed(number)
        else:
            return Typed(text)  # a date or a tagged value: replaced by the text
        return Typed(
            text,
            f"{where} was {_kind(current)}; {text!r} is not one, so it is written as a string",
        )
    if isinstance(value, str):
        if not is_json and word.lower() in _YAML11_BOOLEANS:
            return Typed(
                text,
                f"{where}: {word} is written as the string {json.dumps(text)} (YAML 1.1 "
                "readers, Helm's among them, would read it unquoted as a boolean; "
                "write true or false for one)",
            )
        if _is_collection(text):
            return Typed(
                text,
                f"{where}: {word} is written as the string {json.dumps(text)}: --set does "
                "not read lists or mappings (give it with --set-json, or in a change set's set:)",
            )
        return Typed(text)
    if canonical(value) == word:
        return Typed(value)
    return Typed(
        text,
        f"{where}: {text} is written as the string {json.dumps(text)}, as written "
        f"(unquoted it would read as {canonical(value)}; "
        "give it with --set-json or set_json: to write that)",
    )


# --- what a value may be ----------------------------------------------------

SCALAR_TYPES = (str, int, float, bool, type(None), WrittenInt, WrittenFloat)


def value_problems(value: object, where: str, is_json: bool, active: set[int]) -> list[str]:
    fmt = "JSON" if is_json else "YAML"
    kind_of = type(value)
    if kind_of in SCALAR_TYPES:
        if isinstance(value, str) and not encodable(value):
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
            elif not encodable(key):
                problems.append(f"{where} has a key that is not valid Unicode text")
            else:
                problems += value_problems(item, f"{where}[{key!r}]", is_json, active)
    else:
        assert isinstance(value, list | tuple)
        for i, item in enumerate(value):
            problems += value_problems(item, f"{where}[{i}]", is_json, active)
    return problems


def encodable(text: str) -> bool:
    """False for text with lone surrogates: it cannot be written as UTF-8
    (to git, to JSON), so it is refused up front instead of crashing later."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True

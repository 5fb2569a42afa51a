"""Writing YAML text: a scalar in each of the forms YAML allows (plain,
single- or double-quoted, a literal block), best first, and a collection
dumped in the document's own indentation and quotes. The splicer tries these
forms in order; which one is right is decided by parsing, not here.

``yaml_double`` is public: a change set's YAML writer quotes with it too.
"""

from __future__ import annotations

import io
import math
import re
from typing import Any, cast

import attrs
from ruamel.yaml import YAML
from ruamel.yaml.nodes import Node, ScalarNode

from prplan.edits.values import SCALAR_TYPES, written_text, yaml11_not_a_string
from prplan.edits.yaml_nodes import Indents, block_indent

__all__ = [
    "yaml_double",
    "yaml_single",
    "scalar_texts",
    "YamlDoc",
    "scalar_forms",
    "entry_tails",
    "indent_lines",
    "dumper",
    "dump_yaml",
    "quoted_for_yaml11",
]

#: Never re-wrap long lines in a re-dump: a wrapped line is a diff line.
_WIDE = 1 << 30


#: Characters YAML allows in a document as they are (YAML 1.2, 5.1), less the
#: line breaks and the byte-order mark, which must be escaped in a value.
_PRINTABLE_RE = re.compile(
    "[\t\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*"
)


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


def yaml_double(text: str) -> str:
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


def yaml_single(text: str) -> str | None:
    """Single-quoted form, or None when the text needs escapes (only double
    quotes have them)."""
    if "\t" in text or not _PRINTABLE_RE.fullmatch(text):
        return None
    return "'" + text.replace("'", "''") + "'"


def scalar_texts(value: object, style: str | None, quote: str, old_text: str = "") -> list[str]:
    """How to write a scalar, best first. Each candidate is checked by
    parsing, so a plain form that would read back as another type (``1.10``,
    ``true``, ``''``) or break the line (``a #b``) simply loses to a quoted
    one. A quoted original keeps its quote character; a value that is not a
    string is written plain (quoting would make it a string)."""
    written = written_text(value)
    if written is not None:  # a number as the user wrote it (1.10, 0x10)
        plain = float(value) if isinstance(value, float) else int(cast(int, value))
        return [written, *scalar_texts(plain, style, quote, old_text)]
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
    single = yaml_single(value)
    double = yaml_double(value)
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


@attrs.frozen
class YamlDoc:
    text: str
    root: Node | None
    indents: Indents
    quote: str
    newline: str


def scalar_forms(
    doc: YamlDoc, value: object, old: Node | None, column: int, *, quote: str | None
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
        indent = block_indent(doc.text, old)
        literal = None if indent is None else _yaml_literal(value, indent - column)
        if literal is not None:
            forms.append(literal)
    return forms + scalar_texts(value, style, doc.quote)


def entry_tails(
    doc: YamlDoc, value: object, old: Node | None, column: int, *, quote: str | None
) -> list[str]:
    """What follows a key: ``: 1.4.2``, or ``:`` and an indented block."""
    if type(value) in SCALAR_TYPES:
        return [": " + t for t in scalar_forms(doc, value, old, column, quote=quote)]
    dumped = dump_yaml({"k": value}, doc.indents, doc.quote)
    return [dumped[1:].rstrip("\n")]


def indent_lines(entry: str, column: int, newline: str) -> str:
    """Indent the lines after the first by ``column``; blank lines stay
    blank."""
    lines = entry.split("\n")
    return newline.join(
        [lines[0]] + [(" " * column + line) if line else line for line in lines[1:]]
    )


def dumper(indents: Indents) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = _WIDE
    yaml.indent(mapping=indents.mapping, sequence=indents.sequence, offset=indents.offset)
    return yaml


def dump_yaml(data: Any, indents: Indents, quote: str = '"') -> str:
    stream = io.StringIO()
    dumper(indents).dump(quoted_for_yaml11(data, quote), stream)
    return stream.getvalue()


def quoted_for_yaml11(value: object, quote: str) -> object:
    """``value`` with each string (and key) that a YAML 1.1 reader would not
    read as a string (``no``, ``on``) marked to be dumped quoted."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    if isinstance(value, dict):
        return {
            quoted_for_yaml11(key, quote): quoted_for_yaml11(item, quote)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [quoted_for_yaml11(item, quote) for item in value]
    if type(value) is str and yaml11_not_a_string(value):
        single = quote == "'" and yaml_single(value) is not None
        return SingleQuotedScalarString(value) if single else DoubleQuotedScalarString(value)
    return value

"""Key paths: how a user names a value inside a YAML or JSON document.

``image.tag``, ``containers[0].image``, ``env[name=LOG_LEVEL].value``,
``annotations."app.kubernetes.io/name"``: parsed into segments (keys,
indexes and ``Select`` selectors) and written back. Separate from the
editors because the command line and change sets read paths too
(``split_assignment``), without editing anything. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

__all__ = ["Select", "Segment", "parse_path", "format_path", "split_assignment"]

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

"""The open pull request's text as observed, and how prplan's marker is
read from it (``pr_text`` says what prplan writes and why). Plain values
below the snapshot, which carries a ``PullText``.

The marker counts only where prplan writes it: a line of its own (trailing
spaces aside), outside fenced code blocks. A marker quoted in a code block,
or inside a line of text, is a human's text. When the body has several
such lines, the one prplan wrote is the last that has prplan's human line
somewhere below it (prplan always writes the two together); when none has
(a human deleted the human line), the last marker line. Everything after
the marker line except prplan's human line is the human's, kept on a
rewrite (see ``split_body``).
"""

from __future__ import annotations

import re

import attrs

__all__ = [
    "PullText",
    "HUMAN_LINE",
    "MARKER_PREFIX",
    "marker",
    "normal_text",
    "split_body",
]

#: The line under which a human's text is kept as it is.
HUMAN_LINE = "<!-- prplan:human-notes-below -->"
#: How prplan's marker line begins (a request's title and body may not hold it).
MARKER_PREFIX = "<!-- prplan:request="
_MARKER_RE = re.compile(r"<!-- prplan:request=([0-9a-f]{1,64}) -->")
#: A fenced code block's opening or closing line (CommonMark: at most three
#: spaces of indent, then three or more backticks or tildes).
_FENCE_RE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")


@attrs.frozen(kw_only=True)
class PullText:
    """The open pull request's title, body and author as observed (read
    only when the request says ``update_pr`` or ``close_superseded``)."""

    number: int
    title: str
    body: str
    #: the login that opened it (None: the forge did not say, e.g. a
    #: deleted account)
    author: str | None = None

    @property
    def request_id(self) -> str | None:
        """The request id in prplan's marker, or None: not prplan's."""
        return split_body(self.body)[1]


def marker(request_id: str) -> str:
    return f"<!-- prplan:request={request_id} -->"


def normal_text(text: str) -> str:
    return text.replace("\r\n", "\n").rstrip()


def _fence_opens(line: str) -> str | None:
    found = _FENCE_RE.fullmatch(line)
    if found is None or (found[1][0] == "`" and "`" in found[2]):
        return None
    return found[1]


def _plain_lines(lines: list[str]) -> list[bool]:
    """Per line: outside a fenced code block (a fence's own lines are in it;
    an unclosed fence runs to the end, as CommonMark reads it)."""
    plain, fence = [], ""
    for line in lines:
        if fence:
            plain.append(False)
            closing = _FENCE_RE.fullmatch(line)
            if closing and closing[1][0] == fence[0] and len(closing[1]) >= len(fence):
                fence = "" if not closing[2].strip() else fence
            continue
        fence = _fence_opens(line) or ""
        plain.append(not fence)
    return plain


def _marker_at(lines: list[str], plain: list[bool]) -> tuple[int, int | None] | None:
    """(the index of prplan's marker line, of its human line below or None)."""
    markers = [
        i for i, line in enumerate(lines) if plain[i] and _MARKER_RE.fullmatch(line.rstrip())
    ]
    humans = [i for i, line in enumerate(lines) if plain[i] and line.rstrip() == HUMAN_LINE]
    if not markers:
        return None
    paired = [m for m in markers if any(h > m for h in humans)]
    at = paired[-1] if paired else markers[-1]
    return at, next((h for h in humans if h > at), None)


def split_body(body: str) -> tuple[str, str | None, str]:
    """(prplan's text above the marker, the marker's request id or None,
    the human's text: everything after the marker line but prplan's human
    line, as it is apart from ``\\r\\n`` read as ``\\n``). Without a marker
    the whole body is the first part and nothing is a human's."""
    text = body.replace("\r\n", "\n")
    lines = text.split("\n")
    found = _marker_at(lines, _plain_lines(lines))
    if found is None:
        return normal_text(text), None, ""
    at, human_line = found
    request_id = _MARKER_RE.fullmatch(lines[at].rstrip())
    assert request_id is not None  # _marker_at matched it
    after = [line for i, line in enumerate(lines) if i > at and i != human_line]
    return normal_text("\n".join(lines[:at])), request_id[1], "\n".join(after)

"""The open pull request's text as observed, and how prplan's marker is
read from it (``pr_text`` says what prplan writes and why). Plain values
below the snapshot, which carries a ``PullText``."""

from __future__ import annotations

import re

import attrs

__all__ = ["PullText", "HUMAN_LINE", "marker", "normal_text", "split_body"]

#: The line under which a human's text is kept as it is.
HUMAN_LINE = "<!-- prplan:human-notes-below -->"
_MARKER_RE = re.compile(r"^<!-- prplan:request=([0-9a-f]{1,64}) -->$", re.MULTILINE)


@attrs.frozen(kw_only=True)
class PullText:
    """The open pull request's title and body as observed (read only when
    the request says ``update_pr`` or ``close_superseded``)."""

    number: int
    title: str
    body: str

    @property
    def request_id(self) -> str | None:
        """The request id in prplan's marker, or None: not prplan's."""
        return split_body(self.body)[1]


def marker(request_id: str) -> str:
    return f"<!-- prplan:request={request_id} -->"


def normal_text(text: str) -> str:
    return text.replace("\r\n", "\n").rstrip()


def split_body(body: str) -> tuple[str, str | None, str]:
    """(prplan's text above the marker, the marker's request id or None,
    the human's text below the human line). Without a marker the whole body
    is the first part and nothing is a human's below a line."""
    text = body.replace("\r\n", "\n")
    found = _MARKER_RE.search(text)
    if found is None:
        return normal_text(text), None, ""
    above = normal_text(text[: found.start()])
    rest = text[found.end() :]
    line = rest.find(HUMAN_LINE)
    human = rest[line + len(HUMAN_LINE) :].removeprefix("\n") if line >= 0 else ""
    return above, found.group(1), human

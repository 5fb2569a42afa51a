"""Replacing text (the ``Replace`` edit): a literal or a regular expression,
with the number of matches expected, so that a replacement never silently
does nothing or too much. Separate from the YAML and JSON editors: it reads
no structure at all. Pure.
"""

from __future__ import annotations

import re

from prplan.edits.document import Refused
from prplan.errors import Problem

__all__ = ["replace_text", "template_problems"]


def replace_text(text: str, old: str, new: str, *, regex: bool, count: int | None) -> str:
    """``text`` with ``old`` replaced by ``new``; refused unless it matched
    ``count`` times (``None``: at least once)."""
    if regex:
        try:
            new_text, found = re.subn(old, new, text)
        except re.error as exc:
            raise Refused(f"bad pattern or replacement: {exc}") from None
    else:
        found = text.count(old)
        new_text = text.replace(old, new)
    if count is None:
        if found == 0:
            raise Refused("expected at least 1 match, found 0")
    elif found != count:
        plural = "match" if count == 1 else "matches"
        raise Refused(f"expected {count} {plural}, found {found}")
    return new_text


def template_problems(pattern: re.Pattern[str], template: str, field: str) -> list[Problem]:
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

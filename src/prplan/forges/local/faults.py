"""Fault injection for the local forge's HTTP server.

A ``Fault`` matches requests by method (one, ``A|B``, or ``*``), path (a regular expression
searched in the path after the API prefix) and, for GraphQL, ``operation``
(a regular expression searched in the document's operation name, e.g.
``MergePullRequest``; a fault with an operation matches GraphQL requests
only, so a REST rule and a GraphQL rule can stand side by side for one
step) and then, ``times`` times (0:
for ever), after letting ``skip`` matching requests through:

* ``status``: answer that status without handling the request (e.g. 502, or
  403/429 with ``Retry-After``, or 403 with ``x-ratelimit-remaining: 0``);
* ``delay``: wait that many seconds first (a slow response, to trip a
  client's timeout), then go on as usual (or answer ``status``);
  ``Faults.release()`` ends the waits under way early (a test that has seen
  what it held for need not sit out the rest);
* ``drop="before"``: close the connection without handling the request;
* ``drop="after"``: handle the request (its writes happen) and close the
  connection without answering: the response is lost.

Rules come from Python (``Faults.add``) or a JSON rule file
(``prplan forge serve --faults FILE``): a list of objects with the fields
of ``Fault``. Every injection is recorded in ``Faults.injected``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from prplan.errors import InvalidRequestError, Problem

__all__ = ["Fault", "Faults"]

_DROPS = {None, "before", "after"}


@attrs.define(kw_only=True)
class Fault:
    method: str = "*"
    path: str = ".*"
    operation: str = ""
    status: int | None = None
    headers: dict[str, str] = attrs.field(factory=dict)
    message: str = "injected fault"
    delay: float = 0.0
    drop: str | None = None
    times: int = 1
    skip: int = 0
    #: how many times it fired (state, not configuration)
    fired: int = 0

    def __attrs_post_init__(self) -> None:
        problems = []
        if self.drop not in _DROPS:
            problems.append(Problem("drop", f"{self.drop!r} is not one of: before, after"))
        if self.status is not None and not 100 <= self.status <= 599:
            problems.append(Problem("status", f"{self.status} is not an HTTP status"))
        if self.times < 0 or self.skip < 0 or self.delay < 0:
            problems.append(Problem("times/skip/delay", "must not be negative"))
        for name in ("path", "operation"):
            try:
                re.compile(getattr(self, name))
            except re.error as error:
                problems.append(Problem(name, f"is not a regular expression: {error}"))
        if self.status is None and self.drop is None and not self.delay:
            problems.append(Problem("fault", "does nothing: give a status, a delay or a drop"))
        if problems:
            raise InvalidRequestError(problems, what="fault rule")

    def matches(self, method: str, path: str, operation: str = "") -> bool:
        # "POST|PATCH|PUT|DELETE" matches any of them; "*" any method.
        methods = self.method.split("|")
        if self.operation and not (operation and re.search(self.operation, operation)):
            return False
        return ("*" in methods or method in methods) and re.search(self.path, path) is not None


class Faults:
    """The server's fault rules: thread-safe, first matching rule wins."""

    def __init__(self, rules: Iterable[Fault] = ()) -> None:
        self._lock = threading.Lock()
        self._rules = list(rules)
        self._seen: dict[int, int] = {}
        self._release = threading.Event()
        self.injected: list[tuple[str, str, str]] = []

    def add(self, **fields: Any) -> Fault:
        fault = Fault(**fields)
        with self._lock:
            self._rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._seen.clear()

    def hold(self, fault: Fault) -> None:
        """Wait out ``fault.delay``, or less if ``release()`` is called meanwhile."""
        with self._lock:
            released = self._release
        released.wait(fault.delay)

    def release(self) -> None:
        """End every ``delay`` under way now (later delays wait in full)."""
        with self._lock:
            self._release.set()
            self._release = threading.Event()

    def take(self, method: str, path: str, operation: str = "") -> Fault | None:
        """The fault to inject into this request, if any (and count it).
        ``operation``: a GraphQL request's operation name ("" otherwise)."""
        with self._lock:
            for fault in self._rules:
                if not fault.matches(method, path, operation):
                    continue
                seen = self._seen.get(id(fault), 0)
                self._seen[id(fault)] = seen + 1
                if seen < fault.skip:
                    continue
                if fault.times and fault.fired >= fault.times:
                    continue
                fault.fired += 1
                what = (
                    f"drop {fault.drop}"
                    if fault.drop
                    else f"status {fault.status}"
                    if fault.status
                    else "delay"
                )
                self.injected.append((method, path, what))
                return fault
        return None

    @classmethod
    def from_file(cls, path: str | Path) -> Faults:
        try:
            rules = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InvalidRequestError(
                [Problem("--faults", f"cannot read {path}: {error}")], what="fault file"
            ) from None
        if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
            raise InvalidRequestError(
                [Problem("--faults", "must be a JSON list of rule objects")], what="fault file"
            )
        known = {a.name for a in attrs.fields(Fault)} - {"fired"}
        problems = [
            Problem(f"rule {i}", f"unknown field {key!r}")
            for i, r in enumerate(rules)
            for key in r
            if key not in known
        ]
        if problems:
            raise InvalidRequestError(problems, what="fault file")
        return cls(Fault(**rule) for rule in rules)

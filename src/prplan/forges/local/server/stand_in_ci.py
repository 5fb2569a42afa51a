"""A stand-in CI for ``prplan forge serve --checks``: it reports a commit
status on every new pull request head, as a CI system would.

A background thread looks at the forge's open pull requests every
``poll`` seconds; each head it has not seen yet (a pull request opened, or
its head moved by a push through any door: REST, GraphQL, git, another
process) gets each configured ``context`` reported with its ``state``
``delay`` seconds later, as the login ``ci``. The thread stops with the
server (``stop``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence

import attrs

from prplan import errors
from prplan.forges.local import LocalForge

__all__ = ["CheckSpec", "StandInCI"]


@attrs.frozen
class CheckSpec:
    """One check the stand-in CI reports: ``context`` ends in ``state``
    (success or failure) ``delay`` seconds after a head appears."""

    context: str
    state: str
    delay: float = 0.0


class StandInCI:
    def __init__(
        self, forge: LocalForge, checks: Sequence[CheckSpec], *, poll: float = 0.02
    ) -> None:
        self.forge = forge
        self.checks = tuple(checks)
        self._poll = poll
        self._stop = threading.Event()
        self._seen: set[tuple[str, str]] = set()
        #: (due time, repo, sha, check), reported in due order
        self._due: list[tuple[float, str, str, CheckSpec]] = []
        self._thread = threading.Thread(target=self._run, name="prplan-stand-in-ci", daemon=True)

    def start(self) -> StandInCI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            # A held lock or a vanished repository: look again next time.
            with contextlib.suppress(errors.PrplanError):
                self.step(time.monotonic())
            self._stop.wait(self._poll)

    def step(self, now: float) -> None:
        """Notice new heads, then report what is due by ``now``."""
        for repo in self.forge.repositories():
            for row in self.forge.pull_rows(repo):
                key = (repo, row["head_sha"])
                if row["state"] == "open" and key not in self._seen:
                    self._seen.add(key)
                    self._due += [(now + c.delay, repo, row["head_sha"], c) for c in self.checks]
        self._due.sort(key=lambda item: item[0])
        while self._due and self._due[0][0] <= now:
            _, repo, sha, check = self._due.pop(0)
            self.forge.set_status(
                repo, sha, check.context, check.state,
                description=f"stand-in CI: {check.state}", creator="ci",
            )  # fmt: skip

"""The audit trail: JSON lines that tie every write back to the release.

Appended to a file (``prplan apply --audit-log FILE``), so several runs
accumulate; each line stands alone. Every line names prplan's version, the
forge (its URL or directory, never a credential), the repository and the
plan's digest, and in a change set the set's digest, the stage and the
entry's index. A write gets a line when it starts and one when it ends, so a
run killed mid-write leaves the write in flight on the record; every plan
gets an outcome line, including the change-set entries that were stale,
refused or not run. The records are built from the plan's actions and from
``ActionResult`` and ``Outcome`` themselves (cattrs), so a field added to
them is on the record without anyone remembering to add it. Never a token
(the audit log never sees one) and never file contents (only blob shas).
The format is documented in docs/audit.md and docs/audit.schema.json.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import urlsplit, urlunsplit

import attrs
import cattrs

from prplan.core.actions import Action, Commit
from prplan.core.plan import Plan
from prplan.errors import StalePlanError
from prplan.run.changeset import EntryResult
from prplan.run.outcome import ActionResult, Outcome, Reporter

__all__ = ["AUDIT_FORMAT", "AuditLog", "AuditTrail", "Entry", "audit_path_problem", "forge_address"]

#: The version of the record format (``audit_format`` in every line).
AUDIT_FORMAT = 1


def _now() -> str:
    """UTC, to the millisecond: a write's start and end often share a second."""
    moment = datetime.datetime.now(datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _prplan_version() -> str:
    try:
        return importlib.metadata.version("prplan")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "unknown"


def forge_address(client: object) -> str:
    """Where the forge is, for the record: GitHub's API URL (without any
    user, password or query a URL could carry), a local forge's directory,
    or ``memory`` for one in memory."""
    base_url = getattr(client, "base_url", None)
    if isinstance(base_url, str):
        parts = urlsplit(base_url)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    if hasattr(client, "root"):
        root = client.root
        return "memory" if root is None else str(Path(root).absolute())
    return type(client).__name__


def audit_path_problem(path: Path) -> str | None:
    """Why ``path`` cannot take the audit log, or None: checked before
    anything is observed, so a run is never left without its record.
    Creates nothing."""
    if path.is_dir():
        return f"{path} is a directory; give the file to append the records to"
    parent = path.parent
    if not parent.exists():
        return f"the directory {parent} does not exist; create it first"
    if not parent.is_dir():
        return f"{parent} is not a directory"
    if path.exists():
        if not path.is_file():
            return f"{path} is not a regular file"
        try:
            with path.open("a", encoding="utf-8"):
                pass  # opened for appending, nothing appended
        except OSError as error:
            return f"{path} cannot be written ({error.strerror}); give a file you can write"
    elif not os.access(parent, os.W_OK | os.X_OK):
        return f"no file can be created in {parent} (permission denied); give a writable place"
    return None


@attrs.frozen(kw_only=True)
class Entry:
    """Where a plan sits in a change set."""

    changeset_digest: str
    stage: str
    stage_index: int
    entry_index: int


def _action(index: int, action: object) -> dict[str, Any]:
    """The action as the plan holds it (its kind and every field, cattrs),
    and for a commit what each file change is."""
    kind = cast("Action", action).kind  # the executor reports the plan's actions
    record: dict[str, Any] = {"index": index, "kind": kind.value}
    record.update(cattrs.unstructure(action))
    if isinstance(action, Commit):
        for file, change in zip(record["files"], action.files, strict=True):
            file["change"] = change.change
    return record


class AuditTrail:
    """The audit file, opened once and shared by the reporters of every plan
    of a run (change sets write from several threads): one whole line per
    record, flushed at once, so a crash loses nothing already done."""

    def __init__(self, path: str | Path, *, forge: str) -> None:
        self.path = Path(path)
        self.forge = forge
        self.version = _prplan_version()
        self._lock = threading.Lock()
        self._file: IO[str] = self.path.open("a", encoding="utf-8")
        #: each change-set entry's reporter, by plan digest (unique in a set)
        self._entries: dict[str, AuditLog] = {}

    def __enter__(self) -> AuditTrail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def write(self, record: dict[str, Any]) -> None:
        line = _json_line(record)
        with self._lock:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())  # on disk before the write it announces starts

    def log(self, plan: Plan, entry: Entry | None = None) -> AuditLog:
        """The reporter of one plan's run (``entry``: its place in a change set)."""
        return AuditLog(self, plan, entry)

    def for_changeset(
        self, stages: tuple[tuple[str, tuple[Plan, ...]], ...], changeset_digest: str
    ) -> tuple[Callable[[str, Plan], Reporter], Callable[[EntryResult], None]]:
        """``apply_changeset``'s ``reporter`` and an ``on_entry`` that puts
        the entries that never ran (stale, not run, stopped by an error) on
        the record too."""
        places: dict[str, Entry] = {}
        plans: dict[str, Plan] = {}
        for stage_index, (name, stage_plans) in enumerate(stages):
            for entry_index, plan in enumerate(stage_plans):
                places[plan.digest] = Entry(
                    changeset_digest=changeset_digest,
                    stage=name,
                    stage_index=stage_index,
                    entry_index=entry_index,
                )
                plans[plan.digest] = plan

        def reporter(stage: str, plan: Plan) -> Reporter:
            log = self.log(plan, places[plan.digest])
            with self._lock:
                self._entries[plan.digest] = log
            return log

        def on_entry(result: EntryResult) -> None:
            if result.outcome is not None:
                return  # its reporter wrote its outcome
            with self._lock:
                log = self._entries.get(result.plan_digest)
            if log is None:
                log = self.log(plans[result.plan_digest], places[result.plan_digest])
                log.started_at = None  # it never started
            log.not_applied(result.status, result.error, result.error_type, result.note)

        return reporter, on_entry


def _json_line(record: dict[str, Any]) -> str:
    import json

    return json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"


class AuditLog(Reporter):
    """The ``Reporter`` that puts one plan's run on an ``AuditTrail``."""

    def __init__(self, trail: AuditTrail, plan: Plan, entry: Entry | None = None) -> None:
        self.trail = trail
        self.plan = plan
        self.entry = entry
        #: when this plan's run started (None: it never did)
        self.started_at: str | None = _now()
        self._action_started: dict[int, str] = {}

    def _record(self, kind: str) -> dict[str, Any]:
        """What every line carries: what, when, which release, where."""
        entry = self.entry
        return {
            "type": kind,
            "audit_format": AUDIT_FORMAT,
            "time": _now(),
            "prplan_version": self.trail.version,
            "forge": self.trail.forge,
            "repo": self.plan.request.repo,
            "branch": self.plan.request.branch,
            "plan_digest": self.plan.digest,
            "changeset": None if entry is None else cattrs.unstructure(entry),
        }

    def action_started(self, repo: str, index: int, action: object) -> None:
        record = self._record("action_started")
        self._action_started[index] = record["time"]
        record["action"] = _action(index, action)
        self.trail.write(record)

    def action_finished(self, repo: str, action: object, result: ActionResult) -> None:
        record = self._record("action_finished")
        record["started_at"] = self._action_started.get(result.index)
        record["finished_at"] = record["time"]
        record["action"] = _action(result.index, action)
        record["result"] = cattrs.unstructure(result)
        self.trail.write(record)

    def finished(self, outcome: Outcome) -> None:
        actors = sorted({a.actor for a in outcome.actions if a.actor is not None})
        self._outcome(
            outcome.status.value,
            outcome=cattrs.unstructure(outcome),
            actors=actors,
            error=outcome.error,
            error_type=outcome.error_type,
        )

    def stopped(self, error: Exception) -> None:
        """``apply`` raised instead of returning an outcome: a stale plan
        (nothing written), or an error while checking it."""
        self.not_applied(
            "stale" if type(error) is StalePlanError else "failed",
            str(error),
            type(error).__name__,
        )

    def not_applied(self, status: str, error: str, error_type: str, note: str = "") -> None:
        """A plan that has no ``Outcome``: stale, stopped by an error, or not run."""
        self._outcome(
            status, outcome=None, actors=[], error=error, error_type=error_type, note=note
        )

    def _outcome(
        self,
        status: str,
        *,
        outcome: dict[str, Any] | None,
        actors: list[str],
        error: str,
        error_type: str,
        note: str = "",
    ) -> None:
        record = self._record("outcome")
        record.update(
            status=status,
            started_at=self.started_at,
            finished_at=record["time"],
            actors=actors,
            outcome=outcome,
            error=error,
            error_type=error_type,
            note=note,
        )
        self.trail.write(record)

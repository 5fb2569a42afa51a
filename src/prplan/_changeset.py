"""Change sets: one reviewed plan across many repositories, applied in stages.

A change set file (YAML) lists stages; each stage lists changes, one per
repository, each a ``ChangeRequest`` whose fields default to ``defaults``.
``plan_changeset`` observes every repository concurrently (bounded) and
returns one ``ChangeSetPlan``: each repository's plan plus a digest of the
whole. ``apply_changeset`` applies stage by stage. Within a stage, every
plan is first checked against its repository concurrently (a stale plan
stops the stage before any of its writes), then the writes go out one
repository at a time: serialised per forge, as GitHub asks of integrations.
A stage starts only when every entry of the previous one reached its goal
(merged when automerge, else proposed), so a release never reaches the
clusters before the configuration repository took it.

Re-running a partly applied change set converges: what is done plans as
nothing to do, what failed is planned again.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs

from ._errors import InvalidRequestError, PlanFormatError, Problem, PrplanError, StalePlanError
from ._executor import apply, moved_facts
from ._model import ChangeRequest
from ._observe import observe
from ._outcome import Outcome, OutcomeStatus, Reporter
from ._plan import FORMAT_VERSION, Plan, canonical_json
from ._planner import plan as make_plan
from ._ports import ForgeClient

__all__ = [
    "ChangeSet",
    "ChangeSetStage",
    "ChangeSetPlan",
    "ChangeSetResult",
    "EntryResult",
    "load_changeset",
    "parse_changeset",
    "plan_changeset",
    "apply_changeset",
]

#: Fields a change may set (besides repo, files, delete, set..., replace).
_REQUEST_FIELDS = {f.name for f in attrs.fields(ChangeRequest)} - {"files", "repo"}
_SET_KEYS = ("set", "set_string", "set_json")
_ENTRY_KEYS = _REQUEST_FIELDS | {"repo", "files", "delete", "replace", *_SET_KEYS}


class _Written(str):
    """A plain (unquoted) value of a change's ``set:``, ``set_string:`` or
    ``set_json:``, as written in the file: ``1.10`` stays ``1.10``, where
    the YAML loader would have made it the float 1.1."""


@attrs.frozen(kw_only=True)
class ChangeSetStage:
    name: str
    requests: tuple[ChangeRequest, ...]


@attrs.frozen(kw_only=True)
class ChangeSet:
    stages: tuple[ChangeSetStage, ...]


def load_changeset(path: str | Path) -> ChangeSet:
    """Read and validate a change set file; local file paths in it are
    relative to the file. Every problem is reported, each with its entry and
    field (``stages[1].changes[0].files['a.yaml']``)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        document = YAML(typ="safe").load(text)
        _keep_written(YAML(typ="safe").compose(text), document)
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidRequestError(
            [Problem("--changeset", f"cannot read {file}: {error}")], what="change set"
        ) from None
    except YAMLError as error:
        # One line: ruamel's own message spans several with a caret diagram.
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        what = getattr(error, "problem", None) or type(error).__name__
        raise InvalidRequestError(
            [Problem(str(file), f"is not YAML: {what}{where}")], what="change set"
        ) from None
    return parse_changeset(document, base_dir=file.parent)


def _keep_written(root: object, document: object) -> None:
    """Replace each plain scalar value of the changes' ``set``-family maps in
    ``document`` by its text as written (``_Written``), found in the node
    tree ``root`` of the same file. Shapes that do not line up (aliases,
    merge keys) keep their loaded values."""
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    def pairs(node: object, data: object) -> list[tuple[Any, Any, Any]]:
        if not isinstance(node, MappingNode) or not isinstance(data, dict):
            return []
        if len(node.value) != len(data):
            return []
        return [(value_node, key, value) for (_, value_node), (key, value) in zip(node.value, data.items(), strict=True)]  # fmt: skip

    def items(node: object, data: object) -> list[tuple[Any, Any]]:
        if not isinstance(node, SequenceNode) or not isinstance(data, list):
            return []
        return list(zip(node.value, data, strict=False)) if len(node.value) == len(data) else []

    changes: list[tuple[Any, Any]] = []
    for node, key, value in pairs(root, document):
        if key == "changes":
            changes += items(node, value)
        elif key == "stages":
            for stage_node, stage in items(node, value):
                for inner, name, listed in pairs(stage_node, stage):
                    if name == "changes":
                        changes += items(inner, listed)
    for change_node, change in changes:
        for node, key, spec in pairs(change_node, change):
            if key not in _SET_KEYS:
                continue
            for file_node, _, edits in pairs(node, spec):
                for value_node, path, _loaded in pairs(file_node, edits):
                    if isinstance(value_node, ScalarNode) and value_node.style is None:
                        edits[path] = _Written(value_node.value)


def _set_value(
    kind: str, value: object, where: str, problems: list[Problem]
) -> tuple[object, bool] | None:
    """The value of one ``set``-family entry and whether it is as written
    (None, with a problem, when it cannot be one):
    ``set:`` keeps a plain value's text, typed against the file when applied;
    ``set_string:`` makes it a string; ``set_json:`` reads it as JSON."""
    if kind == "set_json" and isinstance(value, str):
        try:
            return json.loads(value), False
        except ValueError as error:
            problems.append(Problem(where, f"is not JSON: {error}"))
            return None
    if kind == "set_string":
        if not isinstance(value, str):
            problems.append(Problem(where, "must be text: set_string values are strings"))
            return None
        return str(value), False
    if kind == "set" and isinstance(value, _Written):
        return str(value), True
    return value, False


def _edits_for(
    kind: str, path: str, spec: object, where: str, problems: list[Problem]
) -> list[Any]:
    """``set: {file: {key.path: value}}`` (and ``set_string:``, ``set_json:``)
    and ``replace: {file: {old: new}}``."""
    from . import _edits

    if not isinstance(spec, dict) or not spec:
        problems.append(
            Problem(
                where,
                f"must map {'old text to new' if kind == 'replace' else 'key paths to values'}",
            )
        )
        return []
    edits: list[Any] = []
    for key, value in spec.items():
        edit: Any
        if kind != "replace":
            typed = _set_value(kind, value, f"{where}[{key!r}]", problems)
            if typed is None:
                continue
            edit = _edits.set_edit(path, str(key), typed[0], as_written=typed[1])
        else:
            edit = _edits.Replace(old=str(key), new=str(value))
        found = _edits.edit_problems(edit, f"{where}[{key!r}]")
        problems += found
        if not found:
            edits.append(edit)
    return edits


def parse_changeset(document: object, *, base_dir: Path = Path(".")) -> ChangeSet:
    problems: list[Problem] = []
    if not isinstance(document, dict):
        raise InvalidRequestError(
            [Problem("change set", "must be a mapping with version and stages")], "change set"
        )
    if document.get("version") != 1:
        problems.append(
            Problem("version", f"is {document.get('version')!r}; this prplan reads version 1")
        )
    unknown = set(document) - {"version", "defaults", "stages", "changes"}
    problems += [
        Problem(key, "is not a change set field (version, defaults, stages, changes)")
        for key in sorted(unknown)
    ]
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append(Problem("defaults", "must be a mapping of request fields"))
        defaults = {}
    problems += [
        Problem(f"defaults.{k}", "is not a request field")
        for k in sorted(set(defaults) - _REQUEST_FIELDS)
    ]
    if "stages" in document and "changes" in document:
        problems.append(Problem("stages/changes", "give stages, or one list of changes, not both"))
    raw_stages = document.get("stages")
    if raw_stages is None and "changes" in document:
        raw_stages = [{"name": "changes", "changes": document["changes"]}]
    single = "stages" not in document
    if not isinstance(raw_stages, list) or not raw_stages:
        problems.append(Problem("stages", "must be a non-empty list of {name, changes}"))
        raise InvalidRequestError(problems, what="change set")
    stages: list[ChangeSetStage] = []
    seen: dict[tuple[str, str], str] = {}
    for index, raw in enumerate(raw_stages):
        label = f"stages[{index}]"
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("changes"), list)
            or not raw["changes"]
        ):
            problems.append(Problem(label, "must have a non-empty list of changes"))
            continue
        name = str(raw.get("name") or f"stage {index + 1}")
        requests = []
        for number, entry in enumerate(raw["changes"]):
            where = f"changes[{number}]" if single else f"stages[{index}].changes[{number}]"
            request = _entry(entry, defaults, where, base_dir, problems)
            if request is None:
                continue
            key = (request.repo, request.branch)
            if key in seen:
                problems.append(
                    Problem(
                        where,
                        f"{request.repo} via {request.branch} is also {seen[key]}: once per set",
                    )
                )
            seen[key] = where
            requests.append(request)
        stages.append(ChangeSetStage(name=name, requests=tuple(requests)))
    if problems:
        raise InvalidRequestError(problems, what="change set")
    return ChangeSet(stages=tuple(stages))


def _entry(
    entry: object, defaults: Mapping[str, Any], where: str, base_dir: Path, problems: list[Problem]
) -> ChangeRequest | None:
    if not isinstance(entry, dict):
        problems.append(Problem(where, "must be a mapping with repo and files/delete/set/replace"))
        return None
    before = len(problems)
    problems += [
        Problem(f"{where}.{k}", "is not a change field") for k in sorted(set(entry) - _ENTRY_KEYS)
    ]
    for key in ("files", "replace", *_SET_KEYS):
        if key in entry and not isinstance(entry[key], dict):
            target = "local file" if key == "files" else "edits"
            problems.append(
                Problem(
                    f"{where}.{key}", f"{key}: must be a mapping of repository path to {target}"
                )
            )
    deletes = entry.get("delete", [])
    if not isinstance(deletes, list) or not all(isinstance(p, str) for p in deletes):
        # A bare string would otherwise be read one character at a time.
        problems.append(Problem(f"{where}.delete", "must be a list of repository paths"))
    if len(problems) > before:
        return None
    files: dict[str, Any] = {}
    for repo_path, local in (entry.get("files") or {}).items():
        try:
            files[str(repo_path)] = (base_dir / str(local)).read_bytes()
        except OSError as error:
            problems.append(
                Problem(f"{where}.files[{repo_path!r}]", f"cannot read {local}: {error.strerror}")
            )
    for repo_path in entry.get("delete") or []:
        files[str(repo_path)] = None
    set_paths: set[str] = set()  # set, set_string and set_json may name one file
    for kind in (*_SET_KEYS, "replace"):
        for repo_path, spec in (entry.get(kind) or {}).items():
            label = f"{where}.{kind}[{repo_path!r}]"
            joins = kind != "replace" and str(repo_path) in set_paths
            if str(repo_path) in files and not joins:
                problems.append(
                    Problem(label, "this path is already written, deleted or edited in this change")
                )
                continue
            edits = _edits_for(kind, str(repo_path), spec, label, problems)
            if edits:
                earlier = files.get(str(repo_path)) if joins else ()
                files[str(repo_path)] = tuple(earlier or ()) + tuple(edits)
                if kind != "replace":
                    set_paths.add(str(repo_path))
    fields = {k: v for k, v in defaults.items()}
    fields.update({k: v for k, v in entry.items() if k in _REQUEST_FIELDS})
    if "repo" not in entry:
        problems.append(Problem(f"{where}.repo", "is required"))
    if "branch" not in fields:
        problems.append(Problem(f"{where}.branch", "is required (here or in defaults)"))
    if not files:
        problems.append(Problem(where, "changes nothing: give files, delete, set or replace"))
    if len(problems) > before:
        return None
    try:
        return ChangeRequest(repo=entry["repo"], files=files, **fields)
    except InvalidRequestError as error:
        problems += [Problem(f"{where}.{p.field}", p.message) for p in error.problems]
    except TypeError as error:
        problems.append(Problem(where, str(error)))
    return None


# --- the plan of a change set ----------------------------------------------------------


@attrs.frozen(kw_only=True)
class ChangeSetPlan:
    """Every repository's plan, stage by stage, with a digest of the whole."""

    stages: tuple[tuple[str, tuple[Plan, ...]], ...]
    format_version: int = FORMAT_VERSION

    @property
    def plans(self) -> list[Plan]:
        return [plan for _, plans in self.stages for plan in plans]

    @property
    def has_changes(self) -> bool:
        return any(plan.actions for plan in self.plans)

    @property
    def refused(self) -> list[Plan]:
        return [plan for plan in self.plans if plan.refusal is not None]

    def _body(self) -> dict[str, Any]:
        return {
            "kind": "changeset",
            "format_version": self.format_version,
            "stages": [
                {"name": name, "plans": [p.to_dict() for p in plans]} for name, plans in self.stages
            ],
        }

    @property
    def digest(self) -> str:
        return hashlib.sha256(canonical_json(self._body())).hexdigest()

    def to_json(self) -> str:
        document = self._body()
        document["digest"] = self.digest
        return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> ChangeSetPlan:
        if document.get("format_version") != FORMAT_VERSION:
            raise PlanFormatError(
                [
                    Problem(
                        "format_version",
                        f"is {document.get('format_version')!r}; expected {FORMAT_VERSION}",
                    )
                ]
            )
        try:
            stages = tuple(
                (str(stage["name"]), tuple(Plan.from_dict(p) for p in stage["plans"]))
                for stage in document["stages"]
            )
        except (KeyError, TypeError):
            raise PlanFormatError([Problem("stages", "must be a list of {name, plans}")]) from None
        plan = cls(stages=stages)
        if document.get("digest") != plan.digest:
            raise PlanFormatError(
                [Problem("digest", "does not match the content: the change set plan was edited")]
            )
        return plan


def plan_changeset(
    client: ForgeClient,
    changeset: ChangeSet,
    *,
    concurrency: int = 8,
    on_planned: Callable[[Plan], None] | None = None,
) -> ChangeSetPlan:
    """Observe every repository (at most ``concurrency`` at once) and plan."""
    requests = [request for stage in changeset.stages for request in stage.requests]

    def one(request: ChangeRequest) -> Plan:
        planned = make_plan(observe(client, request), request)
        if on_planned is not None:
            on_planned(planned)
        return planned

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        plans = list(pool.map(one, requests))
    out: list[tuple[str, tuple[Plan, ...]]] = []
    index = 0
    for stage in changeset.stages:
        out.append((stage.name, tuple(plans[index : index + len(stage.requests)])))
        index += len(stage.requests)
    return ChangeSetPlan(stages=tuple(out))


# --- applying ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class EntryResult:
    stage: str
    repo: str
    outcome: Outcome | None  # None: not run (an earlier stage or entry failed)
    error: str = ""  # a stale plan or another error that stopped the entry

    @property
    def reached_goal(self) -> bool:
        return self.outcome is not None and self.outcome.status not in {
            OutcomeStatus.FAILED,
            OutcomeStatus.REFUSED,
        }

    @property
    def status(self) -> str:
        if self.error:
            return "stale" if "stale" in self.error else "failed"
        return "not_run" if self.outcome is None else self.outcome.status.value


@attrs.frozen(kw_only=True)
class ChangeSetResult:
    digest: str
    entries: tuple[EntryResult, ...]

    @property
    def ok(self) -> bool:
        return all(entry.reached_goal for entry in self.entries)

    def to_dict(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "ok": self.ok,
            "entries": [
                {
                    "stage": e.stage,
                    "repo": e.repo,
                    "status": e.status,
                    "pull_request": e.outcome.pull_request if e.outcome else None,
                    "pull_request_url": e.outcome.pull_request_url if e.outcome else "",
                    "error": e.error or (e.outcome.error if e.outcome else ""),
                    "requests": {
                        "reads": e.outcome.requests.reads,
                        "writes": e.outcome.requests.writes,
                    }
                    if e.outcome
                    else None,
                }
                for e in self.entries
            ],
        }


def apply_changeset(
    client: ForgeClient,
    changeset_plan: ChangeSetPlan,
    *,
    concurrency: int = 8,
    keep_going: bool = False,
    recheck: bool = True,
    write_concurrency: int = 1,
    observed_at: float | None = None,
    reporter: Callable[[str, Plan], Reporter] | None = None,
    on_entry: Callable[[EntryResult], None] | None = None,
) -> ChangeSetResult:
    """Apply stage by stage; see the module's docstring. ``reporter(stage,
    plan)`` gives each entry's ``Reporter`` (audit, progress).

    ``write_concurrency`` repositories are written at once (each one's
    writes still in order). The default, 1, is what GitHub asks of
    integrations; raise it only for a forge that allows concurrent writes."""
    results: list[EntryResult] = []
    stop = threading.Event()
    lock = threading.Lock()
    for name, plans in changeset_plan.stages:
        if stop.is_set():
            results += [EntryResult(stage=name, repo=p.request.repo, outcome=None) for p in plans]
            continue
        # "Planned just now" holds for the first stage only: by the time a
        # later stage starts, the earlier ones took their time.
        first = not results
        checked = recheck or not first
        stale = _stale(client, plans, concurrency) if checked else {}
        when = time.monotonic() if checked or observed_at is None else observed_at

        def one(
            plan: Plan,
            stage: str = name,
            stale: Mapping[tuple[str, str], PrplanError] = stale,
            when: float = when,
        ) -> EntryResult:
            repo = plan.request.repo
            key = (repo, plan.request.branch)
            if stop.is_set() and not keep_going:
                result = EntryResult(stage=stage, repo=repo, outcome=None)
            elif key in stale:
                result = EntryResult(stage=stage, repo=repo, outcome=None, error=str(stale[key]))
            else:
                try:
                    entry_reporter = reporter(stage, plan) if reporter else None
                    outcome = apply(
                        plan, client, reporter=entry_reporter, recheck=False, observed_at=when
                    )
                    result = EntryResult(stage=stage, repo=repo, outcome=outcome)
                except PrplanError as error:
                    result = EntryResult(stage=stage, repo=repo, outcome=None, error=str(error))
            if not result.reached_goal and (result.outcome is not None or result.error):
                stop.set()  # this stage finishes only with --keep-going; later stages never start
            if on_entry is not None:
                with lock:
                    on_entry(result)
            return result

        with ThreadPoolExecutor(max_workers=max(1, write_concurrency)) as pool:
            results += list(pool.map(one, plans))
    return ChangeSetResult(digest=changeset_plan.digest, entries=tuple(results))


def _stale(
    client: ForgeClient, plans: Sequence[Plan], concurrency: int
) -> dict[tuple[str, str], PrplanError]:
    """Check a stage's plans against their repositories, concurrently. Keyed
    by (repository, branch): a set may change one repository on two branches.
    A forge error while checking is that entry's failure, not the run's end."""

    def check(plan: Plan) -> tuple[tuple[str, str], PrplanError | None]:
        key = (plan.request.repo, plan.request.branch)
        if not plan.actions:
            return key, None
        try:
            moved = moved_facts(plan.observed, observe(client, plan.request))
        except PrplanError as error:
            return key, error
        return key, StalePlanError(moved) if moved else None

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return {key: error for key, error in pool.map(check, plans) if error is not None}

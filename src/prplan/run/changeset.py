"""Change sets: one reviewed plan across many repositories, applied in stages.

A change set file (YAML) lists stages; each stage lists changes, one per
repository, each a ``ChangeRequest`` whose fields default to ``defaults``.
``plan_changeset`` observes every repository concurrently (bounded) and
returns one ``ChangeSetPlan``: each repository's plan plus a digest of the
whole. ``apply_changeset`` applies stage by stage. Within a stage, every
plan is first checked against its repository concurrently (a stale plan
stops the whole stage before any of its writes), then the writes go out one
repository at a time: serialised per forge, as GitHub asks of integrations.
A stage starts only when every entry of the previous one reached its goal as
the forge shows it (``Goal``: merged when automerge, else proposed, unless
the stage says ``require``), so a release never reaches the clusters before
the configuration repository took it. A change set plan holding a refusal
is not applied at all, unless ``skip_refused``.

Re-running a partly applied change set converges: what is done plans as
nothing to do, what failed is planned again.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs

from prplan.core.integrity import check_plan
from prplan.core.plan import (
    FORMAT_VERSION,
    READABLE_VERSIONS,
    Plan,
    canonical_json,
    check_signature,
    sign,
)
from prplan.core.planner import plan as make_plan
from prplan.core.request import ChangeRequest
from prplan.core.states import Stage
from prplan.errors import InvalidRequestError, PlanFormatError, Problem, PrplanError, StalePlanError
from prplan.run.executor import apply, moved_facts
from prplan.run.observe import observe
from prplan.run.outcome import ActionStatus, Outcome, OutcomeStatus, Reporter
from prplan.run.port import ForgeClient, RequestCount, counting_requests

__all__ = [
    "ChangeSet",
    "ChangeSetStage",
    "Goal",
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
    """A plain (unquoted) value of a change's ``set:``, ``set_string:``,
    ``set_json:`` or ``replace:``, as written in the file: ``1.10`` stays
    ``1.10``, where the YAML loader would have made it the float 1.1."""


@attrs.frozen
class _WrittenTree:
    """A list or mapping given to ``set:``, each scalar in it as written:
    a plain one as its text (``1.10``), any other as a double-quoted text
    (``"1.10"``), so that the edit types each one (``_edit_values``)."""

    tree: object


@attrs.frozen
class _Unwritable:
    """A ``set:`` value holding something no edit can write (``!!binary``):
    reported as a problem of its entry."""

    reason: str


class Goal(enum.StrEnum):
    """What an entry must reach, as the forge shows it, before the next
    stage starts. Each level includes the ones above it."""

    #: base holds the requested content: merged now, committed straight to
    #: base, or already in place (and rechecked when applied)
    MERGED = "merged"
    #: an open pull request carries the change (or base already holds it)
    PROPOSED = "proposed"
    #: the plan was applied without failing, whatever it did: a commit to a
    #: side branch, or nothing (a closed pull request and on_closed: skip)
    APPLIED = "applied"


#: The goals, weakest first: an entry reaches a goal at or below what it got.
_LEVELS = (Goal.APPLIED, Goal.PROPOSED, Goal.MERGED)


def _goal_or_kept(value: object) -> object:
    """``"merged"`` -> ``Goal.MERGED``; anything else is kept for the report."""
    try:
        return Goal(value) if isinstance(value, str) else value
    except ValueError:
        return value


def _as_requests(value: Iterable[ChangeRequest]) -> tuple[ChangeRequest, ...]:
    return tuple(value)


def _as_stages(value: Iterable[ChangeSetStage]) -> tuple[ChangeSetStage, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class ChangeSetStage:
    """One stage: its requests are applied after every entry of the stage
    before reached its goal. Lists are accepted where tuples are stored."""

    name: str
    requests: tuple[ChangeRequest, ...] = attrs.field(converter=_as_requests)
    #: None: each entry's goal follows its flags (merged when automerge, else proposed)
    require: Goal | None = attrs.field(default=None, converter=_goal_or_kept)


@attrs.frozen(kw_only=True)
class ChangeSet:
    """Stages of ``ChangeRequest``s: ``ChangeSet.load("release.yaml")``, or
    built in code. Checked on construction, every problem at once
    (``InvalidRequestError``): at least one stage, each with at least one
    request, each repository once per branch."""

    stages: tuple[ChangeSetStage, ...] = attrs.field(converter=_as_stages)

    def __attrs_post_init__(self) -> None:
        problems = _changeset_problems(self.stages)
        if problems:
            raise InvalidRequestError(problems, what="change set")

    @classmethod
    def load(cls, path: str | Path) -> ChangeSet:
        """Read a change set file (YAML, see docs/changesets.md); its local
        file paths are relative to the file."""
        return load_changeset(path)

    @classmethod
    def from_yaml(cls, text: str, *, base_dir: str | Path = ".") -> ChangeSet:
        """A change set from YAML text; ``files:`` paths are relative to ``base_dir``."""
        return _from_yaml(text, source="change set", base_dir=Path(base_dir))

    @property
    def requests(self) -> list[ChangeRequest]:
        return [request for stage in self.stages for request in stage.requests]


def _changeset_problems(stages: tuple[object, ...]) -> list[Problem]:
    """What a change set built in code can get wrong (a file's entries are
    checked as they are read, with their place in the file)."""
    if not stages:
        return [Problem("stages", "must hold at least one ChangeSetStage")]
    problems: list[Problem] = []
    seen: dict[tuple[str, str], str] = {}
    for index, stage in enumerate(stages):
        label = f"stages[{index}]"
        if not isinstance(stage, ChangeSetStage):
            problems.append(Problem(label, f"must be a ChangeSetStage, got {type(stage).__name__}"))
            continue
        if stage.require is not None and not isinstance(stage.require, Goal):
            problems.append(
                Problem(
                    f"{label}.require", f"is {stage.require!r}; give merged, proposed or applied"
                )
            )
        if not stage.requests:
            problems.append(Problem(f"{label}.requests", "must hold at least one ChangeRequest"))
        for number, request in enumerate(stage.requests):
            where = f"{label}.requests[{number}]"
            if not isinstance(request, ChangeRequest):
                problems.append(
                    Problem(where, f"must be a ChangeRequest, got {type(request).__name__}")
                )
                continue
            key = (request.repo, request.branch)
            if key in seen:
                problems.append(
                    Problem(
                        where,
                        f"{request.repo} via {request.branch} is also {seen[key]}: once per set",
                    )
                )
            seen.setdefault(key, where)
    return problems


def load_changeset(path: str | Path) -> ChangeSet:
    """Read and validate a change set file; local file paths in it are
    relative to the file. Every problem is reported, each with its entry and
    field (``stages[1].changes[0].files['a.yaml']``)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidRequestError(
            [Problem("--changeset", f"cannot read {file}: {error}")], what="change set"
        ) from None
    return _from_yaml(text, source=str(file), base_dir=file.parent)


def _from_yaml(text: str, *, source: str, base_dir: Path) -> ChangeSet:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        document = YAML(typ="safe").load(text)
        _keep_written(YAML(typ="safe").compose(text), document, text)
    except YAMLError as error:
        # One line: ruamel's own message spans several with a caret diagram.
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        what = getattr(error, "problem", None) or type(error).__name__
        raise InvalidRequestError(
            [Problem(source, f"is not YAML: {what}{where}")], what="change set"
        ) from None
    return parse_changeset(document, base_dir=base_dir)


def _keep_written(root: object, document: object, text: str) -> None:
    """Replace the keys and values of the changes' ``set``-family and
    ``replace`` maps in ``document`` by their text as written, found in the
    node tree ``root`` of the same file (``text``): ``1.10`` is not the float
    1.1, in a key, a value or anywhere inside a list or mapping value. Merge
    keys (``<<``) are followed as the loader follows them."""
    from ruamel.yaml.nodes import SequenceNode

    def listed(node: object, data: object) -> list[tuple[Any, Any]]:
        if not isinstance(node, SequenceNode) or not isinstance(data, list):
            return []
        return list(zip(node.value, data, strict=False)) if len(node.value) == len(data) else []

    if not isinstance(document, dict):
        return
    top = _node_entries(root)
    changes = listed(top.get("changes"), document.get("changes"))
    for stage_node, stage in listed(top.get("stages"), document.get("stages")):
        if isinstance(stage, dict):
            changes += listed(_node_entries(stage_node).get("changes"), stage.get("changes"))
    for change_node, change in changes:
        if not isinstance(change, dict):
            continue
        entries = _node_entries(change_node)
        for kind in (*_SET_KEYS, "replace"):
            if kind in change and kind in entries:
                spec = _written_spec(kind, entries[kind], text)
                if spec is not None:
                    change[kind] = spec


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _node_entries(node: object) -> dict[str, Any]:
    """A mapping node's values by their keys' text, with the entries of
    merged mappings (``<<``) that the mapping does not override, as YAML
    merges them. Empty for anything else."""
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    if not isinstance(node, MappingNode):
        return {}
    own: dict[str, Any] = {}
    merged: dict[str, Any] = {}
    for key, value in node.value:
        if not isinstance(key, ScalarNode):
            continue
        if key.tag == _MERGE_TAG:
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:  # the first merged mapping wins
                for name, item in _node_entries(source).items():
                    merged.setdefault(name, item)
        else:
            own[str(key.value)] = value
    return {**merged, **own}


def _written_spec(kind: str, node: object, text: str) -> dict[str, Any] | None:
    """``{file: {key: value}}`` rebuilt from the nodes, keys and plain
    values as written; None when its shape is not that (the parser then
    says what it must be)."""
    from ruamel.yaml.nodes import MappingNode

    files = _node_entries(node)
    if not isinstance(node, MappingNode) or len(files) != len(node.value):
        return None  # a complex key, or a merge key among the files
    spec: dict[str, Any] = {}
    for name, file_node in files.items():
        if not isinstance(file_node, MappingNode):
            return None
        spec[name] = {
            key: _written_value(kind, value, text, key)
            for key, value in _node_entries(file_node).items()
        }
    return spec


def _explicit_tag(node: Any, text: str) -> str | None:
    """The tag written on a node (``!!str``), after its anchor if any."""
    found = re.match(r"(?:&\S+\s+)?(!\S*)", text[node.start_mark.index :])
    return found.group(1) if found else None


def _construct(node: Any) -> object:
    from ruamel.yaml import YAML

    return YAML(typ="safe").constructor.construct_object(node, deep=True)


def _written_value(kind: str, node: Any, text: str, where: str) -> object:
    """One value of a ``set``-family or ``replace`` map: a plain scalar's
    text (``_Written``); for ``set:``, a list or mapping of texts
    (``_WrittenTree``); anything else as loaded (quoted, tagged)."""
    from ruamel.yaml.nodes import ScalarNode

    if isinstance(node, ScalarNode):
        if node.style is None and _explicit_tag(node, text) is None:
            return _Written(node.value)
        return _construct(node)
    if kind != "set":
        return _construct(node)
    try:
        return _WrittenTree(_texts(node, text, where))
    except _UnwritableError as error:
        return _Unwritable(str(error))


class _UnwritableError(Exception):
    pass


def _texts(node: Any, text: str, where: str) -> object:
    """A list or mapping node as a tree of texts (see ``_WrittenTree``)."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    from prplan.edits import canonical, yaml_double

    if isinstance(node, MappingNode):
        return {
            key: _texts(value, text, f"{where}.{key}") for key, value in _node_entries(node).items()
        }
    if isinstance(node, SequenceNode):
        return [_texts(item, text, f"{where}[{i}]") for i, item in enumerate(node.value)]
    tag = _explicit_tag(node, text)
    if node.style is None and tag is None:
        return str(node.value)
    value = _construct(node)
    if isinstance(value, str):
        return yaml_double(value)
    if value is None or isinstance(value, bool | int | float):
        return canonical(value)  # !!float 1.10: the number, which 1.1 reads as
    raise _UnwritableError(
        f"{where} has the tag {tag}; set: writes text, numbers, booleans, null, "
        "lists and mappings: drop the tag to write it as text"
    )


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
    if isinstance(value, _Unwritable):
        problems.append(Problem(where, value.reason))
        return None
    if kind == "set" and isinstance(value, _Written):
        return str(value), True
    if kind == "set" and isinstance(value, _WrittenTree):
        return value.tree, True
    if isinstance(value, _WrittenTree):  # set_string, set_json: as loaded
        raise AssertionError("a tree of texts is only made for set:")
    return value, False


def _edits_for(
    kind: str, path: str, spec: object, where: str, problems: list[Problem]
) -> list[Any]:
    """``set: {file: {key.path: value}}`` (and ``set_string:``, ``set_json:``)
    and ``replace: {file: {old: new}}``."""
    import prplan.edits as _edits

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
        problems += [
            Problem(f"{label}.{key}", "is not a stage field (name, changes, require)")
            for key in sorted(set(raw) - {"name", "changes", "require"}, key=str)
        ]
        require = _require(raw.get("require"), f"{label}.require", problems)
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
        stages.append(ChangeSetStage(name=name, requests=tuple(requests), require=require))
    if problems:
        raise InvalidRequestError(problems, what="change set")
    return ChangeSet(stages=tuple(stages))


def _require(value: object, where: str, problems: list[Problem]) -> Goal | None:
    if value is None:
        return None
    try:
        return Goal(str(value))
    except ValueError:
        problems.append(
            Problem(
                where, f"is {value!r}; give merged, proposed or applied (see docs/changesets.md)"
            )
        )
        return None


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
    # An unknown default is reported once, where it is written; it must not
    # come back from every change as an unexpected keyword argument.
    fields = {k: v for k, v in defaults.items() if k in _REQUEST_FIELDS}
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
    #: each stage's ``require`` (None: from each entry's flags); may be
    #: shorter than ``stages``, the rest being None
    require: tuple[Goal | None, ...] = ()
    format_version: int = FORMAT_VERSION
    #: the requests each entry's observation took, by (repository, branch):
    #: counted in the outcome when the plan is applied without a recheck.
    #: Not part of the plan document or its digest (a saved plan is rechecked).
    observed_with: Mapping[tuple[str, str], RequestCount] = attrs.field(
        factory=dict, eq=False, repr=False
    )

    def require_of(self, index: int) -> Goal | None:
        return self.require[index] if index < len(self.require) else None

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
            "stages": [self._stage(index) for index in range(len(self.stages))],
        }

    def _stage(self, index: int) -> dict[str, Any]:
        name, plans = self.stages[index]
        stage: dict[str, Any] = {"name": name, "plans": [p.to_dict() for p in plans]}
        require = self.require_of(index)
        if require is not None:  # absent otherwise: plans saved before `require` keep their digest
            stage["require"] = require.value
        return stage

    @property
    def digest(self) -> str:
        return hashlib.sha256(canonical_json(self._body())).hexdigest()

    def to_json(self, *, key: bytes | None = None) -> str:
        """The change set plan document; ``key``: signed as a plan is."""
        document = self._body()
        document["digest"] = self.digest
        if key is not None:
            document["signature"] = sign(self.digest, key)
        return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, document: dict[str, Any], *, key: bytes | None = None) -> ChangeSetPlan:
        """``key``: the document must be signed with it (``Plan.from_json``)."""
        if key is not None:
            check_signature(document, key)
        version = document.get("format_version")
        if type(version) is not int or version not in READABLE_VERSIONS:
            raise PlanFormatError(
                [
                    Problem(
                        "format_version",
                        f"is {version!r}; expected one of {', '.join(map(str, READABLE_VERSIONS))}",
                    )
                ]
            )
        try:
            stages = tuple(
                (str(stage["name"]), tuple(Plan.from_dict(p) for p in stage["plans"]))
                for stage in document["stages"]
            )
            requires = [stage.get("require") for stage in document["stages"]]
        except (KeyError, TypeError, AttributeError):
            raise PlanFormatError([Problem("stages", "must be a list of {name, plans}")]) from None
        problems: list[Problem] = []
        require = tuple(
            _require(value, f"stages[{index}].require", problems)
            for index, value in enumerate(requires)
        )
        if problems:
            raise PlanFormatError(problems)
        plan = cls(stages=stages, require=require, format_version=version)
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

    observed_with: dict[tuple[str, str], RequestCount] = {}

    def one(request: ChangeRequest) -> Plan:
        with counting_requests() as observing:
            planned = make_plan(observe(client, request), request)
        observed_with[(request.repo, request.branch)] = observing.count
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
    return ChangeSetPlan(
        stages=tuple(out),
        require=tuple(stage.require for stage in changeset.stages),
        observed_with=observed_with,
    )


# --- applying ---------------------------------------------------------------------------


def entry_goal(plan: Plan, require: Goal | None = None) -> Goal:
    """The goal an entry must reach: the stage's ``require``, else what its
    flags ask (merged when automerge, else an open pull request)."""
    if require is not None:
        return require
    return Goal.MERGED if plan.request.automerge else Goal.PROPOSED


def reached(plan: Plan, outcome: Outcome) -> Goal | None:
    """The furthest goal the forge shows this applied entry at: a merge the
    forge made, base already holding the content when (re)checked, or an
    open pull request carrying it. None when it failed or was refused."""
    if not outcome.ok:
        return None
    status = outcome.status
    if status is OutcomeStatus.MERGED or plan.start is Stage.IN_PLACE:
        return Goal.MERGED
    if status is OutcomeStatus.COMMITTED and plan.request.branch == plan.observed.base:
        return Goal.MERGED  # the branch is the base: the commit went straight there
    if status in {OutcomeStatus.CREATED, OutcomeStatus.UPDATED}:
        return Goal.PROPOSED
    if not plan.actions and plan.start is Stage.PROPOSED:
        return Goal.PROPOSED  # the open pull request already carries the change
    # Committed to a side branch only, or nothing done (on_closed: skip).
    return Goal.APPLIED


@attrs.frozen(kw_only=True)
class EntryResult:
    stage: str
    repo: str
    goal: Goal
    outcome: Outcome | None  # None: not run (see ``note``) or stopped by ``error``
    #: the furthest goal the forge shows this entry at (None: none at all)
    achieved: Goal | None = None
    error: str = ""  # a stale plan or another error that stopped the entry
    #: the error's type (``StalePlanError``, ``ForgeError``...), as in ``Outcome``
    error_type: str = ""
    note: str = ""  # why an entry did not run
    #: the digest of the entry's plan: which entry this is, even when a
    #: stage changes one repository on two branches (the audit trail's key)
    plan_digest: str = ""

    @property
    def reached_goal(self) -> bool:
        return self.achieved is not None and _LEVELS.index(self.achieved) >= _LEVELS.index(
            self.goal
        )

    @property
    def status(self) -> str:
        if self.error_type:
            return "stale" if self.error_type == StalePlanError.__name__ else "failed"
        return "not_run" if self.outcome is None else self.outcome.status.value

    @property
    def failed(self) -> bool:
        """Something went wrong (as opposed to a goal not reached by design,
        such as a skipped entry): it stops the rest of its stage."""
        return self.status in {"stale", "failed"}

    @property
    def wrote(self) -> bool:
        return self.outcome is not None and any(
            action.status is ActionStatus.DONE for action in self.outcome.actions
        )


def _result(stage: str, plan: Plan, goal: Goal, **result: Any) -> EntryResult:
    """An entry's result: which stage, repository, plan and goal, and what
    happened (``result``: the outcome, or the error, or why it did not run)."""
    return EntryResult(
        stage=stage, repo=plan.request.repo, goal=goal, plan_digest=plan.digest, **result
    )


def _applied(stage: str, plan: Plan, goal: Goal, outcome: Outcome) -> EntryResult:
    return _result(stage, plan, goal, outcome=outcome, achieved=reached(plan, outcome))


def _stopped(stage: str, plan: Plan, goal: Goal, error: PrplanError) -> EntryResult:
    return _result(
        stage, plan, goal, outcome=None, error=str(error), error_type=type(error).__name__
    )


def _not_run(stage: str, plan: Plan, goal: Goal, note: str) -> EntryResult:
    return _result(stage, plan, goal, outcome=None, note=note)


@attrs.frozen(kw_only=True)
class ChangeSetResult:
    digest: str
    entries: tuple[EntryResult, ...]

    @property
    def ok(self) -> bool:
        """Every entry reached its goal."""
        return all(entry.reached_goal for entry in self.entries)

    @property
    def wrote(self) -> bool:
        """Some entry wrote to its repository (a stale plan then no longer
        means "nothing was written")."""
        return any(entry.wrote for entry in self.entries)

    def to_dict(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "ok": self.ok,
            "wrote": self.wrote,
            "entries": [
                {
                    "stage": e.stage,
                    "repo": e.repo,
                    "status": e.status,
                    "goal": e.goal.value,
                    "reached_goal": e.reached_goal,
                    "pull_request": e.outcome.pull_request if e.outcome else None,
                    "pull_request_url": e.outcome.pull_request_url if e.outcome else "",
                    "error": e.error or (e.outcome.error if e.outcome else ""),
                    "error_type": e.error_type or (e.outcome.error_type if e.outcome else ""),
                    "note": e.note,
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
    skip_refused: bool = False,
    recheck: bool = True,
    write_concurrency: int = 1,
    observed_at: float | None = None,
    reporter: Callable[[str, Plan], Reporter] | None = None,
    on_entry: Callable[[EntryResult], None] | None = None,
) -> ChangeSetResult:
    """Apply stage by stage; see the module's docstring. ``reporter(stage,
    plan)`` gives each entry's ``Reporter`` (audit, progress).

    A change set plan holding a refusal writes nothing (its refused entries
    report ``refused``, the others ``not_run``), unless ``skip_refused``:
    then the other entries are applied, and as a refused entry never reaches
    its goal, the stages after it do not start.

    ``write_concurrency`` repositories are written at once (each one's
    writes still in order). The default, 1, is what GitHub asks of
    integrations; raise it only for a forge that allows concurrent writes.

    Every plan is checked (``PlanIntegrityError``) before the first stage
    starts, so a hand-edited later stage never follows a written first one."""
    for plan in changeset_plan.plans:
        check_plan(plan)
    lock = threading.Lock()

    def report(result: EntryResult) -> EntryResult:
        if on_entry is not None:
            with lock:
                on_entry(result)
        return result

    def refuse(stage: str, plan: Plan, goal: Goal) -> EntryResult:
        # apply() writes nothing for a refused plan; it reports the refusal.
        outcome = apply(plan, client, reporter=reporter(stage, plan) if reporter else None)
        return _applied(stage, plan, goal, outcome)

    refused = changeset_plan.refused
    # Why the entries from here on are not applied ("" while they are).
    held = ""
    if refused and not skip_refused:
        names = ", ".join(plan.request.repo for plan in refused)
        held = (
            f"not applied: the change set plan holds {len(refused)} refused plan(s) ({names}); "
            "skip_refused (--skip-refused) applies the rest"
        )
    results: list[EntryResult] = []
    for index, (name, plans) in enumerate(changeset_plan.stages):
        goals = [entry_goal(plan, changeset_plan.require_of(index)) for plan in plans]
        if held:
            results += [
                report(
                    refuse(name, plan, goal)
                    if plan.refusal is not None
                    else _not_run(name, plan, goal, held)
                )
                for plan, goal in zip(plans, goals, strict=True)
            ]
            continue
        # "Planned just now" holds for the first stage only: by the time a
        # later stage starts, the earlier ones took their time.
        checked = recheck or index > 0
        live = [plan for plan in plans if plan.refusal is None]
        # The requests of each entry's latest observation: the check's, or the plan's own.
        observing: dict[tuple[str, str], RequestCount] = {}
        stale = _stale(client, live, concurrency, observing) if checked else {}
        if not checked:
            observing.update(changeset_plan.observed_with)
        when = time.monotonic() if checked or observed_at is None else observed_at
        if stale:
            stage_results = _unchecked_stage(name, plans, goals, stale)
            results += [report(result) for result in stage_results]
        else:
            stage_results = _write_stage(
                name, plans, goals, client, keep_going, write_concurrency, when, reporter, refuse,
                report, observing,
            )  # fmt: skip
            results += stage_results
        short = [result for result in stage_results if not result.reached_goal]
        if short:
            which = ", ".join(f"{r.repo} {r.status}" for r in short[:3])
            more = f" and {len(short) - 3} more" if len(short) > 3 else ""
            held = f"not started: stage {name!r} did not reach its goal ({which}{more})"
    return ChangeSetResult(digest=changeset_plan.digest, entries=tuple(results))


def _unchecked_stage(
    name: str,
    plans: Sequence[Plan],
    goals: Sequence[Goal],
    stale: Mapping[tuple[str, str], PrplanError],
) -> list[EntryResult]:
    """A stage with a stale (or uncheckable) entry writes nothing at all:
    its check comes before any of its writes."""
    blamed = ", ".join(sorted({repo for repo, _ in stale}))
    out = []
    for plan, goal in zip(plans, goals, strict=True):
        error = stale.get((plan.request.repo, plan.request.branch))
        if error is not None:
            out.append(_stopped(name, plan, goal, error))
        else:
            note = f"not written: the check of stage {name!r} failed for {blamed}"
            out.append(_not_run(name, plan, goal, note))
    return out


def _write_stage(
    name: str,
    plans: Sequence[Plan],
    goals: Sequence[Goal],
    client: ForgeClient,
    keep_going: bool,
    write_concurrency: int,
    when: float,
    reporter: Callable[[str, Plan], Reporter] | None,
    refuse: Callable[[str, Plan, Goal], EntryResult],
    report: Callable[[EntryResult], EntryResult],
    observing: Mapping[tuple[str, str], RequestCount],
) -> list[EntryResult]:
    """The writes of a checked stage, ``write_concurrency`` repositories at
    once. A failure stops the rest of the stage unless ``keep_going``; an
    entry merely short of its goal (skipped, committed only) does not."""
    halt = threading.Event()

    def one(item: tuple[Plan, Goal]) -> EntryResult:
        plan, goal = item
        if plan.refusal is not None:
            return report(refuse(name, plan, goal))
        if halt.is_set() and not keep_going:
            note = f"not run: an earlier entry of stage {name!r} failed"
            return report(_not_run(name, plan, goal, note))
        try:
            entry_reporter = reporter(name, plan) if reporter else None
            outcome = apply(
                plan, client, reporter=entry_reporter, recheck=False, observed_at=when,
                observed_with=observing.get((plan.request.repo, plan.request.branch)),
            )  # fmt: skip
            result = _applied(name, plan, goal, outcome)
        except PrplanError as error:
            result = _stopped(name, plan, goal, error)
        if result.failed:
            halt.set()
        return report(result)

    with ThreadPoolExecutor(max_workers=max(1, write_concurrency)) as pool:
        return list(pool.map(one, zip(plans, goals, strict=True)))


def _stale(
    client: ForgeClient,
    plans: Sequence[Plan],
    concurrency: int,
    observing: dict[tuple[str, str], RequestCount],
) -> dict[tuple[str, str], PrplanError]:
    """Check a stage's plans against their repositories, concurrently, empty
    plans included: "nothing to do" claims base holds the content, and base
    may have been reverted since. Keyed by (repository, branch): a set may
    change one repository on two branches. A forge error while checking is
    that entry's failure. ``observing`` gets each check's requests."""

    def check(plan: Plan) -> tuple[tuple[str, str], PrplanError | None]:
        key = (plan.request.repo, plan.request.branch)
        try:
            with counting_requests() as tally:
                try:
                    current = observe(client, plan.request)
                finally:
                    observing[key] = tally.count
            moved = moved_facts(plan.observed, current)
        except PrplanError as error:
            return key, error
        return key, StalePlanError(moved) if moved else None

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return {key: error for key, error in pool.map(check, plans) if error is not None}

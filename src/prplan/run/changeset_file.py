"""The change-set file: what it holds (``ChangeSet``: stages of
``ChangeRequest``s, each stage's ``Goal``), and reading it (``load_changeset``,
``parse_changeset``), every problem reported with its place in the file
(``stages[1].changes[0].files['a.yaml']``).

Separate from running a change set (``changeset``: plan and apply) because
reading and checking a file does no I/O on a forge, and a change set built in
code is checked by the same rules.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from prplan.core.request import ChangeRequest, parse_duration
from prplan.errors import InvalidRequestError, Problem
from prplan.run.changeset_written import SET_KEYS, Unwritable, Written, WrittenTree, keep_written

__all__ = [
    "ChangeSet", "ChangeSetStage", "Goal", "load_changeset", "parse_changeset", "parse_goal",
    "parse_timeout",
]  # fmt: skip

#: Fields a change may set (besides repo, files, delete, set..., replace).
_REQUEST_FIELDS = {f.name for f in attrs.fields(ChangeRequest)} - {"files", "repo"}
_ENTRY_KEYS = _REQUEST_FIELDS | {"repo", "files", "delete", "replace", *SET_KEYS}


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
    #: how long, in seconds, the stage waits for GitHub to merge the pull
    #: requests it left to auto-merge or a merge queue (None: the
    #: command's --stage-timeout, by default 30 minutes)
    timeout: float | None = None


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
            problems += _twice(request, where, seen)
            seen.setdefault((request.repo, request.branch), where)
    return problems


def _twice(
    request: ChangeRequest, where: str, seen: Mapping[tuple[str, str], str]
) -> list[Problem]:
    """A problem when ``request``'s repository and branch were ``seen``
    already: each is changed once per set."""
    earlier = seen.get((request.repo, request.branch))
    if earlier is None:
        return []
    return [Problem(where, f"{request.repo} via {request.branch} is also {earlier}: once per set")]


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
        keep_written(YAML(typ="safe").compose(text), document, text)
    except YAMLError as error:
        # One line: ruamel's own message spans several with a caret diagram.
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        what = getattr(error, "problem", None) or type(error).__name__
        raise InvalidRequestError(
            [Problem(source, f"is not YAML: {what}{where}")], what="change set"
        ) from None
    return parse_changeset(document, base_dir=base_dir)


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
    if isinstance(value, Unwritable):
        problems.append(Problem(where, value.reason))
        return None
    if kind == "set" and isinstance(value, Written):
        return str(value), True
    if kind == "set" and isinstance(value, WrittenTree):
        return value.tree, True
    if isinstance(value, WrittenTree):  # set_string, set_json: as loaded
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
    """A change set from a loaded document (``version: 1`` with ``stages``
    or one list of ``changes``); ``InvalidRequestError`` with every problem,
    each at its place in the file."""
    if not isinstance(document, dict):
        raise InvalidRequestError(
            [Problem("change set", "must be a mapping with version and stages")], "change set"
        )
    problems = _top_problems(document)
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
    if not isinstance(raw_stages, list) or not raw_stages:
        problems.append(Problem("stages", "must be a non-empty list of {name, changes}"))
        raise InvalidRequestError(problems, what="change set")
    reader = _StageReader(defaults, base_dir, single="stages" not in document, problems=problems)
    stages = [reader.stage(index, raw) for index, raw in enumerate(raw_stages)]
    if problems:
        raise InvalidRequestError(problems, what="change set")
    return ChangeSet(stages=tuple(stage for stage in stages if stage is not None))


def _top_problems(document: dict[Any, Any]) -> list[Problem]:
    """The document's version, and no field it does not know."""
    problems: list[Problem] = []
    if document.get("version") != 1:
        problems.append(
            Problem("version", f"is {document.get('version')!r}; this prplan reads version 1")
        )
    unknown = set(document) - {"version", "defaults", "stages", "changes"}
    problems += [
        Problem(key, "is not a change set field (version, defaults, stages, changes)")
        for key in sorted(unknown)
    ]
    return problems


@attrs.define
class _StageReader:
    """Reads a file's stages in order, remembering where each repository and
    branch was first changed (once per set), adding to ``problems``."""

    defaults: Mapping[str, Any]
    base_dir: Path
    #: a file with one list of ``changes`` (no ``stages``): places say ``changes[n]``
    single: bool
    problems: list[Problem]
    seen: dict[tuple[str, str], str] = attrs.field(factory=dict)

    def stage(self, index: int, raw: object) -> ChangeSetStage | None:
        label, problems = f"stages[{index}]", self.problems
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("changes"), list)
            or not raw["changes"]
        ):
            problems.append(Problem(label, "must have a non-empty list of changes"))
            return None
        problems += [
            Problem(f"{label}.{key}", "is not a stage field (name, changes, require, timeout)")
            for key in sorted(set(raw) - {"name", "changes", "require", "timeout"}, key=str)
        ]
        require = parse_goal(raw.get("require"), f"{label}.require", problems)
        timeout = parse_timeout(raw.get("timeout"), f"{label}.timeout", problems)
        name = str(raw.get("name") or f"stage {index + 1}")
        requests = []
        for number, entry in enumerate(raw["changes"]):
            where = f"changes[{number}]" if self.single else f"{label}.changes[{number}]"
            request = _entry(entry, self.defaults, where, self.base_dir, problems)
            if request is None:
                continue
            problems += _twice(request, where, self.seen)
            self.seen[(request.repo, request.branch)] = where
            requests.append(request)
        return ChangeSetStage(name=name, requests=tuple(requests), require=require, timeout=timeout)


def parse_timeout(value: object, where: str, problems: list[Problem]) -> float | None:
    """A stage's timeout: seconds (a number) or a duration ("90s", "30m", "1h")."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError as error:
            problems.append(Problem(where, str(error)))
            return None
    problems.append(Problem(where, f"is {value!r}; give a duration such as 30m, 90s or 1h"))
    return None


def parse_goal(value: object, where: str, problems: list[Problem]) -> Goal | None:
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
    """One change of the file as a ``ChangeRequest``; None when it has
    problems, added to ``problems``."""
    if not isinstance(entry, dict):
        problems.append(Problem(where, "must be a mapping with repo and files/delete/set/replace"))
        return None
    before = len(problems)
    problems += _entry_shape_problems(entry, where)
    if len(problems) > before:
        return None
    files = _entry_files(entry, where, base_dir, problems)
    _add_edits(entry, where, files, problems)
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


def _entry_shape_problems(entry: dict[Any, Any], where: str) -> list[Problem]:
    """Fields a change does not have, and fields of the wrong shape."""
    problems = [
        Problem(f"{where}.{k}", "is not a change field") for k in sorted(set(entry) - _ENTRY_KEYS)
    ]
    for key in ("files", "replace", *SET_KEYS):
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
    return problems


def _entry_files(
    entry: dict[Any, Any], where: str, base_dir: Path, problems: list[Problem]
) -> dict[str, Any]:
    """``files:`` read from disk (relative to ``base_dir``) and ``delete:``."""
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
    return files


def _add_edits(
    entry: dict[Any, Any], where: str, files: dict[str, Any], problems: list[Problem]
) -> None:
    """``set``, ``set_string``, ``set_json`` and ``replace`` into ``files``
    as edits; the three set kinds may name one file, nothing else may name
    a path twice."""
    set_paths: set[str] = set()
    for kind in (*SET_KEYS, "replace"):
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

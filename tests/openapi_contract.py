"""GitHub's OpenAPI description as a contract for responses (a test helper, not a test).

``Contract`` maps a concrete request (``"GET", "/repos/acme/app/git/ref/heads/main"``)
to the documented operation (``"/repos/{owner}/{repo}/git/ref/{ref}", "get"``) and
validates a response body against the documented JSON schema for its status::

    contract = Contract()  # or Contract(load_spec())
    errors = contract.validate("GET", "/repos/acme/app/pulls/1", 200, body)
    assert not errors, "\\n".join(errors)

The description lives outside the project, in ``../shared/github-openapi/``;
``load_spec()`` returns None when it is absent and callers skip with
``SKIP_REASON``.

OpenAPI 3.0 schemas are JSON Schema draft 4 plus a few words; before
validating, the whole document is rewritten once:

* ``nullable: true`` becomes ``null`` allowed: ``"null"`` joins ``type`` (and
  ``None`` joins ``enum``); a nullable schema combining ``allOf``/``anyOf``/
  ``oneOf``/``$ref``/``not`` becomes ``{"anyOf": [schema, {"type": "null"}]}``;
* ``$ref: "#/..."`` points into the whole document (``BASE_URI``), which a
  ``referencing.Registry`` holds, so references resolve however deep.

Validation uses draft 4 semantics (the closest to OpenAPI 3.0) without
format checking; other OpenAPI words (``discriminator``, ``example``...) are
ignored, which is sound here: the ``oneOf`` alternatives they annotate
exclude one another by themselves.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

#: ``<project root>/../shared/github-openapi``.
SPEC_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "github-openapi"
SPEC_PATH = SPEC_DIR / "api.github.com.subset.json"
SKIP_REASON = f"GitHub's OpenAPI description is absent ({SPEC_PATH}); contract tests need it"

#: Where the rewritten document lives in the registry (never fetched).
BASE_URI = "urn:prplan:github-openapi"

#: Path parameters whose values may contain slashes (refs, file paths,
#: "base...head", branch names such as "prplan/change").
MULTI_SEGMENT = frozenset({"ref", "path", "basehead", "branch"})

#: Statuses whose responses have no body by HTTP's rules.
NO_BODY = frozenset({204, 304})

_PARAM = re.compile(r"\{([^{}/]+)\}")
_COMBINATORS = ("allOf", "anyOf", "oneOf", "not", "$ref")
_MAX_MESSAGE = 300


@functools.cache
def load_spec() -> dict[str, Any] | None:
    """The parsed OpenAPI document, or None when the file is absent (cached)."""
    try:
        text = SPEC_PATH.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    spec: dict[str, Any] = json.loads(text)
    return spec


@functools.cache
def get_contract() -> Contract | None:
    """A shared ``Contract`` over ``load_spec()``, or None when the file is absent."""
    spec = load_spec()
    return None if spec is None else Contract(spec)


class Contract:
    """The documented operations and response schemas of an OpenAPI 3.0 document."""

    def __init__(self, spec: Mapping[str, Any] | None = None) -> None:
        if spec is None:
            spec = load_spec()
            if spec is None:
                raise FileNotFoundError(SKIP_REASON)
        self.spec: Mapping[str, Any] = spec
        self._schema_doc: dict[str, Any] = _to_json_schema(copy.deepcopy(dict(spec)))
        self._registry: Registry[Any] = Registry().with_resource(
            BASE_URI, Resource(contents=self._schema_doc, specification=DRAFT4)
        )
        self._routes = sorted(
            (_Route(template) for template in spec.get("paths", {})), key=_Route.specificity
        )
        self._validators: dict[tuple[str, str, int], Draft4Validator | None] = {}

    # -- routing -------------------------------------------------------------

    def match(self, method: str, path: str) -> tuple[str, str] | None:
        """``(template, method)`` of the documented operation a request hits, or None.

        ``path`` is relative to the API root (no ``/api/v3``); a query string is
        ignored. ``{ref}``, ``{path}``, ``{basehead}`` and ``{branch}`` may span
        slashes (``{path}`` may be empty: the root directory); other parameters
        are one segment. Templates are tried most specific first
        (more literal segments, fewer slash-spanning parameters).
        """
        method = method.lower()
        path = path.split("?", 1)[0].split("#", 1)[0]
        for route in self._routes:
            if route.regex.fullmatch(path) and method in self.spec["paths"][route.template]:
                return route.template, method
        return None

    def documented_statuses(self, method: str, path: str) -> set[int]:
        """The numeric statuses documented for the operation (empty if none matches)."""
        operation = self.match(method, path)
        if operation is None:
            return set()
        responses = self._operation(*operation).get("responses", {})
        return {int(status) for status in responses if status.isdigit()}

    # -- validation ----------------------------------------------------------

    def validate(self, method: str, path: str, status: int, body: object) -> list[str]:
        """Readable errors of ``body`` against the documented response; [] if valid.

        ``body`` is the parsed JSON (None for an empty body). A status that is not
        documented for the operation is an error (no ``default`` fallback). When
        the documented response has no JSON schema, an empty body is fine, a body
        on 204/304 is an error, and any other body is not checked.
        """
        operation = self.match(method, path)
        if operation is None:
            return [f"no documented operation for {method.upper()} {path}"]
        template, op_method = operation
        label = f"{op_method.upper()} {template}"
        responses = self._operation(template, op_method).get("responses", {})
        if str(status) not in responses:
            documented = ", ".join(sorted(s for s in responses if s.isdigit()))
            return [f"status {status} not documented for {label} (documented: {documented})"]
        validator = self._validator(template, op_method, status)
        if validator is None:
            if body is None or status not in NO_BODY:
                return []
            return [f"status {status} of {label} has no body, got {_short(body)}"]
        errors = sorted(validator.iter_errors(body), key=_by_path)
        return [_describe(error) for error in errors]

    def response_schema(self, template: str, method: str, status: int) -> Any:
        """The documented application/json schema (as in the document), or None."""
        response = self._response(template, method.lower(), status)
        if response is None:
            return None
        return response.get("content", {}).get("application/json", {}).get("schema")

    # -- internals -----------------------------------------------------------

    def _operation(self, template: str, method: str) -> Mapping[str, Any]:
        operation: Mapping[str, Any] = self.spec["paths"][template][method]
        return operation

    def _response(self, template: str, method: str, status: int) -> Mapping[str, Any] | None:
        response = self._operation(template, method).get("responses", {}).get(str(status))
        while isinstance(response, Mapping) and "$ref" in response:
            response = _pointer(self.spec, response["$ref"])
        return response

    def _validator(self, template: str, method: str, status: int) -> Draft4Validator | None:
        key = (template, method, status)
        if key not in self._validators:
            validator = None
            if self.response_schema(template, method, status) is not None:
                # The same schema, rewritten, in the registry's copy of the document.
                response = self._schema_doc["paths"][template][method]["responses"][str(status)]
                while "$ref" in response:
                    response = _pointer(self._schema_doc, response["$ref"].removeprefix(BASE_URI))
                schema = response["content"]["application/json"]["schema"]
                validator = Draft4Validator(schema, registry=self._registry)
            self._validators[key] = validator
        return self._validators[key]


class _Route:
    """A path template compiled to a regular expression."""

    def __init__(self, template: str) -> None:
        self.template = template
        pattern = []
        position = 0
        for param in _PARAM.finditer(template):
            pattern.append(re.escape(template[position : param.start()]))
            name = param.group(1)
            pattern.append(
                "(.*)" if name == "path" else "(.+)" if name in MULTI_SEGMENT else "([^/]+)"
            )
            position = param.end()
        pattern.append(re.escape(template[position:]))
        self.regex = re.compile("".join(pattern))
        self.literal_segments = sum(
            1 for segment in template.split("/") if segment and not _PARAM.search(segment)
        )
        self.spanning = sum(1 for name in _PARAM.findall(template) if name in MULTI_SEGMENT)

    def specificity(self) -> tuple[int, int, int, str]:
        return (
            -self.literal_segments,
            self.spanning,
            -len(_PARAM.sub("", self.template)),
            self.template,
        )


def _pointer(document: Mapping[str, Any], ref: str) -> Any:
    """Follow a local ``#/a/b`` JSON pointer."""
    if not ref.startswith("#"):
        raise ValueError(f"only local references are supported, not {ref!r}")
    node: Any = document
    for token in ref[1:].split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _to_json_schema(node: Any) -> Any:
    """Rewrite an OpenAPI 3.0 document in place: ``nullable`` and absolute ``$ref``s."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    for key, value in list(node.items()):
        if key in ("example", "examples"):
            continue  # data, not schemas
        if key == "$ref" and isinstance(value, str) and value.startswith("#"):
            node[key] = BASE_URI + value
        else:
            node[key] = _to_json_schema(value)
    if node.get("nullable") is True:
        del node["nullable"]
        if "type" in node and not any(word in node for word in _COMBINATORS):
            types = node["type"] if isinstance(node["type"], list) else [node["type"]]
            node["type"] = [*types, "null"] if "null" not in types else types
            if "enum" in node and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
        else:
            return {"anyOf": [node, {"type": "null"}]}
    elif node.get("nullable") is False:
        del node["nullable"]
    return node


def _by_path(error: ValidationError) -> list[tuple[int, int | str]]:
    """Sort key: errors in document order, body[2] before body[10]."""
    return [(0, p) if isinstance(p, int) else (1, str(p)) for p in error.path]


def _where(path: Iterable[object]) -> str:
    return "body" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + "..." + text[-15:]


def _describe(error: ValidationError) -> str:
    """``body.head.repo: 'owner' is a required property``, readable at any depth."""
    where = _where(error.absolute_path)
    if error.validator == "anyOf" and error.validator_value[1:] == [{"type": "null"}]:
        # A nullable schema, wrapped by _to_json_schema: what failed is the schema itself.
        inner = [sub for sub in error.context or () if sub.relative_schema_path[0] == 0]
        return "; ".join(_describe(sub) for sub in inner) or f"{where}: {error.message}"
    if error.validator in ("anyOf", "oneOf") and error.context:
        name, errors = _closest_alternative(error)
        shown = "; ".join(_describe(sub) for sub in errors[:5])
        more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
        return f"{where}: matches none of the {error.validator} alternatives; closest is {name}: {shown}{more}"
    if error.validator == "type":
        return f"{where}: {_short(error.instance)} is not of type {error.validator_value!r}"
    if error.validator == "enum":
        return f"{where}: {_short(error.instance)} is not one of {error.validator_value!r}"
    message = error.message
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 20] + " ... " + message[-15:]
    return f"{where}: {message}"


def _closest_alternative(error: ValidationError) -> tuple[str, list[ValidationError]]:
    """The ``anyOf``/``oneOf`` alternative the instance was most likely meant to be.

    Alternatives whose type the instance does not have come last, then those
    rejecting extra properties outright (``empty-object``), then by fewest errors.
    """
    groups: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        groups.setdefault(int(sub.relative_schema_path[0]), []).append(sub)

    def score(item: tuple[int, list[ValidationError]]) -> tuple[bool, bool, int, int]:
        index, errors = item
        at_root = [sub.validator for sub in errors if not sub.relative_path]
        return ("type" in at_root, "additionalProperties" in at_root, len(errors), index)

    index, errors = min(groups.items(), key=score)
    alternative = error.validator_value[index]
    if isinstance(alternative, Mapping) and isinstance(alternative.get("$ref"), str):
        name = alternative["$ref"].rsplit("/", 1)[-1]
    elif isinstance(alternative, Mapping) and "title" in alternative:
        name = repr(alternative["title"])
    else:
        name = f"alternative {index}"
    return name, sorted(errors, key=_by_path)

"""A plan as a document: the converter between plan values and JSON, the
canonical form its digest is taken of, the format versions this prplan
reads, and the plan key's signature.

Separate from the plan's data so that the format (what a saved plan file
holds, byte for byte) is one module to read: a change here is a change of
the plan format, which docs/plan-format.md describes and
tests/golden/plan-v4*.json hold still.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override
from cattrs.strategies import configure_tagged_union

from prplan.core.actions import Action, ResolvedFile
from prplan.core.request import ChangeRequest
from prplan.core.snapshot import OMIT_IF_DEFAULT as _OMIT_IF_DEFAULT
from prplan.edits import edit_from_dict, edit_to_dict
from prplan.errors import InvalidRequestError, PlanFormatError, PlanIntegrityError, Problem

__all__ = [
    "FORMAT_VERSION",
    "READABLE_VERSIONS",
    "PLAN_KEY_ENV",
    "OMIT_IF_DEFAULT",
    "CONVERTER",
    "canonical_json",
    "digest_of",
    "written",
    "parse",
    "structure",
    "restored",
    "sign",
    "check_signature",
    "signature_status",
]

T = TypeVar("T")

#: The environment variable the command reads the plan key from.
PLAN_KEY_ENV = "PRPLAN_PLAN_KEY"

#: Bumped whenever the meaning of a plan document changes. A plan written by
#: a newer prplan is refused rather than half-understood.
#: 2: structured edits (request.files edits, resolved, observed contents);
#: 3: path kinds, sealed commits, pull requests into other bases, what a merge brings;
#: 4: ``review``, the contents a reviewer's diffs start from (version 3 still loads)
FORMAT_VERSION = 4

#: The versions this prplan reads, applies and shows.
READABLE_VERSIONS = (3, 4)

#: Field metadata: the field is left out of the document while it has its
#: default (so a document written before the field existed keeps its digest).
#: Defined in ``snapshot`` (below the values that carry it), named here too.
OMIT_IF_DEFAULT = _OMIT_IF_DEFAULT


# --- the plan key ---------------------------------------------------------------


def sign(digest: str, key: bytes) -> str:
    """The plan's ``signature``: HMAC-SHA256 of its digest (hex) with ``key``."""
    return hmac.new(key, digest.encode("ascii"), hashlib.sha256).hexdigest()


def _signature_verifies(document: Mapping[str, Any], key: bytes) -> bool:
    digest, signature = document.get("digest"), document.get("signature")
    if not isinstance(digest, str) or not isinstance(signature, str) or not digest.isascii():
        return False
    return hmac.compare_digest(sign(digest, key), signature)


def check_signature(document: Mapping[str, Any], key: bytes) -> None:
    """With a plan key, only a plan signed with it is read: checked first,
    before anything else in the document is used."""
    if "signature" not in document:
        why = (
            f"is missing, and a plan key is set ({PLAN_KEY_ENV}): only plans signed "
            "with it are applied. Make the plan again with the key set"
        )
    elif not _signature_verifies(document, key):
        why = (
            f"does not verify with the plan key ({PLAN_KEY_ENV}): the plan was changed "
            "after it was signed, or signed with another key. Make and review a new plan"
        )
    else:
        return
    raise PlanIntegrityError([Problem("signature", why)])


def signature_status(document: object, key: bytes | None) -> str:
    """One line for a reviewer: is the plan signed, and does it verify."""
    signed = isinstance(document, dict) and "signature" in document
    if key is None:
        return f"{'signed' if signed else 'unsigned'}; not checked: {PLAN_KEY_ENV} not set"
    if not signed:
        return f"unsigned; apply refuses it while {PLAN_KEY_ENV} is set"
    assert isinstance(document, dict)
    if _signature_verifies(document, key):
        return f"signed; verified with {PLAN_KEY_ENV}"
    return (
        f"signed; DOES NOT VERIFY with {PLAN_KEY_ENV} (changed after signing, or another "
        "key): apply refuses it"
    )


# --- the document ---------------------------------------------------------------


def canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def written(document: object) -> str:
    """A plan document as a file holds it: sorted keys, two-space indent,
    ending in a newline."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def digest_of(body: object) -> str:
    """The sha256 of a document body's canonical form (hex)."""
    return hashlib.sha256(canonical_json(body)).hexdigest()


def parse(text: str | bytes) -> dict[str, Any]:
    """A plan document's JSON object, refused in words when it is not one."""
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise PlanFormatError([Problem("plan", f"is not JSON: {error}")]) from None
    except RecursionError:  # hostile nesting: refuse, never a traceback
        raise PlanFormatError(
            [Problem("plan", "is not JSON a plan can be read from: nested too deeply")]
        ) from None
    if not isinstance(document, dict):
        raise PlanFormatError([Problem("plan", "must be a JSON object")])
    return document


def _check_version(document: Mapping[str, Any]) -> None:
    version = document.get("format_version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise PlanFormatError(
            [
                Problem(
                    "format_version",
                    f"is {version!r}; this prplan reads versions "
                    f"{', '.join(map(str, READABLE_VERSIONS))}. "
                    "Make the plan again with this prplan, or apply it with the prplan that made it",
                )
            ]
        )
    if version < 4 and "review" in document:
        raise PlanFormatError(
            [Problem("review", f"is not part of a version {version} plan: it was added later")]
        )


def structure(document: object, cls: type[T]) -> T:
    """The plan (of class ``cls``) a document describes, every field checked
    (but not the digest)."""
    if not isinstance(document, dict):
        raise PlanFormatError([Problem("plan", "must be a JSON object")])
    _check_version(document)
    body = {k: v for k, v in document.items() if k not in ("digest", "signature")}
    try:
        # The request first and on its own, so that its problems come back
        # with their own field names rather than wrapped by cattrs.
        CONVERTER.structure(body.get("request"), ChangeRequest)
    except InvalidRequestError as error:
        raise PlanFormatError([_under_request(p) for p in error.problems]) from None
    except Exception as error:  # malformed content and the like
        raise PlanFormatError([Problem("request", str(error))]) from None
    try:
        return CONVERTER.structure(body, cls)
    except Exception as error:  # cattrs' ClassValidationError and friends
        raise PlanFormatError(_problems_from(error)) from None


def _under_request(problem: Problem) -> Problem:
    if problem.field.startswith("request."):
        return problem
    return Problem(f"request.{problem.field}", problem.message)


def _problems_from(error: Exception) -> list[Problem]:
    if isinstance(error, cattrs.ClassValidationError | cattrs.IterableValidationError):
        problems = []
        for message in cattrs.transform_error(error, path="plan"):
            field, _, rest = message.partition(" @ ")
            problems.append(Problem(rest or "plan", field))
        return problems
    return [Problem("plan", str(error))]


# --- file contents --------------------------------------------------------------
# Text when it is UTF-8 (so a reviewer can read the plan), base64 otherwise;
# a file's edits as their own documents.


def restored(content: bytes) -> dict[str, str]:
    """File content as the document holds it."""
    try:
        return {"text": content.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(content).decode("ascii")}


def _content_out(content: object) -> object:
    if content is None:
        return None
    if isinstance(content, tuple):
        return {"edits": [edit_to_dict(edit) for edit in content]}
    assert isinstance(content, bytes)
    return restored(content)


def _content_in(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, dict) and set(value) == {"edits"} and isinstance(value["edits"], list):
        return tuple(edit_from_dict(item) for item in value["edits"])
    if isinstance(value, dict) and set(value) == {"text"} and isinstance(value["text"], str):
        return value["text"].encode("utf-8")
    if isinstance(value, dict) and set(value) == {"base64"}:
        try:
            return base64.b64decode(value["base64"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise ValueError("content 'base64' is not valid base64") from None
    raise ValueError("content must be null, {'text': ...} or {'base64': ...}")


def _bytes_in(value: Any, _: type) -> bytes:
    content = _content_in(value)
    if not isinstance(content, bytes):
        raise ValueError("content must be {'text': ...} or {'base64': ...}")
    return content


def _resolved_in(value: Any, _: type) -> ResolvedFile:
    content = _content_in(value["content"])
    if content is not None and not isinstance(content, bytes):
        raise ValueError("a resolved file holds content, not edits")
    return ResolvedFile(path=str(value["path"]), content=content)


def _request_in(value: Any, _: type) -> ChangeRequest:
    if not isinstance(value, dict):
        raise ValueError("request must be an object")
    fields = dict(value)
    files = fields.get("files")
    if isinstance(files, dict):
        fields["files"] = {path: _content_in(c) for path, c in files.items()}
    known = {f.name for f in attrs.fields(ChangeRequest)}
    unknown = set(fields) - known
    if unknown:
        raise PlanFormatError(
            [Problem(f"request.{name}", "is not a request field") for name in sorted(unknown)]
        )
    return ChangeRequest(**fields)


# --- the converter ------------------------------------------------------------------


def _exactly(kind: type) -> Callable[[Any, type], Any]:
    """Scalars as they are, never coerced: cattrs would make a string of any
    value (an object where a sha belongs) and an int of "12"."""

    def structure_scalar(value: Any, target: type) -> Any:
        if type(value) is not kind:
            raise ValueError(f"must be a {kind.__name__}, not {type(value).__name__}")
        return value if target is kind else target(value)  # an enum: by its value

    return structure_scalar


def _omits_defaults(cls: Any) -> bool:
    return attrs.has(cls) and any(f.metadata.get(OMIT_IF_DEFAULT) for f in attrs.fields(cls))


def _tag(cls: type) -> str:
    return str(cls.kind)  # type: ignore[attr-defined]


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    for scalar in (str, int, bool):
        converter.register_structure_hook(scalar, _exactly(scalar))

    def request_out(request: ChangeRequest) -> dict[str, Any]:
        # Fields added after version 4 (merge_when, wait_timeout) are left
        # out at their default: a plan saved before them keeps its bytes.
        out = {
            f.name: getattr(request, f.name)
            for f in attrs.fields(ChangeRequest)
            if not (f.metadata.get(OMIT_IF_DEFAULT) and getattr(request, f.name) == f.default)
        }
        out["files"] = {path: _content_out(c) for path, c in request.files.items()}
        document: dict[str, Any] = converter.unstructure(out)
        return document

    def omitting_defaults(cls: Any) -> Callable[[Any], dict[str, Any]]:
        left_out: dict[str, Any] = {
            f.name: override(omit_if_default=True)
            for f in attrs.fields(cls)
            if f.metadata.get(OMIT_IF_DEFAULT)
        }
        return make_dict_unstructure_fn(cls, converter, **left_out)

    # Contents anywhere outside the request (the snapshot's observed contents).
    converter.register_unstructure_hook(bytes, _content_out)
    converter.register_structure_hook(bytes, _bytes_in)
    converter.register_unstructure_hook(ChangeRequest, request_out)
    converter.register_structure_hook(ChangeRequest, _request_in)
    converter.register_unstructure_hook(
        ResolvedFile, lambda r: {"path": r.path, "content": _content_out(r.content)}
    )
    converter.register_structure_hook(ResolvedFile, _resolved_in)
    # Before the actions' union: its hooks are taken when it is configured,
    # and an action's fields may be omitted at their default too.
    converter.register_unstructure_hook_factory(_omits_defaults, omitting_defaults)
    configure_tagged_union(Action, converter, tag_name="type", tag_generator=_tag)
    return converter


#: The one converter between plan values and their documents.
CONVERTER = _make_converter()

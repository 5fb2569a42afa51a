"""Edits as data: recognising them, and their JSON form in plan documents.

``{"kind": "yaml-set", "path": "image.tag", "value": "1.4.2"}``; the kinds
are those of ``prplan.edits.kind``. A value given as text to be typed against the
file (``--set``) carries ``"as_written": true``.
"""

from __future__ import annotations

from typing import Any

import attrs

from prplan.edits.ops import JsonDelete, JsonSet, Replace, YamlDelete, YamlSet, kind

__all__ = ["is_edit", "edit_to_dict", "edit_from_dict"]

_BY_KIND: dict[str, type[Any]] = {
    "yaml-set": YamlSet,
    "yaml-delete": YamlDelete,
    "json-set": JsonSet,
    "json-delete": JsonDelete,
    "replace": Replace,
}


def is_edit(value: object) -> bool:
    return isinstance(value, tuple(_BY_KIND.values()))


#: Fields added after plans were first written, left out at their default so
#: that a plan made before them keeps its digest.
_LATER_FIELDS = {"as_written": False}


def edit_to_dict(edit: object) -> dict[str, Any]:
    fields = attrs.asdict(edit, recurse=False)  # type: ignore[arg-type]
    for name, default in _LATER_FIELDS.items():
        if fields.get(name, default) is default:
            fields.pop(name, None)
    return {"kind": kind(edit), **fields}


def edit_from_dict(value: object) -> Any:
    if not isinstance(value, dict) or value.get("kind") not in _BY_KIND:
        raise ValueError(f"an edit must be an object with kind one of: {', '.join(_BY_KIND)}")
    fields = {k: v for k, v in value.items() if k != "kind"}
    return _BY_KIND[value["kind"]](**fields)

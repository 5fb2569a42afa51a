"""Edits as data: recognising them, and their JSON form in plan documents.

``{"kind": "yaml-set", "path": "image.tag", "value": "1.4.2"}``; the kinds
are those of ``_edits.kind``.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._edits import JsonDelete, JsonSet, Replace, YamlDelete, YamlSet, kind

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


def edit_to_dict(edit: object) -> dict[str, Any]:
    return {"kind": kind(edit), **attrs.asdict(edit, recurse=False)}  # type: ignore[arg-type]


def edit_from_dict(value: object) -> Any:
    if not isinstance(value, dict) or value.get("kind") not in _BY_KIND:
        raise ValueError(f"an edit must be an object with kind one of: {', '.join(_BY_KIND)}")
    fields = {k: v for k, v in value.items() if k != "kind"}
    return _BY_KIND[value["kind"]](**fields)

"""Edits: bytes in, bytes out. Set or delete a value in a YAML or JSON file,
or replace text, changing nothing else in the file; no I/O.

Callers import from here. The modules, from the top down:

- ``ops``: the edit types, their validation (``edit_problems``), applying a
  list of edits to a file (``apply_edits``, ``edit_file``);
- ``codec``: an edit's JSON form in a plan document;
- ``yaml`` (the byte-exact splicer) with ``yaml_splice``, ``yaml_text`` and
  ``yaml_nodes``; ``json``; ``replace``: one editor each;
- ``document``: what the YAML and JSON editors share (resolving a path,
  comparing documents);
- ``paths``: key paths (``image.tag``, ``env[name=X].value``);
- ``values``: typing a value given as text, and what a value may be.

This layer imports only ``prplan.errors`` and itself.
"""

from prplan.edits.codec import edit_from_dict, edit_to_dict, is_edit
from prplan.edits.ops import (
    Edit,
    EditError,
    JsonDelete,
    JsonSet,
    Replace,
    YamlDelete,
    YamlSet,
    apply_edits,
    edit_file,
    edit_problems,
    is_json_name,
    kind,
    set_edit,
)
from prplan.edits.paths import Segment, Select, format_path, parse_path, split_assignment
from prplan.edits.values import canonical, encodable
from prplan.edits.yaml_text import yaml_double

__all__ = [
    # the edits
    "YamlSet",
    "YamlDelete",
    "JsonSet",
    "JsonDelete",
    "Replace",
    "Edit",
    "EditError",
    "kind",
    "set_edit",
    "is_json_name",
    # validating and applying them
    "edit_problems",
    "apply_edits",
    "edit_file",
    # key paths
    "parse_path",
    "format_path",
    "Select",
    "Segment",
    "split_assignment",
    # their form in a plan
    "is_edit",
    "edit_to_dict",
    "edit_from_dict",
    # values
    "canonical",
    "encodable",
    "yaml_double",
]

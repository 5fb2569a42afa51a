"""docs/changeset.schema.json agrees with prplan's change set parser.

The schema is for editors; the parser is what runs. Checked with Draft
2020-12 (the schema's own ``$schema``): every change set the docs show is
valid, and every change set in the bad-input catalogue that the parser
refuses for its structure the schema refuses too. A new catalogue case must
be sorted into one of the two lists below, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

import bad_inputs

DOCS = Path(__file__).resolve().parent.parent / "docs"
SCHEMA = json.loads((DOCS / "changeset.schema.json").read_text(encoding="utf-8"))

#: Catalogue cases whose change set breaks the structure the schema describes.
SCHEMA_REFUSES = {
    "changeset-missing-version",
    "changeset-unknown-key",
    "changeset-unknown-entry-key",
    "changeset-entry-without-repo",
    "changeset-set-not-a-mapping",
    "changeset-files-is-a-list",
    "changeset-delete-is-a-number",
    "changeset-delete-is-a-string",
}
#: Cases only the parser (or the CLI) can refuse, and why.
BEYOND_THE_SCHEMA = {
    "changeset-not-utf8": "not text: no document to validate",
    "changeset-not-yaml": "not YAML: no document to validate",
    "changeset-duplicate-repo-branch": "uniqueness across entries of (repo, branch)",
    "changeset-set-json-not-json": "set_json values are JSON text inside a string",
    "changeset-missing-local-file": "needs the file system",
    "changeset-path-traversal": "repository path rules live in the parser",
    "changeset-bad-branch": "git's branch name rules live in the parser",
    "changeset-and-repo": "a CLI option conflict, not the file",
}


def _validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(SCHEMA)
    return Draft202012Validator(SCHEMA)


def _errors(document: Any) -> list[str]:
    return [error.message for error in _validator().iter_errors(document)]


def _docs_examples() -> list[tuple[str, Any]]:
    """Every YAML block in the docs that is a change set (has ``version:``)."""
    out = []
    for page in sorted(DOCS.glob("*.md")):
        blocks = re.findall(r"```ya?ml\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
        for number, block in enumerate(blocks):
            if re.search(r"^version:", block, re.M):
                out.append((f"{page.name}#{number}", YAML(typ="safe").load(block)))
    return out


EXAMPLES = _docs_examples()


def test_the_docs_show_change_sets() -> None:
    assert EXAMPLES, "no change set example found in docs/*.md"


@pytest.mark.parametrize(("where", "document"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_every_documented_change_set_is_valid(where: str, document: Any) -> None:
    assert _errors(document) == []


def test_valid_change_sets_of_every_shape_are_valid() -> None:
    entry = {"repo": "acme/app", "files": {"a.yaml": "a.yaml"}, "delete": ["old.yaml"],
             "set": {"v.yaml": {"image.tag": "2"}}, "replace": {"k.yaml": {"a": "b"}},
             "automerge": False, "branch": "release/x", "base": None}  # fmt: skip
    defaults = {"branch": "prplan/x", "create_pr": True, "merge_method": "squash"}
    assert _errors({"version": 1, "changes": [entry]}) == []
    assert _errors({"version": 1, "defaults": defaults, "stages": [{"name": "one", "changes": [entry]}]}) == []  # fmt: skip
    # Closed where the parser is closed: a request field is no default for 'repo'.
    assert _errors({"version": 1, "defaults": {"repo": "acme/app"}, "changes": [entry]}) != []
    assert _errors({"version": 1, "changes": [{**entry, "branch": 5}]}) != []


def test_every_changeset_case_of_the_catalogue_is_sorted() -> None:
    ids = {case.id for case in bad_inputs.CHANGESET_CASES}
    assert ids == SCHEMA_REFUSES | set(BEYOND_THE_SCHEMA), (
        "sort each new change set case into SCHEMA_REFUSES or BEYOND_THE_SCHEMA"
    )


CASES = [case for case in bad_inputs.CHANGESET_CASES if case.id in SCHEMA_REFUSES]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_schema_refuses_what_the_parser_refuses_for_its_structure(
    case: bad_inputs.Case,
) -> None:
    text = case.files["set.yaml"]
    assert isinstance(text, str)
    assert _errors(YAML(typ="safe").load(text)) != []
    # ...while the same file with the broken part fixed is valid (the entry
    # of the catalogue's building blocks).
    assert _errors(YAML(typ="safe").load(bad_inputs._set_doc(bad_inputs.ENTRY))) == []

"""Reading an audit log in tests: every record is validated against
docs/audit.schema.json (Draft 2020-12) before a test looks at it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "audit.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
Draft202012Validator.check_schema(SCHEMA)
VALIDATOR = Draft202012Validator(SCHEMA)


def schema_errors(record: object) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(record)]


def read_audit(path: Path) -> list[dict[str, Any]]:
    """The records of an audit log, each one checked against the schema."""
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for number, record in enumerate(records, 1):
        errors = schema_errors(record)
        assert not errors, f"{path} line {number} breaks docs/audit.schema.json: {errors}"
    return records

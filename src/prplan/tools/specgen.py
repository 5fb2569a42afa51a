"""Generate ``specs/`` from the decision table the planner uses.

    python -m prplan.tools.specgen --write specs    # regenerate
    python -m prplan.tools.specgen --check specs    # exit 1 if they differ

``tests/test_specs.py`` fails when the committed files differ from what this
module generates, so the spec cannot drift from the code. The documents
themselves are made by ``prplan.cli.table_doc`` (`prplan states` shows the
same); this module only writes or checks them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from prplan.cli.table_doc import decision_table_markdown, lifecycle_mermaid
from prplan.tools.driver import Generated, drive

__all__ = ["generate", "main"]


def generate() -> dict[str, str]:
    """Every file of ``specs/``, by name."""
    return {"decision-table.md": decision_table_markdown(), "lifecycle.mmd": lifecycle_mermaid()}


def _files(target: Path) -> Generated:
    return [(name, target / name, text) for name, text in generate().items()]


def main(argv: list[str] | None = None) -> int:
    return drive("prplan.tools.specgen", "DIR", _files, argv)


if __name__ == "__main__":
    sys.exit(main())

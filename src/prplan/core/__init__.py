"""The pure core: the request, the snapshot, the decision table, the planner and
the plan. No I/O: it imports only ``prplan.edits`` and ``prplan.errors``
(docs/architecture.md; the import contracts in pyproject.toml hold it).
"""

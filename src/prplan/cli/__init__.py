"""The ``prplan`` command: one module per command, the options they share and
the views they print. ``prplan.cli:main`` is the entry point (as it was
before the package had folders) and ``prplan.cli.cli`` the click group; both
live in ``group``.
"""

from prplan.cli.group import EXIT, cli, main

__all__ = ["EXIT", "cli", "main"]

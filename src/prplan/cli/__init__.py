"""The ``prplan`` command: one module per command, the options they share and
the views they print. The entry point is ``prplan.cli.main:main``.
"""

"""Maintainer commands that write generated files: ``specgen`` (``specs/``) and
``clidoc`` (``docs/cli.md``), through one ``--write/--check`` driver.
"""

"""The one ``--write``/``--check`` driver of every generated file.

    python -m prplan.tools.specgen --write specs       (a directory of files)
    python -m prplan.tools.clidoc --check docs/cli.md  (one file)

``--write TARGET`` writes what the generator makes; ``--check TARGET``
writes nothing and exits 1, naming what is out of date and the command that
regenerates it. Apart from the generators so they cannot drift apart in
how they are run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["Generated", "drive"]

#: What a generator makes for a target: (name shown when stale, path, text).
Generated = Sequence[tuple[str, Path, str]]


def drive(
    prog: str, metavar: str, generate: Callable[[Path], Generated], argv: list[str] | None
) -> int:
    """Parse ``argv`` (``--write TARGET`` or ``--check TARGET``) and write or
    check what ``generate(TARGET)`` makes; the exit code."""
    parser = argparse.ArgumentParser(prog=f"python -m {prog}")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", metavar=metavar)
    group.add_argument("--check", metavar=metavar)
    args = parser.parse_args(argv)
    target = Path(args.write or args.check)
    stale = []
    for name, path, text in generate(target):
        if args.write:
            path.write_text(text, encoding="utf-8")
        elif not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    if stale:
        print(f"out of date: {', '.join(stale)}; run: python -m {prog} --write {target}")
        return 1
    return 0

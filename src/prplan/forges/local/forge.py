"""LocalForge: GitHub's repository and pull-request rules, in process.

It is both the embedded default forge and the model the tests check prplan
against. ``LocalForge`` is the four sides of one forge composed over one
storage, each in its own module so that each reads as the job it does:

* ``store``: the git repositories, the pull request database and the lock;
* ``rules`` (with ``merging``): GitHub's rules every side obeys;
* ``client``: prplan's ``ForgeClient`` calls, counted as requests;
* ``gitdata``: the Git Data API and what the REST server needs;
* ``human``: what a person does (tests, the demo);
* ``metadata``: pull-request labels, assignees, review requests, milestones;
* ``gate_side`` (with ``gates``): merge gates (branch protection, checks,
  reviews), native auto-merge and merge queues.

The sides are classes over one base (``ForgeStore``) rather than objects
holding a shared store, because every side needs the same few storage steps
and the same rules: inheriting them keeps each call one short method, and
the forge one object with one lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prplan.forges.local.client import ClientSide
from prplan.forges.local.gate_side import GateSide
from prplan.forges.local.gitdata import GitData
from prplan.forges.local.human import HumanSide
from prplan.forges.local.metadata import MetadataSide
from prplan.forges.local.pull_text import PullTextSide
from prplan.forges.local.store import HUMAN, LOCK_TIMEOUT

__all__ = ["LocalForge", "HUMAN", "LOCK_TIMEOUT"]


class LocalForge(ClientSide, GitData, HumanSide, PullTextSide, MetadataSide, GateSide):
    """An in-process forge with GitHub's rules. Implements ``ForgeClient``.

    Build one with ``LocalForge.in_memory()`` or ``LocalForge.open(path)``.
    ``user`` is the identity its ``ForgeClient`` writes carry (as a token's
    owner would on GitHub), and ``login`` the forge login recorded as the
    author of the pull requests they open and merge; ``clock`` returns seconds since the epoch for
    commit times (pass a fixed one for reproducible shas). ``lock_timeout``:
    how many seconds a call on a forge on disk waits for other processes'
    calls before it fails with ``ForgeError``.
    """

    @classmethod
    def in_memory(cls, **options: Any) -> LocalForge:
        """A forge that lives as long as this object (tests, the demo)."""
        return cls(root=None, **options)

    @classmethod
    def open(cls, path: str | Path, **options: Any) -> LocalForge:
        """A persistent forge in directory ``path`` (created if missing):
        bare git repositories under ``repos/`` and ``forge.sqlite``."""
        return cls(root=Path(path), **options)

    def __repr__(self) -> str:
        where = "memory" if self._root is None else str(self._root)
        return f"LocalForge({where})"

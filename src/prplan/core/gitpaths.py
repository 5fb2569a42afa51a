"""The tree entry names git refuses to check out, as ``git fsck`` judges them.

git's ``verify_path`` and fsck (``hasDotgit``, ``gitmodulesSymlink``) refuse
more than a literal ``.git``: Windows and macOS file systems open ``.git``
for names that merely look different, so a tree holding one could write into
the repository's own ``.git`` directory on a clone there. GitHub's fsck
refuses such trees on every platform, so the local forge and prplan's request
checks refuse them too:

* NTFS: ``.git`` followed by any run of spaces and dots (``.git.``,
  ``.git ``), the 8.3 short name ``git~1``, and anything after a ``:`` (an
  alternate data stream, ``.git::$INDEX_ALLOCATION``); each part between
  backslashes counts, as Windows splits there.
* HFS+: ``.git`` with code points HFS ignores inside (zero-width joiners,
  direction marks, ``U+FEFF``).
* ``.gitmodules`` (under any of those disguises, or its short names
  ``gitmod~1``) as a symbolic link.
"""

from __future__ import annotations

import re

__all__ = ["is_dotgit", "is_dotgitmodules"]

#: Code points HFS+ drops when it compares names (git's ``is_hfs_dotgit``).
_HFS_IGNORED = re.compile("[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]")


def _ntfs_names(component: str) -> list[str]:
    """The names NTFS would open for ``component``: each part between
    backslashes, cut at a ``:``, without trailing spaces and dots, lower case."""
    return [part.split(":", 1)[0].rstrip(" .").lower() for part in component.split("\\")]


def _hfs_name(component: str) -> str:
    return _HFS_IGNORED.sub("", component).lower()


def is_dotgit(component: str) -> bool:
    """Would some file system git supports open ``component`` as ``.git``?"""
    return _hfs_name(component) == ".git" or any(
        name in {".git", "git~1"} for name in _ntfs_names(component)
    )


def is_dotgitmodules(component: str) -> bool:
    """Would some file system open ``component`` as ``.gitmodules``?"""
    return _hfs_name(component) == ".gitmodules" or any(
        name == ".gitmodules" or re.fullmatch(r"(gitmod|gi7eba)~[1-4]", name)
        for name in _ntfs_names(component)
    )

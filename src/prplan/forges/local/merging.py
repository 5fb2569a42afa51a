"""The three-way merge the forge's merges and rebases make.

dulwich's ``three_way_merge`` calls any difference of modes a conflict and
cannot merge a file against a directory; git and GitHub resolve a mode
changed on one side only, and call a file against a directory a conflict.
``Merging`` adds those two rules and the rebase (each commit replayed
three-way). It is separate from ``rules`` because it is git's merge
algorithm, not GitHub's pull request rules.
"""

from __future__ import annotations

import stat

from dulwich.graph import find_merge_base
from dulwich.merge import merge_blobs, three_way_merge
from dulwich.object_store import commit_tree_changes, tree_lookup_path
from dulwich.objects import Blob, Tree
from dulwich.objects import Commit as GitCommit

from prplan import errors
from prplan.forges.local.store import ForgeStore

__all__ = ["Merging"]


class Merging(ForgeStore):
    """Merged trees of two commits (and their merge base), and rebases."""

    def _merged_tree(self, repo: str, number: int, ours: str, theirs: str) -> bytes:
        git = self._git(repo)
        bases = find_merge_base(git, [ours.encode(), theirs.encode()])
        base_commit = self._commit(repo, bases[0].decode()) if bases else None
        tree, conflicts = self._three_way(
            repo, base_commit, self._commit(repo, ours), self._commit(repo, theirs)
        )
        if conflicts:
            paths = ", ".join(p.decode(errors="replace") for p in conflicts)
            raise errors.MergeBlocked(
                number, f"Pull Request is not mergeable: merge conflict in {paths}"
            )
        return bytes(tree.id)

    def _three_way(
        self, repo: str, base: GitCommit | None, ours: GitCommit, theirs: GitCommit
    ) -> tuple[Tree, list[bytes]]:
        """dulwich's three-way merge (the tree stored), except that a mode
        changed on one side only is that side's, as git and GitHub merge it:
        dulwich calls any difference of modes a conflict."""
        store = self._git(repo).object_store
        try:
            tree, conflicts = three_way_merge(store, base, ours, theirs)
        except (TypeError, ValueError, KeyError):
            # dulwich cannot merge a file against a directory at one path;
            # git calls that a conflict, and so does the forge.
            ours_tree = store[ours.tree]
            assert isinstance(ours_tree, Tree)
            return ours_tree, [b"(a file on one side is a directory on the other)"]
        store.add_object(tree)
        resolved: list[tuple[bytes, int | None, bytes | None]] = []
        remaining: list[bytes] = []
        for path in conflicts:
            entry = self._mode_merge(repo, path, base, ours, theirs)
            if entry is None:
                remaining.append(path)
            else:
                resolved.append((path, *entry))
        if resolved:
            merged = store[commit_tree_changes(store, tree.id, resolved)]
            assert isinstance(merged, Tree)
            tree = merged
        return tree, remaining

    def _mode_merge(
        self, repo: str, path: bytes, base: GitCommit | None, ours: GitCommit, theirs: GitCommit
    ) -> tuple[int, bytes] | None:
        """The merged (mode, blob) of a file whose sides differ in mode, each
        of mode and content taken three-way; None when that is a real
        conflict (both changed it differently, or not files on every side)."""
        store = self._git(repo).object_store

        def entry(commit: GitCommit | None) -> tuple[int, bytes] | None:
            if commit is None:
                return None
            try:
                mode, sha = tree_lookup_path(store.__getitem__, commit.tree, path)
            except (KeyError, Exception):  # absent, or under a file
                return None
            return (mode, sha) if stat.S_ISREG(mode) or stat.S_ISLNK(mode) else None

        was, mine, other = entry(base), entry(ours), entry(theirs)
        if was is None or mine is None or other is None or mine[0] == other[0]:
            return None  # not a mode difference: dulwich's verdict stands

        def side(index: int) -> int | bytes | None:
            if mine[index] == other[index] or was[index] == other[index]:
                return mine[index]
            if was[index] == mine[index]:
                return other[index]
            return None  # changed differently on both sides

        mode, sha = side(0), side(1)
        if not isinstance(mode, int):
            return None
        if sha is None and not any(stat.S_ISLNK(e[0]) for e in (was, mine, other)):
            blobs = [store[e[1]] for e in (was, mine, other)]
            if not all(isinstance(b, Blob) for b in blobs):
                return None
            content, conflicted = merge_blobs(*blobs, path)
            if conflicted:
                return None
            sha = self._store(repo, Blob.from_string(content)).encode()
        return (mode, sha) if isinstance(sha, bytes) else None

    def _rebase(self, repo: str, number: int, base_sha: str, head_sha: str) -> str:
        git = self._git(repo)
        commits = [
            e.commit
            for e in git.get_walker(include=[head_sha.encode()], exclude=[base_sha.encode()])
        ]
        current = base_sha
        for commit in reversed(commits):
            parent = commit.parents[0].decode() if commit.parents else None
            tree, conflicts = self._three_way(
                repo,
                self._commit(repo, parent) if parent else None,
                self._commit(repo, current),
                commit,
            )
            if conflicts:
                raise errors.MergeBlocked(number, "This branch can't be rebased (conflicts)")
            current = self._new_commit(
                repo, tree.id, [current], commit.message.decode("utf-8", "replace"), commit.author
            )
        return current

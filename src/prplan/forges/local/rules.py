"""GitHub's rules for branches and pull requests, shared by every side of the forge.

The rules modelled, because prplan's behaviour depends on them:

* pull requests are numbered per repository in creation order;
* an open pull request follows its head branch (its ``head_sha`` is the
  branch head) and ``refs/pull/N/head`` keeps every pull request's head,
  so nothing a pull request showed is ever unreachable;
* deleting a branch closes the open pull requests from it;
* branch updates are compare-and-swap; the default branch cannot be deleted;
* merges (merge, squash, rebase) do a real three-way merge; a conflict makes
  the pull request unmergeable, and a merge passes the expected head.

``ForgeRules`` holds them once, under ``ForgeStore``'s storage, so that prplan's
``ForgeClient`` calls (``client``), the REST server's calls (``gitdata``) and
what a test's human does (``human``) obey the same rules. The three-way merge
itself lives in ``merging``; the merge gates (protection, checks, reviews)
are read in ``gates``, and a merge they do not allow is refused here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from dulwich.file import FileLocked

from prplan import errors
from prplan.core.snapshot import seal_message
from prplan.forges.local.gates import Gates
from prplan.forges.local.store import branch_ref, ref_locked

__all__ = ["ForgeRules"]


class ForgeRules(Gates):
    """Committing on a branch, opening, merging, closing and reopening pull
    requests, deleting a branch: each checked as GitHub checks it."""

    def _commit_files(
        self,
        repo: str,
        branch: str,
        parent: str,
        files: Mapping[str, bytes | None],
        message: str,
        author: bytes,
        *,
        expected: str | bool | None = True,
        seal: bool = False,
    ) -> str:
        """Commit on ``parent``; move ``branch`` there only if it is at
        ``expected`` (True: at ``parent``; None: the branch must not exist).
        ``seal``: add the tree trailer that proves the commit prplan's."""
        want = parent if expected is True else expected
        assert want is None or isinstance(want, str)
        if self._head(repo, branch) != want:
            where = f"at {want[:7]}" if want else "absent"
            raise errors.ConflictError(
                f"{repo}: branch {branch!r} is not {where} any more (someone pushed "
                "meanwhile); nothing was committed. Run prplan again."
            )
        tree = self._tree_with(repo, parent, files)
        if seal:
            message = seal_message(message, tree.decode())
        sha = self._new_commit(repo, tree, [parent], message, author)
        self._set_branch(repo, branch, sha, expected=want)
        return sha

    def _open_pull(
        self,
        repo: str,
        head: str,
        base: str,
        title: str,
        body: str,
        *,
        duplicate_ok: bool,
        author: str,
        draft: bool = False,
    ) -> sqlite3.Row:
        head_sha, base_sha = self._head(repo, head), self._head(repo, base)
        if head_sha is None or base_sha is None:
            missing = head if head_sha is None else base
            raise errors.ForgeError(
                f"{repo}: cannot open a pull request: branch {missing!r} does not exist", status=422
            )
        if head == base:
            raise errors.ForgeError(f"{repo}: head and base are both {head!r}", status=422)
        if self._compare(repo, base_sha, head_sha).ahead_by == 0:
            raise errors.ForgeError(f"{repo}: No commits between {base} and {head}", status=422)
        row = self._db.execute("SELECT next_number FROM repos WHERE name = ?", (repo,)).fetchone()
        number = int(row["next_number"])
        try:
            self._db.execute(
                "INSERT INTO pulls (repo, number, state, head, base, head_sha, title, body, "
                "duplicate_ok, created_at, updated_at, author) "
                "VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    repo,
                    number,
                    head,
                    base,
                    head_sha,
                    title,
                    body,
                    int(duplicate_ok),
                    self._now(),
                    self._now(),
                    author,
                ),
            )
        except sqlite3.IntegrityError:
            owner = repo.split("/")[0]
            raise errors.ConflictError(
                f"{repo}: A pull request already exists for {owner}:{head}."
            ) from None
        self._db.execute("UPDATE repos SET next_number = ? WHERE name = ?", (number + 1, repo))
        if draft:
            self._db.execute(
                "UPDATE pulls SET draft = 1 WHERE repo = ? AND number = ?", (repo, number)
            )
        self._gates_dirty = True
        self._git(repo).refs[f"refs/pull/{number}/head".encode()] = head_sha.encode()
        return self._pull(repo, number)

    def _merge(
        self,
        repo: str,
        number: int,
        method: str,
        expected_head_sha: str | None,
        *,
        by: str,
        via_queue: bool = False,
        admin_bypass: bool = False,
    ) -> str:
        """Merge an open pull request if its gate allows it (``via_queue``: the
        base's merge queue merges it; ``admin_bypass``: an administrator's
        merge past protection, which only tests ask for). ``by``, an
        administrator of the repository (``set_admin``), merges past base's
        protection unless it enforces itself on administrators, as on GitHub."""
        row = self._pull(repo, number)
        if row["state"] != "open":
            raise errors.MergeBlocked(number, "Pull Request is not mergeable (it is not open)")
        head_sha, base, head = row["head_sha"], row["base"], row["head"]
        if expected_head_sha is not None and head_sha != expected_head_sha:
            raise errors.ConflictError(
                f"{repo}: Head branch was modified. Review and try the merge again. "
                f"(#{number} head is {head_sha[:7]}, expected {expected_head_sha[:7]})"
            )
        block = self._merge_blocks.get((repo, base))
        if block:
            raise errors.MergeBlocked(number, block)
        bypass = admin_bypass or (not via_queue and self._admin_bypasses(repo, base, by))
        refusal = None if bypass else self._merge_refusal(repo, row, via_queue=via_queue)
        if refusal is not None:
            raise errors.MergeBlocked(number, refusal)
        base_sha = self._head(repo, base)
        if base_sha is None:
            raise errors.MergeBlocked(number, f"base branch {base!r} does not exist")
        title = f"{row['title']} (#{number})"
        if method == "merge":
            tree = self._merged_tree(repo, number, base_sha, head_sha)
            message = (
                f"Merge pull request #{number} from {repo.split('/')[0]}/{head}\n\n{row['title']}\n"
            )
            merge_sha = self._new_commit(repo, tree, [base_sha, head_sha], message, self._user)
        elif method == "squash":
            tree = self._merged_tree(repo, number, base_sha, head_sha)
            body = row["body"]
            merge_sha = self._new_commit(
                repo, tree, [base_sha], f"{title}\n\n{body}".rstrip() + "\n", self._user
            )
        elif method == "rebase":
            merge_sha = self._rebase(repo, number, base_sha, head_sha)
        else:
            raise errors.ForgeError(f"unknown merge method {method!r}", status=422)
        self._set_branch(repo, base, merge_sha, expected=base_sha)
        self._db.execute(
            "UPDATE pulls SET state = 'closed', merged = 1, merge_sha = ?, merged_at = ?, closed_at = ?, "
            "updated_at = ?, merged_by = ? WHERE repo = ? AND number = ?",
            (merge_sha, self._now(), self._now(), self._now(), by, repo, number),
        )
        return merge_sha

    def _delete_branch(self, repo: str, branch: str, *, expected_sha: str | None = None) -> None:
        if branch == self._default(repo):
            raise errors.ForgeError(
                f"{repo}: the default branch {branch!r} cannot be deleted", status=422
            )
        head = self._head(repo, branch)
        if head is None:
            raise errors.NotFoundError(
                f"{repo}: branch {branch!r} does not exist (Reference does not exist)"
            )
        if self._protection(repo, branch) is not None:
            raise errors.ForgeError(
                f"{repo}: Cannot delete this protected branch ({branch!r})", status=422
            )
        if expected_sha is not None and head != expected_sha:
            raise errors.ConflictError(
                f"{repo}: branch {branch!r} is at {head[:7]}, not at {expected_sha[:7]} "
                "(someone pushed since); it was not deleted."
            )
        try:
            removed = self._git(repo).refs.remove_if_equals(branch_ref(branch), head.encode())
        except FileLocked:
            raise ref_locked(repo, branch) from None
        if not removed:  # cannot happen under the lock, unless git itself moved it
            raise errors.ConflictError(
                f"{repo}: branch {branch!r} moved while it was being deleted"
            )
        # GitHub closes the open pull requests whose head branch is deleted.
        self._gates_dirty = True
        self._db.execute(
            "UPDATE pulls SET state = 'closed', closed_at = ?, updated_at = ? "
            "WHERE repo = ? AND head = ? AND state = 'open'",
            (self._now(), self._now(), repo, branch),
        )

    def _close_pull(self, repo: str, number: int) -> None:
        """Close a pull request without merging it (a closed one stays closed)."""
        row = self._pull(repo, number)
        if row["state"] == "open":
            self._gates_dirty = True
            self._db.execute(
                "UPDATE pulls SET state = 'closed', closed_at = ?, updated_at = ? WHERE repo = ? AND number = ?",
                (self._now(), self._now(), repo, number),
            )

    def _reopen_pull(self, repo: str, number: int) -> None:
        """Reopen a closed pull request at its branch's head: not a merged
        one, not one whose branch is gone, not a second open one."""
        row = self._pull(repo, number)
        if row["merged"]:
            raise errors.ForgeError(
                f"{repo}: #{number} is merged and cannot be reopened", status=422
            )
        head_sha = self._head(repo, row["head"])
        if head_sha is None:
            raise errors.ForgeError(
                f"{repo}: #{number} cannot be reopened: its branch is gone", status=422
            )
        try:
            self._db.execute(
                "UPDATE pulls SET state = 'open', head_sha = ?, closed_at = NULL, updated_at = ? "
                "WHERE repo = ? AND number = ?",
                (head_sha, self._now(), repo, number),
            )
        except sqlite3.IntegrityError:
            raise errors.ConflictError(
                f"{repo}: another pull request is already open from {row['head']} into {row['base']}"
            ) from None
        self._git(repo).refs[f"refs/pull/{number}/head".encode()] = head_sha.encode()

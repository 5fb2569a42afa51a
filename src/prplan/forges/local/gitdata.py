"""The local forge's Git Data API, and the other calls its REST server makes.

Blobs, trees, commits and refs mirror GitHub's endpoints one to one; pull
request rows, edits, merge bases and changed files are what the server's
pull request and compare payloads are built from. None of it is counted as
prplan's requests: the HTTP server counts requests on the wire. It is the
server's whole view of the forge (with ``human``'s calls): the server uses
these public methods, never the forge's internals.
"""

from __future__ import annotations

import difflib
import stat
from collections.abc import Mapping, Sequence
from typing import Any, cast

import attrs
from dulwich.errors import NotTreeError
from dulwich.graph import find_merge_base
from dulwich.object_store import commit_tree_changes, tree_lookup_path
from dulwich.objects import Blob, Tree
from dulwich.objects import Commit as GitCommit
from dulwich.repo import BaseRepo

from prplan import errors
from prplan.core.names import branch_problems
from prplan.forges.local.rules import ForgeRules
from prplan.forges.local.store import locked
from prplan.forges.local.trees import DIRECTORY, GITLINK, HEX_SHA, TreeInput, tree_input_problems
from prplan.run.port import Comparison

__all__ = ["GitData", "TreeEntry", "ChangedFile"]


@attrs.frozen
class TreeEntry:
    """One entry of a tree as GitHub lists it."""

    path: str
    mode: int
    type: str  # blob | tree | commit
    sha: str
    size: int | None


@attrs.frozen
class ChangedFile:
    """A file that differs between two commits, with its diff's line counts."""

    path: str
    status: str  # added | removed | modified
    sha: str
    additions: int
    deletions: int


def _line_counts(before: bytes, after: bytes) -> tuple[int, int]:
    """(lines removed, lines added), as a unified diff would count them."""
    removed = added = 0
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in {"replace", "delete"}:
            removed += i2 - i1
        if tag in {"replace", "insert"}:
            added += j2 - j1
    return removed, added


class GitData(ForgeRules):
    """GitHub's Git Data API over the forge's storage, locked, never counted."""

    @locked
    def git_object(self, repo: str, sha: str) -> Blob | Tree | GitCommit:
        if not HEX_SHA.fullmatch(sha):  # a ref or revision (main, HEAD~1) names no object here
            raise errors.NotFoundError(f"{repo}: no object {sha}")
        found = self._object(repo, sha, (Blob, Tree, GitCommit), "object", "blob, tree or commit")
        return cast("Blob | Tree | GitCommit", found)

    @locked
    def git_create_blob(self, repo: str, content: bytes) -> str:
        return self._store(repo, Blob.from_string(content))

    @locked
    def git_tree_entries(self, repo: str, tree_sha: str, *, recursive: bool) -> list[TreeEntry]:
        """A tree's entries (with subtrees' entries too when ``recursive``),
        as GitHub lists them: trees and blobs, paths from the tree's root."""
        store = self._git(repo).object_store
        root = self.git_object(repo, tree_sha)
        if isinstance(root, GitCommit):
            root = self.git_object(repo, root.tree.decode())
        if not isinstance(root, Tree):
            raise errors.NotFoundError(f"{repo}: {tree_sha} is not a tree")
        out: list[TreeEntry] = []

        def walk(tree: Tree, prefix: str) -> None:
            for entry in tree.iteritems():
                path = prefix + entry.path.decode("utf-8", "replace")
                if stat.S_ISDIR(entry.mode):
                    kind, size = "tree", None
                elif stat.S_ISLNK(entry.mode) or stat.S_ISREG(entry.mode):
                    kind, size = "blob", len(store[entry.sha].data)
                else:  # a submodule (gitlink)
                    kind, size = "commit", None
                out.append(TreeEntry(path, entry.mode, kind, entry.sha.decode(), size))
                if kind == "tree" and recursive:
                    walk(store[entry.sha], path + "/")

        walk(root, "")
        return out

    @locked
    def git_create_tree(
        self, repo: str, entries: Sequence[TreeInput], base_tree: str | None
    ) -> str:
        """A new tree: ``base_tree`` (or nothing) with each entry written
        (inline content, or an existing object's sha) or deleted (sha None).
        Deleting a path that is not there is an error, as on GitHub. Every
        entry is checked before anything is stored: a path git would refuse
        to check out, a mode that is not git's, content for a directory or an
        object of the wrong type is an ``errors.InvalidRequestError`` naming each."""
        git = self._git(repo)
        problems = [p for i, entry in enumerate(entries) for p in tree_input_problems(i, entry)]
        problems += self._tree_object_problems(repo, entries, base_tree)
        if problems:
            raise errors.InvalidRequestError(problems, what="tree")
        if base_tree is None:
            empty = Tree()
            self._store(repo, empty)
            start = empty.id
        else:
            start = base_tree.encode()
        changes: list[tuple[bytes, int | None, bytes | None]] = []
        for entry in entries:
            path = entry.path.encode()
            if entry.content is not None:
                sha = self._store(repo, Blob.from_string(entry.content)).encode()
                changes.append((path, entry.mode, sha))
            elif entry.sha is not None:
                changes.append((path, entry.mode, entry.sha.encode()))
            else:
                try:
                    tree_lookup_path(git.object_store.__getitem__, start, path)
                except (KeyError, NotTreeError):  # absent, or under a file
                    raise errors.ForgeError(
                        f"{repo}: cannot delete {entry.path!r}: it does not exist", status=422
                    ) from None
                changes.append((path, None, None))
        try:
            tree: bytes = commit_tree_changes(git.object_store, start, changes)
        except (KeyError, ValueError, TypeError, AssertionError):
            # dulwich asserts when a path runs through a file ('a/b' where
            # 'a' is a file, in the base tree or in the same request).
            raise errors.ForgeError(
                f"{repo}: cannot build the tree: a path runs through a file, or two "
                "entries name the same path as a file and as a directory",
                status=422,
            ) from None
        return tree.decode()

    def _tree_object_problems(
        self, repo: str, entries: Sequence[TreeInput], base_tree: str | None
    ) -> list[errors.Problem]:
        """The objects a new tree names exist and have the type its modes say."""
        problems = []
        if base_tree is not None and not isinstance(self._object_or_none(repo, base_tree), Tree):
            problems.append(errors.Problem("base_tree", f"{base_tree!r} is not a tree in {repo}"))
        for index, entry in enumerate(entries):
            if entry.sha is None or entry.content is not None or entry.mode == GITLINK:
                continue  # deletes, inline content, and submodules (commits elsewhere)
            want = Tree if entry.mode == DIRECTORY else Blob
            if HEX_SHA.fullmatch(entry.sha) and not isinstance(
                self._object_or_none(repo, entry.sha), want
            ):
                problems.append(
                    errors.Problem(
                        f"tree[{index}].sha",
                        f"{entry.sha} is not a {'tree' if want is Tree else 'blob'} in {repo} "
                        f"(mode {entry.mode:06o} needs one)",
                    )
                )
        return problems

    def _object_or_none(self, repo: str, sha: str) -> Blob | Tree | GitCommit | None:
        try:
            return self.git_object(repo, sha)
        except errors.NotFoundError:
            return None

    @locked
    def git_create_commit(
        self,
        repo: str,
        *,
        message: str,
        tree: str,
        parents: Sequence[str],
        author: str | None = None,
        author_date: tuple[int, int] | None = None,
        commit_date: tuple[int, int] | None = None,
        committer: str | None = None,
    ) -> str:
        """A commit of ``tree``; dates are (epoch seconds, offset in seconds),
        now when not given; the committer is the forge's user unless given."""
        if not isinstance(self.git_object(repo, tree), Tree):
            raise errors.ForgeError(f"{repo}: {tree} is not a tree", status=422)
        for parent in parents:
            self._commit(repo, parent)
        who = author.encode() if author else self._user
        return self._new_commit(
            repo,
            tree.encode(),
            list(parents),
            message,
            who,
            author_date=author_date,
            commit_date=commit_date,
            committer=committer.encode() if committer else None,
        )

    @locked
    def refs(self, repo: str, prefix: str = "refs/") -> dict[str, str]:
        """Every ref under ``prefix`` (e.g. ``refs/heads/``): name -> sha."""
        return {
            name.decode(): sha.decode()
            for name, sha in self._git(repo).refs.as_dict().items()
            if name.decode().startswith(prefix) and name != b"HEAD"
        }

    @locked
    def create_ref(self, repo: str, ref: str, sha: str) -> None:
        if not ref.startswith("refs/") or ref.count("/") < 2:
            raise errors.ForgeError(f"{ref!r} is not a fully qualified reference", status=422)
        if ref.startswith("refs/pull/"):
            raise errors.ForgeError(
                f"{ref!r}: refs/pull/* belongs to the forge's pull requests", status=422
            )
        # Every ref name follows git's branch name rules (check-ref-format).
        problems = branch_problems("ref", ref[len("refs/") :])
        if problems:
            raise errors.InvalidRequestError(problems, what="reference")
        self._commit(repo, sha)
        if ref.startswith("refs/heads/"):
            if self._head(repo, ref[len("refs/heads/") :]) is not None:
                raise errors.ForgeError("Reference already exists", status=422)
            self._set_branch(repo, ref[len("refs/heads/") :], sha, expected=None)
            return
        if ref in self.refs(repo):
            raise errors.ForgeError("Reference already exists", status=422)
        self._check_ref_is_free(repo, ref)
        if not self._git(repo).refs.add_if_new(ref.encode(), sha.encode()):
            raise errors.ForgeError("Reference already exists", status=422)

    @locked
    def update_ref(self, repo: str, ref: str, sha: str, *, force: bool) -> None:
        """Move a ref; without ``force`` only a fast-forward is allowed."""
        if not ref.startswith("refs/heads/"):
            raise errors.ForgeError(
                f"prplan's forge updates branches only, not {ref!r}", status=422
            )
        branch = ref[len("refs/heads/") :]
        current = self._head(repo, branch)
        if current is None:
            raise errors.ForgeError("Reference does not exist", status=422)
        self._commit(repo, sha)
        if not force and self._compare(repo, current, sha).behind_by != 0:
            raise errors.ForgeError("Update is not a fast forward", status=422)
        self._set_branch(repo, branch, sha, expected=current)

    @locked
    def pull_row(self, repo: str, number: int) -> dict[str, Any]:
        """Everything stored about a pull request (for the REST server)."""
        return dict(self._pull(repo, number))

    @locked
    def pull_rows(self, repo: str) -> list[dict[str, Any]]:
        self._git(repo)
        rows = self._db.execute(
            "SELECT * FROM pulls WHERE repo = ? ORDER BY number", (repo,)
        ).fetchall()
        return [dict(row) for row in rows]

    @locked
    def edit_pull(
        self,
        repo: str,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: str | None = None,
    ) -> None:
        row = self._pull(repo, number)
        if state == "closed":
            self._close_pull(repo, number)
        elif state == "open" and row["state"] != "open":
            self._reopen_pull(repo, number)
        for column, value in (("title", title), ("body", body)):
            if value is not None:
                self._db.execute(
                    f"UPDATE pulls SET {column} = ?, updated_at = ? WHERE repo = ? AND number = ?",  # column: from the fixed tuple above
                    (value, self._now(), repo, number),
                )

    @locked
    def sync_pull_heads(self, repo: str) -> None:
        """After a push that bypassed the forge's API (git over HTTP), let
        open pull requests follow their branches again (and the merge gates
        look again: a base or a head may have moved)."""
        self._gates_dirty = True
        for branch, sha in self._branches(repo).items():
            rows = self._db.execute(
                "SELECT number, head_sha FROM pulls WHERE repo = ? AND head = ? AND state = 'open'",
                (repo, branch),
            ).fetchall()
            for row in rows:
                if row["head_sha"] != sha:
                    self._db.execute(
                        "UPDATE pulls SET head_sha = ? WHERE repo = ? AND number = ?",
                        (sha, repo, row["number"]),
                    )
                    self._git(repo).refs[f"refs/pull/{row['number']}/head".encode()] = sha.encode()

    @locked
    def merge_base(self, repo: str, one: str, two: str) -> str | None:
        bases = find_merge_base(self._git(repo), [one.encode(), two.encode()])
        return bases[0].decode() if bases else None

    @locked
    def changed_files(self, repo: str, old: str, new: str) -> list[ChangedFile]:
        """Files that differ between two commits, with line counts (a pull
        request's files are those between its merge base and its head)."""
        store = self._git(repo).object_store
        old_tree, new_tree = self._commit(repo, old).tree, self._commit(repo, new).tree
        out = []
        for change in store.tree_changes(old_tree, new_tree):
            (old_path, new_path), (old_mode, new_mode), (old_sha, new_sha) = change
            path = (new_path or old_path).decode("utf-8", "replace")
            # A submodule's entry names a commit of another repository: no lines here.
            before = store[old_sha].data if old_sha and old_mode != 0o160000 else b""
            after = store[new_sha].data if new_sha and new_mode != 0o160000 else b""
            removed, added = _line_counts(before, after)
            status = "added" if old_sha is None else "removed" if new_sha is None else "modified"
            sha = (new_sha or old_sha).decode()
            out.append(
                ChangedFile(path=path, status=status, sha=sha, additions=added, deletions=removed)
            )
        return sorted(out, key=lambda f: f.path)

    # --- what the GraphQL server needs (createCommitOnBranch, updateRefs) ------------------

    @locked
    def commit_verified(
        self,
        repo: str,
        branch: str,
        *,
        expected_head: str,
        files: Mapping[str, bytes | None],
        message: str,
        author: str,
        committer: str | None = None,
    ) -> str:
        """GraphQL's ``createCommitOnBranch``: one commit on the existing
        ``branch`` (NotFoundError if absent) only if its head is
        ``expected_head`` (ConflictError if not); ``files`` written as 100644
        or deleted (None); ``author`` (``Name <email>``) is the token's user.
        The commit is recorded as signed by the forge (``is_verified``)."""
        head = self._head(repo, branch)
        if head is None:
            raise errors.NotFoundError(f"{repo}: branch {branch!r} does not exist")
        if head != expected_head:
            raise errors.ConflictError(
                f'{repo}: Expected branch to point to "{expected_head}" but it did not. '
                "Pull and try again."
            )
        entries = [TreeInput(path=path, content=content) for path, content in files.items()]
        tree = self.git_create_tree(repo, entries, self._commit(repo, head).tree.decode())
        sha = self.git_create_commit(
            repo, message=message, tree=tree, parents=[head], author=author, committer=committer
        )
        self._set_branch(repo, branch, sha, expected=head)
        self._verified_table()
        self._db.execute("INSERT OR IGNORE INTO verified_commits VALUES (?, ?)", (repo, sha))
        return sha

    def _verified_table(self) -> None:
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS verified_commits "
            "(repo TEXT NOT NULL, sha TEXT NOT NULL, PRIMARY KEY (repo, sha))"
        )

    @locked
    def is_verified(self, repo: str, sha: str) -> bool:
        """Was the commit made (and signed) by the forge itself, as GitHub
        signs ``createCommitOnBranch`` commits?"""
        self._verified_table()
        found = self._db.execute(
            "SELECT 1 FROM verified_commits WHERE repo = ? AND sha = ?", (repo, sha)
        ).fetchone()
        return found is not None

    @locked
    def update_refs(
        self, repo: str, updates: Sequence[tuple[str, str | None, str | None, bool]]
    ) -> None:
        """GraphQL's ``updateRefs``, atomic: each (ref, before, after, force)
        moves branch ``ref`` from exactly ``before`` (None: not checked;
        all zeros: it must not exist) to ``after`` (None: delete it). Every
        update is checked before any is made: ConflictError if a ref is not at
        its ``before``, ForgeError (422) for anything else GitHub refuses."""
        current = self._branches(repo)
        for ref, before, after, force in updates:
            if not ref.startswith("refs/heads/"):
                raise errors.ForgeError(
                    f"prplan's forge updates branches only, not {ref!r}", status=422
                )
            branch = ref[len("refs/heads/") :]
            now = current.get(branch)
            if before is not None and now != (None if set(before) == {"0"} else before):
                raise errors.ConflictError(
                    f"{repo}: {ref} is at {now or 'nothing'}, not at {before}; nothing was changed"
                )
            if after is None:
                if now is None or branch == self._default(repo):
                    raise errors.ForgeError(f"{repo}: cannot delete {ref}", status=422)
                continue
            self._commit(repo, after)
            if now is None:
                self._check_ref_is_free(repo, ref)
                if branch_problems("ref", ref[len("refs/") :]):
                    raise errors.ForgeError(f"{repo}: {ref!r} is not a valid ref name", status=422)
            elif not force and self._compare(repo, now, after).behind_by != 0:
                raise errors.ForgeError(f"{repo}: {ref}: Update is not a fast forward", status=422)
        for ref, _, after, _ in updates:
            branch = ref[len("refs/heads/") :]
            if after is None:
                self._delete_branch(repo, branch)
            else:
                self._set_branch(repo, branch, after, expected=self._head(repo, branch))

    # --- what a human does (tests, the demo) ---------------------------------------------

    # --- what the REST server needs besides GitHub's Git Data endpoints --------------

    def git_repository(self, repo: str) -> BaseRepo:
        """The dulwich repository itself, for git's smart HTTP protocol: the
        server serves clones and pushes from it. It bypasses the forge's
        rules (counting, compare-and-swap, pull-request heads), so it is
        handed out only to a caller inside ``exclusive()``, which then owns
        what happens to it (the server checks each pushed ref's old value
        and brings pull requests up to date before it lets go)."""
        if not self._lock.held_here():
            raise errors.ForgeError(
                "git_repository is for serving git inside forge.exclusive(): "
                "outside it another writer could move the refs underneath"
            )
        return self._git(repo)

    @locked
    def default_branch_name(self, repo: str) -> str:
        """``repo``'s default branch (NotFoundError if there is no such
        repository); unlike ``default_branch``, not counted as prplan's request."""
        return self._default(repo)

    @locked
    def check_ref_is_free(self, repo: str, ref: str) -> None:
        """ForgeError (422) if a new ``ref`` would sit under an existing ref or
        over one, as git and GitHub refuse."""
        self._check_ref_is_free(repo, ref)

    @locked
    def blob_shas(self, repo: str, commit_sha: str, paths: Sequence[str]) -> dict[str, str | None]:
        """The blob sha of each path that is a file at the commit (None: anything else)."""
        return self._blobs(repo, commit_sha, paths)

    @locked
    def commit_on_branch(
        self, repo: str, branch: str, parent: str, files: Mapping[str, bytes | None], message: str
    ) -> str:
        """Commit ``files`` (None deletes) on ``parent`` as the forge's user and
        move ``branch`` there, if it is still at ``parent`` (ConflictError if
        not): the contents API's one-file commits."""
        return self._commit_files(repo, branch, parent, files, message, self._user)

    @locked
    def compare_commits(self, repo: str, base_sha: str, head_sha: str) -> Comparison:
        """``compare``, not counted as prplan's request."""
        return self._compare(repo, base_sha, head_sha)

"""What a human does on the local forge: the calls tests and the demo make.

Create a repository, push a change (or a whole working tree), force-push a
branch, open, merge, close and reopen pull requests as a person would, block
merges as branch protection would, and read back files, branches, logs and
pull requests to check what prplan did. None of it is counted as prplan's
requests. It is separate from ``client`` (prplan's own calls) so that a test's
setup and checks never change what prplan is measured by.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from dulwich.object_store import commit_tree_changes
from dulwich.objects import Blob, Tree
from dulwich.repo import BaseRepo, MemoryRepo, Repo

from prplan import errors
from prplan.core.names import branch_problems, path_problems, repo_problems
from prplan.core.snapshot import CommitInfo, PullRequestInfo
from prplan.forges.local.rules import ForgeRules
from prplan.forges.local.store import (
    EXECUTABLE,
    FILE_MODE,
    HUMAN,
    branch_ref,
    commit_info,
    locked,
)

__all__ = ["HumanSide"]


class HumanSide(ForgeRules):
    """A person's side of the forge (tests, the demo): locked, never counted."""

    @locked
    def create_repo(
        self,
        repo: str,
        files: Mapping[str, bytes | str] | None = None,
        *,
        default_branch: str = "main",
        message: str = "Initial commit",
        executable: Collection[str] = (),
    ) -> str:
        """Create a repository with one initial commit of ``files`` on
        ``default_branch``; returns that commit's sha. The paths in
        ``executable`` are committed 100755, the others 100644."""
        problems = repo_problems("repo", repo) + branch_problems("default_branch", default_branch)
        for path in files or {}:
            problems += path_problems(f"files[{path!r}]", path)
        for path in set(executable) - set(files or {}):
            problems.append(errors.Problem("executable", f"{path!r} is not one of the files"))
        if problems:
            raise errors.InvalidRequestError(problems)
        if self._db.execute("SELECT 1 FROM repos WHERE name = ?", (repo,)).fetchone():
            raise errors.ForgeError(f"repository {repo!r} already exists", status=422)
        if self._root is None:
            git: BaseRepo = MemoryRepo()
        else:
            location = self._root / "repos" / f"{repo}.git"
            location.parent.mkdir(parents=True, exist_ok=True)
            git = Repo.init_bare(str(location), mkdir=True)
        git.refs.set_symbolic_ref(b"HEAD", branch_ref(default_branch))
        self._repos[repo] = git
        self._db.execute(
            "INSERT INTO repos (name, default_branch) VALUES (?, ?)", (repo, default_branch)
        )
        contents = {path: _bytes(c) for path, c in (files or {}).items()}
        tree = self._tree_of(repo, contents, executable)
        sha = self._new_commit(repo, tree, [], message + "\n", HUMAN.encode())
        self._set_branch(repo, default_branch, sha, expected=None)
        return sha

    @locked
    def push(
        self,
        repo: str,
        branch: str,
        files: Mapping[str, bytes | str | None],
        *,
        message: str = "A human's change",
        author: str = HUMAN,
        sealed: bool = False,
    ) -> str:
        """Commit ``files`` (None deletes) on ``branch`` as a human would push
        it, creating the branch from the default branch if absent. Returns
        the new commit's sha. ``sealed=True`` makes the commit exactly as
        prplan would (its message sealed with the tree trailer): for tests
        of a run that crashed after committing."""
        head = self._head(repo, branch)
        if head is None:
            head = self._resolve(repo, self._default(repo))
            self._set_branch(repo, branch, head, expected=None)
        contents = {path: None if c is None else _bytes(c) for path, c in files.items()}
        return self._commit_files(
            repo, branch, head, contents, message + "\n", author.encode(), seal=sealed
        )

    @locked
    def push_tree(
        self,
        repo: str,
        branch: str,
        files: Mapping[str, bytes],
        *,
        executable: Collection[str] = (),
        message: str = "A human's change",
        author: str = HUMAN,
    ) -> str | None:
        """Push one commit whose tree is exactly ``files`` (paths not in it
        are deleted; ``executable`` paths get mode 100755), as a person pushes
        a working directory. A new ``branch`` starts from the default branch.
        Returns the new commit's sha, or None when the branch (or, for a new
        branch, the default branch) already has that tree: no empty commit is
        made, a new branch is created at the default branch's head."""
        problems = branch_problems("branch", branch)
        for path in files:
            problems += path_problems(f"files[{path!r}]", path)
        if problems:
            raise errors.InvalidRequestError(problems)
        head = self._head(repo, branch)
        parent = head if head is not None else self._resolve(repo, self._default(repo))
        try:
            tree = self._tree_of(repo, files, executable)
        except (KeyError, ValueError, TypeError, AssertionError):
            raise errors.InvalidRequestError(
                [errors.Problem("files", "a path runs through a file (both 'a' and 'a/b' given)")]
            ) from None
        if self._commit(repo, parent).tree == tree:
            if head is None:  # a new branch with its base's content: the branch, no commit
                self._set_branch(repo, branch, parent, expected=None)
            return None
        sha = self._new_commit(repo, tree, [parent], message.rstrip("\n") + "\n", author.encode())
        self._set_branch(repo, branch, sha, expected=head)
        return sha

    def _tree_of(self, repo: str, files: Mapping[str, bytes], executable: Collection[str]) -> bytes:
        """A tree of exactly ``files``: the ``executable`` ones 100755, the others 100644."""
        empty = Tree()
        self._store(repo, empty)
        changes = [
            (
                path.encode(),
                EXECUTABLE if path in executable else FILE_MODE,
                self._store(repo, Blob.from_string(content)).encode(),
            )
            for path, content in sorted(files.items())
        ]
        tree: bytes = commit_tree_changes(self._git(repo).object_store, empty.id, changes)
        return tree

    @locked
    def set_branch(self, repo: str, branch: str, ref: str) -> None:
        """Point ``branch`` at a branch or commit (creating it), as a human's
        force-push would."""
        self._set_branch(repo, branch, self._resolve(repo, ref), expected=self._head(repo, branch))

    @locked
    def open_pr(
        self,
        repo: str,
        head: str,
        base: str | None = None,
        *,
        title: str = "A human's pull request",
        body: str = "",
        allow_duplicate: bool = False,
        author: str = "human",
        draft: bool = False,
    ) -> int:
        """Open a pull request as the forge login ``author``; returns its
        number. ``allow_duplicate`` lets a test create a second open pull
        request for the same head and base, which GitHub refuses but prplan
        must still handle if it sees it. ``draft``: open it as a draft."""
        base = base or self._default(repo)
        row = self._open_pull(
            repo, head, base, title, body, duplicate_ok=allow_duplicate, author=author, draft=draft
        )
        return int(row["number"])

    @locked
    def merge_pr(
        self,
        repo: str,
        number: int,
        method: str = "merge",
        *,
        by: str = "human",
        expected_head_sha: str | None = None,
        admin_bypass: bool = False,
    ) -> str:
        """Merge a pull request as a human (the forge login ``by``) presses the
        button; with ``expected_head_sha``, only if its head is still there.
        The merge gate holds for humans too (``MergeBlocked``), unless
        ``admin_bypass``: an administrator merging past branch protection."""
        return self._merge(
            repo, number, method, expected_head_sha, by=by, admin_bypass=admin_bypass
        )

    @locked
    def close_pr(self, repo: str, number: int) -> None:
        self._close_pull(repo, number)

    @locked
    def reopen_pr(self, repo: str, number: int) -> None:
        self._reopen_pull(repo, number)

    @locked
    def block_merges(self, repo: str, base: str, message: str | None) -> None:
        """Make merges into ``base`` fail as branch protection would (e.g.
        ``'Required status check "ci" is expected.'``); None lifts it."""
        if message is None:
            self._merge_blocks.pop((repo, base), None)
        else:
            self._merge_blocks[(repo, base)] = message

    @locked
    def remove_branch(self, repo: str, branch: str) -> None:
        """Delete a branch as a human would (not counted as prplan's request)."""
        self._delete_branch(repo, branch)

    @locked
    def read_file(self, repo: str, ref: str, path: str) -> bytes | None:
        """A file's content at a branch or commit, or None if absent."""
        sha = self._blobs(repo, self._resolve(repo, ref), [path])[path]
        if sha is None:
            return None
        obj = self._git(repo).object_store[sha.encode()]
        assert isinstance(obj, Blob)
        return bytes(obj.data)

    @locked
    def files(self, repo: str, ref: str) -> dict[str, bytes]:
        """Every file at a branch or commit: path -> content."""
        git = self._git(repo)
        out: dict[str, bytes] = {}
        tree = self._commit(repo, self._resolve(repo, ref)).tree
        for entry in git.object_store.iter_tree_contents(tree):
            if entry.mode == 0o160000:
                continue  # a submodule: a commit of another repository, no content here
            blob = git.object_store[entry.sha]
            assert isinstance(blob, Blob)
            out[entry.path.decode()] = bytes(blob.data)
        return out

    @locked
    def pull_requests(self, repo: str) -> list[PullRequestInfo]:
        return self._pull_infos(repo, "")

    @locked
    def branches(self, repo: str) -> dict[str, str]:
        return self._branches(repo)

    @locked
    def log(self, repo: str, ref: str) -> list[CommitInfo]:
        """Commits reachable from a branch or sha, newest first."""
        git = self._git(repo)
        return [
            commit_info(e.commit)
            for e in git.get_walker(include=[self._resolve(repo, ref).encode()])
        ]

    @locked
    def commit_parents(self, repo: str, sha: str) -> list[str]:
        return [p.decode() for p in self._commit(repo, sha).parents]

    @locked
    def reachable(self, repo: str, sha: str) -> bool:
        """Is the commit reachable from some ref (a branch or refs/pull/N/head)?"""
        git = self._git(repo)
        heads = [
            v
            for k, v in git.refs.as_dict().items()
            if k.startswith((b"refs/heads/", b"refs/pull/"))
        ]
        return any(sha.encode() == e.commit.id for e in git.get_walker(include=heads))

    @locked
    def repositories(self) -> list[str]:
        return [row["name"] for row in self._db.execute("SELECT name FROM repos ORDER BY name")]


def _bytes(content: bytes | str) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content

"""LocalForge: GitHub's repository and pull-request rules, in process.

Repositories are real git: dulwich object stores (``MemoryRepo`` in memory,
bare repositories on disk for ``LocalForge.open(path)``), so commits, trees
and blob shas are exactly what git computes. Pull requests live in SQLite
(``:memory:`` or ``forge.sqlite``), whose partial unique index enforces
GitHub's "one open pull request per head and base".

The rules modelled, because prplan's behaviour depends on them:

* pull requests are numbered per repository in creation order;
* an open pull request follows its head branch (its ``head_sha`` is the
  branch head) and ``refs/pull/N/head`` keeps every pull request's head,
  so nothing a pull request showed is ever unreachable;
* deleting a branch closes the open pull requests from it;
* branch updates are compare-and-swap; the default branch cannot be deleted;
* merges (merge, squash, rebase) do a real three-way merge; a conflict makes
  the pull request unmergeable, and a merge passes the expected head.

It is both the embedded default forge and the model the tests check prplan
against. Every call runs under one lock (``_ForgeLock``): a thread lock, so
the HTTP server can share the object between threads, and for a forge on
disk also an exclusive lock on ``forge.lock`` in its directory, so several
processes (``prplan forge serve``, CLI runs with ``--local``, a person's
``git push`` through the server) can share the directory safely.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import re
import sqlite3
import stat
import threading
import time
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import attrs
import filelock
from dulwich.errors import NotTreeError
from dulwich.file import FileLocked
from dulwich.graph import find_merge_base
from dulwich.merge import merge_blobs, three_way_merge
from dulwich.object_store import commit_tree_changes, tree_lookup_path
from dulwich.objects import Blob, Tree
from dulwich.objects import Commit as GitCommit
from dulwich.repo import BaseRepo, MemoryRepo, Repo

from prplan.core.gitpaths import is_dotgit, is_dotgitmodules
from prplan.core.names import branch_problems, path_problems, repo_problems
from prplan.core.snapshot import CommitInfo, PathEntry, PullRequestInfo, entry_for, seal_message
from prplan.errors import (
    ConflictError,
    ForgeError,
    InvalidRequestError,
    MergeBlocked,
    NotFoundError,
    Problem,
)
from prplan.run.port import Branch, Comparison, RequestCount, record_request

__all__ = ["LocalForge", "HUMAN", "TreeEntry", "TreeInput", "ChangedFile"]

P = ParamSpec("P")
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS repos (
    name TEXT PRIMARY KEY,
    default_branch TEXT NOT NULL,
    next_number INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS pulls (
    repo TEXT NOT NULL,
    number INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    merged INTEGER NOT NULL DEFAULT 0,
    head TEXT NOT NULL,
    base TEXT NOT NULL,
    head_sha TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    merge_sha TEXT,
    duplicate_ok INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL DEFAULT 0,
    closed_at REAL,
    merged_at REAL,
    author TEXT NOT NULL DEFAULT '',
    merged_by TEXT,
    PRIMARY KEY (repo, number)
);
-- GitHub's rule: one open pull request per head and base.
CREATE UNIQUE INDEX IF NOT EXISTS one_open_pull
    ON pulls (repo, head, base) WHERE state = 'open' AND duplicate_ok = 0;
"""

#: Columns added since the first forge.sqlite: a forge directory made by an
#: older prplan gets them on open (its pull requests' author stays unknown, '').
_ADDED_COLUMNS = {
    "author": "ALTER TABLE pulls ADD COLUMN author TEXT NOT NULL DEFAULT ''",
    "merged_by": "ALTER TABLE pulls ADD COLUMN merged_by TEXT",
}

_FILE_MODE = 0o100644
#: The largest pull request number SQLite can store (a signed 64-bit integer).
_MAX_NUMBER = 2**63 - 1
_EXECUTABLE = 0o100755
HUMAN = "A Human <human@example.com>"


#: How long a call waits for another process to finish its call on the same
#: forge directory before giving up (a whole ``git push`` holds the lock).
LOCK_TIMEOUT = 60.0


class _ForgeLock:
    """One caller at a time in the forge.

    Threads of this process queue on a reentrant thread lock. For a forge on
    disk, the outermost holder also takes an exclusive file lock (``flock``
    on ``forge.lock``; the kernel drops it if the process dies), so another
    process's read-modify-write (a ref's compare-and-swap, a pull request
    row, the next pull request number) never interleaves with ours. The
    outermost holder also opens one SQLite transaction and commits it on the
    way out: what a call changed in the database lands together, and a call
    killed half-way leaves none of it.
    """

    def __init__(self, path: Path | None, *, timeout: float) -> None:
        self._threads = threading.RLock()
        self._file = (
            None
            if path is None
            else filelock.FileLock(path, timeout=timeout, thread_local=False, poll_interval=0.002)
        )
        self._path = path
        self._timeout = timeout
        self._depth = 0
        #: the database to run a transaction on; set once it is connected
        self.db: sqlite3.Connection | None = None

    def __enter__(self) -> _ForgeLock:
        self._threads.acquire()
        if self._depth == 0:
            try:
                self._begin()
            except BaseException:
                self._threads.release()
                raise
        self._depth += 1
        return self

    def _begin(self) -> None:
        if self._file is not None:
            try:
                self._file.acquire()
            except filelock.Timeout:
                raise ForgeError(
                    f"another process has held the forge's lock {self._path} for over "
                    f"{self._timeout:g} s (a long push, or a stuck `prplan forge serve`?); "
                    "nothing was changed. Try again."
                ) from None
        if self.db is not None:
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except BaseException:
                if self._file is not None:
                    self._file.release()
                raise

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0:
                self._end()
        finally:
            self._threads.release()

    def _end(self) -> None:
        # Commit even when the call failed: what it wrote to git before the
        # error (a moved branch) stays, so the rows that describe it stay too,
        # as they did when every statement committed on its own.
        try:
            if self.db is not None and self.db.in_transaction:
                self.db.execute("COMMIT")
        finally:
            if self._file is not None:
                self._file.release()


def _locked(method: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        self = args[0]
        with self._lock:  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return wrapper


def _counted(kind: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Count a ForgeClient call as one request, as the GitHub client would."""

    def decorate(method: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(method)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            self = args[0]
            with self._lock:  # type: ignore[attr-defined]
                self._counts[kind] += 1  # type: ignore[attr-defined]
                record_request(kind)  # type: ignore[arg-type]
                return method(*args, **kwargs)

        return wrapper

    return decorate


def _ref(branch: str) -> bytes:
    return b"refs/heads/" + branch.encode()


def _ref_locked(repo: str, branch: str) -> ConflictError:
    """dulwich found the ref's ``.lock`` file: a git process outside this
    forge's lock (or one killed mid-write) holds the branch."""
    return ConflictError(
        f"{repo}: branch {branch!r} is being written by another git process (its ref's "
        "'.lock' file exists); nothing was changed. Run prplan again; if this persists and "
        "no git process is running, remove that stale lock file from the forge directory."
    )


def _close_storage(repos: dict[str, BaseRepo], db: sqlite3.Connection) -> None:
    for git in repos.values():
        git.close()
    repos.clear()
    db.close()


class LocalForge:
    """An in-process forge with GitHub's rules. Implements ``ForgeClient``.

    Build one with ``LocalForge.in_memory()`` or ``LocalForge.open(path)``.
    ``user`` is the identity its ``ForgeClient`` writes carry (as a token's
    owner would on GitHub), and ``login`` the forge login recorded as the
    author of the pull requests they open and merge; ``clock`` returns seconds since the epoch for
    commit times (pass a fixed one for reproducible shas). ``lock_timeout``:
    how many seconds a call on a forge on disk waits for other processes'
    calls before it fails with ``ForgeError``.
    """

    def __init__(
        self,
        *,
        root: Path | None = None,
        user: str = "prplan <prplan@localforge.invalid>",
        login: str = "prplan",
        clock: Callable[[], float] = time.time,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        self._root = root
        self._user = user.encode()
        self.login = login
        self._clock = clock
        self._counts = {"reads": 0, "writes": 0}
        self._repos: dict[str, BaseRepo] = {}
        self._merge_blocks: dict[tuple[str, str], str] = {}
        if root is None:
            database = ":memory:"
            self._lock = _ForgeLock(None, timeout=lock_timeout)
        else:
            root.mkdir(parents=True, exist_ok=True)
            (root / "repos").mkdir(exist_ok=True)
            database = str(root / "forge.sqlite")
            self._lock = _ForgeLock(root / "forge.lock", timeout=lock_timeout)
        self._db = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:  # two processes opening a new directory create the schema once
            self._db.executescript(_SCHEMA)
            present = {row["name"] for row in self._db.execute("PRAGMA table_info(pulls)")}
            for column, statement in _ADDED_COLUMNS.items():
                if column not in present:
                    self._db.execute(statement)
        self._lock.db = self._db
        # Close the git repositories and the database when the forge is
        # collected, or at interpreter exit at the latest: dulwich's packs
        # left to their own ``__del__`` during shutdown print tracebacks.
        self._finalizer = weakref.finalize(self, _close_storage, self._repos, self._db)

    def __enter__(self) -> LocalForge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self) -> float:
        return float(self._clock())

    @classmethod
    def in_memory(cls, **options: Any) -> LocalForge:
        """A forge that lives as long as this object (tests, the demo)."""
        return cls(root=None, **options)

    @classmethod
    def open(cls, path: str | Path, **options: Any) -> LocalForge:
        """A persistent forge in directory ``path`` (created if missing):
        bare git repositories under ``repos/`` and ``forge.sqlite``."""
        return cls(root=Path(path), **options)

    @property
    def root(self) -> Path | None:
        return self._root

    def consistent_reads(self) -> contextlib.AbstractContextManager[object]:
        """Hold the forge still across several calls: until the block ends, no
        other thread or process writes to it (``observe`` uses this, so one
        observation is one moment)."""
        return self._lock

    def close(self) -> None:
        """Close the database and every git repository opened (their pack
        files). Idempotent; a closed forge answers no more calls."""
        self._finalizer()

    # --- storage helpers -----------------------------------------------------------

    def _git(self, repo: str) -> BaseRepo:
        cached = self._repos.get(repo)
        if cached is not None:
            return cached
        row = self._db.execute("SELECT name FROM repos WHERE name = ?", (repo,)).fetchone()
        if row is None or self._root is None:
            raise NotFoundError(f"repository {repo!r} does not exist")
        git = Repo(str(self._root / "repos" / f"{repo}.git"))
        self._repos[repo] = git
        return git

    def _head(self, repo: str, branch: str) -> str | None:
        sha = self._git(repo).refs.as_dict(b"refs/heads").get(branch.encode())
        return None if sha is None else sha.decode()

    def _commit(self, repo: str, sha: str) -> GitCommit:
        try:
            obj = self._git(repo).object_store[sha.encode()]
        except KeyError:
            raise NotFoundError(f"{repo}: no commit {sha}") from None
        if not isinstance(obj, GitCommit):
            raise NotFoundError(f"{repo}: {sha} is not a commit")
        return obj

    def _resolve(self, repo: str, ref: str) -> str:
        """A branch name or a commit sha -> a commit sha."""
        head = self._head(repo, ref)
        if head is not None:
            return head
        return str(self._commit(repo, ref).id.decode())

    def _store(self, repo: str, obj: Blob | Tree | GitCommit) -> str:
        self._git(repo).object_store.add_object(obj)
        return str(obj.id.decode())

    def _new_commit(
        self,
        repo: str,
        tree: bytes,
        parents: Sequence[str],
        message: str,
        author: bytes,
        *,
        author_date: tuple[int, int] | None = None,
        commit_date: tuple[int, int] | None = None,
    ) -> str:
        """A commit made now, unless dates are given: (epoch seconds, offset
        in seconds east of UTC) for its author and its committer."""
        commit = GitCommit()
        commit.tree = tree
        commit.parents = [p.encode() for p in parents]
        commit.author = author
        commit.committer = self._user if author != self._user else author
        now = (int(self._clock()), 0)
        commit.author_time, commit.author_timezone = author_date or now
        commit.commit_time, commit.commit_timezone = commit_date or now
        commit.encoding = b"UTF-8"
        commit.message = message.encode("utf-8")
        return self._store(repo, commit)

    def _tree_with(self, repo: str, parent: str, files: Mapping[str, bytes | None]) -> bytes:
        """The parent's tree with ``files`` written or deleted."""
        git = self._git(repo)
        base_tree = self._commit(repo, parent).tree
        present = self._blobs(repo, parent, list(files))
        changes: list[tuple[bytes, int | None, bytes | None]] = []
        for path, content in files.items():
            if content is None:
                if present.get(path) is None:
                    raise ForgeError(
                        f"{repo}: cannot delete {path!r}: it does not exist", status=422
                    )
                changes.append((path.encode(), None, None))
            else:
                changes.append(
                    (
                        path.encode(),
                        self._kept_mode(repo, base_tree, path),
                        self._store(repo, Blob.from_string(content)).encode(),
                    )
                )
        try:
            tree: bytes = commit_tree_changes(git.object_store, base_tree, changes)
        except (KeyError, ValueError, TypeError) as error:
            raise ForgeError(f"{repo}: cannot build the tree: {error}", status=422) from None
        return tree

    def _kept_mode(self, repo: str, tree: bytes, path: str) -> int:
        """Rewriting an executable file keeps it executable; anything else
        (a new file, a regular one, a symlink replaced by content) is 100644."""
        try:
            mode, _ = tree_lookup_path(
                self._git(repo).object_store.__getitem__, tree, path.encode()
            )
        except (KeyError, Exception):  # absent, or under a file
            return _FILE_MODE
        return _EXECUTABLE if mode == _EXECUTABLE else _FILE_MODE

    def _blobs(self, repo: str, commit_sha: str, paths: Sequence[str]) -> dict[str, str | None]:
        """Blob shas of the paths that are files (None: anything else)."""
        return {path: e.sha for path, e in self._entries(repo, commit_sha, paths).items()}

    def _set_branch(self, repo: str, branch: str, new: str, *, expected: str | None) -> None:
        """Compare-and-swap a branch (``expected=None``: it must not exist),
        then let open pull requests from it follow."""
        refs = self._git(repo).refs
        if expected is None:
            self._check_ref_is_free(repo, _ref(branch).decode())
        try:
            if expected is None:  # "expected absent" means absent: never overwrite
                ok = refs.add_if_new(_ref(branch), new.encode())
            else:
                ok = refs.set_if_equals(_ref(branch), expected.encode(), new.encode())
        except FileLocked:
            raise _ref_locked(repo, branch) from None
        if not ok:
            raise ConflictError(
                f"{repo}: branch {branch!r} is not at {expected[:7] if expected else 'nothing'} "
                "any more (someone pushed meanwhile); nothing was changed. Run prplan again."
            )
        for row in self._db.execute(
            "SELECT number FROM pulls WHERE repo = ? AND head = ? AND state = 'open'",
            (repo, branch),
        ).fetchall():
            self._db.execute(
                "UPDATE pulls SET head_sha = ? WHERE repo = ? AND number = ?",
                (new, repo, row["number"]),
            )
            refs[f"refs/pull/{row['number']}/head".encode()] = new.encode()

    def _check_ref_is_free(self, repo: str, ref: str) -> None:
        """A new ref cannot sit under an existing ref (``heads/main/sub``
        beside ``heads/main``) or over one: on disk a ref is a file, and a
        file cannot be a directory too. git and GitHub refuse it (422)."""
        for existing in self._git(repo).refs.allkeys():
            name = existing.decode("utf-8", "replace")
            if name.startswith(ref + "/") or ref.startswith(name + "/"):
                raise ForgeError(
                    f"{repo}: cannot create {ref!r}: it clashes with the existing {name!r} "
                    "(a ref cannot be both a name and a directory of names)",
                    status=422,
                )

    def _pull(self, repo: str, number: int) -> sqlite3.Row:
        if not 0 < number <= _MAX_NUMBER:  # SQLite holds no such number: no such pull request
            raise NotFoundError(f"{repo}: no pull request #{number}")
        row = self._db.execute(
            "SELECT * FROM pulls WHERE repo = ? AND number = ?", (repo, number)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"{repo}: no pull request #{number}")
        assert isinstance(row, sqlite3.Row)
        return row

    def _info(self, row: sqlite3.Row) -> PullRequestInfo:
        return PullRequestInfo(
            number=row["number"],
            state=row["state"],
            merged=bool(row["merged"]),
            head_branch=row["head"],
            base_branch=row["base"],
            head_sha=row["head_sha"],
            title=row["title"],
            url=f"localforge://{row['repo']}/pull/{row['number']}",
            merge_sha=row["merge_sha"],
        )

    # --- ForgeClient: reads ----------------------------------------------------------

    @_counted("reads")
    def default_branch(self, repo: str) -> str:
        return self._default(repo)

    def _default(self, repo: str) -> str:
        row = self._db.execute(
            "SELECT default_branch FROM repos WHERE name = ?", (repo,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"repository {repo!r} does not exist")
        return str(row["default_branch"])

    @_counted("reads")
    def branch_sha(self, repo: str, branch: str) -> str | None:
        return self._head(repo, branch)

    @_counted("reads")
    def branch(self, repo: str, branch: str) -> Branch | None:
        sha = self._head(repo, branch)
        return None if sha is None else Branch(sha=sha, protected=False)

    @_counted("reads")
    def pull_requests_from(self, repo: str, head: str) -> list[PullRequestInfo]:
        self._git(repo)
        rows = self._db.execute(
            "SELECT * FROM pulls WHERE repo = ? AND head = ? ORDER BY number", (repo, head)
        ).fetchall()
        return [self._info(row) for row in rows]

    @_counted("reads")
    def open_pull_requests_into(self, repo: str, base: str) -> list[PullRequestInfo]:
        self._git(repo)
        rows = self._db.execute(
            "SELECT * FROM pulls WHERE repo = ? AND base = ? AND state = 'open' "
            "ORDER BY number LIMIT 100",
            (repo, base),
        ).fetchall()
        return [self._info(row) for row in rows]

    @_counted("reads")
    def pull_requests_for(self, repo: str, head: str, base: str) -> list[PullRequestInfo]:
        self._git(repo)
        rows = self._db.execute(
            "SELECT * FROM pulls WHERE repo = ? AND head = ? AND base = ? ORDER BY number",
            (repo, head, base),
        ).fetchall()
        return [self._info(row) for row in rows]

    @_counted("reads")
    def path_entries(
        self, repo: str, commit_sha: str, paths: Sequence[str]
    ) -> dict[str, PathEntry]:
        return self._entries(repo, commit_sha, paths)

    def _entries(self, repo: str, commit_sha: str, paths: Sequence[str]) -> dict[str, PathEntry]:
        store = self._git(repo).object_store
        tree = self._commit(repo, commit_sha).tree
        # Read each tree once per call: looking every path up from the root
        # would re-read shared directories once per path (quadratic).
        read = functools.lru_cache(maxsize=None)(store.__getitem__)

        @functools.cache
        def lookup(path: str) -> tuple[int, str] | None:
            try:
                mode, sha = tree_lookup_path(read, tree, path.encode())
            except (KeyError, Exception):  # absent, or a parent component is not a tree
                return None
            return int(mode), sha.decode()

        return {path: entry_for(lookup, path) for path in paths}

    @_counted("reads")
    def compare(self, repo: str, base_sha: str, head_sha: str) -> Comparison:
        return self._compare(repo, base_sha, head_sha)

    def _compare(self, repo: str, base_sha: str, head_sha: str) -> Comparison:
        git = self._git(repo)
        self._commit(repo, base_sha), self._commit(repo, head_sha)
        ahead = [
            e.commit
            for e in git.get_walker(include=[head_sha.encode()], exclude=[base_sha.encode()])
        ]
        behind = list(git.get_walker(include=[base_sha.encode()], exclude=[head_sha.encode()]))
        ahead.reverse()  # oldest first
        if not ahead and not behind:
            status = "identical"
        elif not behind:
            status = "ahead"
        elif not ahead:
            status = "behind"
        else:
            status = "diverged"
        bases = find_merge_base(git, [base_sha.encode(), head_sha.encode()])
        merge_base = bases[0].decode() if bases else None
        files: set[str] = set()
        if merge_base is not None:
            old_tree, new_tree = (
                self._commit(repo, merge_base).tree,
                self._commit(repo, head_sha).tree,
            )
            for (old_path, new_path), _, _ in git.object_store.tree_changes(old_tree, new_tree):
                files.update(p.decode("utf-8", "replace") for p in (old_path, new_path) if p)
        return Comparison(
            status=status,
            ahead_by=len(ahead),
            behind_by=len(behind),
            commits=tuple(commit_info(c) for c in ahead),
            merge_base_sha=merge_base,
            files=tuple(sorted(files)),
        )

    def read_files(
        self, repo: str, commit_sha: str, paths: Sequence[str]
    ) -> dict[str, bytes | None]:
        with self._lock:
            self._counts["reads"] += len(paths)  # one request per path, as on GitHub
            blobs = self._blobs(repo, commit_sha, paths)
            out: dict[str, bytes | None] = {}
            for path, sha in blobs.items():
                obj = None if sha is None else self._git(repo).object_store[sha.encode()]
                out[path] = bytes(obj.data) if isinstance(obj, Blob) else None
            return out

    @_counted("reads")
    def read_blob(self, repo: str, sha: str) -> bytes:
        try:
            obj = self._git(repo).object_store[sha.encode()]
        except KeyError:
            raise NotFoundError(f"{repo}: no blob {sha}") from None
        if not isinstance(obj, Blob):
            raise NotFoundError(f"{repo}: {sha} is not a blob")
        return bytes(obj.data)

    def request_count(self) -> RequestCount:
        return RequestCount(reads=self._counts["reads"], writes=self._counts["writes"])

    def write_identity(self) -> str | None:
        """``WriteIdentity``: every write of this forge's ``ForgeClient``
        side is made as ``user`` (the committer of its commits, the author
        of its pull requests)."""
        return self._user.decode("utf-8", "replace")

    # --- ForgeClient: writes ----------------------------------------------------------

    @_counted("writes")
    def create_branch(self, repo: str, branch: str, sha: str) -> None:
        self._commit(repo, sha)
        if self._head(repo, branch) is not None:
            raise ConflictError(
                f"{repo}: branch {branch!r} already exists (Reference already exists)"
            )
        self._set_branch(repo, branch, sha, expected=None)

    @_counted("writes")
    def reset_branch(self, repo: str, branch: str, sha: str, *, expected_sha: str) -> None:
        self._commit(repo, sha)
        self._set_branch(repo, branch, sha, expected=expected_sha)

    @_counted("writes")
    def commit_files(
        self,
        repo: str,
        branch: str,
        *,
        parent_sha: str,
        files: Mapping[str, bytes | None],
        message: str,
        create: bool = False,
        reset_from: str | None = None,
    ) -> str:
        expected = None if create else (reset_from or parent_sha)
        return self._commit_files(
            repo, branch, parent_sha, files, message, self._user, expected=expected, seal=True
        )

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
            raise ConflictError(
                f"{repo}: branch {branch!r} is not {where} any more (someone pushed "
                "meanwhile); nothing was committed. Run prplan again."
            )
        tree = self._tree_with(repo, parent, files)
        if seal:
            message = seal_message(message, tree.decode())
        sha = self._new_commit(repo, tree, [parent], message, author)
        self._set_branch(repo, branch, sha, expected=want)
        return sha

    @_counted("writes")
    def create_pull_request(
        self, repo: str, *, head: str, base: str, title: str, body: str
    ) -> PullRequestInfo:
        return self._info(
            self._open_pull(repo, head, base, title, body, duplicate_ok=False, author=self.login)
        )

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
    ) -> sqlite3.Row:
        head_sha, base_sha = self._head(repo, head), self._head(repo, base)
        if head_sha is None or base_sha is None:
            missing = head if head_sha is None else base
            raise ForgeError(
                f"{repo}: cannot open a pull request: branch {missing!r} does not exist", status=422
            )
        if head == base:
            raise ForgeError(f"{repo}: head and base are both {head!r}", status=422)
        if self._compare(repo, base_sha, head_sha).ahead_by == 0:
            raise ForgeError(f"{repo}: No commits between {base} and {head}", status=422)
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
            raise ConflictError(
                f"{repo}: A pull request already exists for {owner}:{head}."
            ) from None
        self._db.execute("UPDATE repos SET next_number = ? WHERE name = ?", (number + 1, repo))
        self._git(repo).refs[f"refs/pull/{number}/head".encode()] = head_sha.encode()
        return self._pull(repo, number)

    @_counted("writes")
    def merge_pull_request(
        self, repo: str, number: int, *, method: str, expected_head_sha: str
    ) -> str:
        return self._merge(repo, number, method, expected_head_sha, by=self.login)

    def _merge(
        self, repo: str, number: int, method: str, expected_head_sha: str | None, *, by: str
    ) -> str:
        row = self._pull(repo, number)
        if row["state"] != "open":
            raise MergeBlocked(number, "Pull Request is not mergeable (it is not open)")
        head_sha, base, head = row["head_sha"], row["base"], row["head"]
        if expected_head_sha is not None and head_sha != expected_head_sha:
            raise ConflictError(
                f"{repo}: Head branch was modified. Review and try the merge again. "
                f"(#{number} head is {head_sha[:7]}, expected {expected_head_sha[:7]})"
            )
        block = self._merge_blocks.get((repo, base))
        if block:
            raise MergeBlocked(number, block)
        base_sha = self._head(repo, base)
        if base_sha is None:
            raise MergeBlocked(number, f"base branch {base!r} does not exist")
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
            raise ForgeError(f"unknown merge method {method!r}", status=422)
        self._set_branch(repo, base, merge_sha, expected=base_sha)
        self._db.execute(
            "UPDATE pulls SET state = 'closed', merged = 1, merge_sha = ?, merged_at = ?, closed_at = ?, "
            "updated_at = ?, merged_by = ? WHERE repo = ? AND number = ?",
            (merge_sha, self._now(), self._now(), self._now(), by, repo, number),
        )
        return merge_sha

    def _merged_tree(self, repo: str, number: int, ours: str, theirs: str) -> bytes:
        git = self._git(repo)
        bases = find_merge_base(git, [ours.encode(), theirs.encode()])
        base_commit = self._commit(repo, bases[0].decode()) if bases else None
        tree, conflicts = self._three_way(
            repo, base_commit, self._commit(repo, ours), self._commit(repo, theirs)
        )
        if conflicts:
            paths = ", ".join(p.decode(errors="replace") for p in conflicts)
            raise MergeBlocked(number, f"Pull Request is not mergeable: merge conflict in {paths}")
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
                raise MergeBlocked(number, "This branch can't be rebased (conflicts)")
            current = self._new_commit(
                repo, tree.id, [current], commit.message.decode("utf-8", "replace"), commit.author
            )
        return current

    @_counted("writes")
    def delete_branch(self, repo: str, branch: str) -> None:
        self._delete_branch(repo, branch)

    def _delete_branch(self, repo: str, branch: str) -> None:
        if branch == self._default(repo):
            raise ForgeError(f"{repo}: the default branch {branch!r} cannot be deleted", status=422)
        head = self._head(repo, branch)
        if head is None:
            raise NotFoundError(
                f"{repo}: branch {branch!r} does not exist (Reference does not exist)"
            )
        try:
            removed = self._git(repo).refs.remove_if_equals(_ref(branch), head.encode())
        except FileLocked:
            raise _ref_locked(repo, branch) from None
        if not removed:  # cannot happen under the lock, unless git itself moved it
            raise ConflictError(f"{repo}: branch {branch!r} moved while it was being deleted")
        # GitHub closes the open pull requests whose head branch is deleted.
        self._db.execute(
            "UPDATE pulls SET state = 'closed', closed_at = ?, updated_at = ? "
            "WHERE repo = ? AND head = ? AND state = 'open'",
            (self._now(), self._now(), repo, branch),
        )

    # --- the Git Data API and friends (what the REST server exposes) ---------------------
    #
    # These mirror GitHub's endpoints one to one. They are not counted as
    # prplan's requests: the HTTP server counts requests on the wire.

    @_locked
    def git_object(self, repo: str, sha: str) -> Blob | Tree | GitCommit:
        if not _HEX_SHA.fullmatch(sha):  # a ref or revision (main, HEAD~1) names no object here
            raise NotFoundError(f"{repo}: no object {sha}")
        try:
            obj = self._git(repo).object_store[sha.encode()]
        except (KeyError, ValueError):
            raise NotFoundError(f"{repo}: no object {sha}") from None
        if not isinstance(obj, Blob | Tree | GitCommit):
            raise NotFoundError(f"{repo}: {sha} is not a blob, tree or commit")
        return obj

    @_locked
    def git_create_blob(self, repo: str, content: bytes) -> str:
        return self._store(repo, Blob.from_string(content))

    @_locked
    def git_tree_entries(self, repo: str, tree_sha: str, *, recursive: bool) -> list[TreeEntry]:
        """A tree's entries (with subtrees' entries too when ``recursive``),
        as GitHub lists them: trees and blobs, paths from the tree's root."""
        store = self._git(repo).object_store
        root = self.git_object(repo, tree_sha)
        if isinstance(root, GitCommit):
            root = self.git_object(repo, root.tree.decode())
        if not isinstance(root, Tree):
            raise NotFoundError(f"{repo}: {tree_sha} is not a tree")
        out: list[TreeEntry] = []

        def walk(tree: Tree, prefix: str) -> None:
            for entry in tree.iteritems():
                path = prefix + entry.path.decode("utf-8", "replace")
                if stat.S_ISDIR(entry.mode):
                    out.append(
                        TreeEntry(
                            path=path,
                            mode=entry.mode,
                            type="tree",
                            sha=entry.sha.decode(),
                            size=None,
                        )
                    )
                    if recursive:
                        walk(store[entry.sha], path + "/")
                elif stat.S_ISLNK(entry.mode) or stat.S_ISREG(entry.mode):
                    size = len(store[entry.sha].data)
                    out.append(
                        TreeEntry(
                            path=path,
                            mode=entry.mode,
                            type="blob",
                            sha=entry.sha.decode(),
                            size=size,
                        )
                    )
                else:  # a submodule (gitlink)
                    out.append(
                        TreeEntry(
                            path=path,
                            mode=entry.mode,
                            type="commit",
                            sha=entry.sha.decode(),
                            size=None,
                        )
                    )

        walk(root, "")
        return out

    @_locked
    def git_create_tree(
        self, repo: str, entries: Sequence[TreeInput], base_tree: str | None
    ) -> str:
        """A new tree: ``base_tree`` (or nothing) with each entry written
        (inline content, or an existing object's sha) or deleted (sha None).
        Deleting a path that is not there is an error, as on GitHub. Every
        entry is checked before anything is stored: a path git would refuse
        to check out, a mode that is not git's, content for a directory or an
        object of the wrong type is an ``InvalidRequestError`` naming each."""
        git = self._git(repo)
        problems = [p for i, entry in enumerate(entries) for p in tree_input_problems(i, entry)]
        problems += self._tree_object_problems(repo, entries, base_tree)
        if problems:
            raise InvalidRequestError(problems, what="tree")
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
                    raise ForgeError(
                        f"{repo}: cannot delete {entry.path!r}: it does not exist", status=422
                    ) from None
                changes.append((path, None, None))
        try:
            tree: bytes = commit_tree_changes(git.object_store, start, changes)
        except (KeyError, ValueError, TypeError, AssertionError):
            # dulwich asserts when a path runs through a file ('a/b' where
            # 'a' is a file, in the base tree or in the same request).
            raise ForgeError(
                f"{repo}: cannot build the tree: a path runs through a file, or two "
                "entries name the same path as a file and as a directory",
                status=422,
            ) from None
        return tree.decode()

    def _tree_object_problems(
        self, repo: str, entries: Sequence[TreeInput], base_tree: str | None
    ) -> list[Problem]:
        """The objects a new tree names exist and have the type its modes say."""
        problems = []
        if base_tree is not None and not isinstance(self._object_or_none(repo, base_tree), Tree):
            problems.append(Problem("base_tree", f"{base_tree!r} is not a tree in {repo}"))
        for index, entry in enumerate(entries):
            if entry.sha is None or entry.content is not None or entry.mode == _GITLINK:
                continue  # deletes, inline content, and submodules (commits elsewhere)
            want = Tree if entry.mode == _DIRECTORY else Blob
            if _HEX_SHA.fullmatch(entry.sha) and not isinstance(
                self._object_or_none(repo, entry.sha), want
            ):
                problems.append(
                    Problem(
                        f"tree[{index}].sha",
                        f"{entry.sha} is not a {'tree' if want is Tree else 'blob'} in {repo} "
                        f"(mode {entry.mode:06o} needs one)",
                    )
                )
        return problems

    def _object_or_none(self, repo: str, sha: str) -> Blob | Tree | GitCommit | None:
        try:
            return self.git_object(repo, sha)
        except NotFoundError:
            return None

    @_locked
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
    ) -> str:
        """A commit of ``tree``; dates are (epoch seconds, offset in seconds),
        now when not given."""
        if not isinstance(self.git_object(repo, tree), Tree):
            raise ForgeError(f"{repo}: {tree} is not a tree", status=422)
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
        )

    @_locked
    def refs(self, repo: str, prefix: str = "refs/") -> dict[str, str]:
        """Every ref under ``prefix`` (e.g. ``refs/heads/``): name -> sha."""
        return {
            name.decode(): sha.decode()
            for name, sha in self._git(repo).refs.as_dict().items()
            if name.decode().startswith(prefix) and name != b"HEAD"
        }

    @_locked
    def create_ref(self, repo: str, ref: str, sha: str) -> None:
        if not ref.startswith("refs/") or ref.count("/") < 2:
            raise ForgeError(f"{ref!r} is not a fully qualified reference", status=422)
        if ref.startswith("refs/pull/"):
            raise ForgeError(
                f"{ref!r}: refs/pull/* belongs to the forge's pull requests", status=422
            )
        # Every ref name follows git's branch name rules (check-ref-format).
        problems = branch_problems("ref", ref[len("refs/") :])
        if problems:
            raise InvalidRequestError(problems, what="reference")
        self._commit(repo, sha)
        if ref.startswith("refs/heads/"):
            if self._head(repo, ref[len("refs/heads/") :]) is not None:
                raise ForgeError("Reference already exists", status=422)
            self._set_branch(repo, ref[len("refs/heads/") :], sha, expected=None)
            return
        if ref in self.refs(repo):
            raise ForgeError("Reference already exists", status=422)
        self._check_ref_is_free(repo, ref)
        if not self._git(repo).refs.add_if_new(ref.encode(), sha.encode()):
            raise ForgeError("Reference already exists", status=422)

    @_locked
    def update_ref(self, repo: str, ref: str, sha: str, *, force: bool) -> None:
        """Move a ref; without ``force`` only a fast-forward is allowed."""
        if not ref.startswith("refs/heads/"):
            raise ForgeError(f"prplan's forge updates branches only, not {ref!r}", status=422)
        branch = ref[len("refs/heads/") :]
        current = self._head(repo, branch)
        if current is None:
            raise ForgeError("Reference does not exist", status=422)
        self._commit(repo, sha)
        if not force and self._compare(repo, current, sha).behind_by != 0:
            raise ForgeError("Update is not a fast forward", status=422)
        self._set_branch(repo, branch, sha, expected=current)

    @_locked
    def pull_row(self, repo: str, number: int) -> dict[str, Any]:
        """Everything stored about a pull request (for the REST server)."""
        return dict(self._pull(repo, number))

    @_locked
    def pull_rows(self, repo: str) -> list[dict[str, Any]]:
        self._git(repo)
        rows = self._db.execute(
            "SELECT * FROM pulls WHERE repo = ? ORDER BY number", (repo,)
        ).fetchall()
        return [dict(row) for row in rows]

    @_locked
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
            self.close_pr(repo, number)
        elif state == "open" and row["state"] != "open":
            self.reopen_pr(repo, number)
        for column, value in (("title", title), ("body", body)):
            if value is not None:
                self._db.execute(
                    f"UPDATE pulls SET {column} = ?, updated_at = ? WHERE repo = ? AND number = ?",  # column: from the fixed tuple above
                    (value, self._now(), repo, number),
                )

    @_locked
    def sync_pull_heads(self, repo: str) -> None:
        """After a push that bypassed the forge's API (git over HTTP), let
        open pull requests follow their branches again."""
        for branch, sha in self.branches(repo).items():
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

    @_locked
    def merge_base(self, repo: str, one: str, two: str) -> str | None:
        bases = find_merge_base(self._git(repo), [one.encode(), two.encode()])
        return bases[0].decode() if bases else None

    @_locked
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

    # --- what a human does (tests, the demo) ---------------------------------------------

    @_locked
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
            problems.append(Problem("executable", f"{path!r} is not one of the files"))
        if problems:
            raise InvalidRequestError(problems)
        if self._db.execute("SELECT 1 FROM repos WHERE name = ?", (repo,)).fetchone():
            raise ForgeError(f"repository {repo!r} already exists", status=422)
        if self._root is None:
            git: BaseRepo = MemoryRepo()
        else:
            location = self._root / "repos" / f"{repo}.git"
            location.parent.mkdir(parents=True, exist_ok=True)
            git = Repo.init_bare(str(location), mkdir=True)
        git.refs.set_symbolic_ref(b"HEAD", _ref(default_branch))
        self._repos[repo] = git
        self._db.execute(
            "INSERT INTO repos (name, default_branch) VALUES (?, ?)", (repo, default_branch)
        )
        empty = Tree()
        self._store(repo, empty)
        changes = [
            (
                path.encode(),
                _EXECUTABLE if path in executable else _FILE_MODE,
                self._store(repo, Blob.from_string(_bytes(c))).encode(),
            )
            for path, c in sorted((files or {}).items())
        ]
        tree = commit_tree_changes(git.object_store, empty.id, changes)
        sha = self._new_commit(repo, tree, [], message + "\n", HUMAN.encode())
        self._set_branch(repo, default_branch, sha, expected=None)
        return sha

    @_locked
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

    @_locked
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
            raise InvalidRequestError(problems)
        head = self._head(repo, branch)
        parent = head if head is not None else self._resolve(repo, self._default(repo))
        empty = Tree()
        self._store(repo, empty)
        changes = [
            (
                path.encode(),
                _EXECUTABLE if path in executable else _FILE_MODE,
                self._store(repo, Blob.from_string(content)).encode(),
            )
            for path, content in sorted(files.items())
        ]
        try:
            tree = commit_tree_changes(self._git(repo).object_store, empty.id, changes)
        except (KeyError, ValueError, TypeError, AssertionError):
            raise InvalidRequestError(
                [Problem("files", "a path runs through a file (both 'a' and 'a/b' given)")]
            ) from None
        if self._commit(repo, parent).tree == tree:
            if head is None:  # a new branch with its base's content: the branch, no commit
                self._set_branch(repo, branch, parent, expected=None)
            return None
        sha = self._new_commit(repo, tree, [parent], message.rstrip("\n") + "\n", author.encode())
        self._set_branch(repo, branch, sha, expected=head)
        return sha

    @_locked
    def set_branch(self, repo: str, branch: str, ref: str) -> None:
        """Point ``branch`` at a branch or commit (creating it), as a human's
        force-push would."""
        self._set_branch(repo, branch, self._resolve(repo, ref), expected=self._head(repo, branch))

    @_locked
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
    ) -> int:
        """Open a pull request as the forge login ``author``; returns its
        number. ``allow_duplicate`` lets a test create a second open pull
        request for the same head and base, which GitHub refuses but prplan
        must still handle if it sees it."""
        base = base or self._default(repo)
        row = self._open_pull(
            repo, head, base, title, body, duplicate_ok=allow_duplicate, author=author
        )
        return int(row["number"])

    @_locked
    def merge_pr(self, repo: str, number: int, method: str = "merge", *, by: str = "human") -> str:
        """Merge a pull request as a human (the forge login ``by``) presses the button."""
        return self._merge(repo, number, method, None, by=by)

    @_locked
    def close_pr(self, repo: str, number: int) -> None:
        row = self._pull(repo, number)
        if row["state"] == "open":
            self._db.execute(
                "UPDATE pulls SET state = 'closed', closed_at = ?, updated_at = ? WHERE repo = ? AND number = ?",
                (self._now(), self._now(), repo, number),
            )

    @_locked
    def reopen_pr(self, repo: str, number: int) -> None:
        row = self._pull(repo, number)
        if row["merged"]:
            raise ForgeError(f"{repo}: #{number} is merged and cannot be reopened", status=422)
        head_sha = self._head(repo, row["head"])
        if head_sha is None:
            raise ForgeError(
                f"{repo}: #{number} cannot be reopened: its branch is gone", status=422
            )
        try:
            self._db.execute(
                "UPDATE pulls SET state = 'open', head_sha = ?, closed_at = NULL, updated_at = ? "
                "WHERE repo = ? AND number = ?",
                (head_sha, self._now(), repo, number),
            )
        except sqlite3.IntegrityError:
            raise ConflictError(
                f"{repo}: another pull request is already open from {row['head']} into {row['base']}"
            ) from None
        self._git(repo).refs[f"refs/pull/{number}/head".encode()] = head_sha.encode()

    @_locked
    def block_merges(self, repo: str, base: str, message: str | None) -> None:
        """Make merges into ``base`` fail as branch protection would (e.g.
        ``'Required status check "ci" is expected.'``); None lifts it."""
        if message is None:
            self._merge_blocks.pop((repo, base), None)
        else:
            self._merge_blocks[(repo, base)] = message

    @_locked
    def remove_branch(self, repo: str, branch: str) -> None:
        """Delete a branch as a human would (not counted as prplan's request)."""
        self._delete_branch(repo, branch)

    @_locked
    def read_file(self, repo: str, ref: str, path: str) -> bytes | None:
        """A file's content at a branch or commit, or None if absent."""
        sha = self._blobs(repo, self._resolve(repo, ref), [path])[path]
        if sha is None:
            return None
        obj = self._git(repo).object_store[sha.encode()]
        assert isinstance(obj, Blob)
        return bytes(obj.data)

    @_locked
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

    @_locked
    def pull_requests(self, repo: str) -> list[PullRequestInfo]:
        self._git(repo)
        rows = self._db.execute(
            "SELECT * FROM pulls WHERE repo = ? ORDER BY number", (repo,)
        ).fetchall()
        return [self._info(row) for row in rows]

    @_locked
    def branches(self, repo: str) -> dict[str, str]:
        return {
            k.decode(): v.decode() for k, v in self._git(repo).refs.as_dict(b"refs/heads").items()
        }

    @_locked
    def log(self, repo: str, ref: str) -> list[CommitInfo]:
        """Commits reachable from a branch or sha, newest first."""
        git = self._git(repo)
        return [
            commit_info(e.commit)
            for e in git.get_walker(include=[self._resolve(repo, ref).encode()])
        ]

    @_locked
    def commit_parents(self, repo: str, sha: str) -> list[str]:
        return [p.decode() for p in self._commit(repo, sha).parents]

    @_locked
    def reachable(self, repo: str, sha: str) -> bool:
        """Is the commit reachable from some ref (a branch or refs/pull/N/head)?"""
        git = self._git(repo)
        heads = [
            v
            for k, v in git.refs.as_dict().items()
            if k.startswith((b"refs/heads/", b"refs/pull/"))
        ]
        return any(sha.encode() == e.commit.id for e in git.get_walker(include=heads))

    @_locked
    def repositories(self) -> list[str]:
        return [row["name"] for row in self._db.execute("SELECT name FROM repos ORDER BY name")]

    def __repr__(self) -> str:
        where = "memory" if self._root is None else str(self._root)
        return f"LocalForge({where})"


@attrs.frozen
class TreeEntry:
    path: str
    mode: int
    type: str  # blob | tree | commit
    sha: str
    size: int | None


@attrs.frozen
class TreeInput:
    """One entry of a tree to create: ``content`` (bytes) or an existing
    object's ``sha``; neither means delete the path."""

    path: str
    mode: int = _FILE_MODE
    sha: str | None = None
    content: bytes | None = None


#: The modes git (and GitHub's tree API) allow, and the object each names.
_DIRECTORY, _GITLINK, _SYMLINK = 0o040000, 0o160000, 0o120000
GIT_MODES = {_FILE_MODE: "blob", _EXECUTABLE: "blob", _SYMLINK: "blob", _DIRECTORY: "tree",
             _GITLINK: "commit"}  # fmt: skip
_HEX_SHA = re.compile(r"[0-9a-f]{40}")


def tree_path_problem(path: str) -> str | None:
    """Why git would refuse ``path`` in a tree (``git fsck``, ``verify_path``):
    an empty, ``.`` or ``..`` component (so no leading, trailing or double
    ``/``), a component some file system opens as ``.git`` (``.GIT``,
    ``.git.``, ``git~1``...: see ``_gitpaths``), a NUL, or text that is not
    UTF-8. None if it is fine. Backslashes, spaces and newlines are legal
    in git paths on the platforms the forge runs on, so they are kept."""
    if not path:
        return "is empty"
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text"
    if "\x00" in path:
        return "contains a NUL"
    parts = path.split("/")
    if any(part == "" for part in parts):
        return "has an empty component (a leading, trailing or double '/')"
    if any(part in {".", ".."} for part in parts):
        return "has a '.' or '..' component; give it relative to the tree's root, normalised"
    if any(is_dotgit(part) for part in parts):
        return (
            "has a component that a file system opens as '.git' (.git in any case, "
            "with trailing dots or spaces, git~1), which git refuses to check out"
        )
    return None


def tree_input_problems(index: int, entry: TreeInput) -> list[Problem]:
    """What is wrong with one entry of a tree to create, on its own."""
    where = f"tree[{index}]"
    problems = []
    why = tree_path_problem(entry.path)
    if why is not None:
        problems.append(Problem(f"{where}.path", f"{entry.path!r} {why}"))
    kind = GIT_MODES.get(entry.mode)
    if kind is None:
        problems.append(
            Problem(
                f"{where}.mode",
                f"{entry.mode:o} is not one of 100644, 100755, 120000, 040000, 160000",
            )
        )
    if why is None and entry.mode == _SYMLINK and is_dotgitmodules(entry.path.split("/")[-1]):
        problems.append(
            Problem(
                f"{where}.path",
                f"{entry.path!r} is .gitmodules as a symbolic link, which git refuses",
            )
        )
    if entry.content is not None and entry.sha is not None:
        problems.append(Problem(where, "give either sha or content, not both"))
    elif entry.content is not None and kind not in {None, "blob"}:
        problems.append(
            Problem(f"{where}.content", f"content makes a file; mode {entry.mode:06o} is a {kind}")
        )
    if entry.sha is not None and not _HEX_SHA.fullmatch(entry.sha):
        problems.append(Problem(f"{where}.sha", f"{entry.sha!r} is not a 40-hex object id"))
    return problems


@attrs.frozen
class ChangedFile:
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


def _bytes(content: bytes | str) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def commit_info(commit: GitCommit) -> CommitInfo:
    message = commit.message.decode("utf-8", "replace")
    author = commit.author.decode("utf-8", "replace").split(" <")[0]
    return CommitInfo.from_message(
        sha=commit.id.decode(), message=message, author=author, tree_sha=commit.tree.decode()
    )

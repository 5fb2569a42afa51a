"""Where the local forge keeps things, and the one lock every call takes.

Repositories are real git: dulwich object stores (``MemoryRepo`` in memory,
bare repositories on disk for ``LocalForge.open(path)``), so commits, trees
and blob shas are exactly what git computes. Pull requests live in SQLite
(``:memory:`` or ``forge.sqlite``), whose partial unique index enforces
GitHub's "one open pull request per head and base".

Every call runs under one lock (``_ForgeLock``): a thread lock, so the HTTP
server can share the object between threads, and for a forge on disk also an
exclusive lock on ``forge.lock`` in its directory, so several processes
(``prplan forge serve``, CLI runs with ``--local``, a person's ``git push``
through the server) can share the directory safely.

``ForgeStore`` is the base every part of ``LocalForge`` builds on (the rules
in ``rules``, then the client, Git Data and human sides): it owns the
storage and the low-level steps (read an object of a type, build a tree,
compare-and-swap a branch, read a pull request row). It is separate so that
each side reads as what it does, over one shared notion of storage, and so
that storage is the only place that knows about SQLite and dulwich's refs.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import ParamSpec, Self, TypeVar

import filelock
from dulwich.file import FileLocked
from dulwich.graph import find_merge_base
from dulwich.object_store import commit_tree_changes, tree_lookup_path
from dulwich.objects import Blob, ShaFile, Tree
from dulwich.objects import Commit as GitCommit
from dulwich.repo import BaseRepo, Repo

from prplan import errors
from prplan.core.snapshot import CommitInfo, PathEntry, PullRequestInfo, entry_for
from prplan.forges.local.identity import HUMAN
from prplan.run.port import Comparison, record_request

__all__ = ["ForgeStore", "HUMAN", "LOCK_TIMEOUT", "locked", "counted", "commit_info"]

P = ParamSpec("P")
T = TypeVar("T")
Obj = TypeVar("Obj", bound=ShaFile)

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
    ("pulls", "author"): "ALTER TABLE pulls ADD COLUMN author TEXT NOT NULL DEFAULT ''",
    ("pulls", "merged_by"): "ALTER TABLE pulls ADD COLUMN merged_by TEXT",
    ("pulls", "draft"): "ALTER TABLE pulls ADD COLUMN draft INTEGER NOT NULL DEFAULT 0",
    ("protections", "enforce_admins"): (
        "ALTER TABLE protections ADD COLUMN enforce_admins INTEGER NOT NULL DEFAULT 0"
    ),
    # the head a queue entry was enqueued at (an older entry's is unknown: NULL)
    ("merge_queue", "head_sha"): "ALTER TABLE merge_queue ADD COLUMN head_sha TEXT",
}

#: git's modes of a regular file and of an executable one.
FILE_MODE = 0o100644
EXECUTABLE = 0o100755
#: The largest pull request number SQLite can store (a signed 64-bit integer).
_MAX_NUMBER = 2**63 - 1


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
        self._owner: int | None = None
        #: the database to run a transaction on; set once it is connected
        self.db: sqlite3.Connection | None = None
        #: run by the outermost holder just before it lets go (after a call
        #: that did not fail): the forge's merge gates act on what it changed
        self.before_release: Callable[[], None] | None = None

    def __enter__(self) -> _ForgeLock:
        self._threads.acquire()
        if self._depth == 0:
            try:
                self._begin()
            except BaseException:
                self._threads.release()
                raise
        self._depth += 1
        self._owner = threading.get_ident()
        return self

    def held_here(self) -> bool:
        """Does the calling thread hold the lock?"""
        return self._depth > 0 and self._owner == threading.get_ident()

    def _begin(self) -> None:
        if self._file is not None:
            try:
                self._file.acquire()
            except filelock.Timeout:
                raise errors.ForgeError(
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

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if self._depth == 1 and exc_type is None and self.before_release is not None:
                self.before_release()
        finally:
            self._release()

    def _release(self) -> None:
        self._depth -= 1
        try:
            if self._depth == 0:
                self._owner = None
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


def locked(method: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        self = args[0]
        with self._lock:  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return wrapper


def counted(kind: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
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


def branch_ref(branch: str) -> bytes:
    return b"refs/heads/" + branch.encode()


def ref_locked(repo: str, branch: str) -> errors.ConflictError:
    """dulwich found the ref's ``.lock`` file: a git process outside this
    forge's lock (or one killed mid-write) holds the branch."""
    return errors.ConflictError(
        f"{repo}: branch {branch!r} is being written by another git process (its ref's "
        "'.lock' file exists); nothing was changed. Run prplan again; if this persists and "
        "no git process is running, remove that stale lock file from the forge directory."
    )


def _close_storage(repos: dict[str, BaseRepo], db: sqlite3.Connection) -> None:
    for git in repos.values():
        git.close()
    repos.clear()
    db.close()


class ForgeStore:
    """The forge's storage: git repositories, the pull request database, the
    lock, and the steps on them every side of ``LocalForge`` shares. Its
    parameters are ``LocalForge``'s (see there)."""

    #: more tables, created with the forge's own (the merge gates' in ``gates``)
    _EXTRA_SCHEMA = ""
    #: set when a branch or a pull request moved: the gates look again on release
    _gates_dirty = False

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
            self._db.executescript(_SCHEMA + self._EXTRA_SCHEMA)
            for (table, column), statement in _ADDED_COLUMNS.items():
                present = {r["name"] for r in self._db.execute(f"PRAGMA table_info({table})")}
                if present and column not in present:  # table: fixed names
                    self._db.execute(statement)
        self._lock.db = self._db
        self._lock.before_release = self._before_release
        # Close the git repositories and the database when the forge is
        # collected, or at interpreter exit at the latest: dulwich's packs
        # left to their own ``__del__`` during shutdown print tracebacks.
        self._finalizer = weakref.finalize(self, _close_storage, self._repos, self._db)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _before_release(self) -> None:
        """What the outermost call does last, still under the lock (``gates``)."""

    def _now(self) -> float:
        return float(self._clock())

    @property
    def root(self) -> Path | None:
        return self._root

    def consistent_reads(self) -> contextlib.AbstractContextManager[object]:
        """Hold the forge still across several calls: until the block ends, no
        other thread or process writes to it (``observe`` uses this, so one
        observation is one moment)."""
        return self._lock

    def exclusive(self) -> contextlib.AbstractContextManager[object]:
        """Be the forge's only user until the block ends: no other thread or
        process reads or writes. The git endpoint serves a push under it, so
        the push's ref updates and the pull requests that follow them are
        one step; ``git_repository`` is only handed out inside it."""
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
            raise errors.NotFoundError(f"repository {repo!r} does not exist")
        git = Repo(str(self._root / "repos" / f"{repo}.git"))
        self._repos[repo] = git
        return git

    def _branches(self, repo: str) -> dict[str, str]:
        """Every branch of ``repo``: name -> head sha."""
        return {
            k.decode(): v.decode() for k, v in self._git(repo).refs.as_dict(b"refs/heads").items()
        }

    def _head(self, repo: str, branch: str) -> str | None:
        sha = self._git(repo).refs.as_dict(b"refs/heads").get(branch.encode())
        return None if sha is None else sha.decode()

    def _object(
        self, repo: str, sha: str, kinds: tuple[type[Obj], ...], noun: str, described: str
    ) -> Obj:
        """The object ``sha`` if it is one of ``kinds``; otherwise NotFoundError
        ("no ``noun`` SHA", or "SHA is not a ``described``")."""
        try:
            obj = self._git(repo).object_store[sha.encode()]
        except KeyError:
            raise errors.NotFoundError(f"{repo}: no {noun} {sha}") from None
        if not isinstance(obj, kinds):
            raise errors.NotFoundError(f"{repo}: {sha} is not a {described}")
        return obj

    def _commit(self, repo: str, sha: str) -> GitCommit:
        return self._object(repo, sha, (GitCommit,), "commit", "commit")

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
        committer: bytes | None = None,
    ) -> str:
        """A commit made now, unless dates are given: (epoch seconds, offset
        in seconds east of UTC) for its author and its committer (the
        forge's user unless given: a GitHub App's bot commits as itself)."""
        commit = GitCommit()
        commit.tree = tree
        commit.parents = [p.encode() for p in parents]
        commit.author = author
        commit.committer = committer or (self._user if author != self._user else author)
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
                    raise errors.ForgeError(
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
            raise errors.ForgeError(f"{repo}: cannot build the tree: {error}", status=422) from None
        return tree

    def _kept_mode(self, repo: str, tree: bytes, path: str) -> int:
        """Rewriting an executable file keeps it executable; anything else
        (a new file, a regular one, a symlink replaced by content) is 100644."""
        try:
            mode, _ = tree_lookup_path(
                self._git(repo).object_store.__getitem__, tree, path.encode()
            )
        except (KeyError, Exception):  # absent, or under a file
            return FILE_MODE
        return EXECUTABLE if mode == EXECUTABLE else FILE_MODE

    def _blobs(self, repo: str, commit_sha: str, paths: Sequence[str]) -> dict[str, str | None]:
        """Blob shas of the paths that are files (None: anything else)."""
        return {path: e.sha for path, e in self._entries(repo, commit_sha, paths).items()}

    def _set_branch(self, repo: str, branch: str, new: str, *, expected: str | None) -> None:
        """Compare-and-swap a branch (``expected=None``: it must not exist),
        then let open pull requests from it follow."""
        refs = self._git(repo).refs
        if expected is None:
            self._check_ref_is_free(repo, branch_ref(branch).decode())
        try:
            if expected is None:  # "expected absent" means absent: never overwrite
                ok = refs.add_if_new(branch_ref(branch), new.encode())
            else:
                ok = refs.set_if_equals(branch_ref(branch), expected.encode(), new.encode())
        except FileLocked:
            raise ref_locked(repo, branch) from None
        self._gates_dirty = True
        if not ok:
            raise errors.ConflictError(
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
                raise errors.ForgeError(
                    f"{repo}: cannot create {ref!r}: it clashes with the existing {name!r} "
                    "(a ref cannot be both a name and a directory of names)",
                    status=422,
                )

    def _pull(self, repo: str, number: int) -> sqlite3.Row:
        if not 0 < number <= _MAX_NUMBER:  # SQLite holds no such number: no such pull request
            raise errors.NotFoundError(f"{repo}: no pull request #{number}")
        row = self._db.execute(
            "SELECT * FROM pulls WHERE repo = ? AND number = ?", (repo, number)
        ).fetchone()
        if row is None:
            raise errors.NotFoundError(f"{repo}: no pull request #{number}")
        assert isinstance(row, sqlite3.Row)
        return row

    def _pull_infos(
        self, repo: str, condition: str, *values: str, limit: int | None = None
    ) -> list[PullRequestInfo]:
        """The pull requests of ``repo`` that meet ``condition`` (SQL text
        from the forge's own code, with ``values`` for its ``?``), by number."""
        self._git(repo)
        rows = self._db.execute(
            f"SELECT * FROM pulls WHERE repo = ? {condition} ORDER BY number"
            + ("" if limit is None else f" LIMIT {int(limit)}"),
            (repo, *values),
        ).fetchall()
        return [self._info(row) for row in rows]

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

    def _default(self, repo: str) -> str:
        row = self._db.execute(
            "SELECT default_branch FROM repos WHERE name = ?", (repo,)
        ).fetchone()
        if row is None:
            raise errors.NotFoundError(f"repository {repo!r} does not exist")
        return str(row["default_branch"])

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


def commit_info(commit: GitCommit) -> CommitInfo:
    message = commit.message.decode("utf-8", "replace")
    author = commit.author.decode("utf-8", "replace").split(" <")[0]
    return CommitInfo.from_message(
        sha=commit.id.decode(), message=message, author=author, tree_sha=commit.tree.decode()
    )

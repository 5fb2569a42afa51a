"""git over HTTP: clones and pushes through dulwich's smart-HTTP server.

``git clone http://HOST:PORT/OWNER/NAME.git`` and ``git push`` reach the
forge's repositories here. A push obeys what the REST API obeys (the default
branch cannot be deleted, ``refs/pull/*`` belongs to the forge, a branch name
must be valid and point at a commit, the history must be complete) and each
ref update is a compare-and-swap. ``ForgeApp`` serves it under the forge's
lock; this module is separate because it speaks git's protocol, not REST.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from dulwich.errors import (
    ApplyDeltaError,
    ChecksumMismatch,
    GitProtocolError,
    HookError,
    ObjectFormatException,
)
from dulwich.hooks import Hook
from dulwich.objects import Commit as GitCommit
from dulwich.server import Backend, ReceivePackHandler
from dulwich.web import make_wsgi_chain

from prplan import errors
from prplan.core.names import branch_problems
from prplan.forges.local import LocalForge

__all__ = ["BAD_GIT_STREAM", "GIT_PATH", "git_app"]

#: A repository's URL path for git: /OWNER/NAME.git[/...]
GIT_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<name>[^/]+?)\.git(?P<rest>/.*)?$")


def git_app(forge: LocalForge) -> Callable[..., Iterable[bytes]]:
    """dulwich's smart-HTTP WSGI app over ``forge`` (with its request-size
    limit and gunzip filters), pushes checked by the forge's rules."""
    app: Callable[..., Iterable[bytes]] = make_wsgi_chain(
        _Repos(forge), handlers={b"git-receive-pack": _ReceivePack}
    )
    return app


class _Repos(Backend):  # type: ignore[misc]
    """dulwich's smart-HTTP backend over the forge's repositories."""

    def __init__(self, forge: LocalForge) -> None:
        self.forge = forge

    def open_repository(self, path: str | bytes) -> Any:
        # dulwich passes a str for info/refs and bytes for the service calls.
        text = path.decode("utf-8", "replace") if isinstance(path, bytes) else path
        match = GIT_PATH.match(text.rstrip("/"))
        if match is None:
            raise errors.NotFoundError(f"no repository at {text}")
        git = self.forge.git_repository(f"{match['owner']}/{match['name']}")
        if not isinstance(git.hooks.get("update"), _CompareAndSwap):
            git.hooks["update"] = _CompareAndSwap(git, git.hooks.get("update"))
        return git


_ABSENT = b"0" * 40


class _CompareAndSwap(Hook):  # type: ignore[misc]
    """git's ``update`` hook for pushes: refuse a ref update whose old sha is
    not the ref's current value. dulwich's receive-pack compares and swaps
    but answers "ok" even when the swap lost, so a push racing another writer
    (a CLI run on the forge directory) was reported accepted while the branch
    stayed where the other writer put it. It runs under the forge's lock
    (``ForgeApp._serve_git``), so the check and the write are one step."""

    def __init__(self, git: Any, then: Any) -> None:
        self._git, self._then = git, then

    def execute(self, ref: bytes, old: bytes, new: bytes) -> tuple[bytes, bytes]:
        """(stdout, stderr) for the pusher, as dulwich expects; HookError refuses."""
        try:
            current = self._git.refs[ref]
        except KeyError:
            current = _ABSENT
        if current != old:
            raise HookError(
                f"{ref.decode(errors='replace')} moved meanwhile (it is at "
                f"{current[:7].decode()}, the push expected {old[:7].decode()}); fetch and push again"
            )
        if self._then is None:
            return b"", b""
        out: tuple[bytes, bytes] = self._then.execute(ref, old, new)
        return out


_ZERO = b"0" * 40
#: What a client's broken git stream makes dulwich raise: bad pkt-lines, a
#: truncated or corrupt pack, a hang-up mid-request. Answered 400, not 500.
BAD_GIT_STREAM = (
    GitProtocolError,
    ObjectFormatException,
    ApplyDeltaError,
    ChecksumMismatch,
    zlib.error,
    EOFError,
    ValueError,
    AssertionError,
    KeyError,
    IndexError,
    OSError,
)


class _ReceivePack(ReceivePackHandler):  # type: ignore[misc]
    """dulwich's receive-pack with the forge's rules, and shallow clones.

    A push from a shallow clone (``git clone --depth 1``, CI's default) sends
    ``shallow <sha>`` lines before its ref updates, which dulwich's handler
    takes for malformed updates; they only say where the client's history
    stops, so they are skipped, and the pushed history is checked to be
    complete here instead. Each ref update then obeys what the REST API
    obeys: the default branch cannot be deleted, ``refs/pull/*`` belongs to
    the forge, a branch name must be valid and point at a commit."""

    def __init__(self, backend: _Repos, args: Sequence[Any], proto: Any, **options: Any) -> None:
        super().__init__(backend, args, proto, **options)
        self.forge = backend.forge
        path = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
        match = GIT_PATH.match(path.rstrip("/"))
        self.repo_name = f"{match['owner']}/{match['name']}" if match else ""
        read_line, commands_started = proto.read_pkt_line, False

        def without_shallow_lines() -> bytes | None:
            nonlocal commands_started
            while True:
                line: bytes | None = read_line()
                if commands_started or line is None or not line.startswith(b"shallow "):
                    commands_started = True
                    return line

        proto.read_pkt_line = without_shallow_lines

    def _on_update(self, ref_name: bytes, old_sha: bytes, new_sha: bytes) -> bytes | None:
        ref = ref_name.decode("utf-8", "replace")
        if ref.startswith("refs/pull/"):
            return b"refs/pull/* is read-only: the forge keeps each pull request's head there"
        if new_sha == _ZERO:
            if ref == f"refs/heads/{self.forge.default_branch_name(self.repo_name)}":
                return b"refusing to delete the default branch"
            return super()._on_update(ref_name, old_sha, new_sha)  # type: ignore[no-any-return]
        if ref.startswith("refs/heads/"):
            problems = branch_problems("branch", ref[len("refs/heads/") :])
            if problems:
                return problems[0].message.encode("utf-8", "replace")
            try:
                commit = self.repo.object_store[new_sha]
            except KeyError:
                return b"the pushed object is missing"
            if not isinstance(commit, GitCommit):
                return b"a branch must point at a commit"
            if old_sha == _ZERO:
                try:
                    self.forge.check_ref_is_free(self.repo_name, ref)
                except errors.ForgeError as error:
                    return str(error).encode("utf-8", "replace")
            missing = self._missing_history(new_sha)
            if missing is not None:
                return (
                    b"the history is incomplete (commit " + missing[:7] + b" is missing): "
                    b"push from a clone that shares history with the forge, or fetch more "
                    b"(git fetch --deepen)"
                )
        return super()._on_update(ref_name, old_sha, new_sha)  # type: ignore[no-any-return]

    def _missing_history(self, sha: bytes) -> bytes | None:
        """The first commit the pushed history needs that the forge lacks
        (a shallow clone can only push onto history the forge has)."""
        store = self.repo.object_store
        known = set(self.repo.get_refs().values())
        seen, todo = set(), [sha]
        while todo:
            current = todo.pop()
            if current in seen or current in known:
                continue
            seen.add(current)
            try:
                commit = store[current]
            except KeyError:
                return current
            if isinstance(commit, GitCommit):
                todo.extend(commit.parents)
        return None

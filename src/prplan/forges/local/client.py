"""The local forge as prplan's ``ForgeClient``: the reads and writes a run makes.

Each call is counted as the one GitHub request it would be (``request_count``),
so tests and benchmarks measure prplan's cost in requests without a server;
writes are made as the forge's ``user`` and its pull requests are opened and
merged as its ``login``. It is separate from the REST server's calls
(``gitdata``) and from what a test's human does (``human``), which are not
prplan's requests and are not counted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence

import attrs
from dulwich.objects import Blob

from prplan import errors
from prplan.core.gates import Check, gate_from_github
from prplan.core.snapshot import MergeArmed, PathEntry, PullRequestInfo
from prplan.forges.local.gate_side import GateSide
from prplan.forges.local.gates import GateView
from prplan.forges.local.store import counted
from prplan.run.port import Branch, Comparison, RequestCount, record_request

__all__ = ["ClientSide"]


class ClientSide(GateSide):
    """``ForgeClient``: every method one counted request (``read_files``: one per path)."""

    # --- reads ---------------------------------------------------------------------

    @counted("reads")
    def default_branch(self, repo: str) -> str:
        return self._default(repo)

    @counted("reads")
    def branch_sha(self, repo: str, branch: str) -> str | None:
        return self._head(repo, branch)

    @counted("reads")
    def branch(self, repo: str, branch: str) -> Branch | None:
        sha = self._head(repo, branch)
        if sha is None:
            return None
        # As GitHub's branches answer (and this forge's REST) says it.
        return Branch(sha=sha, protected=self.branch_protection(repo, branch) is not None)

    @counted("reads")
    def pull_requests_from(self, repo: str, head: str) -> list[PullRequestInfo]:
        infos = self._pull_infos(repo, "AND head = ?", head)
        return [self._with_auto_merge(repo, info) for info in infos]

    def _with_auto_merge(self, repo: str, info: PullRequestInfo) -> PullRequestInfo:
        """An open pull request with its auto-merge and who enabled it, as
        GitHub's pulls answer carries them (``auto_merge.enabled_by``): no
        request of its own. The merge queue: ``pull_request_gate``."""
        auto = self.auto_merge_request(repo, info.number) if info.is_open else None
        if auto is None:
            return info
        return attrs.evolve(info, armed=MergeArmed.AUTO_MERGE, armed_by=str(auto["enabled_by"]))

    @counted("reads")
    def open_pull_requests_into(self, repo: str, base: str) -> list[PullRequestInfo]:
        return self._pull_infos(repo, "AND base = ? AND state = 'open'", base, limit=100)

    @counted("reads")
    def pull_requests_for(self, repo: str, head: str, base: str) -> list[PullRequestInfo]:
        return self._pull_infos(repo, "AND head = ? AND base = ?", head, base)

    @counted("reads")
    def path_entries(
        self, repo: str, commit_sha: str, paths: Sequence[str]
    ) -> dict[str, PathEntry]:
        return self._entries(repo, commit_sha, paths)

    @counted("reads")
    def compare(self, repo: str, base_sha: str, head_sha: str) -> Comparison:
        return self._compare(repo, base_sha, head_sha)

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

    @counted("reads")
    def read_blob(self, repo: str, sha: str) -> bytes:
        return bytes(self._object(repo, sha, (Blob,), "blob", "blob").data)

    @counted("reads")
    def pull_request_gate(self, repo: str, number: int) -> PullRequestInfo:
        """``ForgeClient.pull_request_gate``: the pull request with its gate,
        read from ``gate_view`` through ``gate_from_github``, as GitHub's
        words would be (``gate_view`` is the forge's own view of it)."""
        info = self._info(self._pull(repo, number))
        if not info.is_open:
            return info
        view = self.gate_view(repo, number)
        gate, failing, pending = gate_from_github(
            view.merge_state_status,
            view.review_decision,
            view.is_draft,
            [Check(name=c.name, state=c.state.upper(), required=c.required) for c in view.checks],
        )
        armed, by = MergeArmed.NONE, None
        if view.queued:
            armed, by = MergeArmed.QUEUED, (self.queue_entry(repo, number) or {}).get("enqueued_by")
        elif view.auto_merge_method:
            auto = self.auto_merge_request(repo, number) or {}
            armed, by = MergeArmed.AUTO_MERGE, auto.get("enabled_by")
        return attrs.evolve(
            info, gate=gate, failing_checks=failing, pending_checks=pending, armed=armed,
            armed_by=None if by is None else str(by),
        )  # fmt: skip

    def request_count(self) -> RequestCount:
        return RequestCount(reads=self._counts["reads"], writes=self._counts["writes"])

    def viewer_login(self) -> str | None:
        """The login this forge's ``ForgeClient`` side acts as: its pull
        requests, merges and armings are made as ``login``."""
        return self.login

    def write_identity(self) -> str | None:
        """``WriteIdentity``: every write of this forge's ``ForgeClient``
        side is made as ``user`` (the committer of its commits, the author
        of its pull requests)."""
        return self._user.decode("utf-8", "replace")

    # --- writes ----------------------------------------------------------------------

    @counted("writes")
    def create_branch(self, repo: str, branch: str, sha: str) -> None:
        self._commit(repo, sha)
        if self._head(repo, branch) is not None:
            raise errors.ConflictError(
                f"{repo}: branch {branch!r} already exists (Reference already exists)"
            )
        self._set_branch(repo, branch, sha, expected=None)

    @counted("writes")
    def reset_branch(self, repo: str, branch: str, sha: str, *, expected_sha: str) -> None:
        self._commit(repo, sha)
        self._set_branch(repo, branch, sha, expected=expected_sha)

    @counted("writes")
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
        author: str | None = None,
    ) -> str:
        expected = None if create else (reset_from or parent_sha)
        who = self._user if author is None else author.encode()  # committed by ``user``
        return self._commit_files(
            repo, branch, parent_sha, files, message, who, expected=expected, seal=True
        )

    @counted("writes")
    def create_pull_request(
        self, repo: str, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> PullRequestInfo:
        return self._info(
            self._open_pull(
                repo, head, base, title, body, duplicate_ok=False, author=self.login, draft=draft
            )
        )

    @counted("writes")
    def merge_pull_request(
        self, repo: str, number: int, *, method: str, expected_head_sha: str
    ) -> str:
        return self._merge(repo, number, method, expected_head_sha, by=self.login)

    @counted("writes")
    def delete_branch(self, repo: str, branch: str, *, expected_sha: str | None = None) -> None:
        self._delete_branch(repo, branch, expected_sha=expected_sha)

    # --- auto-merge and the merge queue --------------------------------------------
    # ``GateSide`` has these names for people and the servers (positional
    # ``expected_head``, ``by``); called with ``expected_head_sha``, they are
    # ``ForgeClient``'s: one counted write as prplan's login, and a refusal
    # because of the gate is ``MergeBlocked``.

    def enable_auto_merge(
        self,
        repo: str,
        number: int,
        method: str = "merge",
        expected_head: str | None = None,
        *,
        by: str | None = None,
        expected_head_sha: str | None = None,
    ) -> GateView:
        if expected_head_sha is None:
            return super().enable_auto_merge(repo, number, method, expected_head, by=by)
        with self._lock, _gate_refusal(number):
            self._counts["writes"] += 1
            record_request("writes")
            return super().enable_auto_merge(
                repo, number, str(method), expected_head_sha, by=self.login
            )

    @counted("writes")
    def disarm_merge(self, repo: str, number: int, *, armed: MergeArmed) -> None:
        """``ForgeClient.disarm_merge``: GitHub's ``dequeuePullRequest`` for a
        queued pull request, else ``disablePullRequestAutoMerge``."""
        if armed is MergeArmed.QUEUED:
            self.dequeue(repo, number)
        else:
            self.disable_auto_merge(repo, number)

    def enqueue(
        self,
        repo: str,
        number: int,
        expected_head: str | None = None,
        *,
        by: str | None = None,
        expected_head_sha: str | None = None,
    ) -> int:
        if expected_head_sha is None:
            return super().enqueue(repo, number, expected_head, by=by)
        with self._lock, _gate_refusal(number):
            self._counts["writes"] += 1
            record_request("writes")
            return super().enqueue(repo, number, expected_head_sha, by=self.login)


#: The local forge's refusals (GitHub's words) that are about the gate.
_GATE_WORDS = ("status", "approving review", "Changes were requested")


@contextlib.contextmanager
def _gate_refusal(number: int) -> Iterator[None]:
    """A 422 refusal about the pull request's gate as ``MergeBlocked``
    (the repository's settings stay ``ForgeError``; "it can merge now"
    stays ``MergeableNow``)."""
    try:
        yield
    except (errors.NotFoundError, errors.MergeableNow):
        raise
    except errors.ForgeError as error:
        if error.status == 422 and any(word in str(error) for word in _GATE_WORDS):
            raise errors.MergeBlocked(number, str(error)) from None
        raise

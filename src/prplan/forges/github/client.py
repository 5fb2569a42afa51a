"""``GitHubClient``: the ``ForgeClient`` protocol over PyGithub.

Works with github.com, GitHub Enterprise (``base_url=https://HOST/api/v3``)
and ``prplan forge serve`` (``http://127.0.0.1:PORT/api/v3``).

Cost, in requests (see docs/github.md):
* observe: repository (1, only when base is not named), base ref (1), base
  tree (1), branch ref (1), pull requests (1 per 100); when the branch exists
  and differs from base: its tree (1) and a comparison (1); with an open pull
  request behind base: the merge base's tree (1). Never per file.
* a commit: tree (1) + commit (1) + ref (1), plus one blob per binary file;
  creating or resetting the branch rides on the same ref write. Rewriting
  files read as edits reads the parent's tree first (1), for their modes.
* open, merge, delete: 1 each.

Retries: a connection that cannot be made (refused, no route, unknown host)
is tried again ``connect_retries`` times (3) after 0.5, 1 and 2 s, then fails
naming the host: at most 3.5 s of waiting, for any method, since nothing was
sent. PyGithub's ``GithubRetry`` retries GET, POST, PUT and DELETE on 5xx,
honours ``Retry-After`` on 403/429 and waits for the primary rate limit's
reset (capped by ``max_rate_limit_wait``), with exponential backoff. It never
retries PATCH, so a ref update whose answer was lost is resolved by reading
the ref back. A POST retried after it succeeded answers 422 "already exists":
the client then reads back and adopts what it finds when it is what it asked
for. Writes are spaced (``write_spacing``, 1 s by default except on a
loopback address) as GitHub asks of integrations.

How requests are sent, counted, retried, spaced and fail: ``transport.py``;
the token's origin: ``auth.py``; writes over GraphQL: ``graphql_writes.py``.

Tokens: the token lives only in PyGithub's ``Auth.Token``. Errors are built
from status codes and GitHub's ``message`` only, and scrubbed of the token
anyway, in every encoding a message can carry it (``scrub_secret``);
``repr`` never shows it. Surrounding whitespace (a trailing newline from an
env file or a Kubernetes secret) is stripped with a warning naming where the
token came from, never its value; a token with whitespace or control
characters inside is refused.
"""

from __future__ import annotations

import base64
import functools
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import quote

import github
import requests
from github import GithubException, InputGitTreeElement
from github.GitCommit import GitCommit
from github.GitTree import GitTree
from github.PullRequest import PullRequest
from github.Repository import Repository

from prplan.core.snapshot import (
    CommitInfo,
    PathEntry,
    PathKind,
    PullRequestInfo,
    entry_for,
    seal_message,
)
from prplan.errors import ConflictError
from prplan.forges.github.answers import (
    base_was_modified,
    merge_tries,
    person,
    pull_request_info,
    raise_blocked,
)
from prplan.forges.github.app_auth import ClientConstructors
from prplan.forges.github.auth import clean_token
from prplan.forges.github.gates import GateMethods
from prplan.forges.github.graphql_reads import GraphQLObserving, GraphQLReads, prefetched
from prplan.forges.github.graphql_writes import GraphQLWrites, transport_name
from prplan.forges.github.metadata import MetadataMethods
from prplan.forges.github.pull_text import PullTextMethods, WriterMethods, git_author
from prplan.forges.github.transport import Transport, api_url, github_message
from prplan.run.port import Branch, Comparison, RequestCount

__all__ = ["GitHubClient", "DEFAULT_API_URL"]

DEFAULT_API_URL = "https://api.github.com"
_FILE_MODE = "100644"
_EXECUTABLE = "100755"
#: GitHub's compare endpoint lists at most this many files.
_COMPARE_FILES_LIMIT = 300


class GitHubClient(
    GraphQLObserving,
    GateMethods,
    ClientConstructors,
    MetadataMethods,
    PullTextMethods,
    WriterMethods,
):
    """A ``ForgeClient`` for GitHub through PyGithub.

    ``token``: a personal access token, app installation token or
    ``GITHUB_TOKEN`` (None: unauthenticated, for a local forge without
    ``--token``); ``from_env`` and ``from_app`` (a GitHub App, its tokens
    refreshed): ``app_auth.py``. ``base_url``: None for github.com. ``write_spacing``:
    seconds between writes (None: 1 s, or 0 on a loopback address).
    ``retries``/``backoff``: the retry policy for transient failures.
    ``connect_retries``/``connect_backoff``: a connection that cannot be
    made is tried again this many times (within ``retries``), after
    ``connect_backoff * 2**(n-1)`` s each (3 and 0.5: 3.5 s in all).
    ``max_rate_limit_wait``: the longest it will sleep for a rate limit
    before failing with a ForgeError that says so. ``transport``:
    "graphql" (the default: observes through one query, ``graphql_reads``;
    writes as ``graphql_writes`` says, REST where GraphQL cannot) or "rest"
    (the REST Git Data API throughout).
    """

    def __init__(
        self,
        token: str | None = None,
        base_url: str | None = None,
        *,
        write_spacing: float | None = None,
        timeout: int = 15,
        retries: int = 5,
        backoff: float = 0.5,
        max_rate_limit_wait: int = 300,
        connect_retries: int = 3,
        connect_backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        transport: str = "graphql",
    ) -> None:
        self.base_url = api_url(base_url or DEFAULT_API_URL)
        token = clean_token(token, "token") if token else None
        self._http = Transport(
            self.base_url, token, write_spacing=write_spacing, sleep=sleep,
            settings={
                "timeout": timeout, "retries": retries, "backoff": backoff,
                "max_rate_limit_wait": max_rate_limit_wait, "connect_retries": connect_retries,
                "connect_backoff": connect_backoff,
            },
        )  # fmt: skip
        # Learnt while reading, used when committing: (repo, commit) -> tree,
        # and the requested paths seen as executable (repo, commit, path).
        # Files read through the contents API (edits), whose mode that API
        # does not tell, learn it from the tree when a commit rewrites them.
        self._tree_of: dict[tuple[str, str], str] = {}
        self._executable: set[tuple[str, str, str]] = set()
        self._made: dict[tuple[str, str], str] = {}  # (repo, branch) -> prplan's last head
        self.transport = transport_name(transport)
        graphql = transport == "graphql"
        self._reads = GraphQLReads(self._http, self._tree_of, self._executable) if graphql else None
        self._graphql = GraphQLWrites(self._http, self) if graphql else None
        if self._reads is not None and self._graphql is not None:
            writes = self._graphql  # what observe read, a commit need not read again
            self._reads.on_directories = lambda repo, rid, commit, listings: writes.learn(
                repo, repository_id=rid, commit=commit, directories=listings
            )

    def __repr__(self) -> str:
        shown, token = self._http.shown_url, "set" if self._http.token else "none"
        return f"GitHubClient(base_url={shown!r}, token={token})"

    def request_count(self) -> RequestCount:
        return self._http.request_count()

    # --- reads ------------------------------------------------------------------------

    @prefetched
    def default_branch(self, repo: str) -> str:
        with self._http.errors(f"reading repository {repo}"):
            return str(self._http.repo(repo).default_branch)

    def branch_sha(self, repo: str, branch: str) -> str | None:
        found = self.branch(repo, branch)
        return None if found is None else found.sha

    @prefetched
    def branch(self, repo: str, branch: str) -> Branch | None:
        # The branches endpoint answers the head commit *and* its tree in one
        # request; the tree is what a commit on this head needs as base_tree,
        # so committing later costs no extra read.
        with self._http.errors(f"reading branch {branch} of {repo}"):
            try:
                _, data = self._http.raw("GET", f"/repos/{repo}/branches/{quote(branch)}")
            except github.UnknownObjectException:
                return None
            sha = str(data["commit"]["sha"])
            tree = (data["commit"].get("commit") or {}).get("tree") or {}
            protected = data.get("protected") is True
        if tree.get("sha"):
            self._tree_of[(repo, sha)] = str(tree["sha"])
        return self._branch_seen(repo, branch, Branch(sha=sha, protected=protected))

    @prefetched
    def pull_requests_from(self, repo: str, head: str) -> list[PullRequestInfo]:
        owner = repo.split("/")[0]
        with self._http.errors(f"listing pull requests of {repo}"):
            pulls = self._http.repo(repo).get_pulls(state="all", head=f"{owner}:{head}")
            # GitHub filters by head owner and branch; a server that ignored
            # the filter (or a fork's branch of the same name) must not make
            # prplan count a stranger's pull request as using the branch.
            out = [pull_request_info(pr) for pr in pulls if pr.head.label == f"{owner}:{head}"]
        return sorted(out, key=lambda p: p.number)

    @prefetched
    def open_pull_requests_into(self, repo: str, base: str) -> list[PullRequestInfo]:
        with self._http.errors(f"listing pull requests into {base} of {repo}"):
            pulls = self._http.repo(repo).get_pulls(state="open", base=base)
            # The first page (100) tells whether the branch is in use.
            out = [pull_request_info(pr) for pr in itertools.islice(pulls, 100)]
        return sorted(
            (p for p in out if p.base_branch == base and p.is_open), key=lambda p: p.number
        )

    @prefetched
    def pull_requests_for(self, repo: str, head: str, base: str) -> list[PullRequestInfo]:
        owner = repo.split("/")[0]
        with self._http.errors(f"listing pull requests of {repo}"):
            pulls = self._http.repo(repo).get_pulls(state="all", head=f"{owner}:{head}", base=base)
            # merged_at tells merged from closed without a request per pull request (_info).
            out = [pull_request_info(pr) for pr in pulls]
        # GitHub filters by head and base; a server that ignored the filter
        # must not make prplan adopt a stranger's pull request.
        return sorted(
            (p for p in out if p.head_branch == head and p.base_branch == base),
            key=lambda p: p.number,
        )

    @prefetched
    def path_entries(
        self, repo: str, commit_sha: str, paths: Sequence[str]
    ) -> dict[str, PathEntry]:
        with self._http.errors(f"reading the tree of {commit_sha[:7]} in {repo}"):
            tree = self._http.repo(repo).get_git_tree(commit_sha, recursive=True)
            self._tree_of[(repo, commit_sha)] = tree.sha
            listed = {entry.path: (int(entry.mode, 8), entry.sha) for entry in tree.tree}
            lookup: Callable[[str], tuple[int, str] | None] = listed.get
            if tree.truncated:  # over 100,000 entries: walk down to each path instead
                lookup = self._walker(repo, tree.sha)
            entries = {path: entry_for(lookup, path) for path in paths}
        for path, entry in entries.items():
            # Rewriting an executable keeps it executable.
            if entry.kind is PathKind.EXECUTABLE:
                self._executable.add((repo, commit_sha, path))
        return entries

    def _walker(self, repo: str, root: str) -> Callable[[str], tuple[int, str] | None]:
        """A lookup that reads only the directories on the way to a path (one
        request per directory), for trees too large to list at once."""

        @functools.cache
        def listing(tree_sha: str) -> dict[str, tuple[int, str]]:
            tree = self._http.repo(repo).get_git_tree(tree_sha, recursive=False)
            return {e.path: (int(e.mode, 8), e.sha) for e in tree.tree}

        @functools.cache
        def lookup(path: str) -> tuple[int, str] | None:
            parent, _, name = path.rpartition("/")
            if not parent:
                return listing(root).get(name)
            above = lookup(parent)
            if above is None or above[0] != 0o040000:
                return None
            return listing(above[1]).get(name)

        return lookup

    @prefetched
    def compare(self, repo: str, base_sha: str, head_sha: str) -> Comparison:
        # One raw request: PyGithub's lazy Comparison would fetch it twice
        # (once for its fields, once more for its list of commits).
        with self._http.errors(f"comparing {base_sha[:7]}...{head_sha[:7]} in {repo}"):
            _, data = self._http.raw("GET", f"/repos/{repo}/compare/{base_sha}...{head_sha}")
            commits = tuple(
                CommitInfo.from_message(
                    sha=c["sha"],
                    message=c["commit"]["message"],
                    author=(c["commit"].get("author") or {}).get("name") or "",
                    tree_sha=((c["commit"].get("tree") or {}).get("sha")) or "",
                )
                for c in data.get("commits", [])
            )
            listed = data.get("files") or []
            files = {f["filename"] for f in listed} | {
                f["previous_filename"] for f in listed if f.get("previous_filename")
            }
            merge_base = data.get("merge_base_commit") or {}
            return Comparison(
                status=data["status"],
                ahead_by=data["ahead_by"],
                behind_by=data["behind_by"],
                commits=commits,
                # GitHub lists at most 250 commits; beyond, prplan cannot vouch for the rest.
                complete=len(commits) >= data["ahead_by"],
                merge_base_sha=merge_base.get("sha"),
                files=tuple(sorted(files)),
                # GitHub lists at most 300 files of a comparison.
                files_complete=len(listed) < _COMPARE_FILES_LIMIT,
            )

    @prefetched
    def read_files(
        self, repo: str, commit_sha: str, paths: Sequence[str]
    ) -> dict[str, bytes | None]:
        out: dict[str, bytes | None] = {}
        for path in paths:
            with self._http.errors(f"reading {path} at {commit_sha[:7]} in {repo}"):
                try:
                    _, data = self._http.raw(
                        "GET", f"/repos/{repo}/contents/{quote(path)}?ref={commit_sha}"
                    )
                except github.UnknownObjectException:
                    out[path] = None
                    continue
            if not isinstance(data, dict) or data.get("type") != "file":
                out[path] = None  # a directory is not a file to edit
                continue
            if data.get("encoding") == "base64" and data.get("content") is not None:
                out[path] = base64.b64decode(data["content"])
            else:  # over 1 MB GitHub sends no content: read the blob
                out[path] = self.read_blob(repo, str(data["sha"]))
        return out

    def read_blob(self, repo: str, sha: str) -> bytes:
        with self._http.errors(f"reading blob {sha[:7]} of {repo}"):
            blob = self._http.repo(repo).get_git_blob(sha)
            return base64.b64decode(blob.content)

    # --- writes -----------------------------------------------------------------------

    def _ref_sha(self, repo: str, branch: str) -> str | None:
        return self.branch_sha(repo, branch)

    def create_branch(self, repo: str, branch: str, sha: str) -> None:
        if self._graphql is not None:
            return self._graphql.create_branch(repo, branch, sha)
        self._http.space_writes()
        with self._http.errors(f"creating branch {branch} in {repo}"):
            try:
                self._http.raw(
                    "POST", f"/repos/{repo}/git/refs", {"ref": f"refs/heads/{branch}", "sha": sha}
                )
            except GithubException as error:
                if error.status == 422 and "already exists" in github_message(error):
                    # A retried POST that had succeeded, or someone else's branch?
                    if self._ref_sha(repo, branch) == sha:
                        return
                    raise ConflictError(
                        f"{repo}: branch {branch!r} already exists (someone created it)"
                    ) from None
                raise

    def reset_branch(self, repo: str, branch: str, sha: str, *, expected_sha: str) -> None:
        if self._graphql is not None:
            return self._graphql.reset_branch(repo, branch, sha, expected_sha=expected_sha)
        current = self._ref_sha(repo, branch)
        if current != expected_sha:
            raise ConflictError(
                f"{repo}: branch {branch!r} is not at {expected_sha[:7]} any more (someone pushed "
                "meanwhile); nothing was changed. Run prplan again."
            )
        self._move_ref(repo, branch, sha, force=True, was=current)

    def _move_ref(self, repo: str, branch: str, sha: str, *, force: bool, was: str | None) -> None:
        """PATCH a branch. REST has no expected-old-sha, so: fast-forward only
        unless forced, and when the answer is lost (PATCH is never retried),
        read the branch back to learn what happened."""
        self._http.space_writes()
        path = f"/repos/{repo}/git/refs/heads/{quote(branch)}"
        if force and was is not None:
            # A forced update cannot name the old sha (REST has no
            # compare-and-swap for it): check right before it, after the
            # write spacing, so the window is one round trip, not seconds.
            self._expect_at(repo, branch, was)
        with self._http.errors(f"updating branch {branch} of {repo}"):
            try:
                self._http.raw("PATCH", path, {"sha": sha, "force": force})
                return
            except GithubException as error:
                if error.status == 422 and "fast forward" in github_message(error).lower():
                    raise ConflictError(
                        f"{repo}: branch {branch!r} moved while prplan was committing (not a fast "
                        "forward); nothing was changed. Run prplan again."
                    ) from None
                if error.status < 500:
                    raise
                failure: Exception = error
            except requests.exceptions.RequestException as error:
                failure = error
            now = self._ref_sha(repo, branch)
            if now == sha:
                return  # it went through; only the answer was lost
            if now == was:
                self._http.raw("PATCH", path, {"sha": sha, "force": force})  # it did not: once more
                return
            raise ConflictError(
                f"{repo}: branch {branch!r} moved elsewhere while prplan updated it ({type(failure).__name__}); "
                "nothing of prplan's is on it. Run prplan again."
            )

    def _expect_at(self, repo: str, branch: str, sha: str) -> None:
        if self._ref_sha(repo, branch) != sha:
            raise ConflictError(
                f"{repo}: branch {branch!r} is not at {sha[:7]} any more (someone pushed "
                "meanwhile); nothing was changed. Run prplan again."
            )

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
    ) -> str:  # a custom author: REST (GraphQL's commit cannot name one)
        if author is None and self._graphql is not None and (made := self._graphql.commit_files(
            repo, branch, parent_sha=parent_sha, files=files, message=message, create=create,
            reset_from=reset_from)) is not None:  # fmt: skip
            return made  # else GraphQL cannot make it as meant (a mode, a size): REST does
        if reset_from is not None and self._ref_sha(repo, branch) != reset_from:
            raise ConflictError(
                f"{repo}: branch {branch!r} is not at {reset_from[:7]} any more (someone pushed "
                "meanwhile); nothing was committed. Run prplan again."
            )
        github_repo = self._http.repo(repo)
        with self._http.errors(f"committing {len(files)} file(s) to {branch} in {repo}"):
            elements = self._tree_elements(github_repo, repo, parent_sha, files)
            base_tree = GitTree(
                github_repo.requester,
                attributes={"sha": self._tree(repo, parent_sha)},
                completed=True,
            )
            self._http.space_writes()
            tree = github_repo.create_git_tree(elements, base_tree=base_tree)
            parent = GitCommit(
                github_repo.requester, attributes={"sha": parent_sha}, completed=True
            )
            self._http.space_writes()
            # The tree is known before the commit exists: seal the message with it.
            sealed = seal_message(message, str(tree.sha))
            commit = github_repo.create_git_commit(sealed, tree, [parent], **git_author(author))
            new_sha = str(commit.sha)
            self._answered_by(person(commit.raw_data.get("committer")))
        if create:
            self.create_branch(repo, branch, new_sha)
        else:
            self._move_ref(
                repo, branch, new_sha, force=reset_from is not None, was=reset_from or parent_sha
            )
        self._made[(repo, branch)] = new_sha
        return new_sha

    def _tree_elements(
        self,
        github_repo: Repository,
        repo: str,
        parent_sha: str,
        files: Mapping[str, bytes | None],
    ) -> list[InputGitTreeElement]:
        """The new tree's entries: text inline, binary as a blob written
        first (one request each), a deletion as no sha; an executable that
        is rewritten stays executable."""

        def mode(path: str) -> str:
            return _EXECUTABLE if (repo, parent_sha, path) in self._executable else _FILE_MODE

        elements = []
        for path, content in files.items():
            if content is None:
                elements.append(InputGitTreeElement(path, _FILE_MODE, "blob", sha=None))
                continue
            try:
                text = content.decode("utf-8")
            except UnicodeDecodeError:
                self._http.space_writes()
                blob = github_repo.create_git_blob(
                    base64.b64encode(content).decode("ascii"), "base64"
                )
                elements.append(InputGitTreeElement(path, mode(path), "blob", sha=blob.sha))
                continue
            elements.append(InputGitTreeElement(path, mode(path), "blob", content=text))
        return elements

    def _tree(self, repo: str, commit_sha: str) -> str:
        """The tree of a commit: known from observing (no request), else read."""
        known = self._tree_of.get((repo, commit_sha))
        if known is None:
            _, data = self._http.raw("GET", f"/repos/{repo}/git/commits/{commit_sha}")
            known = str(data["tree"]["sha"])
            self._tree_of[(repo, commit_sha)] = known
        return known

    def create_pull_request(
        self, repo: str, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> PullRequestInfo:
        if self._graphql is not None:
            return self._graphql.create_pull_request(
                repo, head=head, base=base, title=title, body=body, draft=draft
            )
        self._http.space_writes()
        self._answered_by(None)
        with self._http.errors(f"opening a pull request {head} -> {base} in {repo}"):
            try:
                pr = self._http.repo(repo).create_pull(
                    base, head, title=title, body=body, draft=draft
                )
            except GithubException as error:
                if error.status == 422 and "already exists" in github_message(error):
                    # The answer that named the author was lost: none is claimed.
                    return self._adopt_pull(repo, head, base, title)
                raise
            self._answered_by((pr.raw_data.get("user") or {}).get("login"))
            return pull_request_info(pr)

    def _answered_by(self, identity: str | None) -> None:
        self._http.local.identity = identity

    def write_identity(self) -> str | None:
        """``WriteIdentity``: the committer of this thread's last commit, or
        the author of its last pull request, from GitHub's answer."""
        identity: str | None = getattr(self._http.local, "identity", None)
        return identity

    def _adopt_pull(self, repo: str, head: str, base: str, title: str) -> PullRequestInfo:
        """After 422 "already exists": a retried POST that had succeeded
        leaves exactly our pull request open (same title, head at the
        branch); anything else is someone else's, and a conflict."""
        head_sha = self._ref_sha(repo, head)
        open_prs = [p for p in self.pull_requests_for(repo, head, base) if p.is_open]
        if len(open_prs) == 1 and open_prs[0].title == title and open_prs[0].head_sha == head_sha:
            return open_prs[0]
        numbers = ", ".join(f"#{p.number}" for p in open_prs)
        raise ConflictError(
            f"{repo}: a pull request from {head} into {base} is already open ({numbers})"
        )

    def merge_pull_request(
        self, repo: str, number: int, *, method: str, expected_head_sha: str
    ) -> str:
        if self._graphql is not None and (merged := self._graphql.merge_pull_request(
            repo, number, method=method, expected_head_sha=expected_head_sha)) is not None:  # fmt: skip
            return merged
        pr = PullRequest(
            self._http.repo(repo).requester,
            url=f"{self.base_url}/repos/{repo}/pulls/{number}",
            completed=False,
        )
        for last in merge_tries(self._http.sleep):
            self._http.space_writes()
            with self._http.errors(f"merging pull request #{number} of {repo}"):
                try:
                    status = pr.merge(merge_method=method, sha=expected_head_sha)
                    return str(status.sha)
                except GithubException as error:
                    message = github_message(error)
                    if error.status == 409:
                        raise ConflictError(
                            f"{repo}: #{number}: {self._http.scrub(message)} (its head is no longer the reviewed "
                            f"{expected_head_sha[:7]}); nothing was merged. Run prplan again."
                        ) from None
                    if error.status == 405 and base_was_modified(message) and not last:
                        continue  # transient on GitHub: try again
                    if error.status == 405:
                        merged = self._merged_sha(repo, number, expected_head_sha)
                        if merged is not None:
                            return merged  # a retried PUT: our first attempt had merged it
                        raise_blocked(number, self._http.scrub(message))
                    raise
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _merged_sha(self, repo: str, number: int, head_sha: str) -> str | None:
        _, data = self._http.raw("GET", f"/repos/{repo}/pulls/{number}")
        if data.get("merged") and data.get("head", {}).get("sha") == head_sha:
            return str(data["merge_commit_sha"])
        return None

    def delete_branch(self, repo: str, branch: str, *, expected_sha: str | None = None) -> None:
        if self._graphql is not None:
            return self._graphql.delete_branch(repo, branch, expected_sha=expected_sha)
        made = expected_sha or self._made.pop((repo, branch), None)
        # REST's DELETE names no sha: read first, so a push since prplan's commit stays.
        if made is not None and (now := self._ref_sha(repo, branch)) not in (None, made):
            raise ConflictError(
                f"{repo}: branch {branch!r} is at {now[:7]}, not at prplan's {made[:7]} "
                "(someone pushed since); it was not deleted."
            )
        self._http.space_writes()
        with self._http.errors(f"deleting branch {branch} of {repo}"):
            try:
                self._http.raw("DELETE", f"/repos/{repo}/git/refs/heads/{quote(branch)}")
            except GithubException as error:
                if error.status == 422 and self._ref_sha(repo, branch) is None:
                    return  # a retried DELETE that had succeeded
                raise

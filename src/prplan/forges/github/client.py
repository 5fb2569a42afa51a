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
import ipaddress
import itertools
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn
from urllib.parse import quote, unquote, urlparse

import github
import requests
import urllib3.exceptions
from github import Auth, Github, GithubException, GithubRetry, InputGitTreeElement
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
from prplan.errors import (
    ConflictError,
    ForgeError,
    InvalidRequestError,
    MergeBlocked,
    NotFoundError,
    Problem,
    mask_url_credentials,
    scrub_secret,
)
from prplan.run.port import Branch, Comparison, RequestCount, record_request

__all__ = ["GitHubClient", "DEFAULT_API_URL", "TOKEN_VARIABLES", "TokenWarning", "token_from_env"]

DEFAULT_API_URL = "https://api.github.com"
#: Where ``GitHubClient.from_env`` and the command look for a token, in order.
TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")
_READS = {"GET", "HEAD"}
_FILE_MODE = "100644"
_EXECUTABLE = "100755"
#: GitHub's compare endpoint lists at most this many files.
_COMPARE_FILES_LIMIT = 300

# PyGithub logs every retry at INFO on its own stderr handler; prplan reports
# through its outcome instead.
github.set_log_level(logging.WARNING)


class _Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reads = 0
        self.writes = 0

    def record(self, verb: str | None) -> None:
        with self._lock:
            if (verb or "GET").upper() in _READS:
                self.reads += 1
                record_request("reads")
            else:
                self.writes += 1
                record_request("writes")


class _CountingRetry(GithubRetry):
    """GithubRetry that counts every attempt it decides to send again (the
    first attempts are counted where PyGithub sends them), and waits its own
    bounded backoff after a connection that could not be made."""

    counter: _Counter | None = None
    #: After the n-th connection failure in a row: connect_backoff * 2**(n-1) seconds.
    connect_backoff: float = 0.5
    pause: Callable[[float], None] = time.sleep

    def new(self, **kw: Any) -> _CountingRetry:
        retry: _CountingRetry = super().new(**kw)  # urllib3 copies the policy at each step
        retry.counter = self.counter
        retry.connect_backoff = self.connect_backoff
        retry.pause = self.pause
        return retry

    def _connect_failures(self) -> int:
        """How many of the latest attempts, in a row, could not connect."""
        count = 0
        for attempt in reversed(self.history):
            if attempt.error is None or not self._is_connection_error(attempt.error):
                break
            count += 1
        return count

    def get_backoff_time(self) -> float:
        failures = self._connect_failures()
        if failures:
            return float(self.connect_backoff * 2 ** (failures - 1))
        return float(super().get_backoff_time())

    def _sleep_backoff(self) -> None:
        delay = self.get_backoff_time()
        if delay > 0:
            self.pause(delay)  # the client's sleep (Retry-After waits are urllib3's own)

    def increment(
        self, method: str | None = None, url: str | None = None, *args: Any, **kw: Any
    ) -> Any:
        retry = super().increment(method, url, *args, **kw)  # raises when it gives up
        if self.counter is not None:
            self.counter.record(method)
        return retry


class TokenWarning(UserWarning):
    """A token was usable only after stripping whitespace around it."""


def _clean_token(value: str, origin: str) -> str:
    """``value`` without surrounding whitespace (warned about, naming
    ``origin``, never the value); refused when whitespace or a control or
    non-ASCII character is inside, which no token holds and which would put
    the token into an error about an invalid HTTP header."""
    token = value.strip()
    if any(not (" " < char < "\x7f") for char in token):
        raise InvalidRequestError(
            [
                Problem(
                    origin,
                    "the token has whitespace, control or non-ASCII characters inside it, "
                    "which no token has: set it to the token alone (one line, nothing around it)",
                )
            ],
            what="token",
        )
    if token != value:
        warnings.warn(
            f"{origin}: removed whitespace around the token (a trailing newline?); "
            "set it to the token alone to silence this",
            TokenWarning,
            stacklevel=3,
        )
    return token


def token_from_env(environ: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
    """The token and the variable it came from, from the first of
    ``TOKEN_VARIABLES`` that is set and not blank: ``(None, None)`` when
    none is. Whitespace around it is stripped with a ``TokenWarning``; a
    token with whitespace inside raises ``InvalidRequestError`` naming the
    variable."""
    environ = os.environ if environ is None else environ
    for name in TOKEN_VARIABLES:
        value = environ.get(name)
        if value and value.strip():
            return _clean_token(value, name), name
    return None, None


def _is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_secrets(url: str) -> list[str]:
    """The password of ``url`` (or its user name, when it has no password:
    ``https://TOKEN@host``), as written and decoded; none for a plain URL."""
    parsed = urlparse(url)
    secret = parsed.password if parsed.password is not None else parsed.username
    if not secret:
        return []
    return sorted({secret, unquote(secret)}, key=len, reverse=True)


class GitHubClient:
    """A ``ForgeClient`` for GitHub through PyGithub.

    ``token``: a personal access token, app installation token or
    ``GITHUB_TOKEN`` (None: unauthenticated, for a local forge without
    ``--token``). ``base_url``: None for github.com. ``write_spacing``:
    seconds between writes (None: 1 s, or 0 on a loopback address).
    ``retries``/``backoff``: the retry policy for transient failures.
    ``connect_retries``/``connect_backoff``: a connection that cannot be
    made is tried again this many times (within ``retries``), after
    ``connect_backoff * 2**(n-1)`` s each (3 and 0.5: 3.5 s in all).
    ``max_rate_limit_wait``: the longest it will sleep for a rate limit
    before failing with a ForgeError that says so.
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
    ) -> None:
        self.base_url = (base_url or DEFAULT_API_URL).rstrip("/")
        # What messages show of base_url: its user-info masked, and that
        # password (or a token given as the user name) scrubbed from all text.
        self._shown_url = mask_url_credentials(self.base_url)
        self._url_secrets = _url_secrets(self.base_url)
        token = _clean_token(token, "token") if token else None
        self._token = token or ""
        # Where the token came from (or where none was found), for a 401's message.
        self._token_origin = (
            "the token given to GitHubClient" if token else "no token was given to GitHubClient"
        )
        self._sleep = sleep
        self._write_spacing = (
            (0.0 if _is_loopback(self.base_url) else 1.0)
            if write_spacing is None
            else write_spacing
        )
        self._last_write = 0.0
        self._counter = _Counter()
        self._settings: dict[str, Any] = {
            "token": token, "timeout": timeout, "retries": retries, "backoff": backoff,
            "max_rate_limit_wait": max_rate_limit_wait, "connect_retries": connect_retries,
            "connect_backoff": connect_backoff,
        }  # fmt: skip
        # PyGithub keeps one HTTP connection per Requester and stores each
        # request on it between sending and reading: not safe across threads.
        # Change sets observe from several threads, so each thread gets its
        # own Github instance; they share the request counter.
        self._local = threading.local()
        self._spacing_lock = threading.Lock()
        # Learnt while reading, used when committing: (repo, commit) -> tree,
        # and the requested paths seen as executable (repo, commit, path).
        self._tree_of: dict[tuple[str, str], str] = {}
        self._executable: set[tuple[str, str, str]] = set()
        # Files read through the contents API (edits), whose mode that API
        # does not tell: learnt from the tree when a commit rewrites them.

    @property
    def _github(self) -> Github:
        instance: Github | None = getattr(self._local, "github", None)
        if instance is None:
            instance = self._local.github = self._make_github()
        return instance

    def _make_github(self) -> Github:
        settings = self._settings
        retry = _CountingRetry(
            total=settings["retries"],
            connect=settings["connect_retries"],
            backoff_factor=settings["backoff"],
            max_rate_limit_wait=settings["max_rate_limit_wait"],
            retry_after_max=settings["max_rate_limit_wait"],
            status_forcelist=[*range(500, 600), 429],
        )
        retry.counter = self._counter
        retry.connect_backoff = settings["connect_backoff"]
        retry.pause = self._sleep
        token = settings["token"]
        github_ = Github(
            base_url=self.base_url,
            auth=Auth.Token(token) if token else None,
            retry=retry,
            timeout=settings["timeout"],
            per_page=100,
            lazy=True,
            seconds_between_requests=None,
            seconds_between_writes=None,  # spacing is ours, so it can be 0 locally and counted
        )
        # Count first attempts where PyGithub sends every request (retries are
        # counted by the policy above). Per instance, not global.
        requester = github_.requester
        send = requester._Requester__requestRaw  # type: ignore[attr-defined]
        counter = self._counter

        def counted(connection: Any, verb: str, url: str, *args: Any, **kw: Any) -> Any:
            counter.record(verb)
            if verb == "GET" and args and isinstance(args[0], dict):
                # GitHub may answer ref and pull-request reads from a cache up
                # to 60 s old; a plan's facts (and their recheck) must be fresh.
                args[0].setdefault("Cache-Control", "no-cache")
            return send(connection, verb, url, *args, **kw)

        requester._Requester__requestRaw = counted  # type: ignore[attr-defined]
        return github_

    @classmethod
    def from_env(cls, **options: Any) -> GitHubClient:
        """Token from ``GITHUB_TOKEN`` or ``GH_TOKEN``; ``GITHUB_API_URL``
        for Enterprise or a local forge (default https://api.github.com)."""
        token, variable = token_from_env()
        base_url = options.pop("base_url", None) or os.environ.get("GITHUB_API_URL") or None
        client = cls(token=token, base_url=base_url, **options)
        client._token_origin = (
            f"the token from ${variable}"
            if variable
            else "no token was found: looked at "
            + " and ".join(f"${name}" for name in TOKEN_VARIABLES)
            + ", unset or empty"
        )
        return client

    def __repr__(self) -> str:
        return (
            f"GitHubClient(base_url={self._shown_url!r}, token={'set' if self._token else 'none'})"
        )

    # --- plumbing ------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        for secret in self._url_secrets:
            text = scrub_secret(text, secret)
        return scrub_secret(text, self._token)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Turn PyGithub's and requests' exceptions into prplan's, saying
        what was being done, and never carrying request headers along."""
        try:
            yield
        except (ForgeError, ConflictError, MergeBlocked):
            raise
        except github.RateLimitExceededException as error:
            raise ForgeError(
                f"{what}: GitHub's rate limit is exhausted ({self._scrub(_message(error))}). "
                "Wait for the reset, or use a token with a higher limit.",
                status=error.status,
            ) from None
        except github.BadCredentialsException as error:
            if not self._token:
                raise ForgeError(
                    f"{what}: GitHub requires a token (401) and {self._token_origin}. "
                    f"Export {' or '.join(TOKEN_VARIABLES)}.",
                    status=error.status,
                ) from None
            raise ForgeError(
                f"{what}: GitHub rejected {self._token_origin} (401): expired, revoked or "
                f"mistyped? Check {' / '.join(TOKEN_VARIABLES)}.",
                status=error.status,
            ) from None
        except github.UnknownObjectException:
            raise NotFoundError(f"{what}: not found (or the token cannot see it)") from None
        except GithubException as error:
            raise ForgeError(
                f"{what}: GitHub answered {error.status}: {self._scrub(_message(error))}",
                error.status,
            ) from None
        except requests.exceptions.RequestException as error:
            unreachable = _connect_failure(error)
            if unreachable is not None:
                raise ForgeError(
                    f"{what}: network error: cannot connect to {self._host()} ({unreachable}); "
                    f"gave up after {self._connect_attempts()} attempts. Is {self._shown_url} "
                    "the right API URL, and reachable from here?"
                ) from None
            # str() of these carries the URL but never headers; scrub anyway.
            raise ForgeError(
                f"{what}: network error ({type(error).__name__}): {self._scrub(str(error))}"
            ) from None
        except (KeyError, TypeError, ValueError, github.BadAttributeException) as error:
            # Not GitHub's API answering (an HTML login page, a proxy...).
            raise ForgeError(
                f"{what}: unexpected answer from {self._shown_url} ({type(error).__name__}: "
                f"{self._scrub(str(error))[:200]}); is the API URL right?"
            ) from None

    def _host(self) -> str:
        parsed = urlparse(self.base_url)
        host = parsed.hostname or self.base_url
        return f"{host}:{parsed.port}" if parsed.port else host

    def _connect_attempts(self) -> int:
        settings = self._settings
        return 1 + max(0, min(int(settings["connect_retries"]), int(settings["retries"])))

    def _space_writes(self) -> None:
        with self._spacing_lock:  # concurrent writers still keep their distance
            if self._write_spacing:
                wait = self._last_write + self._write_spacing - time.monotonic()
                if wait > 0:
                    self._sleep(wait)
            self._last_write = time.monotonic()

    def _repo(self, repo: str) -> Repository:
        """A lazy repository object: no request until an attribute is read."""
        return self._github.get_repo(repo)

    def _raw(
        self, verb: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], Any]:
        headers, data = self._github.requester.requestJsonAndCheck(
            verb, self.base_url + path, input=body
        )
        return headers, data

    def request_count(self) -> RequestCount:
        return RequestCount(reads=self._counter.reads, writes=self._counter.writes)

    # --- reads ------------------------------------------------------------------------

    def default_branch(self, repo: str) -> str:
        with self._errors(f"reading repository {repo}"):
            return str(self._repo(repo).default_branch)

    def branch_sha(self, repo: str, branch: str) -> str | None:
        found = self.branch(repo, branch)
        return None if found is None else found.sha

    def branch(self, repo: str, branch: str) -> Branch | None:
        # The branches endpoint answers the head commit *and* its tree in one
        # request; the tree is what a commit on this head needs as base_tree,
        # so committing later costs no extra read.
        with self._errors(f"reading branch {branch} of {repo}"):
            try:
                _, data = self._raw("GET", f"/repos/{repo}/branches/{quote(branch)}")
            except github.UnknownObjectException:
                return None
            sha = str(data["commit"]["sha"])
            tree = (data["commit"].get("commit") or {}).get("tree") or {}
            protected = data.get("protected") is True
        if tree.get("sha"):
            self._tree_of[(repo, sha)] = str(tree["sha"])
        return Branch(sha=sha, protected=protected)

    def pull_requests_from(self, repo: str, head: str) -> list[PullRequestInfo]:
        owner = repo.split("/")[0]
        with self._errors(f"listing pull requests of {repo}"):
            pulls = self._repo(repo).get_pulls(state="all", head=f"{owner}:{head}")
            # GitHub filters by head owner and branch; a server that ignored
            # the filter (or a fork's branch of the same name) must not make
            # prplan count a stranger's pull request as using the branch.
            out = [_info(pr) for pr in pulls if pr.head.label == f"{owner}:{head}"]
        return sorted(out, key=lambda p: p.number)

    def open_pull_requests_into(self, repo: str, base: str) -> list[PullRequestInfo]:
        with self._errors(f"listing pull requests into {base} of {repo}"):
            pulls = self._repo(repo).get_pulls(state="open", base=base)
            # The first page (100) tells whether the branch is in use.
            out = [_info(pr) for pr in itertools.islice(pulls, 100)]
        return sorted(
            (p for p in out if p.base_branch == base and p.is_open), key=lambda p: p.number
        )

    def pull_requests_for(self, repo: str, head: str, base: str) -> list[PullRequestInfo]:
        owner = repo.split("/")[0]
        with self._errors(f"listing pull requests of {repo}"):
            pulls = self._repo(repo).get_pulls(state="all", head=f"{owner}:{head}", base=base)
            # merged_at tells merged from closed without a request per pull request (_info).
            out = [_info(pr) for pr in pulls]
        # GitHub filters by head and base; a server that ignored the filter
        # must not make prplan adopt a stranger's pull request.
        return sorted(
            (p for p in out if p.head_branch == head and p.base_branch == base),
            key=lambda p: p.number,
        )

    def path_entries(
        self, repo: str, commit_sha: str, paths: Sequence[str]
    ) -> dict[str, PathEntry]:
        with self._errors(f"reading the tree of {commit_sha[:7]} in {repo}"):
            tree = self._repo(repo).get_git_tree(commit_sha, recursive=True)
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
            tree = self._repo(repo).get_git_tree(tree_sha, recursive=False)
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

    def compare(self, repo: str, base_sha: str, head_sha: str) -> Comparison:
        # One raw request: PyGithub's lazy Comparison would fetch it twice
        # (once for its fields, once more for its list of commits).
        with self._errors(f"comparing {base_sha[:7]}...{head_sha[:7]} in {repo}"):
            _, data = self._raw("GET", f"/repos/{repo}/compare/{base_sha}...{head_sha}")
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

    def read_files(
        self, repo: str, commit_sha: str, paths: Sequence[str]
    ) -> dict[str, bytes | None]:
        out: dict[str, bytes | None] = {}
        for path in paths:
            with self._errors(f"reading {path} at {commit_sha[:7]} in {repo}"):
                try:
                    _, data = self._raw(
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
        with self._errors(f"reading blob {sha[:7]} of {repo}"):
            blob = self._repo(repo).get_git_blob(sha)
            return base64.b64decode(blob.content)

    # --- writes -----------------------------------------------------------------------

    def _ref_sha(self, repo: str, branch: str) -> str | None:
        return self.branch_sha(repo, branch)

    def create_branch(self, repo: str, branch: str, sha: str) -> None:
        self._space_writes()
        with self._errors(f"creating branch {branch} in {repo}"):
            try:
                self._raw(
                    "POST", f"/repos/{repo}/git/refs", {"ref": f"refs/heads/{branch}", "sha": sha}
                )
            except GithubException as error:
                if error.status == 422 and "already exists" in _message(error):
                    # A retried POST that had succeeded, or someone else's branch?
                    if self._ref_sha(repo, branch) == sha:
                        return
                    raise ConflictError(
                        f"{repo}: branch {branch!r} already exists (someone created it)"
                    ) from None
                raise

    def reset_branch(self, repo: str, branch: str, sha: str, *, expected_sha: str) -> None:
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
        self._space_writes()
        path = f"/repos/{repo}/git/refs/heads/{quote(branch)}"
        if force and was is not None:
            # A forced update cannot name the old sha (REST has no
            # compare-and-swap for it): check right before it, after the
            # write spacing, so the window is one round trip, not seconds.
            self._expect_at(repo, branch, was)
        with self._errors(f"updating branch {branch} of {repo}"):
            try:
                self._raw("PATCH", path, {"sha": sha, "force": force})
                return
            except GithubException as error:
                if error.status == 422 and "fast forward" in _message(error).lower():
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
                self._raw("PATCH", path, {"sha": sha, "force": force})  # it did not: once more
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
    ) -> str:
        if reset_from is not None and self._ref_sha(repo, branch) != reset_from:
            raise ConflictError(
                f"{repo}: branch {branch!r} is not at {reset_from[:7]} any more (someone pushed "
                "meanwhile); nothing was committed. Run prplan again."
            )
        github_repo = self._repo(repo)

        def mode(path: str) -> str:
            return _EXECUTABLE if (repo, parent_sha, path) in self._executable else _FILE_MODE

        with self._errors(f"committing {len(files)} file(s) to {branch} in {repo}"):
            elements = []
            for path, content in files.items():
                if content is None:
                    elements.append(InputGitTreeElement(path, _FILE_MODE, "blob", sha=None))
                    continue
                try:
                    text = content.decode("utf-8")
                except UnicodeDecodeError:
                    self._space_writes()
                    blob = github_repo.create_git_blob(
                        base64.b64encode(content).decode("ascii"), "base64"
                    )
                    elements.append(InputGitTreeElement(path, mode(path), "blob", sha=blob.sha))
                    continue
                elements.append(InputGitTreeElement(path, mode(path), "blob", content=text))
            base_tree = GitTree(
                github_repo.requester,
                attributes={"sha": self._tree(repo, parent_sha)},
                completed=True,
            )
            self._space_writes()
            tree = github_repo.create_git_tree(elements, base_tree=base_tree)
            parent = GitCommit(
                github_repo.requester, attributes={"sha": parent_sha}, completed=True
            )
            self._space_writes()
            # The tree is known before the commit exists: seal the message with it.
            sealed = seal_message(message, str(tree.sha))
            commit = github_repo.create_git_commit(sealed, tree, [parent])
            new_sha = str(commit.sha)
            self._answered_by(_person(commit.raw_data.get("committer")))
        if create:
            self.create_branch(repo, branch, new_sha)
        else:
            self._move_ref(
                repo, branch, new_sha, force=reset_from is not None, was=reset_from or parent_sha
            )
        return new_sha

    def _tree(self, repo: str, commit_sha: str) -> str:
        """The tree of a commit: known from observing (no request), else read."""
        known = self._tree_of.get((repo, commit_sha))
        if known is None:
            _, data = self._raw("GET", f"/repos/{repo}/git/commits/{commit_sha}")
            known = str(data["tree"]["sha"])
            self._tree_of[(repo, commit_sha)] = known
        return known

    def create_pull_request(
        self, repo: str, *, head: str, base: str, title: str, body: str
    ) -> PullRequestInfo:
        self._space_writes()
        self._answered_by(None)
        with self._errors(f"opening a pull request {head} -> {base} in {repo}"):
            try:
                pr = self._repo(repo).create_pull(base=base, head=head, title=title, body=body)
            except GithubException as error:
                if error.status == 422 and "already exists" in _message(error):
                    # The answer that named the author was lost: none is claimed.
                    return self._adopt_pull(repo, head, base, title)
                raise
            self._answered_by((pr.raw_data.get("user") or {}).get("login"))
            return _info(pr)

    def _answered_by(self, identity: str | None) -> None:
        self._local.identity = identity

    def write_identity(self) -> str | None:
        """``WriteIdentity``: the committer of this thread's last commit, or
        the author of its last pull request, from GitHub's answer."""
        identity: str | None = getattr(self._local, "identity", None)
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
        pr = PullRequest(
            self._repo(repo).requester,
            url=f"{self.base_url}/repos/{repo}/pulls/{number}",
            completed=False,
        )
        attempts = 3
        for attempt in range(attempts):
            self._space_writes()
            with self._errors(f"merging pull request #{number} of {repo}"):
                try:
                    status = pr.merge(merge_method=method, sha=expected_head_sha)
                    return str(status.sha)
                except GithubException as error:
                    message = _message(error)
                    if error.status == 409:
                        raise ConflictError(
                            f"{repo}: #{number}: {self._scrub(message)} (its head is no longer the reviewed "
                            f"{expected_head_sha[:7]}); nothing was merged. Run prplan again."
                        ) from None
                    if (
                        error.status == 405
                        and "base branch was modified" in message.lower()
                        and attempt < attempts - 1
                    ):
                        self._sleep(1.0 * (attempt + 1))  # transient on GitHub: try again
                        continue
                    if error.status == 405:
                        merged = self._merged_sha(repo, number, expected_head_sha)
                        if merged is not None:
                            return merged  # a retried PUT: our first attempt had merged it
                        _raise_blocked(number, self._scrub(message))
                    raise
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _merged_sha(self, repo: str, number: int, head_sha: str) -> str | None:
        _, data = self._raw("GET", f"/repos/{repo}/pulls/{number}")
        if data.get("merged") and data.get("head", {}).get("sha") == head_sha:
            return str(data["merge_commit_sha"])
        return None

    def delete_branch(self, repo: str, branch: str) -> None:
        self._space_writes()
        with self._errors(f"deleting branch {branch} of {repo}"):
            try:
                self._raw("DELETE", f"/repos/{repo}/git/refs/heads/{quote(branch)}")
            except GithubException as error:
                if error.status == 422 and self._ref_sha(repo, branch) is None:
                    return  # a retried DELETE that had succeeded
                raise


def _message(error: GithubException) -> str:
    data = error.data
    if isinstance(data, dict):
        message = str(data.get("message") or "")
        for item in data.get("errors") or []:
            if isinstance(item, dict) and item.get("message"):
                message += f": {item['message']}"
        return message
    return str(data or "")


def _connect_failure(error: requests.exceptions.RequestException) -> str | None:
    """Why no connection could be made ("Connection refused", "Name or
    service not known", "timed out"), or None when the failure was another."""
    reason = error.args[0] if error.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError: the last failure
    if not isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
        return None
    if not isinstance(reason, urllib3.exceptions.NewConnectionError):
        return "timed out"
    cause = reason.__cause__ or reason.__context__
    return str(getattr(cause, "strerror", None) or type(cause or reason).__name__)


def _person(answer: object) -> str | None:
    """A commit's author or committer in GitHub's answer, as git writes it."""
    if not isinstance(answer, dict) or not answer.get("name"):
        return None
    email = answer.get("email")
    return f"{answer['name']} <{email}>" if email else str(answer["name"])


def _raise_blocked(number: int, message: str) -> NoReturn:
    raise MergeBlocked(number, message)


def _info(pr: PullRequest) -> PullRequestInfo:
    """From a list item or a created pull request: no extra request (list
    items lack ``merged``, so ``merged_at`` tells merged from closed)."""
    merged = pr.merged_at is not None
    return PullRequestInfo(
        number=pr.number,
        state=pr.state,
        merged=merged,
        head_branch=pr.head.ref,
        base_branch=pr.base.ref,
        head_sha=pr.head.sha,
        title=pr.title,
        url=pr.html_url,
        merge_sha=pr.merge_commit_sha if merged else None,
    )

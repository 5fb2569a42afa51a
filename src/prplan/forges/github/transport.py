"""How the GitHub client talks to GitHub: one PyGithub instance per thread,
request counting, retries, write spacing, fresh reads, and GitHub's and the
network's failures turned into prplan's errors with no secret in them.

Separate from the client (``client.py``), which says *what* to ask GitHub
for each ``ForgeClient`` method; everything here is about *how* a request
is sent and what its failure means, the same for every method.

Counting: PyGithub 2.10 offers no public per-instance hook that sees every
request it sends with its verb. ``Auth.authentication`` sees headers but
not the verb, and not the resends after a 202 or a 301; ``retry`` (a
urllib3 ``Retry``) sees retries only; ``Requester.injectConnectionClasses``
is process-wide and turns off connection reuse. So first attempts are
counted by wrapping ``Requester.__requestRaw`` (name-mangled, private) on
each instance, and retries by the ``Retry`` policy below. That private name
is why ``pyproject.toml`` pins ``PyGithub>=2.10,<3``.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlparse, urlsplit

import github
import requests
import urllib3.exceptions
from github import Auth, Github, GithubException, GithubRetry
from github.Repository import Repository

from prplan import errors as prplan_errors
from prplan.forges.github.auth import TOKEN_VARIABLES
from prplan.run.port import RequestCount, record_request

__all__ = [
    "RATE_LIMITED_TRIES",
    "SECONDARY_LIMIT_WAIT",
    "Transport",
    "github_message",
    "rate_limit_wait",
]

_READS = {"GET", "HEAD"}

# PyGithub logs every retry at INFO on its own stderr handler; prplan reports
# through its outcome instead.
github.set_log_level(logging.WARNING)


class _Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reads = 0
        self.writes = 0
        #: set while this thread sends a GraphQL query: a POST that only reads
        self.querying = threading.local()

    def record(self, verb: str | None) -> None:
        with self._lock:
            if (verb or "GET").upper() in _READS or getattr(self.querying, "on", False):
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


def github_message(error: GithubException) -> str:
    """GitHub's ``message`` in an error answer, with its ``errors`` items'."""
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


class Transport:
    """Requests to one GitHub API URL with one token (or none), counted,
    retried, spaced and mapped to prplan's errors. ``settings``: the
    client's ``timeout``, ``retries``, ``backoff``, ``max_rate_limit_wait``,
    ``connect_retries`` and ``connect_backoff``."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        write_spacing: float | None,
        sleep: Callable[[float], None],
        settings: dict[str, Any],
    ) -> None:
        self.base_url = base_url
        # What messages show of base_url: its user-info masked, and that
        # password (or a token given as the user name) scrubbed from all text.
        self.shown_url = prplan_errors.mask_url_credentials(base_url)
        self._url_secrets = _url_secrets(base_url)
        self.token = token or ""
        #: PyGithub's authentication instead of the token: a GitHub App's
        #: installation tokens (``app_auth.py``); more secrets to scrub (the
        #: installation tokens issued); what a 401 advises.
        self.auth: Auth.Auth | None = None
        self.secrets: Callable[[], Iterable[str]] = tuple
        self.auth_hint: str | None = None
        # Where the token came from (or where none was found), for a 401's message.
        self.token_origin = (
            "the token given to GitHubClient" if token else "no token was given to GitHubClient"
        )
        self.sleep = sleep
        self._write_spacing = (
            (0.0 if _is_loopback(base_url) else 1.0) if write_spacing is None else write_spacing
        )
        self._last_write = 0.0
        self._counter = _Counter()
        self._settings = settings
        # PyGithub keeps one HTTP connection per Requester and stores each
        # request on it between sending and reading: not safe across threads.
        # Change sets observe from several threads, so each thread gets its
        # own Github instance; they share the request counter.
        self.local = threading.local()
        self._spacing_lock = threading.Lock()

    @property
    def github(self) -> Github:
        """This thread's PyGithub instance."""
        instance: Github | None = getattr(self.local, "github", None)
        if instance is None:
            instance = self.local.github = self._make_github()
        return instance

    def _retry(self) -> _CountingRetry:
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
        retry.pause = self.sleep
        return retry

    def _make_github(self) -> Github:
        github_ = Github(
            base_url=self.base_url,
            auth=self.auth or (Auth.Token(self.token) if self.token else None),
            retry=self._retry(),
            timeout=self._settings["timeout"],
            per_page=100,
            lazy=True,
            seconds_between_requests=None,
            seconds_between_writes=None,  # spacing is ours, so it can be 0 locally and counted
        )
        # Count first attempts where PyGithub sends every request (retries are
        # counted by the policy above). Per instance, not global. Private:
        # see this module's docstring for why no public hook serves.
        requester = github_.requester
        send = requester._Requester__requestRaw  # type: ignore[attr-defined]
        counter = self._counter
        renew = getattr(self.auth, "renew", None)

        def counted(connection: Any, verb: str, url: str, *args: Any, **kw: Any) -> Any:
            counter.record(verb)
            if verb == "GET" and args and isinstance(args[0], dict):
                # GitHub may answer ref and pull-request reads from a cache up
                # to 60 s old; a plan's facts (and their recheck) must be fresh.
                args[0].setdefault("Cache-Control", "no-cache")
            answer = send(connection, verb, url, *args, **kw)
            if answer[0] == 401 and renew is not None and args and renew(args[0]):
                # An App's installation token GitHub dropped early: once more
                # with a new one (nothing was done by the refused request).
                counter.record(verb)
                answer = send(connection, verb, url, *args, **kw)
            return answer

        requester._Requester__requestRaw = counted  # type: ignore[attr-defined]
        return github_

    def request_count(self) -> RequestCount:
        return RequestCount(reads=self._counter.reads, writes=self._counter.writes)

    def scrub(self, text: str) -> str:
        """``text`` without the token or the URL's password, in any encoding."""
        for secret in [*self._url_secrets, *self.secrets()]:
            text = prplan_errors.scrub_secret(text, secret)
        return prplan_errors.scrub_secret(text, self.token)

    @contextmanager
    def errors(self, what: str) -> Iterator[None]:
        """Turn PyGithub's and requests' exceptions into prplan's, saying
        what was being done, and never carrying request headers along.
        ``what`` also names the operation in a GraphQL rate-limit error."""
        outer = getattr(self.local, "what", None)
        self.local.what = what
        try:
            yield
        except (prplan_errors.ForgeError, prplan_errors.ConflictError, prplan_errors.MergeBlocked):
            raise
        except GithubException as error:
            raise self._github_error(what, error) from None
        except requests.exceptions.RequestException as error:
            raise self._network_error(what, error) from None
        except (KeyError, TypeError, ValueError, github.BadAttributeException) as error:
            # Not GitHub's API answering (an HTML login page, a proxy...).
            raise prplan_errors.ForgeError(
                f"{what}: unexpected answer from {self.shown_url} ({type(error).__name__}: "
                f"{self.scrub(str(error))[:200]}); is the API URL right?"
            ) from None
        finally:
            self.local.what = outer

    def _github_error(self, what: str, error: GithubException) -> Exception:
        if isinstance(error, github.RateLimitExceededException):
            return prplan_errors.ForgeError(
                f"{what}: GitHub's rate limit is exhausted ({self.scrub(github_message(error))}). "
                "Wait for the reset, or use a token with a higher limit.",
                status=error.status,
            )
        if isinstance(error, github.BadCredentialsException):
            if self.auth_hint:
                return prplan_errors.ForgeError(
                    f"{what}: GitHub rejected {self.token_origin} (401): {self.auth_hint}",
                    status=error.status,
                )
            if not self.token:
                return prplan_errors.ForgeError(
                    f"{what}: GitHub requires a token (401) and {self.token_origin}. "
                    f"Export {' or '.join(TOKEN_VARIABLES)}.",
                    status=error.status,
                )
            return prplan_errors.ForgeError(
                f"{what}: GitHub rejected {self.token_origin} (401): expired, revoked or "
                f"mistyped? Check {' / '.join(TOKEN_VARIABLES)}.",
                status=error.status,
            )
        if isinstance(error, github.UnknownObjectException):
            return prplan_errors.NotFoundError(f"{what}: not found (or the token cannot see it)")
        return prplan_errors.ForgeError(
            f"{what}: GitHub answered {error.status}: {self.scrub(github_message(error))}",
            error.status,
        )

    def _network_error(self, what: str, error: requests.exceptions.RequestException) -> Exception:
        unreachable = _connect_failure(error)
        if unreachable is not None:
            return prplan_errors.ForgeError(
                f"{what}: network error: cannot connect to {self._host()} ({unreachable}); "
                f"gave up after {self._connect_attempts()} attempts. Is {self.shown_url} "
                "the right API URL, and reachable from here?"
            )
        # str() of these carries the URL but never headers; scrub anyway.
        return prplan_errors.ForgeError(
            f"{what}: network error ({type(error).__name__}): {self.scrub(str(error))}"
        )

    def _host(self) -> str:
        parsed = urlparse(self.base_url)
        host = parsed.hostname or self.base_url
        return f"{host}:{parsed.port}" if parsed.port else host

    def _connect_attempts(self) -> int:
        settings = self._settings
        return 1 + max(0, min(int(settings["connect_retries"]), int(settings["retries"])))

    def space_writes(self) -> None:
        """Wait until ``write_spacing`` has passed since the last write."""
        with self._spacing_lock:  # concurrent writers still keep their distance
            if self._write_spacing:
                wait = self._last_write + self._write_spacing - time.monotonic()
                if wait > 0:
                    self.sleep(wait)
            self._last_write = time.monotonic()

    def repo(self, repo: str) -> Repository:
        """A lazy repository object: no request until an attribute is read."""
        return self.github.get_repo(repo)

    def raw(
        self, verb: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], Any]:
        """One request to ``base_url + path``: GitHub's headers and JSON."""
        headers, data = self.github.requester.requestJsonAndCheck(
            verb, self.base_url + path, input=body
        )
        return headers, data

    def graphql_query(
        self, query: str, variables: dict[str, Any], *, what: str | None = None
    ) -> dict[str, Any]:
        """One GraphQL query, as ``graphql`` sends it (counted and spaced as
        a read), its answer whole: ``data`` and any ``errors``."""
        data, problems = self.graphql(query, variables, mutation=False, what=what)
        return {"data": data, "errors": problems}

    def graphql(
        self,
        query: str,
        variables: dict[str, Any],
        *,
        mutation: bool,
        what: str | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One GraphQL document: its ``data`` (what succeeded) and its
        ``errors`` (each ``message`` scrubbed of the token: GitHub may echo
        what it was sent), both, for the caller to read per field. A query
        is counted and spaced as a read, a mutation as a write. GitHub's
        ``RATE_LIMITED`` (HTTP 200: nothing ran) is waited out
        (``rate_limit_wait``) and the document sent again, at most
        ``RATE_LIMITED_TRIES`` times in all and never for longer than
        ``max_rate_limit_wait`` at once; HTTP 403/429 limits and 5xx are
        PyGithub's retry policy's, as for REST. ``what``: the operation, for
        the error (default: the one ``errors`` names around this call)."""
        what = what or getattr(self.local, "what", None) or "a GraphQL request"
        waited = 0
        while True:
            if mutation:
                self.space_writes()
            headers, answer = self._post_graphql(query, variables, mutation)
            problems = [
                self._scrubbed(e) for e in answer.get("errors") or [] if isinstance(e, dict)
            ]
            if not any(e.get("type") == "RATE_LIMITED" for e in problems):
                return answer.get("data") or {}, problems
            wait = rate_limit_wait(headers, time.time())
            limit = self._settings["max_rate_limit_wait"]
            if waited + 1 >= RATE_LIMITED_TRIES or wait > limit:
                break
            self.sleep(wait)
            waited += 1
        why = (
            f"still rate limited after {waited + 1} tries"
            if waited
            else f"GitHub asks to wait {wait:.0f} s, more than max_rate_limit_wait ({limit} s)"
        )
        raise prplan_errors.ForgeError(
            f"{what}: GitHub's GraphQL rate limit is exhausted (RATE_LIMITED; {why}). "
            "Wait for the reset, or use a token with a higher limit.",
            status=403,
        )

    def _post_graphql(
        self, query: str, variables: dict[str, Any], mutation: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """One POST of a document: GitHub's headers and its answer, checked
        to be a GraphQL answer."""
        requester = self.github.requester
        self._counter.querying.on = not mutation
        try:
            headers, answer = requester.requestJsonAndCheck(
                "POST", requester.graphql_url, input={"query": query, "variables": variables}
            )
        finally:
            self._counter.querying.on = False
        if not isinstance(answer, dict) or not ({"data", "errors"} & answer.keys()):
            # GitHub always answers one or both; anything else is not GitHub.
            raise ValueError("a GraphQL answer with neither 'data' nor 'errors'")
        return headers, answer

    def _scrubbed(self, problem: dict[str, Any]) -> dict[str, Any]:
        """A GraphQL error with its ``message`` scrubbed of the token."""
        message = problem.get("message")
        return {**problem, "message": self.scrub(str(message))} if message is not None else problem


#: How often a document answered ``RATE_LIMITED`` is sent in all.
RATE_LIMITED_TRIES = 3

#: GitHub's advice for a secondary rate limit that names no time: wait a minute.
SECONDARY_LIMIT_WAIT = 60.0


def rate_limit_wait(headers: Mapping[str, Any], now: float) -> float:
    """Seconds to wait after a rate-limited answer, as GitHub's guidance
    says: the primary limit is spent (``x-ratelimit-remaining: 0``): until
    ``x-ratelimit-reset`` (+1 s); otherwise a secondary limit:
    ``retry-after``, else a minute."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        spent = str(lowered.get("x-ratelimit-remaining", "")).strip() == "0"
        if spent and "x-ratelimit-reset" in lowered:
            return max(float(lowered["x-ratelimit-reset"]) - now, 0.0) + 1.0
        if "retry-after" in lowered:
            return max(float(lowered["retry-after"]), 0.0)
    except ValueError:
        pass
    return SECONDARY_LIMIT_WAIT


def api_url(url: str) -> str:
    """The API's base URL, refused before any request unless it is an
    http(s) URL with a host (PyGithub would fail later with a bare
    AssertionError)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = prplan_errors.mask_url_credentials(url)
        raise prplan_errors.InvalidRequestError(
            [
                prplan_errors.Problem(
                    "base_url",
                    f"{shown!r} is not an http(s) URL of GitHub's API: give "
                    "https://api.github.com or https://HOST/api/v3 (GitHub Enterprise)",
                )
            ]
        )
    return url.rstrip("/")

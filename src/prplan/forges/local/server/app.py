"""The local forge served as a GitHub-compatible REST API (and git over HTTP).

``ForgeApp`` is a WSGI application over a ``LocalForge``: the endpoints of
``../shared/github-openapi`` that prplan and a human test driver use, with
GitHub's status codes, error bodies, pagination ``Link`` headers and
rate-limit headers, and URLs built from the server's own address, so that
PyGithub (``base_url=http://HOST:PORT/api/v3``) works against it unchanged.
``git clone http://HOST:PORT/OWNER/NAME.git`` and ``git push`` work through
dulwich's smart-HTTP server.

It counts every request it serves (reads, writes, and a log), which is how
the benchmarks and tests measure prplan's cost in requests, and it can be
told to misbehave (``Faults``).

This module is the application itself: routing (one map, compiled once),
authentication, rate-limit headers, turning the forge's errors into GitHub's
answers, and the threaded server. The routes live by GitHub API area in
``repos``, ``git``, ``pulls`` and ``checks`` (over ``routes``), GraphQL in ``graphql``,
git over HTTP in ``gitwire``, and the JSON bodies in ``payloads``. Every route talks to the
forge through its public methods only.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.exceptions import NotFound as RouteNotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from prplan import errors
from prplan.forges.local import LocalForge
from prplan.forges.local.faults import Faults
from prplan.forges.local.server.app_auth import AppAuthority, AppRoutes, GitHubApp, app_rules
from prplan.forges.local.server.checks import CheckRoutes
from prplan.forges.local.server.comments import COMMENT_RULES, CommentRoutes
from prplan.forges.local.server.git import GitRoutes
from prplan.forges.local.server.gitwire import BAD_GIT_STREAM, GIT_PATH, git_app
from prplan.forges.local.server.graphql import GraphQLRoutes, graphql_operation
from prplan.forges.local.server.metadata import METADATA_RULES, MetadataRoutes
from prplan.forges.local.server.payloads import Urls
from prplan.forges.local.server.protection import ProtectionRoutes
from prplan.forges.local.server.pulls import PullRoutes
from prplan.forges.local.server.repos import RepoRoutes
from prplan.forges.local.server.routes import Answer, Fail

__all__ = ["ForgeApp", "ForgeServer", "RequestLog"]

API = "/api/v3"
_WRITES = {"POST", "PATCH", "PUT", "DELETE"}


@attrs.define
class RequestLog:
    """What the server saw: counts and, per request, (method, path, status)."""

    reads: int = 0
    writes: int = 0
    entries: list[tuple[str, str, int]] = attrs.field(factory=list)

    def reset(self) -> None:
        self.reads = self.writes = 0
        self.entries.clear()


@functools.cache
def _rules() -> Map:
    """The routes: one map for every app (compiling it costs ~75 ms, and the
    tests make an app per case); apps only read it."""
    repo = f"{API}/repos/<owner>/<name>"
    r = Rule
    return Map(
        [
            r(f"{repo}", endpoint="repo", methods=["GET"]),
            r(
                f"{repo}/branches/<path:branch>/protection",
                endpoint="branch_protection",
                methods=["GET"],
            ),
            r(f"{repo}/rules/branches/<path:branch>", endpoint="branch_rules", methods=["GET"]),
            r(f"{repo}/branches/<path:branch>", endpoint="branch", methods=["GET"]),
            r(f"{repo}/git/ref/<path:ref>", endpoint="get_ref", methods=["GET"]),
            r(f"{repo}/git/matching-refs/<path:ref>", endpoint="matching_refs", methods=["GET"]),
            r(f"{repo}/git/refs", endpoint="create_ref", methods=["POST"]),
            r(f"{repo}/git/refs/<path:ref>", endpoint="get_ref", methods=["GET"]),
            r(f"{repo}/git/refs/<path:ref>", endpoint="update_ref", methods=["PATCH"]),
            r(f"{repo}/git/refs/<path:ref>", endpoint="delete_ref", methods=["DELETE"]),
            r(f"{repo}/git/blobs", endpoint="create_blob", methods=["POST"]),
            r(f"{repo}/git/blobs/<sha>", endpoint="blob", methods=["GET"]),
            r(f"{repo}/git/trees", endpoint="create_tree", methods=["POST"]),
            r(f"{repo}/git/trees/<sha>", endpoint="tree", methods=["GET"]),
            r(f"{repo}/git/commits", endpoint="create_commit", methods=["POST"]),
            r(f"{repo}/git/commits/<sha>", endpoint="git_commit", methods=["GET"]),
            r(f"{repo}/contents/", endpoint="contents_root", methods=["GET"]),
            r(f"{repo}/contents/<path:path>", endpoint="contents", methods=["GET"]),
            r(f"{repo}/contents/<path:path>", endpoint="put_contents", methods=["PUT"]),
            r(f"{repo}/contents/<path:path>", endpoint="delete_contents", methods=["DELETE"]),
            r(f"{repo}/compare/<path:basehead>", endpoint="compare", methods=["GET"]),
            r(f"{repo}/commits/<path:ref>/status", endpoint="combined_status", methods=["GET"]),
            r(f"{repo}/commits/<path:ref>/check-runs", endpoint="check_runs", methods=["GET"]),
            r(f"{repo}/commits/<path:ref>", endpoint="commit", methods=["GET"]),
            r(f"{repo}/statuses/<sha>", endpoint="create_status", methods=["POST"]),
            r(f"{repo}/check-runs", endpoint="create_check_run", methods=["POST"]),
            r(f"{repo}/pulls", endpoint="pulls", methods=["GET"]),
            r(f"{repo}/pulls", endpoint="create_pull", methods=["POST"]),
            r(f"{repo}/pulls/<int:number>", endpoint="pull", methods=["GET"]),
            r(f"{repo}/pulls/<int:number>", endpoint="edit_pull", methods=["PATCH"]),
            r(f"{repo}/pulls/<int:number>/merge", endpoint="merged", methods=["GET"]),
            r(f"{repo}/pulls/<int:number>/merge", endpoint="merge", methods=["PUT"]),
            r(f"{repo}/pulls/<int:number>/files", endpoint="pull_files", methods=["GET"]),
            r(f"{repo}/pulls/<int:number>/reviews", endpoint="reviews", methods=["GET"]),
            r(f"{repo}/pulls/<int:number>/reviews", endpoint="create_review", methods=["POST"]),
            *(
                r(f"{repo}{path}", endpoint=end, methods=[verb])
                for path, end, verb in (*METADATA_RULES, *COMMENT_RULES)
            ),
            r(f"{API}/rate_limit", endpoint="rate_limit", methods=["GET"]),
            r(f"{API}/user", endpoint="user", methods=["GET"]),
            *app_rules(API),  # GitHub App authentication
            # GraphQL: Enterprise's path (PyGithub derives it from /api/v3) and github.com's.
            r("/api/graphql", endpoint="graphql", methods=["POST"]),
            r("/graphql", endpoint="graphql", methods=["POST"]),
        ]
    )


class ForgeApp(
    RepoRoutes,
    GitRoutes,
    PullRoutes,
    CheckRoutes,
    ProtectionRoutes,
    MetadataRoutes,
    CommentRoutes,
    GraphQLRoutes,
    AppRoutes,
):
    """The WSGI application. ``token``: when set, every request must carry
    it (``Authorization: token T`` / ``Bearer T``, or HTTP basic auth with it
    as the password for git) or gets 401. ``login`` is the user that token
    (or, with no token at all, every request) acts as. ``users`` gives more
    tokens each their own login (login -> token): a request carrying one acts
    as that login, so the pull requests it opens and merges are recorded as
    that login's, as on GitHub. ``apps``: GitHub Apps whose JWTs and
    installation tokens the server takes (``app_auth.py``); ``app_clock``
    judges their expiry."""

    def __init__(
        self,
        forge: LocalForge,
        *,
        token: str | None = None,
        login: str = "prplan",
        users: Mapping[str, str] | None = None,
        faults: Faults | None = None,
        rate_limit: int = 5000,
        apps: Sequence[GitHubApp] = (),
        app_clock: Callable[[], float] = time.time,
    ) -> None:
        self.forge = forge
        self.authority = AppAuthority(forge, apps, app_clock) if apps else None
        self.faults = faults or Faults()
        self.log = RequestLog()
        self._login = login
        #: token -> the login it acts as
        self._logins = {secret: user for user, secret in (users or {}).items()}
        if token is not None:
            self._logins[token] = login
        self._limit = rate_limit
        self._used = 0
        self._reset = int(time.time()) + 3600
        self._lock = threading.Lock()
        self._routes = _rules()
        self._git = git_app(forge)

    def __repr__(self) -> str:  # never show the token
        return f"ForgeApp({self.forge!r}, token={'set' if self._logins else 'none'})"

    # --- WSGI -------------------------------------------------------------------

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        request = None if GIT_PATH.match(path) else Request(environ)
        graphql = path.endswith("/graphql") and request is not None
        kind, operation = graphql_operation(request) if request and graphql else ("", "")
        fault = self.faults.take(
            method, path[len(API) :] if path.startswith(API) else path, operation
        )
        if fault is not None:
            if fault.delay:
                self.faults.hold(fault)
            if fault.drop == "before":
                self._drop(environ)
            if fault.status is not None and fault.drop is None:
                # A rate-limit reset given as "+N" means N seconds from now.
                headers = {
                    k: str(int(time.time()) + int(v[1:]))
                    if k.lower() == "x-ratelimit-reset" and v.startswith("+")
                    else v
                    for k, v in fault.headers.items()
                }
                marked = {**headers, "X-Prplan-Fault": "injected"}
                response = self._json(fault.status, {"message": fault.message}, extra=marked)
                self._count(method, path, fault.status, read=graphql and kind == "query")
                return response(environ, start_response)
        if request is None:
            answer = self._serve_git(environ, start_response)
        else:
            response = self._dispatch(request)
            # A GraphQL query is a POST that reads; only a mutation writes.
            graphql_read = path.endswith("/graphql") and not environ.get("prplan.graphql_write")
            self._count(method, path, response.status_code, read=graphql_read)
            answer = response(environ, start_response)
        if fault is not None and fault.drop == "after":
            list(answer)  # the request was handled; its answer is lost
            self._drop(environ)
        return answer

    @staticmethod
    def _drop(environ: dict[str, Any]) -> None:
        connection = environ.get("werkzeug.socket")
        if connection is not None:
            connection.shutdown(socket.SHUT_RDWR)
        # werkzeug's server treats a ConnectionError as "the client went away".
        raise ConnectionAbortedError("fault injected: connection dropped")

    def _count(self, method: str, path: str, status: int, *, read: bool = False) -> None:
        with self._lock:
            if method in _WRITES and not read:
                self.log.writes += 1
            else:
                self.log.reads += 1
            self.log.entries.append((method, path, status))
            self._used += 1

    def _authorised(self, request: Request) -> bool:
        """Does the request carry a known token (or need none)? Remembers the
        login it acts as in the request, for ``_who``."""
        login = self._login_of(request)
        request.environ["prplan.login"] = login
        return login is not None

    def _login_of(self, request: Request) -> str | None:
        given = self._credential(request)
        if given and self.is_app_credential(given):
            return self.app_login(request, given)
        if not self._logins:
            return self._login
        if given is None:
            return None
        found = None
        for secret, login in self._logins.items():  # compare with every token, in constant time
            if hmac.compare_digest(given.encode(), secret.encode()):
                found = login
        return found

    @staticmethod
    def _credential(request: Request) -> str | None:
        """The token the request carries (``token``/``Bearer``, or the
        password of HTTP basic auth), or None."""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() in {"token", "bearer"}:
            return value.strip()
        if scheme.lower() == "basic":
            try:
                return base64.b64decode(value).decode().partition(":")[2]
            except (binascii.Error, UnicodeDecodeError):
                return None
        return None

    def _serve_git(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        method, path = request.method, request.path
        if not self._authorised(request):
            response = Response(
                "Bad credentials\n",
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="prplan"'},
            )
            self._count(method, path, 401)
            return response(environ, start_response)
        match = GIT_PATH.match(path)
        assert match is not None
        try:
            self.forge.default_branch_name(f"{match['owner']}/{match['name']}")
        except errors.NotFoundError:
            self._count(method, path, 404)
            return Response("Repository not found\n", status=404)(environ, start_response)
        repo = f"{match['owner']}/{match['name']}"
        if not self.may_see(request, repo):  # outside the App's installation
            self._count(method, path, 404)
            return Response("Repository not found\n", status=404)(environ, start_response)
        answer: list[Any] = []  # [status, headers]; dulwich writes the body through write()
        chunks: list[bytes] = []

        def buffered(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer[:] = [status, headers]
            return chunks.append

        with self.forge.exclusive():
            before = self.forge.branches(repo)
            try:
                for piece in self._git(environ, buffered):  # in order with write()'s
                    chunks.append(piece)
            except BAD_GIT_STREAM as error:
                # A client's malformed stream is its error (400), never ours.
                self._count(method, path, 400)
                text = f"bad git request: {type(error).__name__}\n"
                return Response(text, status=400)(environ, start_response)
            if path.endswith("git-receive-pack"):
                self._after_push(repo, before)
        # A fetch (git-upload-pack) is a POST that only reads.
        fetch = path.endswith("git-upload-pack")
        self._count(method, path, int(answer[0].split()[0]) if answer else 500, read=fetch)
        start_response(*answer)
        return chunks

    def _after_push(self, repo: str, before: dict[str, str]) -> None:
        """A push bypassed the forge's API: open pull requests follow their
        branches again, and those whose branch was deleted close, as on GitHub."""
        self.forge.sync_pull_heads(repo)
        gone = set(before) - set(self.forge.branches(repo))
        for row in self.forge.pull_rows(repo):
            if row["state"] == "open" and row["head"] in gone:
                self.forge.close_pr(repo, row["number"])

    # --- dispatch ------------------------------------------------------------------------

    def _urls(self, request: Request) -> Urls:
        web = request.host_url
        return Urls(api=web.rstrip("/") + API, web=web)

    def _dispatch(self, request: Request) -> Response:
        urls = self._urls(request)
        if not self._authorised(request):
            message = request.environ.get("prplan.jwt_error") or "Bad credentials"
            return self._json(401, urls.error(message))
        adapter = self._routes.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except MethodNotAllowed:
            return self._json(405, urls.error("Method Not Allowed"))
        except (RouteNotFound, HTTPException):
            return self._json(404, urls.error("Not Found"))
        handler = getattr(self, f"_h_{endpoint}")
        try:
            self.check_app_scope(request, endpoint, args)
            status, body, headers = handler(request, urls, **args)
        except Fail as fail:
            return self._json(fail.status, urls.error(fail.message, fail.errors))
        except errors.MergeBlocked as error:
            return self._json(405, urls.error(str(error).split(": ", 1)[-1]))
        except errors.ConflictError as error:
            return self._json(409, urls.error(str(error)))
        except errors.InvalidRequestError as error:
            problems = [
                {"field": p.field, "code": "invalid", "message": str(p)} for p in error.problems
            ]
            return self._json(422, urls.error("Validation Failed", problems))
        except errors.NotFoundError:
            return self._json(404, urls.error("Not Found"))
        except errors.ForgeError as error:
            return self._json(error.status or 422, urls.error(str(error)))
        except errors.PrplanError as error:
            return self._json(422, urls.error(str(error)))
        return self._json(status, body, extra=headers)

    def _json(self, status: int, body: object, extra: dict[str, str] | None = None) -> Response:
        headers = {
            "X-RateLimit-Limit": str(self._limit),
            "X-RateLimit-Remaining": str(max(self._limit - self._used, 0)),
            "X-RateLimit-Used": str(self._used),
            "X-RateLimit-Reset": str(self._reset),
            "X-RateLimit-Resource": "core",
            "X-GitHub-Media-Type": "github.v3; format=json",
        }
        for key, value in (extra or {}).items():  # replaces ours, whatever the case of the name
            for existing in [k for k in headers if k.lower() == key.lower()]:
                del headers[existing]
            headers[key] = value
        if status in {204, 304} or body is None:
            return Response(status=status, headers=headers)
        return Response(
            json.dumps(body),
            status=status,
            headers=headers,
            content_type="application/json; charset=utf-8",
        )

    def _h_user(self, request: Request, urls: Urls) -> Answer:
        return 200, urls.private_user(self._who(request)), None

    def _h_rate_limit(self, request: Request, urls: Urls) -> Answer:
        return (
            200,
            urls.rate_limit(self._limit, max(self._limit - self._used, 0), self._reset),
            None,
        )


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Tests and benchmarks make thousands of requests: no access log."""

    def log_error(self, format: str, *args: Any) -> None:
        """Connections cut on purpose (fault injection) leave half-read
        requests that the server reports as bad; quiet mode keeps quiet."""


class ForgeServer:
    """``ForgeApp`` on a real socket, served from a background thread.

    ``with ForgeServer(forge) as server: server.api_url`` gives
    ``http://127.0.0.1:PORT/api/v3``. Binds loopback unless told otherwise."""

    def __init__(
        self, app: ForgeApp, *, host: str = "127.0.0.1", port: int = 0, quiet: bool = True
    ) -> None:
        self.app = app
        self._server: BaseWSGIServer = make_server(
            host,
            port,
            app,
            threaded=True,
            request_handler=_QuietHandler if quiet else WSGIRequestHandler,
        )
        self._thread: threading.Thread | None = None

    def serve(self, app: Callable[..., Iterable[bytes]]) -> None:
        """Serve another WSGI application on the same socket (tests swap in a
        fresh forge per case without restarting the server)."""
        self.app = app  # type: ignore[assignment]
        self._server.app = app

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.url + API

    def start(self) -> ForgeServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="prplan-forge", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ForgeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

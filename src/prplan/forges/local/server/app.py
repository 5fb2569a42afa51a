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
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import math
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import attrs
from dulwich.errors import (
    ApplyDeltaError,
    ChecksumMismatch,
    GitProtocolError,
    HookError,
    ObjectFormatException,
)
from dulwich.hooks import Hook
from dulwich.objects import Blob, Tree
from dulwich.objects import Commit as GitCommit
from dulwich.server import Backend, ReceivePackHandler
from dulwich.web import make_wsgi_chain
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.exceptions import NotFound as RouteNotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from prplan.core.names import branch_problems
from prplan.errors import (
    ConflictError,
    ForgeError,
    InvalidRequestError,
    MergeBlocked,
    NotFoundError,
    Problem,
    PrplanError,
)
from prplan.forges.local.faults import Faults
from prplan.forges.local.forge import (
    GIT_MODES,
    LocalForge,
    TreeInput,
    tree_input_problems,
    tree_path_problem,
)
from prplan.forges.local.server.payloads import JSON, Urls

__all__ = ["ForgeApp", "ForgeServer", "RequestLog"]

API = "/api/v3"
_WRITES = {"POST", "PATCH", "PUT", "DELETE"}
_GIT_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<name>[^/]+?)\.git(?P<rest>/.*)?$")
_HEX_SHA = re.compile(r"[0-9a-f]{40}")


class _Fail(Exception):
    """An HTTP error answer with GitHub's body."""

    def __init__(self, status: int, message: str, errors: list[JSON] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors


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
            r(f"{repo}/commits/<path:ref>", endpoint="commit", methods=["GET"]),
            r(f"{repo}/pulls", endpoint="pulls", methods=["GET"]),
            r(f"{repo}/pulls", endpoint="create_pull", methods=["POST"]),
            r(f"{repo}/pulls/<int:number>", endpoint="pull", methods=["GET"]),
            r(f"{repo}/pulls/<int:number>", endpoint="edit_pull", methods=["PATCH"]),
            r(f"{repo}/pulls/<int:number>/merge", endpoint="merged", methods=["GET"]),
            r(f"{repo}/pulls/<int:number>/merge", endpoint="merge", methods=["PUT"]),
            r(f"{repo}/pulls/<int:number>/files", endpoint="pull_files", methods=["GET"]),
            r(f"{API}/rate_limit", endpoint="rate_limit", methods=["GET"]),
            r(f"{API}/user", endpoint="user", methods=["GET"]),
        ]
    )


class _Repos(Backend):  # type: ignore[misc]
    """dulwich's smart-HTTP backend over the forge's repositories."""

    def __init__(self, forge: LocalForge) -> None:
        self.forge = forge

    def open_repository(self, path: str | bytes) -> Any:
        # dulwich passes a str for info/refs and bytes for the service calls.
        text = path.decode("utf-8", "replace") if isinstance(path, bytes) else path
        match = _GIT_PATH.match(text.rstrip("/"))
        if match is None:
            raise NotFoundError(f"no repository at {text}")
        git = self.forge._git(f"{match['owner']}/{match['name']}")
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
_BAD_GIT_STREAM = (
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
        match = _GIT_PATH.match(path.rstrip("/"))
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
            if ref == f"refs/heads/{self.forge._default(self.repo_name)}":
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
                    self.forge._check_ref_is_free(self.repo_name, ref)
                except ForgeError as error:
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


class ForgeApp:
    """The WSGI application. ``token``: when set, every request must carry
    it (``Authorization: token T`` / ``Bearer T``, or HTTP basic auth with it
    as the password for git) or gets 401. ``login`` is the user that token
    (or, with no token at all, every request) acts as. ``users`` gives more
    tokens each their own login (login -> token): a request carrying one acts
    as that login, so the pull requests it opens and merges are recorded as
    that login's, as on GitHub."""

    def __init__(
        self,
        forge: LocalForge,
        *,
        token: str | None = None,
        login: str = "prplan",
        users: Mapping[str, str] | None = None,
        faults: Faults | None = None,
        rate_limit: int = 5000,
    ) -> None:
        self.forge = forge
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
        # With dulwich's request-size limit and gunzip filters.
        self._git = make_wsgi_chain(_Repos(forge), handlers={b"git-receive-pack": _ReceivePack})

    def __repr__(self) -> str:  # never show the token
        return f"ForgeApp({self.forge!r}, token={'set' if self._logins else 'none'})"

    # --- WSGI -------------------------------------------------------------------

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        fault = self.faults.take(method, path[len(API) :] if path.startswith(API) else path)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
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
                self._count(method, path, fault.status)
                return response(environ, start_response)
        if _GIT_PATH.match(path):
            answer = self._serve_git(environ, start_response)
        else:
            request = Request(environ)
            response = self._dispatch(request)
            self._count(method, path, response.status_code)
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

    def _count(self, method: str, path: str, status: int) -> None:
        with self._lock:
            if method in _WRITES:
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
        if not self._logins:
            return self._login
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() in {"token", "bearer"}:
            given = value.strip()
        elif scheme.lower() == "basic":
            try:
                _, _, given = base64.b64decode(value).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
        else:
            return None
        found = None
        for secret, login in self._logins.items():  # compare with every token, in constant time
            if hmac.compare_digest(given.encode(), secret.encode()):
                found = login
        return found

    def _who(self, request: Request) -> str:
        """The login the (authorised) request acts as."""
        return str(request.environ.get("prplan.login") or self._login)

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
        match = _GIT_PATH.match(path)
        assert match is not None
        try:
            self.forge._default(f"{match['owner']}/{match['name']}")
        except NotFoundError:
            self._count(method, path, 404)
            return Response("Repository not found\n", status=404)(environ, start_response)
        repo = f"{match['owner']}/{match['name']}"
        answer: list[Any] = []  # [status, headers]; dulwich writes the body through write()
        chunks: list[bytes] = []

        def buffered(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer[:] = [status, headers]
            return chunks.append

        with self.forge._lock:
            before = self.forge.branches(repo)
            try:
                for piece in self._git(environ, buffered):  # in order with write()'s
                    chunks.append(piece)
            except _BAD_GIT_STREAM as error:
                # A client's malformed stream is its error (400), never ours.
                self._count(method, path, 400)
                text = f"bad git request: {type(error).__name__}\n"
                return Response(text, status=400)(environ, start_response)
            if path.endswith("git-receive-pack"):
                self._after_push(repo, before)
        self._count(method, path, int(answer[0].split()[0]) if answer else 500)
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
            return self._json(401, urls.error("Bad credentials"))
        adapter = self._routes.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except MethodNotAllowed:
            return self._json(405, urls.error("Method Not Allowed"))
        except (RouteNotFound, HTTPException):
            return self._json(404, urls.error("Not Found"))
        handler = getattr(self, f"_h_{endpoint}")
        try:
            status, body, headers = handler(request, urls, **args)
        except _Fail as fail:
            return self._json(fail.status, urls.error(fail.message, fail.errors))
        except MergeBlocked as error:
            return self._json(405, urls.error(str(error).split(": ", 1)[-1]))
        except ConflictError as error:
            return self._json(409, urls.error(str(error)))
        except InvalidRequestError as error:
            problems = [
                {"field": p.field, "code": "invalid", "message": str(p)} for p in error.problems
            ]
            return self._json(422, urls.error("Validation Failed", problems))
        except NotFoundError:
            return self._json(404, urls.error("Not Found"))
        except ForgeError as error:
            return self._json(error.status or 422, urls.error(str(error)))
        except PrplanError as error:
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

    # --- helpers ------------------------------------------------------------------------

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        """The request's JSON object. Text that is not JSON, JSON nested past
        Python's recursion limit, or strings with lone surrogates (valid JSON
        escapes, but not text git or SQLite can store) are GitHub's 400."""
        if not request.get_data():
            return {}
        try:
            body = json.loads(request.get_data())
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except (ValueError, RecursionError):  # UnicodeError is a ValueError
            raise _Fail(400, "Problems parsing JSON") from None
        if not isinstance(body, dict):
            raise _Fail(400, "Problems parsing JSON")
        return body

    @staticmethod
    def _text(body: dict[str, Any], key: str, resource: str, *, default: str | None = None) -> str:
        """A required string field (or ``default`` when absent or null)."""
        value = body.get(key)
        if value is None and default is not None:
            return default
        if not isinstance(value, str):
            code = "missing_field" if value is None else "invalid"
            raise ForgeApp._invalid(f"{key} must be a string", resource, key, code)
        return value

    @staticmethod
    def _optional_text(body: dict[str, Any], key: str, resource: str) -> str | None:
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise ForgeApp._invalid(f"{key} must be a string or null", resource, key)
        return value

    @staticmethod
    def _sha(value: str, resource: str, field: str) -> str:
        if not _HEX_SHA.fullmatch(value):
            raise ForgeApp._invalid(f"{field} {value!r} is not a 40-hex sha", resource, field)
        return value

    def _target(self, owner: str, name: str) -> tuple[str, str]:
        """(repository, its default branch); 404 if there is no such repository."""
        repo = f"{owner}/{name}"
        return repo, self.forge._default(repo)

    def _commit_obj(self, repo: str, ref: str) -> GitCommit:
        sha = self.forge.branches(repo).get(ref) or ref
        obj = self.forge.git_object(repo, sha) if re.fullmatch(r"[0-9a-f]{40}", sha) else None
        if not isinstance(obj, GitCommit):
            raise _Fail(422 if obj is not None else 404, f"No commit found for SHA: {ref}")
        return obj

    @staticmethod
    def _invalid(message: str, resource: str, field: str, code: str = "invalid") -> _Fail:
        return _Fail(
            422,
            "Validation Failed",
            [{"resource": resource, "field": field, "code": code, "message": message}],
        )

    # --- handlers: each returns (status, body, extra headers) ------------------------------

    Answer = tuple[int, Any, dict[str, str] | None]

    def _h_repo(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, default = self._target(owner, name)
        return 200, urls.repository(repo, default), None

    def _h_user(self, request: Request, urls: Urls) -> Answer:
        return 200, urls.private_user(self._who(request)), None

    def _h_rate_limit(self, request: Request, urls: Urls) -> Answer:
        return (
            200,
            urls.rate_limit(self._limit, max(self._limit - self._used, 0), self._reset),
            None,
        )

    def _h_branch(self, request: Request, urls: Urls, owner: str, name: str, branch: str) -> Answer:
        repo, _ = self._target(owner, name)
        sha = self.forge.branches(repo).get(branch)
        if sha is None:
            raise _Fail(404, "Branch not found")
        return 200, urls.branch(repo, branch, self._commit_obj(repo, sha)), None

    # --- refs ------------------------------------------------------------------------------

    def _h_get_ref(self, request: Request, urls: Urls, owner: str, name: str, ref: str) -> Answer:
        repo, _ = self._target(owner, name)
        full = f"refs/{ref}"
        sha = self.forge.refs(repo).get(full)
        if sha is None:
            raise _Fail(404, "Not Found")
        return 200, urls.git_ref(repo, full, sha), None

    def _h_matching_refs(
        self, request: Request, urls: Urls, owner: str, name: str, ref: str
    ) -> Answer:
        repo, _ = self._target(owner, name)
        refs = self.forge.refs(repo, f"refs/{ref}")
        return 200, [urls.git_ref(repo, r, sha) for r, sha in sorted(refs.items())], None

    def _h_create_ref(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, _ = self._target(owner, name)
        body = self._body(request)
        ref, sha = body.get("ref"), body.get("sha")
        if not isinstance(ref, str) or not isinstance(sha, str):
            raise self._invalid("ref and sha are required", "Reference", "ref", "missing_field")
        self._sha(sha, "Reference", "sha")
        try:
            self.forge.create_ref(repo, ref, sha)
        except NotFoundError:
            raise _Fail(422, "Object does not exist") from None
        return 201, urls.git_ref(repo, ref, sha), {"Location": f"{urls.api}/repos/{repo}/git/{ref}"}

    def _h_delete_ref(
        self, request: Request, urls: Urls, owner: str, name: str, ref: str
    ) -> Answer:
        repo, _ = self._target(owner, name)
        full = f"refs/{ref}"
        if full not in self.forge.refs(repo):
            raise _Fail(422, "Reference does not exist")
        if not full.startswith("refs/heads/"):
            raise _Fail(422, "prplan's forge deletes branches only")
        self.forge.remove_branch(repo, full[len("refs/heads/") :])
        return 204, None, None

    def _h_update_ref(
        self, request: Request, urls: Urls, owner: str, name: str, ref: str
    ) -> Answer:
        repo, _ = self._target(owner, name)
        full = f"refs/{ref}"
        body = self._body(request)
        sha = self._sha(self._text(body, "sha", "Reference"), "Reference", "sha")
        force = body.get("force", False)
        if not isinstance(force, bool):
            raise self._invalid("force must be true or false", "Reference", "force")
        self.forge.update_ref(repo, full, sha, force=force)
        return 200, urls.git_ref(repo, full, sha), None

    # --- git objects ----------------------------------------------------------------------

    def _h_create_blob(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, _ = self._target(owner, name)
        body = self._body(request)
        content = body.get("content")
        encoding = self._text(body, "encoding", "Blob", default="utf-8")
        if not isinstance(content, str):
            raise self._invalid("content is required", "Blob", "content", "missing_field")
        if encoding == "base64":
            data = _base64(content, "Blob")
        elif encoding in {"utf-8", "utf8"}:
            data = content.encode("utf-8")
        else:
            raise self._invalid(f"encoding {encoding!r} is not utf-8 or base64", "Blob", "encoding")
        sha = self.forge.git_create_blob(repo, data)
        return 201, urls.short_blob(repo, sha), None

    def _h_blob(self, request: Request, urls: Urls, owner: str, name: str, sha: str) -> Answer:
        repo, _ = self._target(owner, name)
        obj = self.forge.git_object(repo, sha)
        if not isinstance(obj, Blob):
            raise _Fail(422, f"{sha} is not a blob")
        return 200, urls.blob(repo, obj), None

    def _h_create_tree(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, _ = self._target(owner, name)
        body = self._body(request)
        entries = body.get("tree")
        if not isinstance(entries, list):
            raise self._invalid("tree is required", "Tree", "tree", "missing_field")
        base_tree = self._optional_text(body, "base_tree", "Tree")
        inputs, problems = [], []
        for index, entry in enumerate(entries):
            parsed = _tree_input(index, entry)
            if isinstance(parsed, TreeInput):
                inputs.append(parsed)
                problems += tree_input_problems(index, parsed)
            else:
                problems += parsed
        if problems:  # every entry's problems at once, before anything is stored
            raise InvalidRequestError(problems, what="tree")
        sha = self.forge.git_create_tree(repo, inputs, base_tree)
        return 201, self._tree_json(repo, urls, sha, recursive=False), None

    def _tree_json(self, repo: str, urls: Urls, sha: str, *, recursive: bool) -> JSON:
        obj = self.forge.git_object(repo, sha)
        tree_sha = obj.tree.decode() if isinstance(obj, GitCommit) else sha
        entries = [
            urls.tree_entry(repo, e.path, e.mode, e.type, e.sha, e.size)
            for e in self.forge.git_tree_entries(repo, tree_sha, recursive=recursive)
        ]
        return urls.tree(repo, tree_sha, entries)

    def _h_tree(self, request: Request, urls: Urls, owner: str, name: str, sha: str) -> Answer:
        repo, _ = self._target(owner, name)
        sha = self.forge.branches(repo).get(sha, sha)  # GitHub takes a branch name here too
        if not isinstance(self.forge.git_object(repo, sha), Tree | GitCommit):
            raise _Fail(422, f"{sha} is not a tree")
        recursive = request.args.get("recursive", "") not in {"", "0", "false"}
        return 200, self._tree_json(repo, urls, sha, recursive=recursive), None

    def _h_create_commit(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, _ = self._target(owner, name)
        body = self._body(request)
        message, tree, parents = body.get("message"), body.get("tree"), body.get("parents", [])
        if (
            not isinstance(message, str)
            or not isinstance(tree, str)
            or not isinstance(parents, list)
        ):
            raise self._invalid(
                "message and tree are required", "Commit", "message", "missing_field"
            )
        for index, parent in enumerate(parents):
            if not isinstance(parent, str) or not _HEX_SHA.fullmatch(parent):
                raise self._invalid(
                    f"parents[{index}] must be a 40-hex commit sha", "Commit", "parents"
                )
        self._sha(tree, "Commit", "tree")
        _check_message(message, "Commit")
        who = _identity(body, "author")
        _identity(body, "committer")  # checked as GitHub does; the forge commits as itself
        sha = self.forge.git_create_commit(
            repo,
            message=message,
            tree=tree,
            parents=parents,
            author=who,
            author_date=_date(body, "author"),
            commit_date=_date(body, "committer"),
        )
        return 201, urls.git_commit(repo, self._commit_obj(repo, sha)), None

    def _h_git_commit(
        self, request: Request, urls: Urls, owner: str, name: str, sha: str
    ) -> Answer:
        repo, _ = self._target(owner, name)
        return 200, urls.git_commit(repo, self._commit_obj(repo, sha)), None

    # --- contents, commits, compare -------------------------------------------------------

    def _h_contents_root(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        return self._h_contents(request, urls, owner, name, "")

    def _h_contents(self, request: Request, urls: Urls, owner: str, name: str, path: str) -> Answer:
        repo, default = self._target(owner, name)
        ref = request.args.get("ref") or default
        commit = self._commit_obj(repo, ref)
        if path == "":
            entries = self.forge.git_tree_entries(repo, commit.tree.decode(), recursive=False)
        else:
            entries = [e for e in self.forge.git_tree_entries(repo, commit.tree.decode(), recursive=True)
                       if e.path == path or e.path.startswith(path + "/")]  # fmt: skip
        exact = next((e for e in entries if e.path == path), None)
        if exact is not None and exact.type == "blob":
            blob = self.forge.git_object(repo, exact.sha)
            assert isinstance(blob, Blob)
            return 200, urls.content_file(repo, path, ref, blob), None
        children = [
            e
            for e in entries
            if e.path != path and "/" not in e.path[len(path) + 1 if path else 0 :]
        ]
        if not children:
            raise _Fail(404, "Not Found")
        listing = [
            urls.content_item(
                repo, e.path, ref, "file" if e.type == "blob" else "dir", e.sha, e.size or 0
            )
            for e in children
        ]
        return 200, listing, None

    def _file_write(
        self, request: Request, owner: str, name: str, path: str, *, delete: bool
    ) -> tuple[str, str, str, dict[str, Any], str | None]:
        """Checks shared by PUT and DELETE of one file: one commit per file,
        with the blob sha as precondition. (repo, branch, head, body, current sha)"""
        repo, default = self._target(owner, name)
        why = tree_path_problem(path)
        if why is not None:
            raise self._invalid(f"path {path!r} {why}", "Content", "path")
        body = self._body(request)
        branch = self._text(body, "branch", "Content", default=default)
        message = body.get("message")
        if not isinstance(message, str):
            raise self._invalid("message is required", "Content", "message", "missing_field")
        _check_message(message, "Content")
        head = self.forge.branches(repo).get(branch)
        if head is None:
            raise _Fail(404, f"Branch {branch} not found")
        current = self.forge._blobs(repo, head, [path])[path]
        given = body.get("sha")
        if delete or current is not None:
            if not isinstance(given, str):
                raise self._invalid('"sha" was not supplied.', "Content", "sha", "missing_field")
            if given != current:
                raise _Fail(409, f"{path} does not match {given}")
        return repo, branch, head, body, current

    def _h_delete_contents(
        self, request: Request, urls: Urls, owner: str, name: str, path: str
    ) -> Answer:
        repo, branch, head, body, _ = self._file_write(request, owner, name, path, delete=True)
        with self.forge._lock:
            sha = self.forge._commit_files(
                repo, branch, head, {path: None}, body["message"], self.forge._user
            )
        return (
            200,
            {"content": None, "commit": urls.git_commit(repo, self._commit_obj(repo, sha))},
            None,
        )

    def _h_put_contents(
        self, request: Request, urls: Urls, owner: str, name: str, path: str
    ) -> Answer:
        repo, branch, head, body, current = self._file_write(
            request, owner, name, path, delete=False
        )
        content = _base64(self._text(body, "content", "Content"), "Content")
        with self.forge._lock:
            sha = self.forge._commit_files(
                repo, branch, head, {path: content}, body["message"], self.forge._user
            )
        blob = Blob.from_string(content)
        answer = {
            "content": urls.content_file(repo, path, branch, blob),
            "commit": urls.git_commit(repo, self._commit_obj(repo, sha)),
        }
        return (201 if current is None else 200), answer, None

    def _h_commit(self, request: Request, urls: Urls, owner: str, name: str, ref: str) -> Answer:
        repo, _ = self._target(owner, name)
        commit = self._commit_obj(repo, ref)
        parent = commit.parents[0].decode() if commit.parents else None
        files = self._files(repo, urls, parent, commit.id.decode()) if parent else []
        return 200, urls.commit(repo, commit, files), None

    def _files(self, repo: str, urls: Urls, old: str, new: str) -> list[JSON]:
        return [
            urls.diff_entry(repo, new, f.path, f.status, f.sha, f.additions, f.deletions)
            for f in self.forge.changed_files(repo, old, new)
        ]

    def _h_compare(
        self, request: Request, urls: Urls, owner: str, name: str, basehead: str
    ) -> Answer:
        repo, _ = self._target(owner, name)
        base_ref, sep, head_ref = basehead.partition("...")
        if not sep:
            raise _Fail(404, "Not Found")
        base, head = self._commit_obj(repo, base_ref), self._commit_obj(repo, head_ref)
        with self.forge._lock:
            comparison = self.forge._compare(repo, base.id.decode(), head.id.decode())
        merge_base = self._commit_obj(repo, comparison.merge_base_sha or base.id.decode())
        commits = [
            urls.commit(repo, self._commit_obj(repo, c.sha)) for c in comparison.commits[:250]
        ]
        html = f"{urls.web}{repo}/compare/{basehead}"
        body = {
            "url": f"{urls.api}/repos/{repo}/compare/{basehead}",
            "html_url": html,
            "permalink_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "base_commit": urls.commit(repo, base),
            "merge_base_commit": urls.commit(repo, merge_base),
            "status": comparison.status,
            "ahead_by": comparison.ahead_by,
            "behind_by": comparison.behind_by,
            "total_commits": comparison.ahead_by,
            "commits": commits,
            "files": self._files(repo, urls, merge_base.id.decode(), head.id.decode()),
        }
        return 200, body, None

    # --- pull requests ----------------------------------------------------------------------

    def _pull_json(
        self, repo: str, default: str, urls: Urls, row: dict[str, Any], *, full: bool
    ) -> JSON:
        base_sha = self.forge.branches(repo).get(row["base"]) or row["head_sha"]
        stats = None
        if full:
            merge_base = self.forge.merge_base(repo, base_sha, row["head_sha"]) or base_sha
            files = self.forge.changed_files(repo, merge_base, row["head_sha"])
            with self.forge._lock:
                commits = self.forge._compare(repo, merge_base, row["head_sha"]).ahead_by
            stats = (
                commits,
                sum(f.additions for f in files),
                sum(f.deletions for f in files),
                len(files),
            )
        # A forge made by an older prplan did not record authors: its own login.
        return urls.pull_request(
            repo,
            default,
            row,
            base_sha=base_sha,
            full=full,
            author=row.get("author") or self._login,
            merged_by=row.get("merged_by") or self._login,
            stats=stats,
        )

    def _h_pulls(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, default = self._target(owner, name)
        state = request.args.get("state", "open")
        head = request.args.get("head")
        base = request.args.get("base")
        rows = self.forge.pull_rows(repo)
        if state in {"open", "closed"}:
            rows = [r for r in rows if r["state"] == state]
        if head and ":" in head:  # GitHub ignores a head without 'owner:'
            head_owner, _, head_branch = head.partition(":")
            rows = [r for r in rows if r["head"] == head_branch and head_owner == owner]
        if base:
            rows = [r for r in rows if r["base"] == base]
        rows.sort(key=lambda r: r["number"], reverse=request.args.get("direction", "desc") != "asc")
        # Not a number: GitHub falls back to the default, so do we.
        per_page = min(max(request.args.get("per_page", 30, type=int), 1), 100)
        page = max(request.args.get("page", 1, type=int), 1)
        chunk = rows[(page - 1) * per_page : page * per_page]
        body = [self._pull_json(repo, default, urls, r, full=False) for r in chunk]
        return 200, body, self._links(request, urls, page, math.ceil(len(rows) / per_page))

    @staticmethod
    def _links(request: Request, urls: Urls, page: int, last: int) -> dict[str, str] | None:
        """GitHub's ``Link`` header for paginated lists."""
        if last <= 1:
            return None
        base = urls.web.rstrip("/") + request.path
        args = {k: v for k, v in request.args.items() if k != "page"}

        def link(number: int, rel: str) -> str:
            return f'<{base}?{urlencode({**args, "page": number})}>; rel="{rel}"'

        parts = []
        if page < last:
            parts += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            parts += [link(1, "first"), link(page - 1, "prev")]
        return {"Link": ", ".join(parts)}

    def _h_create_pull(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, default = self._target(owner, name)
        body = self._body(request)
        title, head, base = body.get("title"), body.get("head"), body.get("base")
        if not all(isinstance(v, str) and v for v in (title, head, base)):
            raise self._invalid(
                "title, head and base are required", "PullRequest", "title", "missing_field"
            )
        assert isinstance(head, str) and isinstance(base, str) and isinstance(title, str)
        head_branch = head.split(":", 1)[1] if ":" in head else head
        try:
            with self.forge._lock:
                number = self.forge._open_pull(
                    repo,
                    head_branch,
                    base,
                    title,
                    str(body.get("body") or ""),
                    duplicate_ok=False,
                    author=self._who(request),
                )["number"]
        except ConflictError:
            owner = repo.split("/")[0]
            raise _Fail(422, "Validation Failed", [{
                "resource": "PullRequest", "code": "custom",
                "message": f"A pull request already exists for {owner}:{head_branch}.",
            }]) from None  # fmt: skip
        except ForgeError as error:
            raise _Fail(422, "Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                     "message": str(error).split(": ", 1)[-1]}]) from None  # fmt: skip
        row = self.forge.pull_row(repo, number)
        headers = {"Location": f"{urls.api}/repos/{repo}/pulls/{number}"}
        return 201, self._pull_json(repo, default, urls, row, full=True), headers

    def _h_edit_pull(
        self, request: Request, urls: Urls, owner: str, name: str, number: int
    ) -> Answer:
        repo, _ = self._target(owner, name)
        body = self._body(request)
        state = self._optional_text(body, "state", "PullRequest")
        if state is not None and state not in {"open", "closed"}:
            raise self._invalid("state must be open or closed", "PullRequest", "state")
        title = self._optional_text(body, "title", "PullRequest")
        text = self._optional_text(body, "body", "PullRequest")
        self.forge.edit_pull(repo, number, title=title, body=text, state=state)
        return self._h_pull(request, urls, owner, name, number)

    def _h_pull(self, request: Request, urls: Urls, owner: str, name: str, number: int) -> Answer:
        repo, default = self._target(owner, name)
        return (
            200,
            self._pull_json(repo, default, urls, self.forge.pull_row(repo, number), full=True),
            None,
        )

    def _h_merged(self, request: Request, urls: Urls, owner: str, name: str, number: int) -> Answer:
        repo, _ = self._target(owner, name)
        return (204 if self.forge.pull_row(repo, number)["merged"] else 404), None, None

    def _h_merge(self, request: Request, urls: Urls, owner: str, name: str, number: int) -> Answer:
        repo, _ = self._target(owner, name)
        row = self.forge.pull_row(repo, number)
        body = self._body(request)
        method = self._text(body, "merge_method", "PullRequest", default="merge")
        if method not in {"merge", "squash", "rebase"}:
            raise self._invalid(
                f"merge_method {method!r} is not merge, squash or rebase",
                "PullRequest",
                "merge_method",
            )
        expected = self._optional_text(body, "sha", "PullRequest")
        if row["state"] != "open":
            raise _Fail(405, "Pull Request is not mergeable")
        if isinstance(expected, str) and expected != row["head_sha"]:
            raise _Fail(409, "Head branch was modified. Review and try the merge again.")
        with self.forge._lock:
            sha = self.forge._merge(
                repo,
                number,
                method,
                expected if isinstance(expected, str) else None,
                by=self._who(request),
            )
        return (
            200,
            {"sha": sha, "merged": True, "message": "Pull Request successfully merged"},
            None,
        )

    def _h_pull_files(
        self, request: Request, urls: Urls, owner: str, name: str, number: int
    ) -> Answer:
        repo, _ = self._target(owner, name)
        row = self.forge.pull_row(repo, number)
        base_sha = self.forge.branches(repo).get(row["base"]) or row["head_sha"]
        merge_base = self.forge.merge_base(repo, base_sha, row["head_sha"]) or base_sha
        return 200, self._files(repo, urls, merge_base, row["head_sha"]), None


def _tree_input(index: int, entry: object) -> TreeInput | list[Problem]:
    """One entry of ``POST git/trees`` as GitHub takes it: ``path``, ``mode``
    (a string, one of git's five), ``type`` (optional, but it must agree with
    the mode) and exactly one of ``content`` or ``sha`` (null deletes)."""
    where = f"tree[{index}]"
    if not isinstance(entry, dict):
        return [Problem(where, "must be an object with path, mode, type and sha or content")]
    problems = []
    path, mode_text, kind = entry.get("path"), entry.get("mode", "100644"), entry.get("type")
    if not isinstance(path, str):
        problems.append(Problem(f"{where}.path", "is required and must be a string"))
    mode = int(mode_text, 8) if isinstance(mode_text, str) and re.fullmatch(r"0?[0-7]{6}", mode_text) else None  # fmt: skip
    if mode is None or mode not in GIT_MODES:
        problems.append(
            Problem(
                f"{where}.mode",
                f"{mode_text!r} is not one of '100644', '100755', '120000', '040000', '160000'",
            )
        )
    elif kind is not None and kind != GIT_MODES[mode]:
        problems.append(
            Problem(
                f"{where}.type", f"{kind!r} does not match mode {mode_text} (a {GIT_MODES[mode]})"
            )
        )
    content, sha = entry.get("content"), entry.get("sha")
    if "content" not in entry and "sha" not in entry:
        problems.append(Problem(where, "give content, or sha (null deletes the path)"))
    if content is not None and not isinstance(content, str):
        problems.append(Problem(f"{where}.content", "must be a string"))
    if sha is not None and not isinstance(sha, str):
        problems.append(Problem(f"{where}.sha", "must be a string, or null to delete"))
    if problems or not isinstance(path, str) or mode is None:
        return problems
    return TreeInput(
        path=path,
        mode=mode,
        sha=sha if isinstance(sha, str) else None,
        content=content.encode("utf-8") if isinstance(content, str) else None,
    )


def _base64(text: str, resource: str) -> bytes:
    """``content`` sent base64-encoded. Line breaks and spaces are allowed
    (MIME tools wrap at 76 characters); anything else outside the alphabet,
    or bad padding, is refused rather than dropped, so no blob is stored
    other than the one the client meant."""
    try:
        return base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError):
        raise ForgeApp._invalid("content is not valid base64", resource, "content") from None


def _check_message(message: str, resource: str) -> None:
    """git ends a commit message at a NUL: what follows would vanish."""
    if "\x00" in message:
        raise ForgeApp._invalid("message contains a NUL character", resource, "message")


def _date(body: dict[str, Any], key: str) -> tuple[int, int] | None:
    """``author.date``/``committer.date`` (ISO 8601, GitHub's
    ``YYYY-MM-DDTHH:MM:SSZ`` or with an offset) as git stores it: (seconds
    since the epoch, offset in seconds). A date git cannot write (before
    1970, an offset that is not whole minutes) is refused, never dropped."""
    person = body.get(key)
    value = person.get("date") if isinstance(person, dict) else None
    if value is None:
        return None
    moment = None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # no offset given: UTC, as GitHub reads it
    offset = None if moment is None else moment.utcoffset()
    if moment is None or offset is None or offset.total_seconds() % 60:
        raise ForgeApp._invalid(
            f"{key}.date {value!r} is not an ISO 8601 time (YYYY-MM-DDTHH:MM:SSZ or with an "
            "offset of whole minutes, like +02:00)",
            "Commit",
            f"{key}.date",
        )
    if moment < datetime(1970, 1, 1, tzinfo=UTC):
        raise ForgeApp._invalid(
            f"{key}.date {value!r} is before 1970-01-01, which git cannot store",
            "Commit",
            f"{key}.date",
        )
    return int(moment.timestamp()), int(offset.total_seconds())


def _identity(body: dict[str, Any], key: str) -> str | None:
    """A commit's ``author``/``committer`` as git writes it, ``Name <email>``;
    GitHub needs both, and neither may break the commit header."""
    person = body.get(key)
    if person is None:
        return None
    fields = person if isinstance(person, dict) else {}
    name, email = fields.get("name"), fields.get("email")
    for field, value in (("name", name), ("email", email)):
        if not isinstance(value, str) or not value.strip() or re.search(r"[<>\x00\n]", value):
            raise ForgeApp._invalid(
                f"{key}.{field} is required: a non-empty string without '<', '>' or a newline",
                "Commit",
                f"{key}.{field}",
                "missing_field" if value is None else "invalid",
            )
    return f"{name} <{email}>"


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

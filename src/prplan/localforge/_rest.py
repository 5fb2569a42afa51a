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
import json
import math
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

import attrs
from dulwich.errors import HookError
from dulwich.hooks import Hook
from dulwich.objects import Blob, Tree
from dulwich.objects import Commit as GitCommit
from dulwich.server import Backend
from dulwich.web import make_wsgi_chain
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.exceptions import NotFound as RouteNotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .._errors import ConflictError, ForgeError, MergeBlocked, NotFoundError, PrplanError
from ._faults import Faults
from ._forge import LocalForge, TreeInput
from ._github_json import JSON, Urls

__all__ = ["ForgeApp", "ForgeServer", "RequestLog"]

API = "/api/v3"
_WRITES = {"POST", "PATCH", "PUT", "DELETE"}
_GIT_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<name>[^/]+?)\.git(?P<rest>/.*)?$")


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


def _rules() -> Map:
    repo = f"{API}/repos/<owner>/<name>"
    r = Rule
    return Map(
        [
            r(f"{repo}", endpoint="repo", methods=["GET"]),
            r(f"{repo}/branches/<path:branch>", endpoint="branch", methods=["GET"]),
            r(f"{repo}/git/ref/<path:ref>", endpoint="get_ref", methods=["GET"]),
            r(f"{repo}/git/matching-refs/<path:ref>", endpoint="matching_refs", methods=["GET"]),
            r(f"{repo}/git/refs", endpoint="create_ref", methods=["POST"]),
            r(f"{repo}/git/refs/<path:ref>", endpoint="ref", methods=["GET", "PATCH", "DELETE"]),
            r(f"{repo}/git/blobs", endpoint="create_blob", methods=["POST"]),
            r(f"{repo}/git/blobs/<sha>", endpoint="blob", methods=["GET"]),
            r(f"{repo}/git/trees", endpoint="create_tree", methods=["POST"]),
            r(f"{repo}/git/trees/<sha>", endpoint="tree", methods=["GET"]),
            r(f"{repo}/git/commits", endpoint="create_commit", methods=["POST"]),
            r(f"{repo}/git/commits/<sha>", endpoint="git_commit", methods=["GET"]),
            r(f"{repo}/contents/", endpoint="contents_root", methods=["GET"]),
            r(
                f"{repo}/contents/<path:path>",
                endpoint="contents",
                methods=["GET", "PUT", "DELETE"],
            ),
            r(f"{repo}/compare/<path:basehead>", endpoint="compare", methods=["GET"]),
            r(f"{repo}/commits/<path:ref>", endpoint="commit", methods=["GET"]),
            r(f"{repo}/pulls", endpoint="pulls", methods=["GET", "POST"]),
            r(f"{repo}/pulls/<int:number>", endpoint="pull", methods=["GET", "PATCH"]),
            r(f"{repo}/pulls/<int:number>/merge", endpoint="merge", methods=["GET", "PUT"]),
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


class ForgeApp:
    """The WSGI application. ``token``: when set, every request must carry
    it (``Authorization: token T`` / ``Bearer T``, or HTTP basic auth with it
    as the password for git) or gets 401. ``login`` is the user it serves as."""

    def __init__(
        self,
        forge: LocalForge,
        *,
        token: str | None = None,
        login: str = "prplan",
        faults: Faults | None = None,
        rate_limit: int = 5000,
    ) -> None:
        self.forge = forge
        self.faults = faults or Faults()
        self.log = RequestLog()
        self._token = token
        self._login = login
        self._limit = rate_limit
        self._used = 0
        self._reset = int(time.time()) + 3600
        self._lock = threading.Lock()
        self._routes = _rules()
        self._git = make_wsgi_chain(_Repos(forge))  # with request-size limit and gunzip filters

    def __repr__(self) -> str:  # never show the token
        return f"ForgeApp({self.forge!r}, token={'set' if self._token else 'none'})"

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
        if self._token is None:
            return True
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() in {"token", "bearer"}:
            return value.strip() == self._token
        if scheme.lower() == "basic":
            try:
                _, _, password = base64.b64decode(value).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return password == self._token
        return False

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
        self._count(method, path, 200)
        with self.forge._lock:
            body = list(self._git(environ, start_response))
            if path.endswith("git-receive-pack"):
                self.forge.sync_pull_heads(f"{match['owner']}/{match['name']}")
        return body

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
        if not request.get_data():
            return {}
        try:
            body = json.loads(request.get_data())
        except ValueError:
            raise _Fail(400, "Problems parsing JSON") from None
        if not isinstance(body, dict):
            raise _Fail(400, "Problems parsing JSON")
        return body

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
        return 200, urls.private_user(self._login), None

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
        try:
            self.forge.create_ref(repo, ref, sha)
        except NotFoundError:
            raise _Fail(422, "Object does not exist") from None
        return 201, urls.git_ref(repo, ref, sha), {"Location": f"{urls.api}/repos/{repo}/git/{ref}"}

    def _h_ref(self, request: Request, urls: Urls, owner: str, name: str, ref: str) -> Answer:
        repo, _ = self._target(owner, name)
        full = f"refs/{ref}"
        if request.method == "GET":
            return self._h_get_ref(request, urls, owner, name, ref)
        if request.method == "DELETE":
            if full not in self.forge.refs(repo):
                raise _Fail(422, "Reference does not exist")
            if not full.startswith("refs/heads/"):
                raise _Fail(422, "prplan's forge deletes branches only")
            self.forge.remove_branch(repo, full[len("refs/heads/") :])
            return 204, None, None
        body = self._body(request)
        sha = body.get("sha")
        if not isinstance(sha, str):
            raise self._invalid("sha is required", "Reference", "sha", "missing_field")
        self.forge.update_ref(repo, full, sha, force=bool(body.get("force", False)))
        return 200, urls.git_ref(repo, full, sha), None

    # --- git objects ----------------------------------------------------------------------

    def _h_create_blob(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, _ = self._target(owner, name)
        body = self._body(request)
        content, encoding = body.get("content"), body.get("encoding", "utf-8")
        if not isinstance(content, str):
            raise self._invalid("content is required", "Blob", "content", "missing_field")
        if encoding == "base64":
            try:
                data = base64.b64decode(content, validate=False)
            except binascii.Error:
                raise self._invalid("content is not valid base64", "Blob", "content") from None
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
        inputs = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
                raise self._invalid(
                    f"tree[{index}].path is required", "Tree", "path", "missing_field"
                )
            mode = int(str(entry.get("mode", "100644")), 8)
            if "content" in entry and entry["content"] is not None:
                inputs.append(
                    TreeInput(
                        path=entry["path"], mode=mode, content=str(entry["content"]).encode("utf-8")
                    )
                )
            else:
                inputs.append(TreeInput(path=entry["path"], mode=mode, sha=entry.get("sha")))
        base_tree = body.get("base_tree")
        sha = self.forge.git_create_tree(
            repo, inputs, base_tree if isinstance(base_tree, str) else None
        )
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
        author = body.get("author")
        who = (
            f"{author['name']} <{author['email']}>"
            if isinstance(author, dict) and "name" in author
            else None
        )
        sha = self.forge.git_create_commit(
            repo, message=message, tree=tree, parents=[str(p) for p in parents], author=who
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
        if request.method == "GET":
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
        # PUT / DELETE: one commit per file, with the blob sha as precondition.
        body = self._body(request)
        branch = body.get("branch") or default
        message = body.get("message")
        if not isinstance(message, str):
            raise self._invalid("message is required", "Content", "message", "missing_field")
        head = self.forge.branches(repo).get(branch)
        if head is None:
            raise _Fail(404, f"Branch {branch} not found")
        current = self.forge._blobs(repo, head, [path])[path]
        given = body.get("sha")
        if request.method == "DELETE" or current is not None:
            if not isinstance(given, str):
                raise self._invalid('"sha" was not supplied.', "Content", "sha", "missing_field")
            if given != current:
                raise _Fail(409, f"{path} does not match {given}")
        if request.method == "DELETE":
            with self.forge._lock:
                sha = self.forge._commit_files(
                    repo, branch, head, {path: None}, message, self.forge._user
                )
            return (
                200,
                {"content": None, "commit": urls.git_commit(repo, self._commit_obj(repo, sha))},
                None,
            )
        try:
            content = base64.b64decode(str(body.get("content", "")), validate=False)
        except binascii.Error:
            raise self._invalid("content is not valid base64", "Content", "content") from None
        with self.forge._lock:
            sha = self.forge._commit_files(
                repo, branch, head, {path: content}, message, self.forge._user
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
        return urls.pull_request(
            repo, default, row, base_sha=base_sha, full=full, login=self._login, stats=stats
        )

    def _h_pulls(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, default = self._target(owner, name)
        if request.method == "POST":
            return self._create_pull(request, urls, repo, default)
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
        per_page = min(max(int(request.args.get("per_page", 30)), 1), 100)
        page = max(int(request.args.get("page", 1)), 1)
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

    def _create_pull(self, request: Request, urls: Urls, repo: str, default: str) -> Answer:
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
                    repo, head_branch, base, title, str(body.get("body") or ""), duplicate_ok=False
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

    def _h_pull(self, request: Request, urls: Urls, owner: str, name: str, number: int) -> Answer:
        repo, default = self._target(owner, name)
        if request.method == "PATCH":
            body = self._body(request)
            state = body.get("state")
            if state is not None and state not in {"open", "closed"}:
                raise self._invalid("state must be open or closed", "PullRequest", "state")
            self.forge.edit_pull(
                repo, number, title=body.get("title"), body=body.get("body"), state=state
            )
        return (
            200,
            self._pull_json(repo, default, urls, self.forge.pull_row(repo, number), full=True),
            None,
        )

    def _h_merge(self, request: Request, urls: Urls, owner: str, name: str, number: int) -> Answer:
        repo, _ = self._target(owner, name)
        row = self.forge.pull_row(repo, number)
        if request.method == "GET":
            return (204 if row["merged"] else 404), None, None
        body = self._body(request)
        method = body.get("merge_method", "merge")
        if method not in {"merge", "squash", "rebase"}:
            raise self._invalid(
                f"merge_method {method!r} is not merge, squash or rebase",
                "PullRequest",
                "merge_method",
            )
        expected = body.get("sha")
        if row["state"] != "open":
            raise _Fail(405, "Pull Request is not mergeable")
        if isinstance(expected, str) and expected != row["head_sha"]:
            raise _Fail(409, "Head branch was modified. Review and try the merge again.")
        with self.forge._lock:
            sha = self.forge._merge(
                repo, number, method, expected if isinstance(expected, str) else None
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

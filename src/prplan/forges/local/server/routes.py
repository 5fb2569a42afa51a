"""What every group of the REST server's routes shares.

``Routes`` is the base of the route groups (``repos``, ``git``, ``pulls``)
that ``ForgeApp`` is made of: the forge it serves, the login a request acts
as, and the checks of a request's JSON body that GitHub makes on every
endpoint. A handler returns an ``Answer`` (status, body, extra headers) or
raises ``Fail`` (an HTTP error with GitHub's body); ``ForgeApp`` turns the
forge's own errors into GitHub's answers.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from dulwich.objects import Commit as GitCommit
from werkzeug.wrappers import Request

from prplan.forges.local import LocalForge
from prplan.forges.local.server.payloads import JSON, Urls
from prplan.forges.local.trees import HEX_SHA

__all__ = [
    "Answer", "Fail", "Routes", "base64_content", "bot_identity", "check_message", "invalid",
]  # fmt: skip

#: What a handler returns: (status, body, extra headers).
Answer = tuple[int, Any, dict[str, str] | None]


class Fail(Exception):
    """An HTTP error answer with GitHub's body."""

    def __init__(
        self, status: int, message: str, errors: list[JSON] | list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors


def bot_identity(login: str) -> str | None:
    """A GitHub App's bot (``SLUG[bot]``: no user login has brackets) as git
    writes it, the author and committer of what it commits; None for a user."""
    if not login.endswith("[bot]"):
        return None
    return f"{login} <{login}@users.noreply.localforge.invalid>"


def invalid(message: str, resource: str, field: str, code: str = "invalid") -> Fail:
    """GitHub's 422 "Validation Failed" naming one field of one resource."""
    return Fail(
        422,
        "Validation Failed",
        [{"resource": resource, "field": field, "code": code, "message": message}],
    )


class Routes:
    """The base of the route groups: the forge, the login, the body checks."""

    forge: LocalForge
    #: the login a request acts as when it carries no token of its own
    _login: str

    def _files(self, repo: str, urls: Urls, old: str, new: str) -> list[JSON]:
        """The files that differ between two commits, as GitHub lists them."""
        return [
            urls.diff_entry(repo, new, f.path, f.status, f.sha, f.additions, f.deletions)
            for f in self.forge.changed_files(repo, old, new)
        ]

    def _forge_for(self, request: Request) -> LocalForge:
        """The forge as the request's credential sees it (``app_auth``: an
        App's installation token sees its installation's repositories only)."""
        return self.forge

    def _who(self, request: Request) -> str:
        """The login the (authorised) request acts as."""
        return str(request.environ.get("prplan.login") or self._login)

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
            raise Fail(400, "Problems parsing JSON") from None
        if not isinstance(body, dict):
            raise Fail(400, "Problems parsing JSON")
        return body

    @staticmethod
    def _text(body: dict[str, Any], key: str, resource: str, *, default: str | None = None) -> str:
        """A required string field (or ``default`` when absent or null)."""
        value = body.get(key)
        if value is None and default is not None:
            return default
        if not isinstance(value, str):
            code = "missing_field" if value is None else "invalid"
            raise invalid(f"{key} must be a string", resource, key, code)
        return value

    @staticmethod
    def _optional_text(body: dict[str, Any], key: str, resource: str) -> str | None:
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise invalid(f"{key} must be a string or null", resource, key)
        return value

    @staticmethod
    def _sha(value: str, resource: str, field: str) -> str:
        if not HEX_SHA.fullmatch(value):
            raise invalid(f"{field} {value!r} is not a 40-hex sha", resource, field)
        return value

    def _target(self, owner: str, name: str) -> tuple[str, str]:
        """(repository, its default branch); 404 if there is no such repository."""
        repo = f"{owner}/{name}"
        return repo, self.forge.default_branch_name(repo)

    def _commit_obj(self, repo: str, ref: str) -> GitCommit:
        sha = self.forge.branches(repo).get(ref) or ref
        obj = self.forge.git_object(repo, sha) if HEX_SHA.fullmatch(sha) else None
        if not isinstance(obj, GitCommit):
            raise Fail(422 if obj is not None else 404, f"No commit found for SHA: {ref}")
        return obj


def base64_content(text: str, resource: str) -> bytes:
    """``content`` sent base64-encoded. Line breaks and spaces are allowed
    (MIME tools wrap at 76 characters); anything else outside the alphabet,
    or bad padding, is refused rather than dropped, so no blob is stored
    other than the one the client meant."""
    try:
        return base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError):
        raise invalid("content is not valid base64", resource, "content") from None


def check_message(message: str, resource: str) -> None:
    """git ends a commit message at a NUL: what follows would vanish."""
    if "\x00" in message:
        raise invalid("message contains a NUL character", resource, "message")

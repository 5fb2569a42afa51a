"""GitHub App authentication on the local forge's server.

GitHub's flow, as ``prplan forge serve --app ID=PUBLIC_KEY_PEM_PATH`` serves it:

1. The App signs a JWT (RS256) with its private key; the forge verifies it
   with the App's public key: the signature, ``iss`` (the App's id),
   ``exp`` (not passed, at most 10 minutes after ``iat``), ``iat`` (at most
   60 s in the future, GitHub's allowance for clock drift). A JWT reaches
   the App's own endpoints only: ``GET /app``, ``GET /app/installations``,
   ``GET /app/installations/{id}``, ``POST /app/installations/{id}/access_tokens``
   and ``GET /repos/{owner}/{repo}/installation``.
2. An installation token (``POST .../access_tokens``) expires after
   ``token_lifetime`` seconds (an hour, as on GitHub) and reaches only its
   installation's repositories: any other is 404 (REST, GraphQL and git
   over HTTP), as GitHub hides what a token cannot see.
3. Whatever the token does is recorded as the App's bot, ``SLUG[bot]``:
   the author of its pull requests, the author and committer of its commits.

Everything here is in memory: the Apps are the server's configuration, and
a restarted server issues new tokens. Tokens are random and opaque; their
form (``ghs_`` and 40 random characters) is GitHub's today, which clients
must not rely on.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import attrs
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from werkzeug.routing import Rule
from werkzeug.wrappers import Request

from prplan import errors
from prplan.forges.local import LocalForge
from prplan.forges.local.server.payloads import EPOCH_ISO, JSON, Urls, iso, node_id, numeric_id
from prplan.forges.local.server.routes import Answer, Fail, Routes

__all__ = ["AppAuthority", "AppRoutes", "GitHubApp", "ScopedForge", "app_rules", "load_public_key"]

#: What the forge's Apps may do (what prplan needs; docs/github.md).
PERMISSIONS = {
    "contents": "write",
    "pull_requests": "write",
    "metadata": "read",
    "checks": "read",
    "statuses": "read",
}
#: GitHub refuses a JWT that expires more than 10 minutes after it was issued...
MAX_JWT_LIFETIME = 600
#: ...and accepts one issued up to a minute in the future (clock drift).
CLOCK_SKEW = 60
#: The endpoints a JWT reaches (``ForgeApp``'s route names).
APP_ENDPOINTS = frozenset(
    {"app", "app_installations", "app_installation", "access_tokens", "repo_installation"}
)


def app_rules(api: str) -> list[Rule]:
    """The App's routes (``ForgeApp``'s map): a JWT reaches these only."""
    installation = f"{api}/app/installations/<int:installation_id>"
    return [
        Rule(f"{api}/app", endpoint="app", methods=["GET"]),
        Rule(f"{api}/app/installations", endpoint="app_installations", methods=["GET"]),
        Rule(installation, endpoint="app_installation", methods=["GET"]),
        Rule(f"{installation}/access_tokens", endpoint="access_tokens", methods=["POST"]),
        Rule(
            f"{api}/repos/<owner>/<name>/installation",
            endpoint="repo_installation",
            methods=["GET"],
        ),
    ]


def load_public_key(pem: str | bytes, where: str) -> RSAPublicKey:
    """An App's public key from PEM text; InvalidRequestError naming ``where``
    when it is not an RSA public key."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, RSAPublicKey):
        raise errors.InvalidRequestError(
            [
                errors.Problem(
                    where,
                    "is not a PEM RSA public key (-----BEGIN PUBLIC KEY-----): derive it from "
                    "the App's private key with `openssl rsa -in app.pem -pubout`",
                )
            ]
        )
    return key


def slug_of(name: str) -> str:
    """GitHub's slug of an App's name: lower case, runs of other characters a dash."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "app"


@attrs.frozen
class GitHubApp:
    """One App the forge knows: its id, its public key (PEM), its name, where
    it is installed (``installations``: ``OWNER`` for all of an owner's
    repositories, ``OWNER/NAME`` for chosen ones, grouped per owner as
    GitHub has one installation per account; none: every owner with
    repositories), and how long its installation tokens live (seconds)."""

    app_id: int
    public_key: str
    name: str = "prplan-app"
    installations: tuple[str, ...] = ()
    token_lifetime: float = 3600.0

    @property
    def slug(self) -> str:
        return slug_of(self.name)

    @property
    def login(self) -> str:
        """The bot that acts for the App: ``SLUG[bot]``."""
        return f"{self.slug}[bot]"


@attrs.frozen
class Installation:
    """The App on one account: all of its repositories (``repos`` None) or some."""

    id: int
    app: GitHubApp
    account: str
    repos: frozenset[str] | None

    def covers(self, repo: str) -> bool:
        if self.repos is not None:
            return repo in self.repos
        return repo.split("/", 1)[0] == self.account


@attrs.frozen
class Grant:
    """What an installation token is: its installation and when it expires."""

    installation: Installation
    expires: float


class AppAuthority:
    """The Apps, their installations and the tokens issued. ``clock``: the
    time JWTs and tokens are judged by."""

    def __init__(
        self,
        forge: LocalForge,
        apps: Sequence[GitHubApp],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._forge = forge
        self.apps = {app.app_id: app for app in apps}
        self._keys = {app.app_id: load_public_key(app.public_key, "app") for app in apps}
        self._clock = clock
        self._grants: dict[str, Grant] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AppAuthority(apps={sorted(self.apps)}, tokens={len(self._grants)})"

    # --- JWTs -------------------------------------------------------------------

    def verify(self, token: str) -> GitHubApp:
        """The App whose valid JWT ``token`` is; Fail(401) with GitHub's
        message when it is not one."""
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
            app = self.apps.get(int(claims["iss"]))
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            raise Fail(401, "A JSON web token could not be decoded") from None
        if app is None:
            raise Fail(401, "'Issuer' claim ('iss') must be an Integer naming a GitHub App")
        try:
            jwt.decode(
                token,
                self._keys[app.app_id],
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False, "require": ["iat", "exp"]},
            )
        except jwt.PyJWTError:
            raise Fail(401, "A JSON web token could not be decoded") from None
        self._check_times(claims)
        return app

    def _check_times(self, claims: dict[str, Any]) -> None:
        iat, exp, now = claims.get("iat"), claims.get("exp"), self._clock()
        if not isinstance(iat, int) or iat > now + CLOCK_SKEW:
            raise Fail(
                401,
                "'Issued at' claim ('iat') must be an Integer representing the time "
                "that the assertion was issued",
            )
        if not isinstance(exp, int) or exp <= now:
            raise Fail(
                401,
                "'Expiration time' claim ('exp') must be a numeric value representing "
                "the future time at which the assertion expires",
            )
        if exp - iat > MAX_JWT_LIFETIME:
            raise Fail(401, "'Expiration time' claim ('exp') is too far in the future")

    # --- installations ----------------------------------------------------------

    def installations(self, app: GitHubApp) -> list[Installation]:
        """The App's installations, one per account, in the order of accounts."""
        given = app.installations or tuple(
            sorted({repo.split("/", 1)[0] for repo in self._forge.repositories()})
        )
        accounts: dict[str, set[str] | None] = {}
        for target in given:
            owner = target.split("/", 1)[0]
            if "/" not in target:
                accounts[owner] = None  # the whole account
            elif accounts.get(owner, set()) is not None:
                accounts.setdefault(owner, set()).add(target)  # type: ignore[union-attr]
        return [
            Installation(
                id=numeric_id("installation", app.app_id, owner) % 100_000_000,
                app=app,
                account=owner,
                repos=None if repos is None else frozenset(repos),
            )
            for owner, repos in sorted(accounts.items())
        ]

    def installation(self, app: GitHubApp, installation_id: int) -> Installation:
        for found in self.installations(app):
            if found.id == installation_id:
                return found
        raise Fail(404, "Not Found")

    def installation_for(self, app: GitHubApp, repo: str) -> Installation:
        """The installation that covers ``repo`` (404 when none does, or the
        repository does not exist)."""
        if repo in self._forge.repositories():
            for found in self.installations(app):
                if found.covers(repo):
                    return found
        raise Fail(404, "Not Found")

    # --- installation tokens ----------------------------------------------------

    def issue(self, installation: Installation) -> tuple[str, float]:
        """A new installation token and when it expires (epoch seconds)."""
        token = "ghs_" + secrets.token_urlsafe(30)
        expires = self._clock() + installation.app.token_lifetime
        with self._lock:
            now = self._clock()
            for known in [t for t, g in self._grants.items() if g.expires < now - 3600]:
                del self._grants[known]  # long expired: forgotten
            self._grants[token] = Grant(installation, expires)
        return token, expires

    def issued(self) -> list[str]:
        """Every installation token issued and not yet forgotten (tests look
        for them in what prplan shows)."""
        with self._lock:
            return list(self._grants)

    def grant_of(self, token: str) -> Grant | None:
        """The grant of an installation token this forge issued (expired or
        not), or None for any other string."""
        with self._lock:
            return self._grants.get(token)

    def revoke(self, token: str) -> None:
        """Drop an installation token before it expires (GitHub does when
        an App's installation is suspended or its token revoked): a request
        with it then gets 401."""
        with self._lock:
            grant = self._grants.get(token)
            if grant is not None:  # expired now: still known, so still refused
                self._grants[token] = attrs.evolve(grant, expires=self._clock())

    def expired(self, grant: Grant) -> bool:
        return grant.expires <= self._clock()


class ScopedForge:
    """The forge as an installation token sees it: a method given a
    repository outside the installation (its first argument, ``OWNER/NAME``)
    raises NotFoundError, as GitHub answers 404 for what a token cannot see."""

    def __init__(self, forge: LocalForge, installation: Installation) -> None:
        self._forge = forge
        self._installation = installation

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._forge, name)
        if not callable(attribute):
            return attribute

        def scoped(*args: Any, **kwargs: Any) -> Any:
            repo = args[0] if args else kwargs.get("repo")
            if isinstance(repo, str) and "/" in repo and not self._installation.covers(repo):
                raise errors.NotFoundError(f"{repo}: not found")
            return attribute(*args, **kwargs)

        return scoped


class AppRoutes(Routes):
    """The App endpoints of ``ForgeApp`` (a JWT authenticates each)."""

    authority: AppAuthority | None

    def is_app_credential(self, given: str) -> bool:
        """Is ``given`` a JWT (three dot-separated parts) or an installation
        token this forge issued? Either is judged here, never as a user's token."""
        if self.authority is None:
            return False
        return given.count(".") == 2 or self.authority.grant_of(given) is not None

    def app_login(self, request: Request, given: str) -> str | None:
        """The login an App credential acts as (its bot), or None (401):
        remembers the App (JWT) or the installation (token) in the request."""
        assert self.authority is not None
        grant = self.authority.grant_of(given)
        if grant is not None:
            if self.authority.expired(grant):
                return None
            request.environ["prplan.installation"] = grant.installation
            return grant.installation.app.login
        try:
            app = self.authority.verify(given)
        except Fail as refused:
            request.environ["prplan.jwt_error"] = refused.message
            return None
        request.environ["prplan.app"] = app
        return app.login

    def may_see(self, request: Request, repo: str) -> bool:
        """May the request's credential see ``repo``? (An installation token
        only its installation's repositories.)"""
        installation = request.environ.get("prplan.installation")
        return not isinstance(installation, Installation) or installation.covers(repo)

    def check_app_scope(self, request: Request, endpoint: str, args: Mapping[str, Any]) -> None:
        """A JWT reaches the App's endpoints only (401 elsewhere); an
        installation token cannot read ``/user`` (403, as on GitHub) nor a
        repository outside its installation (404)."""
        if isinstance(request.environ.get("prplan.app"), GitHubApp):
            if endpoint not in APP_ENDPOINTS:
                raise Fail(
                    401,
                    "A JSON web token authenticates as the App, which reaches only /app "
                    "endpoints: ask for an installation token",
                )
            return
        if not isinstance(request.environ.get("prplan.installation"), Installation):
            return
        if endpoint == "user":
            raise Fail(403, "Resource not accessible by integration")
        if (
            "owner" in args
            and "name" in args
            and not self.may_see(request, f"{args['owner']}/{args['name']}")
        ):
            raise Fail(404, "Not Found")

    def _forge_for(self, request: Request) -> LocalForge:
        installation = request.environ.get("prplan.installation")
        if isinstance(installation, Installation):
            return cast(LocalForge, ScopedForge(self.forge, installation))
        return self.forge

    def _app_of(self, request: Request) -> GitHubApp:
        app = request.environ.get("prplan.app")
        if not isinstance(app, GitHubApp):
            raise Fail(
                401,
                "A JSON web token could not be decoded: this endpoint needs the App's JWT "
                "(Authorization: Bearer JWT)",
            )
        return app

    def _h_app(self, request: Request, urls: Urls) -> Answer:
        app = self._app_of(request)
        assert self.authority is not None
        return 200, app_json(urls, app, len(self.authority.installations(app))), None

    def _h_app_installations(self, request: Request, urls: Urls) -> Answer:
        app = self._app_of(request)
        assert self.authority is not None
        found = self.authority.installations(app)
        return 200, [installation_json(urls, i) for i in found], None

    def _h_app_installation(self, request: Request, urls: Urls, installation_id: int) -> Answer:
        app = self._app_of(request)
        assert self.authority is not None
        found = self.authority.installation(app, installation_id)
        return 200, installation_json(urls, found), None

    def _h_repo_installation(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        app = self._app_of(request)
        assert self.authority is not None
        found = self.authority.installation_for(app, f"{owner}/{name}")
        return 200, installation_json(urls, found), None

    def _h_access_tokens(self, request: Request, urls: Urls, installation_id: int) -> Answer:
        app = self._app_of(request)
        assert self.authority is not None
        found = self.authority.installation(app, installation_id)
        self._body(request)  # GitHub's 400 for a body that is not JSON
        token, expires = self.authority.issue(found)
        body: JSON = {
            "token": token,
            "expires_at": iso(expires),
            "permissions": dict(PERMISSIONS),
            "repository_selection": "all" if found.repos is None else "selected",
        }
        return 201, body, None


def app_json(urls: Urls, app: GitHubApp, installations: int) -> JSON:
    """``GET /app``: the App as GitHub describes it."""
    return {
        "id": app.app_id,
        "slug": app.slug,
        "node_id": node_id("App", app.app_id),
        "client_id": f"Iv1.{app.app_id:016x}",
        "owner": urls.user("prplan"),
        "name": app.name,
        "description": None,
        "external_url": urls.web,
        "html_url": f"{urls.web}apps/{app.slug}",
        "created_at": EPOCH_ISO,
        "updated_at": EPOCH_ISO,
        "permissions": dict(PERMISSIONS),
        "events": [],
        "installations_count": installations,
    }


def installation_json(urls: Urls, installation: Installation) -> JSON:
    """An installation as GitHub describes it."""
    app, account = installation.app, installation.account
    return {
        "id": installation.id,
        "account": urls.user(account),
        "repository_selection": "all" if installation.repos is None else "selected",
        "access_tokens_url": f"{urls.api}/app/installations/{installation.id}/access_tokens",
        "repositories_url": f"{urls.api}/installation/repositories",
        "html_url": f"{urls.web}settings/installations/{installation.id}",
        "app_id": app.app_id,
        "app_slug": app.slug,
        "target_id": numeric_id("user", account),
        "target_type": "User",
        "permissions": dict(PERMISSIONS),
        "events": [],
        "created_at": EPOCH_ISO,
        "updated_at": EPOCH_ISO,
        "single_file_name": None,
        "suspended_by": None,
        "suspended_at": None,
    }

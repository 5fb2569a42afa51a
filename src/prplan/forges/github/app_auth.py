"""``GitHubClient`` as a GitHub App: ``from_app`` and ``from_env``.

Built on PyGithub's own App authentication: ``Auth.AppAuth`` signs the JWT
(RS256, 5 minutes, issued a minute back for clock drift),
``GithubIntegration`` finds the installation of a repository (``GET
/repos/{o}/{r}/installation``) and ``Auth.AppInstallationAuth`` keeps one
installation token per installation and asks for a new one 20 s before it
expires. The token is put on every request, REST and GraphQL alike, when
PyGithub sends it (``InstallationTokens.token``), so a long change set never
sends an expired one.

Without an installation id, the installation is found per repository:
every client method whose first argument is ``repo`` runs with that
repository named (``acting``), and the token sent is its installation's.
Installation tokens are opaque: no length or prefix is assumed. Each one
issued is scrubbed from every message, as the private key never reaches one.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self, cast

import attrs
import github
import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from github import Auth, GithubIntegration, GithubRetry

from prplan import errors
from prplan.forges.github.auth import token_from_env, token_origin

__all__ = [
    "APP_VARIABLES",
    "AppSettings",
    "ClientConstructors",
    "InstallationTokens",
    "app_settings",
    "check_private_key",
    "parse_app_id",
]

#: The environment of a GitHub App, as ``from_env`` and the command read it.
APP_ID, APP_KEY, APP_KEY_PATH, APP_INSTALLATION = (
    "GITHUB_APP_ID",
    "GITHUB_APP_PRIVATE_KEY",
    "GITHUB_APP_PRIVATE_KEY_PATH",
    "GITHUB_APP_INSTALLATION_ID",
)
APP_VARIABLES = (APP_ID, APP_KEY, APP_KEY_PATH, APP_INSTALLATION)

_KEY_HELP = (
    "give the private key GitHub generated for the App (a .pem file starting "
    "-----BEGIN RSA PRIVATE KEY-----; the App's settings, 'Private keys')"
)


def _bad(field: str, message: str) -> errors.InvalidRequestError:
    return errors.InvalidRequestError([errors.Problem(field, message)], what="GitHub App")


def parse_app_id(value: object, field: str) -> int:
    """A positive integer (an App's or an installation's id), from an int or
    its decimal text; InvalidRequestError naming ``field`` otherwise. A value
    that is not a number is never shown (a token pasted into the wrong
    variable would be): only its kind and length are."""
    text = str(value).strip() if isinstance(value, int | str) else ""
    if isinstance(value, bool) or not text.isdecimal() or int(text) <= 0:
        raise _bad(
            field,
            f"{_kind_of(value, text)} is not a positive integer: give the numeric ID (the "
            "App's settings page shows 'App ID'; an installation's is the number at the end "
            "of its URL)",
        )
    return int(text)


def _kind_of(value: object, text: str) -> str:
    """What an id that is not one is, without its text."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return f"a {type(value).__name__}"
    if text.isdecimal() or (text[:1] == "-" and text[1:].isdecimal()):
        return repr(text)  # a number: zero or negative, safe to show
    if not text:
        return "an empty value"
    return f"a text of {len(text)} characters (not shown: it may be a secret)"


def _shown_path(path: str | Path) -> str:
    """A key file's path as messages show it: only when it looks like a
    path (a token pasted there is not echoed)."""
    text = str(path)
    if "/" in text or "\\" in text or text.lower().endswith((".pem", ".key")):
        return repr(text)
    return f"the path given ({len(text)} characters, not shown: it does not look like a path)"


def check_private_key(pem: str | bytes, field: str) -> str:
    """``pem`` when it is an RSA private key in PEM (a key given in one line
    with literal ``\\n``, as CI secrets often hold it, is unfolded);
    InvalidRequestError naming ``field``, never showing the key, otherwise."""
    text = pem.decode("utf-8", "replace") if isinstance(pem, bytes) else pem
    text = text.strip()
    if "-----BEGIN" in text and "\n" not in text and "\\n" in text:
        text = text.replace("\\n", "\n")
    try:
        key = load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, RSAPrivateKey):
        raise _bad(field, f"is not a PEM RSA private key without a passphrase: {_KEY_HELP}")
    return text + "\n"


def _read_key(path: str | Path, field: str) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise _bad(field, f"cannot read {_shown_path(path)} ({reason}): {_KEY_HELP}") from None
    return check_private_key(data, field)


@attrs.frozen(repr=False)
class AppSettings:
    """A GitHub App's credentials, checked: ``origin`` names where they came
    from (options or variables) in messages; ``repr`` never shows the key."""

    app_id: int
    private_key: str
    installation_id: int | None = None
    origin: str = "the GitHub App given to GitHubClient.from_app"

    def __repr__(self) -> str:
        return f"AppSettings(app_id={self.app_id}, installation_id={self.installation_id})"


def app_settings(
    environ: Mapping[str, str] | None = None,
    *,
    app_id: str | None = None,
    key_file: str | Path | None = None,
) -> AppSettings | None:
    """The App's settings from ``--app-id``/``--app-key-file`` (``app_id``,
    ``key_file``) or the environment (``GITHUB_APP_ID``,
    ``GITHUB_APP_PRIVATE_KEY`` or ``GITHUB_APP_PRIVATE_KEY_PATH``,
    ``GITHUB_APP_INSTALLATION_ID``); an option wins over its variable. None
    when none is set; InvalidRequestError naming the option or variable when
    one is wrong or missing, or when a token is set too."""
    environ = os.environ if environ is None else environ
    given = {name: environ[name] for name in APP_VARIABLES if environ.get(name, "").strip()}
    if app_id is None and key_file is None and not given:
        return None
    id_field = "--app-id" if app_id is not None else f"${APP_ID}"
    raw_id = app_id if app_id is not None else given.get(APP_ID)
    if raw_id is None:
        raise _bad(id_field, f"is not set: give the App's ID with --app-id or ${APP_ID}")
    parsed_id = parse_app_id(raw_id, id_field)
    if key_file is not None:
        key = _read_key(key_file, "--app-key-file")
    elif APP_KEY in given and APP_KEY_PATH in given:
        raise _bad(f"${APP_KEY}/${APP_KEY_PATH}", "both are set: set one of them")
    elif APP_KEY in given:
        key = check_private_key(given[APP_KEY], f"${APP_KEY}")
    elif APP_KEY_PATH in given:
        key = _read_key(given[APP_KEY_PATH].strip(), f"${APP_KEY_PATH}")
    else:
        raise _bad(
            "--app-key-file",
            f"no private key: give --app-key-file, ${APP_KEY_PATH} or ${APP_KEY}",
        )
    installation = given.get(APP_INSTALLATION)
    origin = f"the GitHub App {parsed_id} ({id_field})"
    return AppSettings(
        app_id=parsed_id,
        private_key=key,
        installation_id=None
        if installation is None
        else parse_app_id(installation, f"${APP_INSTALLATION}"),
        origin=origin,
    )


def refuse_token_too(settings: AppSettings, token_variable: str | None) -> None:
    """Both a token and an App: refused, so which identity acts is never a guess."""
    if token_variable is not None:
        raise _bad(
            f"${token_variable}",
            f"is set, and so is {settings.origin}: prplan will not guess which should act. "
            f"Unset ${token_variable} to act as the App (e.g. `env -u {token_variable} prplan ...`), "
            "or unset the App's settings to act with the token",
        )


class InstallationTokens(Auth.Auth):
    """PyGithub authentication sending the installation token of the
    repository the current thread acts on (``acting``), or of the one
    installation given. One ``Auth.AppInstallationAuth`` per installation
    keeps and refreshes its token."""

    def __init__(self, settings: AppSettings, base_url: str, *, timeout: int, retries: int):
        self.settings = settings
        # The key is parsed once (cryptography checks an RSA key on loading,
        # ~0.1 s): PyJWT signs with the key object, not with the PEM text.
        key = load_pem_private_key(settings.private_key.encode(), password=None)
        self._app = Auth.AppAuth(
            settings.app_id,
            sign_func=lambda claims: jwt.encode(claims, key=key, algorithm="RS256"),  # type: ignore[arg-type]
        )
        self._integration = GithubIntegration(
            base_url=base_url,
            auth=self._app,
            timeout=timeout,
            retry=GithubRetry(total=retries),
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        self._tokens: dict[int, Auth.AppInstallationAuth] = {}
        self._installation_of: dict[str, int] = {}
        self._issued: set[str] = set()
        self._lock = threading.RLock()
        self._local = threading.local()
        self._login: str | None = None

    def __repr__(self) -> str:
        return f"InstallationTokens(app_id={self.settings.app_id})"

    @property
    def token_type(self) -> str:
        return "token"

    @property
    def _masked_token(self) -> str:
        return "token (installation token removed)"

    @property
    def token(self) -> str:
        installation = self._current()
        with self._lock:
            auth = self._tokens.get(installation)
            if auth is None:
                auth = self._tokens[installation] = self._app.get_installation_auth(
                    installation, requester=self._integration.requester
                )
            with self._failures("asking GitHub for an installation token"):
                token = auth.token  # a new one 20 s before the last expires
            self._issued.add(token)
            return token

    def renew(self, headers: dict[str, str]) -> bool:
        """After a 401 to a request ``headers`` carried one of these tokens:
        forget the current installation's token (GitHub dropped it before
        its expiry: revoked, or the installation suspended) and put a new
        one in ``headers``. False when the request carried no token of
        these (nothing to renew)."""
        sent = headers.get("Authorization", "").partition(" ")[2]
        with self._lock:
            if sent not in self._issued:
                return False
            self._tokens.pop(self._current(), None)
        headers["Authorization"] = f"{self.token_type} {self.token}"
        return True

    def secrets(self) -> list[str]:
        """Every installation token issued so far (for scrubbing messages)."""
        with self._lock:
            return sorted(self._issued, key=len, reverse=True)

    @contextlib.contextmanager
    def acting(self, repo: str) -> Iterator[None]:
        """Requests of this thread inside act on ``repo``."""
        stack: list[str] = self._local.__dict__.setdefault("repos", [])
        stack.append(repo)
        try:
            yield
        finally:
            stack.pop()

    def _current(self) -> int:
        if self.settings.installation_id is not None:
            return self.settings.installation_id
        stack: list[str] = self._local.__dict__.get("repos", [])
        if stack:
            return self.installation_of(stack[-1])
        with self._lock:
            known = set(self._installation_of.values())
        if len(known) == 1:
            return known.pop()
        raise errors.ForgeError(
            "a request named no repository, so the App's installation is unknown: "
            f"set ${APP_INSTALLATION}"
        )

    def installation_for(self, repo: str) -> int:
        """The installation whose token ``repo`` is reached with."""
        fixed = self.settings.installation_id
        return fixed if fixed is not None else self.installation_of(repo)

    def installation_of(self, repo: str) -> int:
        """The App's installation on ``repo`` (asked once per repository)."""
        with self._lock:
            found = self._installation_of.get(repo)
        if found is not None:
            return found
        owner, _, name = repo.partition("/")
        with self._failures(f"finding the App's installation on {repo}", repo=repo):
            found = int(self._integration.get_repo_installation(owner, name).id)
        with self._lock:
            self._installation_of[repo] = found
        return found

    def login(self) -> str:
        """The App's bot login, ``SLUG[bot]`` (``GET /app``, asked once):
        who its commits and pull requests are attributed to."""
        if self._login is None:
            with self._failures("reading the App (GET /app)"):
                self._login = f"{self._integration.get_app().slug}[bot]"
        return self._login

    @contextlib.contextmanager
    def _failures(self, what: str, *, repo: str | None = None) -> Iterator[None]:
        """The App's own requests' failures, said for an App (never a token)."""
        try:
            yield
        except github.UnknownObjectException:
            where = f" on {repo}" if repo else ""
            raise errors.ForgeError(
                f"{what}: the GitHub App {self.settings.app_id} is not installed{where} "
                "(404): install it on that repository (the App's page, 'Install App'), or "
                f"check ${APP_INSTALLATION}",
                status=404,
            ) from None
        except github.BadCredentialsException:
            raise errors.ForgeError(
                f"{what}: GitHub rejected the App's JWT (401): is {self.settings.app_id} the "
                f"App's ID ({APP_ID}) and the key its current private key ({APP_KEY_PATH})? "
                "Is this machine's clock right?",
                status=401,
            ) from None
        except github.GithubException as error:
            raise errors.ForgeError(
                f"{what}: GitHub answered {error.status}", status=error.status
            ) from None


def _acting_on(method: Any) -> Any:
    @functools.wraps(method)
    def acting(self: Any, *args: Any, **kwargs: Any) -> Any:
        repo = args[0] if args else kwargs.get("repo")
        with self._http.auth.acting(str(repo)):
            return method(self, *args, **kwargs)

    return acting


def _takes_repo(cls: type, name: str) -> bool:
    if name.startswith("_") or isinstance(
        inspect.getattr_static(cls, name), classmethod | staticmethod
    ):
        return False
    member = getattr(cls, name)
    if not callable(member) or isinstance(member, type):
        return False
    try:
        parameters = list(inspect.signature(member).parameters)
    except (TypeError, ValueError):
        return False
    return parameters[1:2] == ["repo"]


@functools.cache
def _app_class(cls: type) -> type:
    """``cls`` whose methods on a repository act on it (``acting``)."""
    namespace: dict[str, Any] = {
        name: _acting_on(getattr(cls, name)) for name in dir(cls) if _takes_repo(cls, name)
    }

    @contextlib.contextmanager
    def observing(self: Any, request: Any) -> Iterator[None]:
        with self._http.auth.acting(request.repo), cls.observing(self, request):  # type: ignore[attr-defined]
            yield

    @contextlib.contextmanager
    def observing_many(self: Any, requests_: Sequence[Any]) -> Iterator[None]:
        # One prefetch per installation: a query carries one installation's
        # token. A repository the App is not installed on is left to its own
        # observation, whose error names it (the others still run).
        groups: dict[int, list[Any]] = {}
        for request in requests_:
            try:
                installation = self._http.auth.installation_for(request.repo)
            except errors.ForgeError:
                continue
            groups.setdefault(installation, []).append(request)
        with contextlib.ExitStack() as stack:
            for group in groups.values():
                with self._http.auth.acting(group[0].repo):
                    stack.enter_context(cls.observing_many(self, group))  # type: ignore[attr-defined]
            yield

    def app_login(self: Any) -> str:
        """The App's bot login, ``SLUG[bot]`` (``GET /app``, read once)."""
        return str(self._http.auth.login())

    def viewer_login(self: Any) -> str:
        """The login an App's installation token acts as is its bot's,
        ``SLUG[bot]`` (``app_login``): no GraphQL ``viewer`` read, whose
        answer could not tell the bot from a person of the same name."""
        return app_login(self)

    def __repr__(self: Any) -> str:
        settings = self._http.auth.settings
        installation = settings.installation_id or "per repository"
        return (
            f"{cls.__name__}(base_url={self._http.shown_url!r}, app_id={settings.app_id}, "
            f"installation={installation})"
        )

    namespace.update(
        observing=observing,
        observing_many=observing_many,
        app_login=app_login,
        viewer_login=viewer_login,
        __repr__=__repr__,
    )
    return type(cls.__name__, (cls,), namespace)


class ClientConstructors:
    """``GitHubClient.from_env`` and ``GitHubClient.from_app``."""

    @classmethod
    def from_env(cls, **options: Any) -> Self:
        """Token from ``GITHUB_TOKEN`` or ``GH_TOKEN``, or a GitHub App from
        ``GITHUB_APP_ID`` and ``GITHUB_APP_PRIVATE_KEY`` (or
        ``GITHUB_APP_PRIVATE_KEY_PATH``), with ``GITHUB_APP_INSTALLATION_ID``
        optional (both a token and an App: refused); ``GITHUB_API_URL`` for
        Enterprise or a local forge (default https://api.github.com).
        ``app_id``/``app_key_file``: the command's ``--app-id``/``--app-key-file``."""
        app = app_settings(
            app_id=options.pop("app_id", None), key_file=options.pop("app_key_file", None)
        )
        token, variable = token_from_env()
        base_url = options.pop("base_url", None) or os.environ.get("GITHUB_API_URL") or None
        if app is not None:
            refuse_token_too(app, variable)
            return cls.from_app(app, base_url=base_url, **options)
        client: Any = cls(token=token, base_url=base_url, **options)  # type: ignore[call-arg]
        client._http.token_origin = token_origin(variable)
        return cast(Self, client)

    @classmethod
    def from_app(
        cls,
        app_id: int | str | AppSettings,
        private_key: str | bytes | None = None,
        installation_id: int | str | None = None,
        **options: Any,
    ) -> Self:
        """A client acting as a GitHub App: ``app_id`` (its numeric ID),
        ``private_key`` (PEM text of its RSA private key), ``installation_id``
        (None: found per repository). Every other option is
        ``GitHubClient``'s (``base_url``, ``transport``...)."""
        if isinstance(app_id, AppSettings):
            settings = app_id
        else:
            if private_key is None:
                raise _bad("private_key", f"is required: {_KEY_HELP}")
            settings = AppSettings(
                app_id=parse_app_id(app_id, "app_id"),
                private_key=check_private_key(private_key, "private_key"),
                installation_id=None
                if installation_id is None
                else parse_app_id(installation_id, "installation_id"),
            )
        klass: Any = cls
        client = _app_class(klass)(token=None, **options)
        http = client._http
        http.auth = InstallationTokens(
            settings,
            http.base_url,
            timeout=options.get("timeout", 15),
            retries=options.get("retries", 5),
        )
        http.secrets = http.auth.secrets
        http.token_origin = f"the installation token of {settings.origin}"
        http.auth_hint = (
            "GitHub no longer takes the App's installation token: is the App still "
            "installed there, with the permissions prplan needs (docs/github.md)?"
        )
        return cast(Self, client)

"""`prplan forge serve`'s GitHub App options: ``--app ID=PUBLIC_KEY_PEM_PATH``,
``--app-name``, ``--app-installation`` and ``--app-token-lifetime``.

Kept apart from ``forge_cmd`` so the serve command only asks ``serve_apps``
for what they describe (``GitHubApp``s for ``ForgeApp(apps=...)``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from prplan.cli.options import Bad
from prplan.core.names import repo_problems
from prplan.errors import InvalidRequestError, Problem

if TYPE_CHECKING:
    from prplan.forges.local.server.app_auth import GitHubApp

__all__ = ["app_serve_options", "serve_apps"]

F = TypeVar("F", bound=Callable[..., Any])

_META = "prplan.forge_app"


def _remember(ctx: click.Context, parameter: click.Parameter, value: Any) -> Any:
    ctx.meta.setdefault(_META, {})[parameter.name] = value
    return value


def app_serve_options(func: F) -> F:
    """The App options of ``forge serve`` (read back by ``serve_apps``)."""
    options = [
        click.option(
            "--app",
            metavar="ID=PUBLIC_KEY_PEM_PATH",
            expose_value=False,
            callback=_remember,
            help="Act as GitHub for a GitHub App: verify its JWTs (RS256) with this public key "
            "and issue it expiring installation tokens (see docs/local-forge-apps.md).",
        ),
        click.option(
            "--app-name",
            metavar="NAME",
            default="prplan-app",
            show_default=True,
            expose_value=False,
            callback=_remember,
            help="The App's name; it acts as the bot SLUG[bot] (the name in lower case, dashed).",
        ),
        click.option(
            "--app-installation",
            multiple=True,
            metavar="REPO_OR_OWNER",
            expose_value=False,
            callback=_remember,
            help="Install the App on OWNER (all its repositories) or OWNER/NAME (repeatable; "
            "one installation per owner). Default: every owner with repositories.",
        ),
        click.option(
            "--app-token-lifetime",
            type=click.FloatRange(min=1),
            default=3600,
            show_default=True,
            metavar="SECONDS",
            expose_value=False,
            callback=_remember,
            help="How long an installation token lives (GitHub: an hour; shorter for tests).",
        ),
    ]
    for option in reversed(options):
        func = option(func)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _app_spec(spec: str) -> tuple[int, str]:
    """``ID=PUBLIC_KEY_PEM_PATH`` -> (id, the key's PEM text), checked."""
    from prplan.forges.local.server.app_auth import load_public_key

    raw_id, sep, path = spec.partition("=")
    if not sep or not raw_id.strip().isdecimal() or int(raw_id) <= 0 or not path:
        raise Bad(
            [Problem("--app", f"{spec!r} is not ID=PUBLIC_KEY_PEM_PATH (a positive integer ID)")]
        )
    try:
        pem = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise Bad([Problem("--app", f"cannot read {path!r} ({reason})")]) from None
    try:
        load_public_key(pem, "--app")
    except InvalidRequestError as error:
        raise Bad([Problem("--app", f"{path}: {p.message}") for p in error.problems]) from None
    return int(raw_id), pem


def serve_apps() -> list[GitHubApp]:
    """The App the options describe (none without ``--app``)."""
    from prplan.forges.local.server.app_auth import GitHubApp

    given = click.get_current_context().meta.get(_META, {})
    spec = given.get("app")
    if spec is None:
        named = [f"--{k.replace('_', '-')}" for k in ("app_installation",) if given.get(k)]
        if named:
            raise Bad([Problem(named[0], "needs --app ID=PUBLIC_KEY_PEM_PATH")])
        return []
    app_id, pem = _app_spec(spec)
    problems = []
    for target in given.get("app_installation") or ():
        if "/" in target:
            problems += repo_problems("--app-installation", target)
        elif not target or not target.replace("-", "").isalnum():
            problems.append(Problem("--app-installation", f"{target!r} is not OWNER or OWNER/NAME"))
    if problems:
        raise Bad(problems)
    return [
        GitHubApp(
            app_id=app_id,
            public_key=pem,
            name=given.get("app_name") or "prplan-app",
            installations=tuple(given.get("app_installation") or ()),
            token_lifetime=float(given.get("app_token_lifetime") or 3600),
        )
    ]

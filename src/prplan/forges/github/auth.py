"""Where the GitHub client's token comes from, and how it is cleaned.

Separate from the client because the command and the library look a token
up the same way (``token_from_env``), and because what a token may look like
(no whitespace or control characters inside) is a rule of its own, checked
before any request is made.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping

from prplan.errors import InvalidRequestError, Problem

__all__ = ["TOKEN_VARIABLES", "TokenWarning", "clean_token", "token_from_env", "token_origin"]

#: Where ``GitHubClient.from_env`` and the command look for a token, in order.
TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")


class TokenWarning(UserWarning):
    """A token was usable only after stripping whitespace around it."""


def clean_token(value: str, origin: str) -> str:
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
            return clean_token(value, name), name
    return None, None


def token_origin(variable: str | None) -> str:
    """Where the token came from, or where none was found, as a 401's
    message says it (the variable's name, never the token)."""
    if variable:
        return f"the token from ${variable}"
    looked = " and ".join(f"${name}" for name in TOKEN_VARIABLES)
    return f"no token was found: looked at {looked}, unset or empty"

"""Issue 15's hostile review, finding 6: a token pasted into one of the App's
variables or options is never echoed in the error (only its kind and
length are); a number stays shown."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import prplan
from prplan.forges.github import app_settings

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"  # a classic token's shape


@pytest.fixture(scope="module")
def key() -> str:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def _message(key: str, environ: dict[str, str], **options: str) -> str:
    environ = {"GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY": key, **environ}
    with pytest.raises(prplan.errors.InvalidRequestError) as raised:
        app_settings(environ, **options)  # type: ignore[arg-type]
    return str(raised.value)


@pytest.mark.parametrize(
    ("environ", "options", "field"),
    [
        ({"GITHUB_APP_ID": TOKEN}, {}, "$GITHUB_APP_ID"),
        ({"GITHUB_APP_INSTALLATION_ID": TOKEN}, {}, "$GITHUB_APP_INSTALLATION_ID"),
        ({}, {"app_id": TOKEN}, "--app-id"),
    ],
)
def test_a_token_given_as_an_app_id_is_not_shown(
    key: str, environ: dict[str, str], options: dict[str, str], field: str
) -> None:
    text = _message(key, environ, **options)
    assert field in text and "text of 40 characters" in text and "positive integer" in text
    assert TOKEN[4:12] not in text and "ghp_" not in text


def test_a_token_given_as_the_key_path_is_not_shown(key: str) -> None:
    environ = {"GITHUB_APP_PRIVATE_KEY": "", "GITHUB_APP_PRIVATE_KEY_PATH": TOKEN}
    text = _message(key, environ)
    assert "GITHUB_APP_PRIVATE_KEY_PATH" in text and "40 characters" in text
    assert TOKEN[4:12] not in text


def test_a_real_path_and_a_negative_number_are_still_shown(key: str) -> None:
    text = _message(
        key, {"GITHUB_APP_PRIVATE_KEY": "", "GITHUB_APP_PRIVATE_KEY_PATH": "/no/app.pem"}
    )
    assert "'/no/app.pem'" in text
    assert "'-3' is not a positive integer" in _message(key, {"GITHUB_APP_ID": "-3"})

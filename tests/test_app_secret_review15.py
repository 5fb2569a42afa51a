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


# --- 12: an installation token GitHub dropped early is replaced once -------------------


@pytest.mark.parametrize("transport", ["rest", "graphql"])
def test_a_401_on_a_revoked_installation_token_is_retried_with_a_new_one(
    forge_server: object, key: str, transport: str
) -> None:
    from test_app_auth_client import APP_ID, BOT, AppForge

    public = (
        serialization.load_pem_private_key(key.encode(), password=None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    served = AppForge(forge_server, public)  # type: ignore[arg-type]
    client = prplan.GitHubClient.from_app(
        APP_ID, key, base_url=served.url, transport=transport, retries=0
    )
    request = prplan.ChangeRequest(repo="acme/app", branch="prplan/b", files={"a.txt": "b\n"})
    plan = prplan.plan(prplan.observe(client, request), request)
    (first,) = served.issued()
    assert served.app.authority is not None
    served.app.authority.revoke(first)  # dropped before its hour is up
    outcome = prplan.apply(plan, client)
    assert outcome.status == "created", outcome
    assert len(served.issued()) == 2  # the revoked one, and the one that replaced it
    assert served.forge.pull_rows("acme/app")[0]["author"] == BOT
    assert any(status == 401 for _, _, status in served.app.log.entries)

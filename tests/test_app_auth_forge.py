"""The local forge as GitHub for a GitHub App (``forges/local/server/app_auth.py``):
RS256 JWTs verified (signature, issuer, expiry, clock skew), expiring
installation tokens scoped to their installation's repositories (REST,
GraphQL, git over HTTP), the bot as author and committer, and PyGithub's own
``GithubIntegration`` working against it. Every REST answer on GitHub's
OpenAPI description. One RSA key per module; time is the forge's clock."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth, GithubIntegration
from werkzeug.test import Client

import prplan
from prplan.forges.local.server.app import API, ForgeApp, ForgeServer
from prplan.forges.local.server.app_auth import GitHubApp

import openapi_contract

APP_ID = 4242


def _pem(key: rsa.RSAPrivateKey) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="module")
def keys() -> tuple[str, str, str]:
    """(the App's private key, its public key, another private key)."""
    private, public = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    other, _ = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return private, public, other


class Clock:
    def __init__(self) -> None:
        self.now = 1_764_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def forge() -> prplan.LocalForge:
    """Three repositories, read only here: one forge for the module."""
    made = prplan.LocalForge.in_memory()
    for repo in ("acme/app", "acme/other", "beta/tools"):
        made.create_repo(repo, {"a.txt": "a\n"})
    return made


def _app(
    forge: prplan.LocalForge, public: str, clock: Clock | None = None, lifetime: float = 3600.0
) -> ForgeApp:
    app = GitHubApp(
        app_id=APP_ID,
        public_key=public,
        name="Deploy Bot",
        installations=("acme/app", "beta"),
        token_lifetime=lifetime,
    )
    return ForgeApp(forge, apps=[app], app_clock=clock or time.time)


def _jwt(private: str, now: float, **claims: Any) -> str:
    payload = {"iat": int(now) - 60, "exp": int(now) + 540, "iss": str(APP_ID), **claims}
    return jwt.encode(payload, private, algorithm="RS256")


def _get(client: Client, path: str, credential: str, method: str = "GET") -> tuple[int, Any]:
    scheme = "Bearer" if credential.count(".") == 2 else "token"
    answer = client.open(
        API + path, method=method, headers={"Authorization": f"{scheme} {credential}"}
    )
    body = json.loads(answer.data) if answer.data else None
    contract = openapi_contract.get_contract()
    if contract is not None and answer.status_code != 401 and path != "/graphql":
        problems = contract.validate(method, path, answer.status_code, body)
        assert problems == [], problems
    return answer.status_code, body


@pytest.mark.parametrize(
    "why",
    [
        "bad signature",
        "wrong issuer",
        "expired",
        "exp over 10 minutes after iat",
        "iat in the future",
    ],
)
def test_a_bad_jwt_is_refused_with_401(
    keys: tuple[str, str, str], forge: prplan.LocalForge, why: str
) -> None:
    private, public, other = keys
    clock = Clock()
    client = Client(_app(forge, public, clock))
    now = clock.now
    token = {
        "bad signature": _jwt(other, now),
        "wrong issuer": _jwt(private, now, iss="4243"),
        "expired": _jwt(private, now, iat=int(now) - 700, exp=int(now) - 100),
        "exp over 10 minutes after iat": _jwt(private, now, iat=int(now), exp=int(now) + 601),
        "iat in the future": _jwt(private, now, iat=int(now) + 61, exp=int(now) + 300),
    }[why]
    status, body = _get(client, "/app", token)
    assert status == 401
    assert body["message"] and body["documentation_url"].startswith("https://docs.github.com")
    assert token not in json.dumps(body)


def test_a_valid_jwt_reads_the_app_and_its_installations(
    keys: tuple[str, str, str], forge: prplan.LocalForge
) -> None:
    private, public, _ = keys
    clock = Clock()
    client = Client(_app(forge, public, clock))
    skewed = _jwt(private, clock.now, iat=int(clock.now) + 30)  # GitHub allows a minute of drift
    status, app = _get(client, "/app", skewed)
    assert status == 200 and (app["id"], app["slug"], app["name"]) == (
        APP_ID,
        "deploy-bot",
        "Deploy Bot",
    )
    token = _jwt(private, clock.now)
    status, found = _get(client, "/repos/acme/app/installation", token)
    assert status == 200 and found["account"]["login"] == "acme"
    assert found["repository_selection"] == "selected" and found["app_id"] == APP_ID
    status, whole = _get(client, "/repos/beta/tools/installation", token)
    assert status == 200 and whole["repository_selection"] == "all"
    assert _get(client, "/repos/acme/other/installation", token)[0] == 404  # not installed there
    assert _get(client, "/repos/acme/missing/installation", token)[0] == 404
    # A JWT reaches the App's endpoints only.
    assert _get(client, "/repos/acme/app", token)[0] == 401


def test_installation_tokens_reach_their_repositories_only(
    keys: tuple[str, str, str], forge: prplan.LocalForge
) -> None:
    private, public, _ = keys
    clock = Clock()
    client = Client(_app(forge, public, clock))
    jwt_ = _jwt(private, clock.now)
    installation = _get(client, "/repos/acme/app/installation", jwt_)[1]["id"]
    status, issued = _get(client, f"/app/installations/{installation}/access_tokens", jwt_, "POST")
    assert status == 201 and issued["repository_selection"] == "selected"
    token = issued["token"]
    assert _get(client, "/repos/acme/app", token)[0] == 200
    assert _get(client, "/repos/acme/other", token)[0] == 404  # outside the installation
    assert _get(client, "/repos/beta/tools", token)[0] == 404  # another installation's
    assert _get(client, "/user", token)[0] == 403  # installation tokens have no user
    assert _get(client, "/app", token)[0] == 401  # nor are they the App's JWT
    query = 'query { a: repository(owner: "acme", name: "app") { name } o: repository(owner: "acme", name: "other") { name } }'
    answer = client.post(
        API.replace("/v3", "/graphql"),
        json={"query": query},
        headers={"Authorization": f"token {token}"},
    ).json
    assert answer["data"]["a"] == {"name": "app"} and answer["data"]["o"] is None
    assert [e.get("type") for e in answer["errors"]] == ["NOT_FOUND"]
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    git = {"Authorization": f"Basic {basic}"}
    refs = "/info/refs?service=git-upload-pack"
    assert client.get("/acme/app.git" + refs, headers=git).status_code == 200
    assert client.get("/acme/other.git" + refs, headers=git).status_code == 404


def test_an_expired_installation_token_gets_401(
    keys: tuple[str, str, str], forge: prplan.LocalForge
) -> None:
    private, public, _ = keys
    clock = Clock()
    client = Client(_app(forge, public, clock, lifetime=60))
    jwt_ = _jwt(private, clock.now)
    installation = _get(client, "/repos/acme/app/installation", jwt_)[1]["id"]
    token = _get(client, f"/app/installations/{installation}/access_tokens", jwt_, "POST")[1][
        "token"
    ]
    assert _get(client, "/repos/acme/app", token)[0] == 200
    clock.now += 61
    status, body = _get(client, "/repos/acme/app", token)
    assert status == 401 and body["message"] == "Bad credentials"


def test_pygithubs_github_integration_works_against_the_forge(
    keys: tuple[str, str, str], forge: prplan.LocalForge, forge_server: ForgeServer
) -> None:
    private, public, _ = keys
    app = _app(forge, public)
    forge_server.serve(app)
    integration = GithubIntegration(
        auth=Auth.AppAuth(APP_ID, private),
        base_url=forge_server.api_url,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    assert integration.get_app().slug == "deploy-bot"
    installation = integration.get_repo_installation("acme", "app")
    assert installation.id == integration.get_repo_installation("acme", "app").id
    issued = integration.get_access_token(installation.id)
    assert issued.token and issued.expires_at.timestamp() > time.time() + 3500
    assert {i.id for i in integration.get_installations()} == {
        installation.id,
        integration.get_repo_installation("beta", "tools").id,
    }
    assert all(status != 500 for _, _, status in app.log.entries)

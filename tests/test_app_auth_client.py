"""``GitHubClient`` as a GitHub App (``forges/github/app_auth.py``), against
``prplan forge serve --app`` over HTTP: a change under both transports with
the bot as author and committer, a change set whose installation tokens
expire mid-run, the command with ``--app-id/--app-key-file`` and with the
``GITHUB_APP_*`` variables, every wrong setting named with its fix, and no
installation token or private key in anything shown. One RSA key per module."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import prplan
from prplan.cli import cli
from prplan.forges.github import app_settings
from prplan.forges.local.server.app import ForgeApp, ForgeServer
from prplan.forges.local.server.app_auth import GitHubApp

from served import ContractCheck

APP_ID = 777
BOT = "release-bot[bot]"
#: Every variable that could choose another identity, unset for the command.
_CLEAN_ENV: dict[str, str | None] = {
    name: None
    for name in (
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "GITHUB_APP_ID",
        "GITHUB_APP_PRIVATE_KEY",
        "GITHUB_APP_PRIVATE_KEY_PATH",
        "GITHUB_APP_INSTALLATION_ID",
    )
}


@pytest.fixture(scope="module")
def key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
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


@pytest.fixture
def key_file(key_pair: tuple[str, str], tmp_path: Path) -> Path:
    path = tmp_path / "app.pem"
    path.write_text(key_pair[0])
    return path


class AppForge:
    """A forge with an App, served (every REST answer checked on the contract)."""

    def __init__(
        self, server: ForgeServer, public: str, lifetime: float = 3600.0, contract: bool = True
    ) -> None:
        self.forge = prplan.LocalForge.in_memory()
        for repo in ("acme/app", "acme/web", "beta/tools", "acme/private"):
            self.forge.create_repo(repo, {"a.txt": "a\n"})
        app = GitHubApp(
            app_id=APP_ID,
            public_key=public,
            name="Release Bot",
            installations=("acme/app", "acme/web", "beta"),
            token_lifetime=lifetime,
        )
        self.app = ForgeApp(self.forge, apps=[app])
        self.check = ContractCheck(self.app)
        server.serve(self.check if contract else self.app)
        self.url = server.api_url

    def issued(self) -> list[str]:
        assert self.app.authority is not None
        return self.app.authority.issued()

    def token_requests(self) -> int:
        return sum(1 for m, p, s in self.app.log.entries if p.endswith("/access_tokens"))


@pytest.fixture
def served(forge_server: ForgeServer, key_pair: tuple[str, str]) -> Iterator[AppForge]:
    yield AppForge(forge_server, key_pair[1])


def _secrets_absent(texts: list[str], served: AppForge, private: str) -> None:
    key_lines = [line for line in private.splitlines() if "-----" not in line]
    assert served.issued(), "no installation token was issued: the check would prove nothing"
    for text in texts:
        assert all(token not in text for token in served.issued())
        assert all(line not in text for line in key_lines)


@pytest.mark.parametrize("transport", ["graphql", "rest"])
def test_an_app_applies_a_change_as_its_bot(
    served: AppForge,
    key_pair: tuple[str, str],
    transport: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = prplan.GitHubClient.from_app(
        APP_ID, key_pair[0], base_url=served.url, transport=transport
    )
    request = prplan.ChangeRequest(
        repo="acme/app", branch="prplan/b", files={"a.txt": "b\n"}, create_pr=True
    )
    plan = prplan.plan(prplan.observe(client, request), request)
    outcome = prplan.apply(plan, client)
    assert outcome.status == "created", outcome
    (pull,) = served.forge.pull_rows("acme/app")
    assert pull["author"] == BOT
    head = served.forge.git_object("acme/app", served.forge.branches("acme/app")["prplan/b"])
    assert head.committer.decode().startswith(BOT + " <")
    assert head.author.decode().startswith(BOT + " <")
    assert client.app_login() == BOT  # GET /app: installation tokens have no /user
    assert not any(path.endswith("/user") for _, path, _ in served.app.log.entries)
    outside = prplan.ChangeRequest(repo="acme/private", branch="x", files={"a.txt": "c\n"})
    with pytest.raises(prplan.ForgeError, match="not installed on acme/private") as raised:
        prplan.observe(client, outside)
    texts = [plan.to_json(), outcome.to_json(), repr(client), str(raised.value)]
    _secrets_absent(texts + [r.getMessage() for r in caplog.records], served, key_pair[0])
    assert served.check.violations == []


def _changeset(tmp_path: Path) -> Path:
    (tmp_path / "new.txt").write_text("new\n")
    change = {"files": {"a.txt": str(tmp_path / "new.txt")}}
    document = {
        "version": 1,
        "defaults": {"branch": "prplan/release", "create_pr": True, "title": "Release"},
        "changes": [{"repo": r, **change} for r in ("acme/app", "acme/web", "beta/tools")],
    }
    path = tmp_path / "release.json"
    path.write_text(json.dumps(document))
    return path


def test_a_change_set_from_the_environment_refreshes_expiring_tokens(
    forge_server: ForgeServer, key_pair: tuple[str, str], tmp_path: Path
) -> None:
    # Tokens live 2 s: shorter than the run, and inside PyGithub's 20 s
    # margin, so each is renewed before it is used again.
    # Not on the contract (the other tests are): each new token's answer
    # would be validated anew, ~0.15 s each.
    served = AppForge(forge_server, key_pair[1], lifetime=2, contract=False)
    env = {
        **_CLEAN_ENV,
        "GITHUB_APP_ID": str(APP_ID),
        "GITHUB_APP_PRIVATE_KEY": key_pair[0].replace("\n", "\\n"),  # as CI secrets hold it
        "GITHUB_API_URL": served.url,
        "NO_COLOR": "1",
    }
    args = ["apply", "--changeset", str(_changeset(tmp_path)), "--yes"]
    done = CliRunner().invoke(cli, args, env=env)
    assert done.exit_code == 0, done.output
    for repo in ("acme/app", "acme/web", "beta/tools"):
        assert served.forge.read_file(repo, "prplan/release", "a.txt") == b"new\n"
        assert [p["author"] for p in served.forge.pull_rows(repo)] == [BOT]
    assert served.token_requests() > 2  # two installations, and tokens renewed mid-run
    assert not any(status == 401 for _, _, status in served.app.log.entries)
    _secrets_absent([done.output], served, key_pair[0])


def test_the_command_takes_app_id_and_key_file(
    served: AppForge, key_pair: tuple[str, str], key_file: Path, tmp_path: Path
) -> None:
    (tmp_path / "b.txt").write_text("b\n")
    env = {**_CLEAN_ENV, "NO_COLOR": "1"}
    args = [
        "apply", "--repo", "beta/tools", "--github-url", served.url, "--branch", "prplan/b",
        "--file", f"a.txt={tmp_path / 'b.txt'}", "--app-id", str(APP_ID),
        "--app-key-file", str(key_file), "--yes",
    ]  # fmt: skip
    done = CliRunner().invoke(cli, args, env=env)
    assert done.exit_code == 0, done.output
    assert [p["author"] for p in served.forge.pull_rows("beta/tools")] == [BOT]
    _secrets_absent([done.output], served, key_pair[0])


# --- wrong settings: named, with the fix, before any request ------------------------------


def _problem(environ: dict[str, str], **options: str) -> str:
    with pytest.raises(prplan.InvalidRequestError) as raised:
        app_settings(environ, **options)
    return str(raised.value)


def test_wrong_app_settings_are_named_with_their_fix(
    key_pair: tuple[str, str], key_file: Path, tmp_path: Path
) -> None:
    private = key_pair[0]
    missing = str(tmp_path / "absent.pem")
    ec_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "ec.pem").write_bytes(ec_key)
    cases = {
        "--app-key-file": _problem({}, app_id="1", key_file=missing),
        "$GITHUB_APP_PRIVATE_KEY_PATH": _problem(
            {"GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY_PATH": str(tmp_path / "ec.pem")}
        ),
        "$GITHUB_APP_PRIVATE_KEY": _problem(
            {"GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY": "not a key"}
        ),
        "--app-id": _problem({}, app_id="my-app", key_file=str(key_file)),
        "$GITHUB_APP_ID": _problem({"GITHUB_APP_PRIVATE_KEY": private}),
        "$GITHUB_APP_INSTALLATION_ID": _problem(
            {
                "GITHUB_APP_ID": "1",
                "GITHUB_APP_PRIVATE_KEY": private,
                "GITHUB_APP_INSTALLATION_ID": "x",
            }
        ),
    }
    assert "cannot read" in cases["--app-key-file"] and "absent.pem" in cases["--app-key-file"]
    assert "PEM RSA private key" in cases["$GITHUB_APP_PRIVATE_KEY_PATH"]
    assert "not a positive integer" in cases["--app-id"]
    assert "is not set" in cases["$GITHUB_APP_ID"]
    for field, message in cases.items():
        assert field in message, (field, message)
        assert "give" in message or "set" in message  # the fix
        assert all(line not in message for line in private.splitlines()[1:-1])
    assert app_settings({}) is None


def test_a_token_and_an_app_together_are_refused(
    key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in _CLEAN_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GH_TOKEN", "ghp_someTOKEN123")
    args = ["plan", "--repo", "acme/app", "--github-url", "http://127.0.0.1:9/api/v3"]
    args += ["--branch", "b", "--delete", "a.txt", "--app-id", "5", "--app-key-file", str(key_file)]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 1
    assert "$GH_TOKEN" in done.output and "Unset $GH_TOKEN" in done.output
    assert "ghp_someTOKEN123" not in done.output
    with pytest.raises(prplan.InvalidRequestError, match="GH_TOKEN"):
        prplan.GitHubClient.from_env(app_id="5", app_key_file=str(key_file))


def test_from_app_refuses_what_is_not_an_app_before_any_request() -> None:
    with pytest.raises(prplan.InvalidRequestError, match="app_id"):
        prplan.GitHubClient.from_app("abc", "key", base_url="http://127.0.0.1:9/api/v3")
    with pytest.raises(prplan.InvalidRequestError, match="private_key: is not a PEM RSA"):
        prplan.GitHubClient.from_app(
            3, "-----BEGIN RSA PRIVATE KEY-----\nxx\n-----END RSA PRIVATE KEY-----"
        )


# --- prplan forge serve --app ---------------------------------------------------------------


def test_forge_serve_with_an_app_serves_the_flow(key_pair: tuple[str, str], tmp_path: Path) -> None:
    data, public = tmp_path / "forge", tmp_path / "app.pub"
    public.write_text(key_pair[1])
    made = prplan.LocalForge.open(data)
    for repo in ("acme/app", "acme/other"):
        made.create_repo(repo, {"a.txt": "a\n"})
    made.close()
    process = subprocess.Popen(
        [sys.executable, "-m", "prplan", "forge", "serve", "--data", str(data), "--port", "0",
         "--app", f"{APP_ID}={public}", "--app-name", "Release Bot",
         "--app-installation", "acme/app", "--app-token-lifetime", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        api = process.stdout.readline().strip().rsplit(" ", 1)[1]
        client = prplan.GitHubClient.from_app(APP_ID, key_pair[0], base_url=api)
        assert client.app_login() == BOT
        request = prplan.ChangeRequest(
            repo="acme/app", branch="prplan/s", files={"a.txt": "s\n"}, create_pr=True
        )
        assert prplan.apply(prplan.plan(prplan.observe(client, request), request), client)
        outside = prplan.ChangeRequest(repo="acme/other", branch="x", files={"a.txt": "c\n"})
        with pytest.raises(prplan.ForgeError, match="not installed"):
            prplan.observe(client, outside)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    forge = prplan.LocalForge.open(data)
    assert [p["author"] for p in forge.pull_rows("acme/app")] == [BOT]
    forge.close()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--app", "abc=x.pem"], "--app: 'abc=x.pem' is not ID=PUBLIC_KEY_PEM_PATH"),
        (["--app", "5=absent.pem"], "--app: cannot read 'absent.pem'"),
        (["--app", "5=PRIVATE"], "is not a PEM RSA public key"),
        (["--app-installation", "acme/app"], "--app-installation: needs --app"),
    ],
)
def test_forge_serve_refuses_wrong_app_options(
    args: list[str], expected: str, key_file: Path, tmp_path: Path
) -> None:
    args = [a.replace("PRIVATE", str(key_file)) for a in args]
    done = CliRunner().invoke(cli, ["forge", "serve", "--data", str(tmp_path / "f"), *args])
    assert done.exit_code == 1 and expected in done.output, done.output

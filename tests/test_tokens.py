"""The token never shows: not in reprs, errors, outcomes, plans or logs."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import re
import subprocess
import sys
from urllib.parse import quote, unquote

import pytest
import requests
from click.testing import CliRunner

import prplan
from prplan.cli import cli
from prplan.errors import scrub_secret
from prplan.forges.github import TokenWarning
from prplan.forges.local.server.app import ForgeServer

from served import TOKEN, Served


def test_token_is_never_shown(forge_server: ForgeServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    forge = prplan.LocalForge.in_memory()
    forge.create_repo("acme/app", {"a.txt": "a\n"})
    served = Served(forge_server, forge)
    seen: list[str] = [repr(served.client), repr(served.app)]

    request = prplan.ChangeRequest(
        repo="acme/app", branch="x", files={"a.txt": "b\n"}, automerge=True
    )
    plan = prplan.plan(prplan.observe(served.client, request), request)
    outcome = prplan.apply(plan, served.client)
    seen += [plan.to_json(), outcome.to_json(), repr(plan), repr(outcome)]

    wrong = prplan.GitHubClient(token=TOKEN + "-wrong", base_url=forge_server.api_url, retries=0)
    with pytest.raises(prplan.ForgeError) as raised:
        prplan.observe(wrong, request)
    seen += [str(raised.value), repr(raised.value), repr(wrong)]

    served.faults.add(method="*", path=".*", drop="before", times=0)
    with pytest.raises(prplan.ForgeError) as dropped:
        prplan.observe(served.new_client(retries=0), request)
    seen += [str(dropped.value), repr(dropped.value)]
    seen += [record.getMessage() for record in caplog.records]

    assert all(TOKEN not in text for text in seen)
    assert "network error" in str(dropped.value) and "401" in str(raised.value)


# --- tokens as environments hold them ---------------------------------------------------

_BASIC = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()

#: The ways a message can carry a token: as is, repr- and JSON-escaped (with the
#: trailing newline of an env file), URL-encoded, base64 in `Authorization: Basic`.
CARRIED = {
    "raw": f"bad header: token {TOKEN}",
    "repr": f"Invalid header value {f'token {TOKEN}' + chr(10)!r}",
    "json": json.dumps({"Authorization": f"token {TOKEN}\n"}),
    "url": "https://h/x?access_token=" + quote(f"{TOKEN}\n", safe=""),
    "url-lower-hex": "https://h/x?t=" + quote(f"{TOKEN}\n", safe="").replace("%0A", "%0a"),
    "basic": f"{{'Authorization': 'Basic {_BASIC}'}}",
    "basic-unpadded-urlsafe": "Basic "
    + base64.urlsafe_b64encode(f"u?:{TOKEN}>".encode()).decode().rstrip("="),
}


def _carries_token(text: str) -> bool:
    decoded = [text, unquote(text)]
    for run in re.findall(r"[A-Za-z0-9+/_-]{8,}={0,2}", text):
        for alphabet in (b"+/", b"-_"):
            with contextlib.suppress(ValueError):
                decoded.append(
                    base64.b64decode(run + "=" * (-len(run) % 4), altchars=alphabet).decode(
                        "latin-1"
                    )
                )
    return any(TOKEN in d for d in decoded)


@pytest.mark.parametrize("form", CARRIED)
def test_scrubbing_covers_every_form_a_message_carries(form: str) -> None:
    message = CARRIED[form]
    assert _carries_token(message)  # the control: the form really holds the token
    client = prplan.GitHubClient(token=TOKEN, base_url="http://127.0.0.1:9/api/v3")
    with pytest.raises(prplan.ForgeError) as raised, client._http.errors("reading"):
        raise requests.exceptions.InvalidHeader(message)
    assert "network error (InvalidHeader)" in str(raised.value)
    assert not _carries_token(str(raised.value)), str(raised.value)
    assert "***" in scrub_secret(message, TOKEN)


def test_scrubbing_leaves_other_text_alone() -> None:
    text = "reading acme/app: GitHub answered 422: Reference already exists (dGhpcyBpcyBmaW5l)"
    assert scrub_secret(text, TOKEN) == text


def test_a_trailing_newline_is_stripped_with_a_warning_naming_the_variable(
    forge_server: ForgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo("acme/app", {"a.txt": "a\n"})
    Served(forge_server, forge)
    monkeypatch.setenv("GITHUB_TOKEN", f"  {TOKEN}\r\n")
    monkeypatch.setenv("GITHUB_API_URL", forge_server.api_url)
    with pytest.warns(TokenWarning) as warned:
        client = prplan.GitHubClient.from_env(retries=0)
    assert [str(w.message).split(":")[0] for w in warned] == ["GITHUB_TOKEN"]
    assert all(TOKEN not in str(w.message) for w in warned)
    request = prplan.ChangeRequest(repo="acme/app", branch="x", files={"a.txt": "b\n"})
    assert prplan.observe(client, request).base_blobs["a.txt"] is not None  # the server took it


@pytest.mark.parametrize("inside", [" ", "\n", "\t", "\x1b", "é"])
def test_a_token_with_whitespace_inside_is_refused_naming_the_variable(
    inside: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("GH_TOKEN", f"{TOKEN[:8]}{inside}{TOKEN[8:]}\n")
    with pytest.raises(prplan.InvalidRequestError) as raised:
        prplan.GitHubClient.from_env()
    assert [p.field for p in raised.value.problems] == ["GH_TOKEN"]
    assert TOKEN[:8] not in str(raised.value) and TOKEN[8:] not in str(raised.value)


def test_no_token_at_all_says_so_and_where_it_looked(
    forge_server: ForgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo("acme/app", {"a.txt": "a\n"})
    Served(forge_server, forge)  # requires TOKEN
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("GH_TOKEN", " \n")  # blank counts as unset
    monkeypatch.setenv("GITHUB_API_URL", forge_server.api_url)
    request = prplan.ChangeRequest(repo="acme/app", branch="x", files={"a.txt": "b\n"})
    with pytest.raises(prplan.ForgeError) as raised:
        prplan.observe(prplan.GitHubClient.from_env(retries=0), request)
    message = str(raised.value)
    assert "no token was found" in message and "$GITHUB_TOKEN and $GH_TOKEN" in message
    assert "rejected" not in message and raised.value.status == 401


def test_the_command_strips_a_trailing_newline_and_says_so(forge_server: ForgeServer) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo("acme/app", {"a.txt": "a\n"})
    Served(forge_server, forge)
    env = {"GITHUB_TOKEN": TOKEN + "\n", "GH_TOKEN": "", "GITHUB_API_URL": forge_server.api_url}
    result = CliRunner().invoke(
        cli, ["plan", "--repo", "acme/app", "--branch", "x", "--delete", "a.txt"], env=env
    )
    assert result.exit_code == 2, result.output
    assert "warning: GITHUB_TOKEN: removed whitespace around the token" in result.stderr
    assert TOKEN not in result.output + result.stderr


def test_the_command_without_a_token_names_the_variables(forge_server: ForgeServer) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo("acme/app", {"a.txt": "a\n"})
    Served(forge_server, forge)
    env = {**os.environ, "GITHUB_TOKEN": "", "GH_TOKEN": "", "GITHUB_API_URL": forge_server.api_url}
    done = subprocess.run(
        [sys.executable, "-m", "prplan", "plan", "--repo", "acme/app", "--branch", "x", "--delete", "a.txt"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "no token was found: looked at $GITHUB_TOKEN and $GH_TOKEN" in done.stderr


URL_SECRET = "URLPASSWORD9876"


def test_credentials_in_the_api_url_never_show_in_cli_errors() -> None:
    """A password (or a token as the user name) in GITHUB_API_URL is masked
    wherever the URL is shown: here, the unreachable-host error."""
    env = {**os.environ, "GITHUB_TOKEN": TOKEN, "GH_TOKEN": "",
           "GITHUB_API_URL": f"http://user:{URL_SECRET}@127.0.0.1:1/api/v3"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "prplan", "plan", "--repo", "acme/api", "--branch", "zz", "--set", "values.yaml:image.tag=1"],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Is http://***@127.0.0.1:1/api/v3 the right API URL" in done.stderr
    assert URL_SECRET not in done.stdout + done.stderr and "user:" not in done.stderr


@pytest.mark.parametrize(
    "url",
    [f"https://bob:{URL_SECRET}@ghe.example.com/api/v3", f"https://{URL_SECRET}@ghe.example.com/api/v3",
     f"https://bob:{quote(URL_SECRET + '/@:', safe='')}@ghe.example.com/api/v3"],
)  # fmt: skip
def test_the_clients_repr_and_errors_mask_url_credentials(url: str) -> None:
    client = prplan.GitHubClient(token=TOKEN, base_url=url)
    assert URL_SECRET not in repr(client) and "***@ghe.example.com" in repr(client)
    # Any text naming the URL, and the bare password itself, are scrubbed.
    said = client._http.scrub(f"GET {url}/repos/a/b failed; password was {unquote(url.split('@')[0].split(':')[-1])}")  # fmt: skip
    assert URL_SECRET not in said and TOKEN not in said


def test_scrubbing_masks_credentials_in_any_url_even_without_a_token() -> None:
    text = (
        "fetch http://x-access-token:abc123@127.0.0.1:5/acme/app.git and https://h/p?q=a@b failed"
    )
    assert scrub_secret(text, "") == (
        "fetch http://***@127.0.0.1:5/acme/app.git and https://h/p?q=*** failed"
    )

"""Issue 15's "done when", end to end through the command: a change set run
as a GitHub App against the local forge's App flow over HTTP (JWT ->
installation token -> observe -> commit -> pull request with labels,
reviewers, a team and draft -> ready -> merged), with installation tokens
that expire mid-run; a re-run changes no metadata; the bot is the author of
every pull request; no token or key in anything shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from prplan.cli import cli
from prplan.forges.local.server.app import ForgeServer
from test_app_auth_client import _CLEAN_ENV, APP_ID, BOT, AppForge, _secrets_absent
from test_app_auth_client import key_pair as key_pair  # the module's RSA key fixture

REPOS = ("acme/app", "acme/web", "beta/tools")


def _changeset(tmp_path: Path, **defaults: object) -> Path:
    (tmp_path / "new.txt").write_text("release 2\n")
    document = {
        "version": 1,
        "defaults": {
            "branch": "prplan/release-2", "create_pr": True, "title": "Release 2",
            "labels": ["release", "team/platform"], "reviewers": ["alice"],
            "team_reviewers": ["sre"], **defaults,
        },
        "stages": [
            {"name": "canary", "changes": [{"repo": REPOS[0], "files": {"a.txt": "new.txt"}}]},
            {"name": "fleet", "changes": [
                {"repo": r, "files": {"a.txt": "new.txt"}} for r in REPOS[1:]
            ]},
        ],
    }  # fmt: skip
    path = tmp_path / "release.json"
    path.write_text(json.dumps(document))
    return path


def _apply(served: AppForge, private: str, path: Path, transport: str) -> dict[str, object]:
    env = {
        **_CLEAN_ENV,
        "GITHUB_APP_ID": str(APP_ID),
        "GITHUB_APP_PRIVATE_KEY": private,
        "GITHUB_API_URL": served.url,
        "NO_COLOR": "1",
    }
    args = ["apply", "--changeset", str(path), "--yes", "--format", "json"]
    args += ["--github-transport", transport]
    done = CliRunner().invoke(cli, args, env=env)
    assert done.exit_code == 0, done.output
    _secrets_absent([done.output], served, private)
    result = json.loads(done.output[done.output.index("{") :])
    assert isinstance(result, dict)
    return result


def _statuses(result: dict[str, object]) -> list[str]:
    entries = result["entries"]
    assert isinstance(entries, list)
    return [str(entry["status"]) for entry in entries]


@pytest.mark.parametrize("transport", ["graphql", "rest"])
def test_a_change_set_as_an_app_opens_drafts_with_metadata_then_readies_and_merges_them(
    forge_server: ForgeServer, key_pair: tuple[str, str], tmp_path: Path, transport: str
) -> None:
    # Tokens live 2 s, shorter than each run: they are renewed mid-run.
    served = AppForge(forge_server, key_pair[1], lifetime=2, contract=False)
    forge, private = served.forge, key_pair[0]

    opened = _apply(served, private, _changeset(tmp_path, draft=True), transport)
    assert _statuses(opened) == ["created"] * 3
    for repo in REPOS:
        (pull,) = forge.pull_rows(repo)
        assert pull["author"] == BOT
        seen = forge.pull_request_metadata(repo, int(pull["number"]), reviews=True)
        assert seen.labels == ("release", "team/platform")
        assert seen.requested_reviewers == ("alice",) and seen.requested_teams == ("sre",)
        assert seen.draft is True
    tokens_after_first = served.token_requests()
    assert tokens_after_first >= 2  # two installations (acme, beta), each its own token

    # A re-run changes nothing, metadata included.
    writes_before = _writes(served)
    again = _apply(served, private, _changeset(tmp_path, draft=True), transport)
    assert _statuses(again) == ["unchanged"] * 3
    assert _writes(served) == writes_before

    ready = _apply(served, private, _changeset(tmp_path, draft=False), transport)
    assert _statuses(ready) == ["updated"] * 3
    merged = _apply(served, private, _changeset(tmp_path, automerge=True), transport)
    assert _statuses(merged) == ["merged"] * 3
    for repo in REPOS:
        assert forge.read_file(repo, "main", "a.txt") == b"release 2\n"
        (pull,) = forge.pull_rows(repo)
        assert pull["author"] == BOT
    # Tokens were renewed across the runs (each lives 2 s), and none expired in use.
    assert served.token_requests() > tokens_after_first
    assert not any(status == 401 for _, _, status in served.app.log.entries)


def _writes(served: AppForge) -> int:
    """Writes the forge counted (GraphQL mutations and REST writes), less
    the App's token exchanges (a POST that changes no repository)."""
    return served.app.log.writes - served.token_requests()

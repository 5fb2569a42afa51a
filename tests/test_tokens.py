"""The token never shows: not in reprs, errors, outcomes, plans or logs."""

from __future__ import annotations

import logging

import pytest

import prplan
from prplan.localforge._rest import ForgeServer

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

    served.faults.add(method="GET", path=".*", drop="before", times=0)
    with pytest.raises(prplan.ForgeError) as dropped:
        prplan.observe(served.new_client(retries=0), request)
    seen += [str(dropped.value), repr(dropped.value)]
    seen += [record.getMessage() for record in caplog.records]

    assert all(TOKEN not in text for text in seen)
    assert "network error" in str(dropped.value) and "401" in str(raised.value)

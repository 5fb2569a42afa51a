"""A GitHub that cannot be reached: a bounded number of attempts, a bounded
wait, then an error naming the host. Counted against a loopback port that
refuses connections (bound, never listening), not timed."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import urllib3

import prplan

from served import TOKEN


@pytest.mark.parametrize("write", [False, True], ids=["read", "write"])
def test_an_unreachable_host_is_tried_a_bounded_number_of_times_then_named(
    write: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A port bound but not listening refuses every connection, and stays ours.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        attempts: list[tuple[str, int]] = []
        connect = urllib3.util.connection.create_connection

        def counted(address: tuple[str, int], *args: Any, **kw: Any) -> Any:
            attempts.append(address)
            return connect(address, *args, **kw)

        monkeypatch.setattr(urllib3.connection.connection, "create_connection", counted)
        waits: list[float] = []
        # REST, so that the write is the first request (over GraphQL a
        # branch is created by node id: a query comes first).
        client = prplan.GitHubClient(
            token=TOKEN,
            base_url=f"http://127.0.0.1:{port}/api/v3",
            sleep=waits.append,
            transport="rest",
        )
        with pytest.raises(prplan.ForgeError) as raised:
            if write:
                client.create_branch("acme/app", "b", "0" * 40)
            else:
                client.branch_sha("acme/app", "main")
    assert attempts == [("127.0.0.1", port)] * 4  # the first and 3 more, for a write too
    assert sum(waits) <= 5 and len(waits) == 3, waits
    message = str(raised.value)
    assert f"cannot connect to 127.0.0.1:{port} (Connection refused)" in message
    assert "gave up after 4 attempts" in message and TOKEN not in message
    assert client.request_count() == prplan.RequestCount(
        reads=0 if write else 4, writes=4 if write else 0
    )


def test_connection_retries_can_be_turned_down(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        waits: list[float] = []
        client = prplan.GitHubClient(
            base_url=f"http://127.0.0.1:{port}/api/v3", connect_retries=1, sleep=waits.append
        )
        with pytest.raises(prplan.ForgeError, match="gave up after 2 attempts"):
            client.default_branch("acme/app")
    assert waits == [0.5] and client.request_count().reads == 2

"""The served forge never answers 5xx to bad input, and bad input changes nothing.

Every route of the REST API (read from the app's own routing map, so a new
route is fuzzed without touching this file) and git's smart-HTTP services get
malformed bodies, parameters and headers: first a fixed catalogue (each
known body field set to each hostile value; bodies that are not JSON, not
an object, nested past the recursion limit), then Hypothesis' own mixtures.
Requests go through the WSGI application in process (werkzeug's test
client), which is what the server runs; an exception escaping it is the 500
a socket would have answered, and fails the test.

For each request answered 4xx, the forge's refs (branches, refs/pull/*) and
pull-request rows must be what they were before it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

import prplan
from prplan.forges.local.server.app import API, ForgeApp, _rules

REPO = "acme/app"
TOKEN = "ghp_fuzzTOKEN0123456789abcdef"

#: Values a client can put where a field is expected: wrong types, empty,
#: hostile text (a lone surrogate is valid JSON but not storable text).
HOSTILE: list[Any] = [None, True, 0, -1, 10**30, 1.5, "", "\ud800", "..", ".git/config",
                      "x" * 5000, "a\x00b", [], ["x"], {}, {"name": "n"},
                      # a ref under an existing branch, over one, and names too long for a disk
                      "refs/heads/main/sub", "refs/heads/feature/x", "refs/heads", "refs/heads/" + "a" * 5000,
                      "refs/heads/" + "/".join(["b" * 200] * 30), "main", "HEAD~1"]  # fmt: skip

#: Whole bodies that are not a JSON object of fields.
BAD_BODIES: list[bytes] = [
    b"not json", b"[]", b"null", b"42", b'"text"', b"\xff\xfe\x00", b"{", b'{"a": NaN}',
    b"[" * 50_000 + b"]" * 50_000, b'{"a": ' * 50_000 + b"1" + b"}" * 50_000,
    b'{"message": "\\ud800", "title": "\\udfff"}',
]  # fmt: skip


class World:
    """A fresh forge with something behind every route."""

    def __init__(self, token: str | None = None) -> None:
        self.forge = prplan.LocalForge.in_memory(clock=lambda: 1_764_000_000.0)
        self.main = self.forge.create_repo(REPO, {"a.txt": "a\n", "dir/b.txt": "b\n"})
        self.feature = self.forge.push(REPO, "feature", {"f.txt": "f\n"})
        self.forge.push(REPO, "topic", {"t.txt": "t\n"})
        self.forge.open_pr(REPO, "feature")
        commit = self.forge.git_object(REPO, self.main)
        self.tree = commit.tree.decode()  # type: ignore[union-attr]
        self.blob = self.forge.path_entries(REPO, self.main, ["a.txt"])["a.txt"].sha or ""
        self.app = ForgeApp(self.forge, token=token)
        self.client = Client(self.app)

    def state(self) -> tuple[dict[str, str], list[dict[str, Any]]]:
        return self.forge.refs(REPO), self.forge.pull_rows(REPO)

    def valid_body(self, endpoint: str) -> dict[str, Any]:
        """A body the endpoint accepts, for mutating one field at a time."""
        tree_entry = {"path": "x.txt", "mode": "100644", "type": "blob", "content": "x"}
        person = {"name": "A", "email": "a@example.com", "date": "2020-01-02T03:04:05+02:00"}
        return {
            "create_ref": {"ref": "refs/heads/new", "sha": self.main},
            "update_ref": {"sha": self.feature, "force": True},
            "create_blob": {"content": "eA==", "encoding": "base64"},
            "create_tree": {"base_tree": self.tree, "tree": [tree_entry]},
            "create_commit": {
                "message": "m",
                "tree": self.tree,
                "parents": [self.main],
                "author": person,
                "committer": person,
            },
            "put_contents": {
                "message": "m",
                "content": "eA==",
                "branch": "topic",
                "sha": self.blob,
            },
            "delete_contents": {"message": "m", "branch": "topic", "sha": self.blob},
            "create_pull": {"title": "t", "head": "topic", "base": "main", "body": "b"},
            "edit_pull": {"title": "t", "body": "b", "state": "closed"},
            "merge": {"merge_method": "squash", "sha": self.feature, "commit_title": "c"},
        }.get(endpoint, {})

    def url(self, rule: str, values: dict[str, str] | None = None) -> str:
        """A rule's URL with every parameter filled (from ``values`` first)."""
        defaults = {"owner": "acme", "name": "app", "branch": "feature", "ref": "heads/feature",
                    "sha": self.main, "path": "a.txt", "basehead": "main...feature",
                    "number": "1"}  # fmt: skip
        out = rule
        for key, value in {**defaults, **(values or {})}.items():
            for converter in ("", "path:", "int:"):
                out = out.replace(f"<{converter}{key}>", value)
        return out


#: Values for every path parameter: traversal, bad escapes, numbers no
#: database holds, ref names and revision syntax where a sha goes, names too
#: long for a file system.
PATH_VALUES = ["..", ".git/config", "%00", "%ff%fe", "x" * 300, "-1", "0" * 40, "a/../b",
               "99999999999999999999999", str(2**63), "main", "HEAD", "HEAD~1", "main:dir",
               "main^{tree}", "heads/main/sub", "x" * 5000, "/".join(["y" * 250] * 20)]  # fmt: skip


def _routes() -> list[tuple[str, str, str]]:
    """(method, rule, endpoint) for every route the app serves."""
    return sorted(
        (method, rule.rule, str(rule.endpoint))
        for rule in _rules().iter_rules()
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    )


ROUTES = _routes()
GIT = [
    ("GET", "/acme/app.git/info/refs?service=git-upload-pack", None),
    ("GET", "/acme/app.git/info/refs?service=git-receive-pack", None),
    ("GET", "/acme/app.git/info/refs?service=nonsense", None),
    ("POST", "/acme/app.git/git-upload-pack", "application/x-git-upload-pack-request"),
    ("POST", "/acme/app.git/git-receive-pack", "application/x-git-receive-pack-request"),
    ("POST", "/acme/missing.git/git-receive-pack", "application/x-git-receive-pack-request"),
]
GIT_BODIES = [b"", b"garbage", b"0000", b"0004", b"zzzz", b"00ffwant " + b"0" * 40,
              b"0032" + b"\x00" * 46, b"0098" + b"0" * 40 + b" " + b"1" * 40 + b" refs/heads/x\x00 report-status\n",
              b"PACK\x00\x00\x00\x02\x00\x00\x00\x01garbage"]  # fmt: skip


def _send(
    world: World,
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> int:
    """One request; asserts no 5xx, and no change when it was refused."""
    before = world.state()
    answer = world.client.open(url, method=method, data=body, headers=headers or {})
    status = answer.status_code
    assert status < 500, (
        method,
        url,
        body[:200] if body else body,
        status,
        answer.get_data()[:300],
    )
    if status >= 400:
        assert world.state() == before, (method, url, body[:200] if body else body, status)
        if url.startswith(API) and answer.get_data():
            assert isinstance(json.loads(answer.get_data())["message"], str)
    return status


def _mutations(valid: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``valid`` with one field (top level, or inside its first list entry or
    object) replaced by each hostile value, or left out."""
    for key, value in valid.items():
        for hostile in HOSTILE:
            yield {**valid, key: hostile}
        yield {k: v for k, v in valid.items() if k != key}
        inner = value[0] if isinstance(value, list) and value else value
        if isinstance(inner, dict):
            for inner_key in inner:
                for hostile in HOSTILE:
                    changed = {**inner, inner_key: hostile}
                    yield {**valid, key: [changed] if isinstance(value, list) else changed}


def _encode(body: dict[str, Any]) -> bytes:
    # ensure_ascii keeps lone surrogates as \\u escapes, as a client would send them.
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("method", "rule", "endpoint"), ROUTES, ids=[f"{m} {e}" for m, _, e in ROUTES]
)
def test_every_route_refuses_a_catalogue_of_malformed_input(method: str, rule: str, endpoint: str) -> None:  # fmt: skip
    world = World()
    url = world.url(rule)
    statuses = [
        _send(world, method, url, body, {"Content-Type": "application/json"}) for body in BAD_BODIES
    ]
    for mutated in _mutations(world.valid_body(endpoint)):
        statuses.append(_send(world, method, world.url(rule), _encode(mutated)))
        if statuses[-1] < 400:
            world = World()  # an accepted write must not change what the next case meets
    for name in ("owner", "name", "branch", "ref", "sha", "path", "basehead", "number"):
        if f"{name}>" not in rule:
            continue
        for value in PATH_VALUES:
            statuses.append(
                _send(
                    world,
                    method,
                    world.url(rule, {name: value}),
                    _encode(world.valid_body(endpoint)),
                )
            )
    for query in ("per_page=abc&page=-5", "page=99999999999999999999999", "per_page=0",
                  "state=%ff", "head=:", "head=a:b:c", "direction=%00", "ref=%00", "ref=..",
                  "recursive=%ff", "per_page=" + "9" * 5000):  # fmt: skip
        statuses.append(_send(world, method, f"{url}?{query}"))
    # _send checked each answer; here: every case was answered, none with a 5xx.
    assert len(statuses) >= len(BAD_BODIES) and max(statuses) < 500


@pytest.mark.parametrize(("method", "url", "content_type"), GIT)
def test_git_services_refuse_broken_streams(method: str, url: str, content_type: str | None) -> None:  # fmt: skip
    world = World()
    statuses = []
    for body in GIT_BODIES:
        headers = {"Content-Type": content_type} if content_type else {}
        statuses.append(_send(world, method, url, body, headers))
        statuses.append(_send(world, method, url, body, {**headers, "Content-Encoding": "gzip"}))
        statuses.append(
            _send(world, method, url, body, {**headers, "Transfer-Encoding": "chunked"})
        )
    assert len(statuses) == 3 * len(GIT_BODIES) and max(statuses) < 500


def test_hostile_credentials_are_401_not_500() -> None:
    world = World(token=TOKEN)
    weird = [
        "token", "Bearer", "Basic", "Basic !!!", "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Basic " + base64.b64encode(b"no-colon").decode(), "token " + "x" * 10_000, "\x00",
        "Basic " + base64.b64encode(b"x:" + TOKEN.encode() + b"x").decode(),
    ]  # fmt: skip
    for header in weird:
        for url in (f"{API}/repos/{REPO}", "/acme/app.git/info/refs?service=git-upload-pack"):
            assert _send(world, "GET", url, headers={"Authorization": header}) == 401


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from(HOSTILE[5:12]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)  # fmt: skip
query_values = (
    st.text(max_size=12) | st.integers().map(str) | st.sampled_from(["abc", "", "-1", "1e9"])
)
query_keys = st.sampled_from(["per_page", "page", "state", "head", "base", "direction", "ref", "recursive", "sha"])  # fmt: skip


path_values = st.text(alphabet="ab./%0-_\\:", max_size=10)
header_values = st.sampled_from(["application/json", "gzip", "text/plain", "*/*", "", "\x7f"])
header_keys = st.sampled_from(["Content-Type", "Content-Encoding", "Accept", "If-None-Match"])


@pytest.mark.parametrize(
    ("method", "rule", "endpoint"), ROUTES, ids=[f"{m} {e}" for m, _, e in ROUTES]
)
# A fifth of the profile's examples per route (~28 routes): the dev profile stays fast.
@settings(
    suppress_health_check=[HealthCheck.too_slow], max_examples=max(settings().max_examples // 5, 1)
)
@given(data=st.data())
def test_every_route_survives_random_input(method: str, rule: str, endpoint: str, data: st.DataObject) -> None:  # fmt: skip
    """A valid body with fields replaced, added or dropped, or any JSON, or
    any bytes; path parameters, query and headers drawn too."""
    world = World()
    overrides = data.draw(st.dictionaries(st.sampled_from(["branch", "ref", "sha", "path", "number"]), path_values, max_size=2))  # fmt: skip
    query = data.draw(st.dictionaries(query_keys, query_values, max_size=3))
    headers = data.draw(st.dictionaries(header_keys, header_values, max_size=2))
    kind = data.draw(st.sampled_from(["mutated", "json", "bytes"]))
    if kind == "bytes":
        body = data.draw(st.binary(max_size=64))
    elif kind == "json":
        body = json.dumps(data.draw(json_values)).encode()
    else:
        valid = world.valid_body(endpoint)
        dropped = data.draw(st.sets(st.sampled_from(sorted(valid)), max_size=2)) if valid else set()
        extra = data.draw(
            st.dictionaries(st.sampled_from([*valid, "other"]), json_values, max_size=3)
        )
        body = _encode({**{k: v for k, v in valid.items() if k not in dropped}, **extra})
    url = world.url(rule, overrides) + ("?" + urlencode(query) if query else "")
    assert _send(world, method, url, body, headers) < 500


@pytest.mark.parametrize("on_disk", [False, True], ids=["in memory", "on disk"])
def test_refs_that_clash_or_cannot_be_files_are_422(on_disk: bool, tmp_path: Any) -> None:
    """A ref under an existing branch (or over one) and names too long for a
    file are refused as GitHub refuses them, in memory as on disk, where
    they used to raise NotADirectoryError and 'File name too long'."""
    world = World()
    if on_disk:
        world.forge = prplan.LocalForge.open(tmp_path, clock=lambda: 1_764_000_000.0)
        world.main = world.forge.create_repo(REPO, {"a.txt": "a\n"})
        world.forge.push(REPO, "team/x", {"f.txt": "f\n"})
        world.client = Client(ForgeApp(world.forge))
    else:
        world.forge.push(REPO, "team/x", {"f.txt": "f\n"})
    before = world.forge.branches(REPO)
    clashing = ["refs/heads/main/sub", "refs/heads/team", "refs/heads/team/x/y",
                "refs/heads/" + "a" * 5000, "refs/heads/" + "/".join(["b" * 200] * 30)]  # fmt: skip
    for ref in clashing:
        body = _encode({"ref": ref, "sha": world.main})
        status = _send(world, "POST", f"{API}/repos/{REPO}/git/refs", body)
        assert status == 422, ref[:40]
    assert world.forge.branches(REPO) == before

"""The local forge serves GitHub's GraphQL: each document prplan sends,
against a real served forge, and the forge's schema against GitHub's.

One forge per module behind the session's HTTP server; each test works in
its own repository of it.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import graphql
import pytest

import prplan
from prplan.forges.github import graphql_documents as documents
from prplan.forges.github.graphql_documents import ZERO_OID, RepositoryRead
from prplan.forges.local.server.app import ForgeServer
from prplan.forges.local.server.graphql import forge_schema
from prplan.forges.local.trees import TreeInput

import graphql_contract
from served import TOKEN, Served

FILES = {"apps/a/values.yaml": "tag: 1\n", "apps/a/run.sh": "#!/bin/sh\n", "README.md": "hi\n"}


@pytest.fixture(scope="module")
def served(forge_server: ForgeServer) -> Iterator[Served]:
    forge = prplan.LocalForge.in_memory()
    yield Served(forge_server, forge)
    forge.close()


def _post(served: Served, text: str, variables: dict[str, Any], *, token: str = TOKEN,
          path: str = "/api/graphql") -> tuple[int, dict[str, Any]]:  # fmt: skip
    request = urllib.request.Request(
        served.server.url + path,
        data=json.dumps({"query": text, "variables": variables}).encode(),
        headers={"Authorization": f"bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _repo(served: Served, name: str, *, executable: tuple[str, ...] = ("apps/a/run.sh",)) -> str:
    repo = f"acme/{name}"
    served.forge.create_repo(repo, FILES, executable=executable)
    return repo


def _observe(served: Served, repo: str, branch: str, paths: list[str]) -> dict[str, Any]:
    owner, name = repo.split("/")
    doc = documents.observe_document([RepositoryRead(owner, name, "main", branch, paths)])
    status, answer = _post(served, doc.text, doc.variables)
    assert status == 200 and "errors" not in answer, answer
    return dict(answer["data"]["r0"])


def _write(served: Served, repo: str, branch: str, oid: str, files: dict[str, bytes], *,
           expected: str | None = None) -> dict[str, Any]:  # fmt: skip
    repository_id = _observe(served, repo, branch, [])["id"]
    variables = {
        "repositoryId": repository_id, "ref": f"refs/heads/{branch}", "oid": oid,
        "repository": repo, "branch": branch, "expectedHeadOid": expected or oid,
        "headline": "Change", "body": "Why",
        "additions": [{"path": p, "contents": base64.b64encode(c).decode()} for p, c in files.items()],
        "deletions": [],
    }  # fmt: skip
    return _post(served, documents.WRITE_BRANCH_AND_COMMIT, variables)[1]


def _entries(directory: dict[str, Any] | None) -> dict[str, tuple[str, int]]:
    assert directory is not None and directory["__typename"] == "Tree"
    return {e["name"]: (e["type"], e["mode"]) for e in directory["entries"]}


def test_observe_reads_refs_comparison_pull_requests_and_modes(served: Served) -> None:
    repo = _repo(served, "observe")
    forge = served.forge
    main = forge.branches(repo)["main"]
    tree = forge.git_create_tree(
        repo,
        [TreeInput(path="apps/a/link", mode=0o120000, content=b"values.yaml"),
         TreeInput(path="vendor/lib", mode=0o160000, sha=main)],
        base_tree=forge.git_object(repo, main).tree.decode(),
    )  # fmt: skip
    main = forge.git_create_commit(repo, message="more kinds", tree=tree, parents=[main])
    forge.update_ref(repo, "refs/heads/main", main, force=False)
    forge.push(repo, "prplan/x", {"apps/a/values.yaml": "tag: 2\n"}, message="x")
    forge.push(repo, "other", {"README.md": "other\n"}, message="o")
    into_branch = forge.open_pr(repo, "other", "prplan/x", title="into the branch")
    from_branch = forge.open_pr(repo, "prplan/x", "other", title="into another base")
    paths = ["apps/a/values.yaml", "apps/a/run.sh", "apps/a/link", "vendor/lib", "apps", "nope/x"]
    r = _observe(served, repo, "prplan/x", paths)
    assert r["nameWithOwner"] == repo and r["defaultBranchRef"]["name"] == "main"
    assert r["base"]["target"]["oid"] == main
    assert r["base"]["target"]["tree"]["oid"] == forge.git_object(repo, main).tree.decode()
    head = forge.branches(repo)["prplan/x"]
    assert r["head"]["target"]["oid"] == head and r["head"]["branchProtectionRule"] is None
    compare = r["base"]["compare"]
    assert (compare["aheadBy"], compare["behindBy"], compare["status"]) == (1, 0, "AHEAD")
    [commit] = compare["commits"]["nodes"]
    assert commit["oid"] == head and commit["author"]["name"] and commit["signature"] is None
    assert [p["number"] for p in r["fromBranch"]["nodes"]] == [from_branch]
    assert r["fromBranch"]["nodes"][0]["baseRefName"] == "other"
    assert [p["number"] for p in r["intoBranch"]["nodes"]] == [into_branch]
    assert r["intoBranch"]["nodes"][0]["state"] == "OPEN"
    # every ancestor directory: "", apps, apps/a, vendor, nope
    assert _entries(r["b2"]) == {
        "values.yaml": ("blob", 0o100644), "run.sh": ("blob", 0o100755),
        "link": ("blob", 0o120000),
    }  # fmt: skip
    assert _entries(r["b3"]) == {"lib": ("commit", 0o160000)}
    assert _entries(r["b0"])["apps"] == ("tree", 0o040000)
    assert r["b4"] is None and r["h4"] is None  # no such directory
    [open_pull] = r["openFromBranch"]["nodes"]  # its files: GraphQL's compare lists none
    assert open_pull["number"] == from_branch and open_pull["changedFiles"] == 1
    assert open_pull["files"]["nodes"] == [{"path": "apps/a/values.yaml", "changeType": "MODIFIED"}]


def test_branch_and_commit_in_one_document_make_a_verified_commit(served: Served) -> None:
    repo = _repo(served, "write")
    main = served.forge.branches(repo)["main"]
    answer = _write(served, repo, "prplan/x", main, {"apps/a/values.yaml": b"tag: 2\n"})
    assert "errors" not in answer, answer
    sha = answer["data"]["commit"]["commit"]["oid"]
    assert answer["data"]["commit"]["commit"]["signature"] == {"isValid": True, "state": "VALID"}
    assert served.forge.branches(repo)["prplan/x"] == sha
    assert served.forge.read_file(repo, sha, "apps/a/values.yaml") == b"tag: 2\n"
    [commit] = served.forge.log(repo, "prplan/x")[:1]
    assert (commit.summary, commit.author) == ("Change", "prplan")
    # REST shows it verified, and other commits unverified, as GitHub does.
    for path in (f"commits/{sha}", f"git/commits/{sha}"):
        with urllib.request.urlopen(urllib.request.Request(
            f"{served.server.api_url}/repos/{repo}/{path}",
            headers={"Authorization": f"token {TOKEN}"},
        )) as got:  # fmt: skip
            body = json.loads(got.read())
        verification = body.get("verification") or body["commit"]["verification"]
        assert verification["verified"] is True and verification["reason"] == "valid"
        assert body["sha"] == sha
    with urllib.request.urlopen(urllib.request.Request(
        f"{served.server.api_url}/repos/{repo}/git/commits/{main}",
        headers={"Authorization": f"token {TOKEN}"},
    )) as got:  # fmt: skip
        assert json.loads(got.read())["verification"]["verified"] is False
    assert served.violations == []  # GitHub's OpenAPI schemas hold for both


def test_a_moved_head_is_stale_data_and_keeps_the_branch_fields_result(served: Served) -> None:
    repo = _repo(served, "stale")
    forge = served.forge
    main = forge.branches(repo)["main"]
    forge.push(repo, "prplan/x", {"README.md": "someone's\n"}, message="pushed")
    before = forge.branches(repo)["prplan/x"]
    variables = {
        "repositoryId": _observe(served, repo, "prplan/x", [])["id"], "ref": "refs/heads/prplan/x",
        "beforeOid": before, "oid": main, "repository": repo, "branch": "prplan/x",
        "expectedHeadOid": before,  # wrong: the reset just moved it to main
        "headline": "Change", "body": None, "deletions": [],
        "additions": [{"path": "a", "contents": base64.b64encode(b"a").decode()}],
    }  # fmt: skip
    status, answer = _post(served, documents.RESET_BRANCH_AND_COMMIT, variables)
    assert status == 200
    assert answer["data"] == {"branch": {"clientMutationId": None}, "commit": None}
    [error] = answer["errors"]
    assert error["type"] == "STALE_DATA" and error["path"] == ["commit"] and error["locations"]
    assert forge.branches(repo)["prplan/x"] == main  # the reset happened, no commit


def test_update_refs_with_a_wrong_before_oid_changes_nothing(served: Served) -> None:
    repo = _repo(served, "cas")
    forge = served.forge
    main = forge.branches(repo)["main"]
    forge.push(repo, "a", {"README.md": "a\n"}, message="a")
    forge.push(repo, "b", {"README.md": "b\n"}, message="b")
    state = forge.branches(repo)
    updates = [
        {"name": "refs/heads/a", "beforeOid": state["a"], "afterOid": main, "force": True},
        {"name": "refs/heads/b", "beforeOid": main, "afterOid": main, "force": True},  # wrong
        {"name": "refs/heads/new", "beforeOid": ZERO_OID, "afterOid": main},
    ]
    repository_id = _observe(served, repo, "a", [])["id"]
    status, answer = _post(
        served, documents.UPDATE_REFS, {"repositoryId": repository_id, "refUpdates": updates}
    )
    assert status == 200 and answer["data"] == {"updateRefs": None}
    assert answer["errors"][0]["type"] == "STALE_DATA"
    assert forge.branches(repo) == state  # atomic: not even the first one moved
    updates[1]["beforeOid"] = state["b"]
    updates.append({"name": "refs/heads/b", "beforeOid": state["b"], "afterOid": ZERO_OID})
    del updates[1]
    _, answer = _post(served, documents.UPDATE_REFS, {"repositoryId": repository_id, "refUpdates": updates})  # fmt: skip
    assert "errors" not in answer, answer
    assert forge.branches(repo) == {"main": main, "a": main, "new": main}


def test_pull_request_then_merge_names_the_head_it_expects(served: Served) -> None:
    repo = _repo(served, "merge")
    main = served.forge.branches(repo)["main"]
    written = _write(served, repo, "prplan/x", main, {"README.md": b"new\n"})
    head = written["data"]["commit"]["commit"]["oid"]
    repository_id = _observe(served, repo, "prplan/x", [])["id"]
    _, created = _post(served, documents.CREATE_PULL_REQUEST, {
        "repositoryId": repository_id, "base": "main", "head": "prplan/x", "title": "T", "body": "B",
    })  # fmt: skip
    pull = created["data"]["createPullRequest"]["pullRequest"]
    assert (pull["state"], pull["headRefOid"], pull["author"]["login"]) == ("OPEN", head, "prplan")
    merge = {"pullRequestId": pull["id"], "mergeMethod": "SQUASH", "expectedHeadOid": main}
    _, refused = _post(served, documents.MERGE_PULL_REQUEST, merge)
    assert refused["data"] == {"mergePullRequest": None}
    assert refused["errors"][0]["type"] == "STALE_DATA"
    assert served.forge.branches(repo)["main"] == main
    _, merged = _post(served, documents.MERGE_PULL_REQUEST, {**merge, "expectedHeadOid": head})
    result = merged["data"]["mergePullRequest"]["pullRequest"]
    assert result["merged"] is True and result["state"] == "MERGED"
    assert served.forge.branches(repo)["main"] == result["mergeCommit"]["oid"]
    ref_id = _observe(served, repo, "prplan/x", [])["head"]["id"]
    _, deleted = _post(served, documents.DELETE_REF, {"refId": ref_id})
    assert "errors" not in deleted and "prplan/x" not in served.forge.branches(repo)


def test_many_repositories_in_one_query_and_one_read(served: Served) -> None:
    repos = [_repo(served, f"many{i}") for i in range(5)]
    reads = [RepositoryRead(*r.split("/"), "main", "prplan/x", ["README.md"]) for r in repos]
    reads.append(RepositoryRead("acme", "missing", "main", "prplan/x"))
    doc = documents.observe_document(reads)
    served.app.log.reset()
    status, answer = _post(served, doc.text, doc.variables, path="/graphql")
    assert status == 200 and (served.app.log.reads, served.app.log.writes) == (1, 0)
    for index, repo in enumerate(repos):
        data = answer["data"][f"r{index}"]
        assert data["nameWithOwner"] == repo and data["head"] is None
        assert "README.md" in _entries(data["b0"])
    assert answer["data"]["r5"] is None
    [error] = answer["errors"]
    assert (error["type"], error["path"]) == ("NOT_FOUND", ["r5"])


def test_a_bad_token_is_a_401_as_in_rest(served: Served) -> None:
    status, answer = _post(served, "{ viewer { login } }", {}, token="wrong")
    assert status == 401 and answer["message"] == "Bad credentials"
    status, answer = _post(served, "{ viewer { login } rateLimit { limit remaining } }", {})
    assert status == 200 and answer["data"]["viewer"] == {"login": "prplan"}


def test_a_document_with_an_unknown_field_is_refused_without_data(served: Served) -> None:
    status, answer = _post(served, "{ viewer { password } }", {})
    assert status == 200 and "data" not in answer and answer["errors"][0]["message"]


def test_the_forges_schema_is_a_subset_of_githubs() -> None:
    github, forge = graphql_contract.github_schema(), forge_schema()
    missing = []
    for name, kind in forge.type_map.items():
        if name.startswith("__"):
            continue
        theirs = github.type_map.get(name)
        if theirs is None or type(theirs) is not type(kind):
            missing.append(f"type {name}")
            continue
        if isinstance(kind, graphql.GraphQLEnumType):
            assert isinstance(theirs, graphql.GraphQLEnumType)
            missing += [f"{name}.{v}" for v in kind.values if v not in theirs.values]
        if isinstance(kind, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType):
            assert isinstance(theirs, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType)
            theirs_ifaces = {i.name for i in theirs.interfaces}
            missing += [
                f"{name} implements {i.name}"
                for i in kind.interfaces
                if i.name not in theirs_ifaces
            ]
        if isinstance(
            kind,
            graphql.GraphQLObjectType
            | graphql.GraphQLInterfaceType
            | graphql.GraphQLInputObjectType,
        ):
            for field_name, field in kind.fields.items():
                other = theirs.fields.get(field_name)  # type: ignore[union-attr]
                if other is None or str(other.type) != str(field.type):
                    missing.append(f"{name}.{field_name}: {field.type}")
                    continue
                for arg, value in getattr(field, "args", {}).items():
                    if arg not in other.args or str(other.args[arg].type) != str(value.type):
                        missing.append(f"{name}.{field_name}({arg}: {value.type})")
    assert missing == []

"""Observe over GraphQL: one query, the same snapshot as REST, and REST
wherever the answer cannot tell (counted at the server)."""

from __future__ import annotations

import graphql
import pytest

import prplan
from prplan.forges.github import graphql_documents as documents
from prplan.forges.github.graphql_reads import MAX_NODES, batches, node_cost, read_of
from prplan.forges.local.server.app import ForgeServer

import graphql_contract
from served import TOKEN, Served

REPO = "acme/app"
FILES = {"apps/a/values.yaml": "tag: 1\n", "README.md": "hello\n", "run.sh": "echo\n"}


def _served(forge_server: ForgeServer) -> Served:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, FILES)
    return Served(forge_server, forge)


def _client(served: Served, transport: str) -> prplan.GitHubClient:
    return served.new_client(transport=transport, retries=3, backoff=0.0, timeout=5)


def _request(**changes: object) -> prplan.ChangeRequest:
    options: dict[str, object] = {
        "repo": REPO, "branch": "prplan/up",
        "files": {"apps/a/values.yaml": "tag: 2\n", "new/dir/x.txt": "x\n"},
        "automerge": False,
    }  # fmt: skip
    options.update(changes)
    return prplan.ChangeRequest(**options)  # type: ignore[arg-type]


def _observed(served: Served, request: prplan.ChangeRequest) -> tuple[object, object, int]:
    """(the snapshot over REST, over GraphQL, the GraphQL side's requests)."""
    rest = prplan.observe(_client(served, "rest"), request)
    served.app.log.reset()
    over_graphql = prplan.observe(_client(served, "graphql"), request)
    return rest, over_graphql, served.app.log.reads + served.app.log.writes


def test_no_branch_is_one_query(forge_server: ForgeServer) -> None:
    served = _served(forge_server)
    rest, over_graphql, requests = _observed(served, _request())
    assert over_graphql == rest
    assert requests == 1, served.app.log.entries


def test_an_open_pull_request_is_one_query_and_nothing_to_do(forge_server: ForgeServer) -> None:
    served = _served(forge_server)
    request = _request()
    client = _client(served, "graphql")
    prplan.apply(prplan.plan(prplan.observe(client, request), request), client, recheck=False)
    rest, over_graphql, requests = _observed(served, request)
    assert over_graphql == rest and prplan.plan(over_graphql, request).is_empty  # type: ignore[arg-type]
    assert requests == 1, served.app.log.entries
    assert (served.app.log.reads, served.app.log.writes) == (1, 0)  # a query is a read


def test_a_merged_pull_request_is_one_query(forge_server: ForgeServer) -> None:
    served = _served(forge_server)
    request = _request(automerge=True)
    client = _client(served, "graphql")
    prplan.apply(prplan.plan(prplan.observe(client, request), request), client, recheck=False)
    rest, over_graphql, requests = _observed(served, request)
    assert over_graphql == rest and prplan.plan(over_graphql, request).is_empty  # type: ignore[arg-type]
    assert requests == 1, served.app.log.entries


def test_a_named_base_and_an_edit_read_the_text(forge_server: ForgeServer) -> None:
    served = _served(forge_server)
    request = _request(
        base="main", files={"apps/a/values.yaml": (prplan.YamlSet(path="tag", value=3),)}
    )
    rest, over_graphql, requests = _observed(served, request)
    assert over_graphql == rest and requests == 1, served.app.log.entries


def test_what_the_answer_cannot_tell_is_read_over_rest(forge_server: ForgeServer) -> None:
    served = _served(forge_server)
    # a branch of someone else's, no pull request: GraphQL's comparison lists no files
    served.forge.push(REPO, "prplan/up", {"other.txt": "theirs\n"}, message="theirs")
    rest, over_graphql, requests = _observed(served, _request())
    assert over_graphql == rest
    assert [path for _, path, _ in served.app.log.entries if "compare" in path], requests


def test_a_change_set_of_100_repositories_is_observed_in_at_most_four_requests(
    forge_server: ForgeServer,
) -> None:
    forge = prplan.LocalForge.in_memory()
    names = [f"acme/r{i}" for i in range(100)]
    for name in names:
        forge.create_repo(name, {"values.yaml": "tag: 1\n"})
    served = Served(forge_server, forge)
    client = _client(served, "graphql")
    changes = [
        prplan.ChangeRequest(repo=name, branch="prplan/up", files={"values.yaml": "tag: 2\n"})
        for name in names
    ]
    served.app.log.reset()
    with client.observing_many(changes):
        snapshots = [prplan.observe(client, change) for change in changes]
    assert all(s.branch_sha is None for s in snapshots)
    assert served.app.log.reads + served.app.log.writes <= 4, served.app.log.entries


def test_a_100_repository_query_is_within_githubs_node_limit() -> None:
    reads = [
        documents.RepositoryRead(
            "acme", f"r{i}", "main", "prplan/up", ("a/b/c.yaml",), ("a/b/c.yaml",)
        )
        for i in range(100)
    ]
    assert node_cost(documents.observe_document(reads)) < MAX_NODES
    assert sum(len(batch) for batch in batches(reads)) == 100
    assert len(list(batches(reads))) <= 4


def test_node_cost_multiplies_nested_pages() -> None:
    text = 'query { repository(owner: "a", name: "b") { pullRequests(first: 50) { nodes { files(first: 10) { totalCount } } } } }'
    assert node_cost(documents.Document(text, {})) == 50 + 50 * 10
    assert node_cost(documents.Document("query { viewer { login } }", {})) == 0
    with pytest.raises(ValueError):
        node_cost(
            documents.Document(
                'query { repository(owner: "a", name: "b") { pullRequests(first: 101) { totalCount } } }',
                {},
            )
        )


def test_every_connection_of_the_observe_query_names_a_page() -> None:
    schema = graphql_contract.github_schema()
    document = documents.observe_document([read_of(_request())])
    info = graphql.TypeInfo(schema)
    unpaged: list[str] = []

    class Check(graphql.Visitor):
        def enter_field(self, node: graphql.FieldNode, *_: object) -> None:
            kind = graphql.get_named_type(info.get_type())
            names = {a.name.value for a in node.arguments or ()}
            if (
                kind is not None
                and kind.name.endswith("Connection")
                and not names & {"first", "last"}
            ):
                unpaged.append(node.name.value)

    graphql.visit(graphql.parse(document.text), graphql.TypeInfoVisitor(info, Check()))
    assert unpaged == []


def test_an_unknown_transport_is_refused() -> None:
    with pytest.raises(ValueError):
        prplan.GitHubClient(token=TOKEN, transport="soap")

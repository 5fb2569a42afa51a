"""Every GraphQL document prplan sends validates against GitHub's full schema.

The documents live in ``prplan.forges.github.graphql_documents``; GitHub's
schema in ``../shared/github-graphql`` (``graphql_contract``).
"""

from __future__ import annotations

import graphql
import pytest

from prplan.forges.github import arming
from prplan.forges.github import graphql_documents as documents
from prplan.forges.github.graphql_documents import RepositoryRead

import graphql_contract

_READS = [
    RepositoryRead("acme", "app", "main", "prplan/x", ("apps/a/values.yaml", "README.md")),
    RepositoryRead("acme", "other", "develop", "prplan/x", ("a/b/c.json", "a/b/d.json", "e")),
    RepositoryRead("acme", "empty", "main", "prplan/x"),
    RepositoryRead("acme", "texts", "", "prplan/x", ("a/v.yaml", "w.json"), ("a/v.yaml",)),
]

DOCUMENTS = {
    "OBSERVE": documents.OBSERVE,
    "observe, one repository": documents.observe_document(_READS[:1]).text,
    "observe, many repositories": documents.observe_document(_READS).text,
    "WRITE_BRANCH_AND_COMMIT": documents.WRITE_BRANCH_AND_COMMIT,
    "RESET_BRANCH_AND_COMMIT": documents.RESET_BRANCH_AND_COMMIT,
    "CREATE_PULL_REQUEST": documents.CREATE_PULL_REQUEST,
    "MERGE_PULL_REQUEST": documents.MERGE_PULL_REQUEST,
    "UPDATE_REFS": documents.UPDATE_REFS,
    "DELETE_REF": documents.DELETE_REF,
    "COMMIT_ON_BRANCH": documents.COMMIT_ON_BRANCH,
    "CREATE_REF": documents.CREATE_REF,
    "BRANCH_HEAD": documents.BRANCH_HEAD,
    "DISABLE_AUTO_MERGE": arming.DISABLE_AUTO_MERGE,
    "DEQUEUE_PULL_REQUEST": arming.DEQUEUE_PULL_REQUEST,
    "VIEWER": arming.VIEWER,
    "directories": documents.directories_document("acme", "app", "a" * 40, ["", "x", "x/y"]).text,
}


@pytest.fixture(scope="module")
def github() -> graphql.GraphQLSchema:
    return graphql_contract.github_schema()


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_document_validates_against_githubs_schema(
    github: graphql.GraphQLSchema, name: str
) -> None:
    problems = graphql.validate(github, graphql.parse(DOCUMENTS[name]))
    assert [p.message for p in problems] == []


def test_a_builder_declares_every_variable_it_sends() -> None:
    doc = documents.observe_document(_READS)
    declared = {
        d.variable.name.value
        for op in graphql.parse(doc.text).definitions
        if isinstance(op, graphql.OperationDefinitionNode)
        for d in op.variable_definitions
    }
    assert declared == set(doc.variables)
    assert doc.variables["b1_2"] == "refs/heads/develop:a/b"
    assert doc.variables["h0_0"] == "refs/heads/prplan/x:"
    # no base named: the default branch, HEAD in expressions; edited files' text
    assert doc.variables["bt3_0"] == "HEAD:a/v.yaml"
    assert doc.variables["ht3_0"] == "refs/heads/prplan/x:a/v.yaml"
    assert "base3" not in doc.variables


def test_paths_read_through_every_ancestor_directory_once() -> None:
    assert documents.ancestor_directories(["a/b/c", "a/b/d", "e", "a/f"]) == ["", "a", "a/b"]
    assert documents.ancestor_directories([]) == []


def test_paths_read_through_their_parent_directories_once() -> None:
    assert documents.parent_directories(["a/b/c", "a/b/d", "e", "a/f"]) == ["a/b", "", "a"]

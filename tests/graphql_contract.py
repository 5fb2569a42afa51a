"""GitHub's full public GraphQL schema, for the GraphQL contract tests.

It lives outside the project, in ``../shared/github-graphql/schema.graphql``
(from ``@octokit/graphql-schema``); tests skip when that folder is absent.
Building it takes about a second, so it is built once per test session.
GitHub's SDL defines two fields twice and has interface implementations
graphql-core would refuse (deprecated on one side only): it is built as
valid (``assume_valid_sdl``, ``assume_valid``).
"""

from __future__ import annotations

import functools
from pathlib import Path

import graphql
import pytest

SCHEMA_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "github-graphql"


@functools.cache
def _build() -> graphql.GraphQLSchema | None:
    if not SCHEMA_DIR.is_dir():
        return None
    sdl = (SCHEMA_DIR / "schema.graphql").read_text(encoding="utf-8")
    return graphql.build_schema(sdl, assume_valid_sdl=True, assume_valid=True)


def github_schema() -> graphql.GraphQLSchema:
    """GitHub's schema (built once), or skip the test."""
    schema = _build()
    if schema is None:
        pytest.skip(f"GitHub's GraphQL schema is not here: {SCHEMA_DIR} is absent")
    return schema

"""The local forge's GraphQL endpoint: ``POST /api/graphql`` and ``POST /graphql``.

Executed by graphql-core over ``graphql_schema.graphql``, a strict subset of
GitHub's public schema (same type, field, argument and enum names and types;
a test holds it), built once per process. Answers have GitHub's shape: HTTP
200 with ``{"data": ..., "errors": [{"type", "message", "path",
"locations"}]}``, ``data`` holding what succeeded. Top-level mutation fields
run in order, each with its own result: a failed one leaves the others' data
and does not stop the next. Error types: ``STALE_DATA`` (a compare-and-swap
failed), ``NOT_FOUND``, ``UNPROCESSABLE``, ``FORBIDDEN``.

Authentication is the REST API's (``ForgeApp``): a bad token is a 401 before
this module sees the request.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import graphql
from werkzeug.wrappers import Request

from prplan import errors
from prplan.forges.local.server.graphql_mutations import mutations
from prplan.forges.local.server.graphql_objects import Context, Problem, node, repository
from prplan.forges.local.server.payloads import Urls, iso, node_id
from prplan.forges.local.server.routes import Answer, Routes

__all__ = ["GraphQLRoutes", "SCHEMA_FILE", "forge_schema", "graphql_operation"]

SCHEMA_FILE = Path(__file__).with_name("graphql_schema.graphql")


@functools.cache
def forge_schema() -> graphql.GraphQLSchema:
    """The forge's schema, built and checked once per process."""
    schema = graphql.build_schema(SCHEMA_FILE.read_text(encoding="utf-8"))
    problems = graphql.validate_schema(schema)
    if problems:  # pragma: no cover - the file ships with the package
        raise RuntimeError(f"{SCHEMA_FILE.name}: {problems}")
    return schema


_OPERATION = re.compile(r"^\s*(query|mutation)\s+([_A-Za-z][_0-9A-Za-z]*)")


def graphql_operation(request: Request) -> tuple[str, str]:
    """What a GraphQL request is, read before it is handled (by fault rules,
    and to count a refused request): ("query" or "mutation", its operation
    name, "" when unnamed). Reads the body through werkzeug's cache, so the
    endpoint reads it again unchanged."""
    try:
        body = json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):
        return "query", ""  # the endpoint answers GitHub's 400 for it
    query = body.get("query") if isinstance(body, dict) else None
    found = _OPERATION.match(query) if isinstance(query, str) else None
    kind = found.group(1) if found else "query"
    named = body.get("operationName") if isinstance(body, dict) else None
    if isinstance(named, str) and named:
        return kind, named
    return kind, found.group(2) if found else ""


@functools.lru_cache(maxsize=512)
def checked_document(
    query: str,
) -> tuple[graphql.DocumentNode | None, list[dict[str, Any]]]:
    """``query`` parsed and validated against the forge's schema, or None and
    the problems in GitHub's shape. Cached by text: a client sends the same
    few documents with other variables, and parsing and validating them is
    most of the cost of a request (a document is never changed by
    execution, so one parsed copy serves every request)."""
    try:
        document = graphql.parse(query, max_tokens=100_000)
    except graphql.GraphQLError as error:
        return None, [_error_json(error)]
    except RecursionError:
        return None, [{"message": "Query is nested too deeply."}]
    problems = graphql.validate(forge_schema(), document)
    if problems:
        return None, [_error_json(e) for e in problems]
    return document, []


def error_type(error: graphql.GraphQLError) -> str | None:
    """GitHub's ``type`` for a field's error (None: a document's own error)."""
    original = error.original_error
    if isinstance(original, Problem):
        return original.kind
    if isinstance(original, errors.ConflictError):
        return "STALE_DATA"
    if isinstance(original, errors.NotFoundError):
        return "NOT_FOUND"
    if isinstance(original, errors.PrplanError):
        return "UNPROCESSABLE"
    return None if original is None else "INTERNAL"


def _error_json(error: graphql.GraphQLError) -> dict[str, Any]:
    out: dict[str, Any] = {}
    kind = error_type(error)
    if kind is not None:
        out["type"] = kind
    if error.path is not None:
        out["path"] = list(error.path)
    out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations or []]
    message = str(error.original_error) if error.original_error is not None else error.message
    out["message"] = message.split(": ", 1)[-1] if kind == "STALE_DATA" else message
    return out


class GraphQLRoutes(Routes):
    """The GraphQL endpoint of ``ForgeApp``."""

    _limit: int
    _used: int
    _reset: int

    def _h_graphql(self, request: Request, urls: Urls) -> Answer:
        body = self._body(request)  # not JSON: GitHub's 400 "Problems parsing JSON"
        if not isinstance(body.get("query"), str):
            return 200, {"errors": [{"message": "A query attribute must be specified and must be a string."}]}, None  # fmt: skip
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            return 200, {"errors": [{"message": "Variables are invalid JSON."}]}, None
        document, problems = checked_document(body["query"])
        if document is None:
            return 200, {"errors": problems}, None
        schema = forge_schema()
        operation = graphql.get_operation_ast(document, body.get("operationName"))
        if operation is not None and operation.operation == graphql.OperationType.MUTATION:
            request.environ["prplan.graphql_write"] = True
        context = Context(
            forge=self._forge_for(request),
            login=self._who(request),
            web=urls.web,
            limit=self._limit,
            used=self._used,
            reset=self._reset,
        )
        with self.forge.consistent_reads():  # one query is one moment
            result = graphql.execute(
                schema,
                document,
                root_value=self._root(context),
                variable_values=variables,
                operation_name=body.get("operationName"),
            )
        assert not graphql.pyutils.is_awaitable(result)
        answer: dict[str, Any] = {"data": result.data}  # type: ignore[union-attr]
        if result.errors:  # type: ignore[union-attr]
            answer["errors"] = [_error_json(e) for e in result.errors]  # type: ignore[union-attr]
        return 200, answer, None

    @staticmethod
    def _root(ctx: Context) -> dict[str, Any]:
        return {
            "repository": lambda info, owner, name, followRenames=True: repository(
                ctx, owner, name
            ),
            "node": lambda info, id: node(ctx, id),
            "viewer": lambda info: {
                "__typename": "User",
                "login": ctx.login,
                "id": node_id("User", ctx.login),
            },
            "rateLimit": lambda info, dryRun=False: {
                "cost": 1,
                "limit": ctx.limit,
                "nodeCount": 0,
                "remaining": max(ctx.limit - ctx.used, 0),
                "resetAt": iso(ctx.reset),
                "used": ctx.used,
            },
            **mutations(ctx),
        }

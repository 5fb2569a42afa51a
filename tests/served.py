"""A LocalForge served over real HTTP, and a GitHubClient talking to it.

One server per test session; each test gets a fresh forge behind it. Every
response the forge's REST API gives is validated against GitHub's OpenAPI
schemas (``openapi_contract``) by a WSGI middleware: ``Served.violations``
lists what did not validate.
"""

from __future__ import annotations

import io
import json
import os
import re
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import prplan
from prplan.forges.local.faults import Faults
from prplan.forges.local.server.app import API, ForgeApp, ForgeServer

import openapi_contract

TOKEN = "ghp_localTEST0123456789abcdefSECRET"

#: The thorough profile (CI) runs every case over HTTP; the dev profile a
#: deterministic fifth, since each HTTP case costs ~30 ms (a connection per request).
THOROUGH = bool(os.environ.get("CI")) or os.environ.get("HYPOTHESIS_PROFILE") == "ci"
FIXED_CLOCK = 1_764_000_000.0


def fixed_clock() -> float:
    return FIXED_CLOCK


#: Verdicts already reached, per contract: (method, path, status, body) -> the
#: contract's errors. Validation is a pure function of these, and with the
#: fixed clock most answers (a repository, a ref, a tree) recur byte for byte
#: across the cases and the tests; validating one against GitHub's schemas
#: costs more than the forge's work for it. Shared by every ``ContractCheck``.
_Verdicts = dict[tuple[str, str, int, bytes], tuple[str, ...]]
_VERDICTS: weakref.WeakKeyDictionary[openapi_contract.Contract, _Verdicts] = (
    weakref.WeakKeyDictionary()
)
_MAX_VERDICTS = 50_000


def _verdict(
    contract: openapi_contract.Contract,
    method: str,
    path: str,
    status: int,
    body: bytes,
    is_json: bool,
) -> tuple[str, ...]:
    key = (method, path, status, body if is_json else b"")
    verdicts = _VERDICTS.setdefault(contract, {})
    found = verdicts.get(key)
    if found is None:
        document = json.loads(body) if is_json and body else None
        if status == 401:
            # GitHub documents 401 once for the whole API, not per endpoint.
            ok = isinstance(document, dict) and isinstance(document.get("message"), str)
            found = () if ok else ("401 without a message",)
        else:
            found = tuple(contract.validate(method, path[len(API) :], status, document))
        if len(verdicts) >= _MAX_VERDICTS:
            verdicts.clear()
        verdicts[key] = found
    return found


class ContractCheck:
    """WSGI middleware: validate each JSON answer of the REST API."""

    def __init__(self, app: ForgeApp) -> None:
        self.app = app
        self.contract = openapi_contract.get_contract()
        self.violations: list[str] = []
        self.checked = 0
        self.links: list[str] = []
        #: the operation name of each GraphQL document posted, in order
        self.operations: list[str] = []

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}
        if environ.get("PATH_INFO", "").endswith("/graphql"):
            self.operations.append(_operation(environ))

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"] = int(status.split()[0])
            captured["json"] = any(k.lower() == "content-type" and "json" in v for k, v in headers)
            captured["injected"] = any(k.lower() == "x-prplan-fault" for k, _ in headers)
            self.links += [v for k, v in headers if k.lower() == "link"]
            return start_response(status, headers, exc_info)

        body = b"".join(self.app(environ, capture))
        path = environ.get("PATH_INFO", "")
        # Injected faults are off-contract on purpose, as GitHub's own 5xx are.
        if (
            self.contract is not None
            and path.startswith(API)
            and "status" in captured
            and not captured["injected"]
        ):
            method = environ["REQUEST_METHOD"]
            errors = _verdict(
                self.contract, method, path, captured["status"], body, captured["json"]
            )
            self.checked += 1
            self.violations += [f"{method} {path} {captured['status']}: {e}" for e in errors]
        return [body]


def _operation(environ: dict[str, Any]) -> str:
    """The GraphQL document's operation name (the body is put back)."""
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        query = json.loads(body).get("query", "")
    except ValueError:
        return "?"
    found = re.search(r"\b(?:query|mutation)\s+(\w+)", query)
    return found.group(1) if found else "?"


class Served:
    """A forge behind the shared server, with a client for it."""

    def __init__(
        self, server: ForgeServer, forge: prplan.LocalForge, *, token: str | None = TOKEN
    ) -> None:
        self.forge = forge
        self.faults = Faults()
        self.app = ForgeApp(forge, token=token, faults=self.faults)
        self.check = ContractCheck(self.app)
        server.serve(self.check)
        self.server = server
        self.client = prplan.GitHubClient(
            token=token, base_url=server.api_url, retries=3, backoff=0.0, timeout=5
        )

    @property
    def violations(self) -> list[str]:
        return self.check.violations

    def new_client(self, **options: Any) -> prplan.GitHubClient:
        options.setdefault("token", TOKEN)
        return prplan.GitHubClient(base_url=self.server.api_url, **options)

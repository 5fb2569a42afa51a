"""Shared test set-up: Hypothesis profiles and scenario helpers.

Profiles: ``dev`` (fast, the default on a workstation) and ``ci`` (thorough,
chosen when CI=true or HYPOTHESIS_PROFILE=ci).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


import pytest  # noqa: E402 - after the profiles, which must load first

from prplan.forges.local.server.app import ForgeApp, ForgeServer  # noqa: E402


@pytest.fixture(scope="session")
def forge_server() -> ForgeServer:
    """One HTTP server on loopback for the whole run; tests swap the app."""
    import prplan

    server = ForgeServer(ForgeApp(prplan.LocalForge.in_memory())).start()
    yield server  # type: ignore[misc]
    server.stop()

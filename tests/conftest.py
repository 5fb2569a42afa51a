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

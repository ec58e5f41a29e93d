"""Hypothesis profiles, chosen by the environment variable ``CROSSCHECK_PROFILE``.

* ``ci`` (default): derandomised (the same examples every run, so CI is reproducible), 30 examples
  per property, no deadline (shared CI machines are noisy), no example database.
* ``thorough``: 1000 random examples per property, for a local soak:
  ``CROSSCHECK_PROFILE=thorough pytest``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "database": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}

settings.register_profile("ci", max_examples=30, derandomize=True, **_COMMON)
settings.register_profile("thorough", max_examples=1000, derandomize=False, **_COMMON)

PROFILES = ("ci", "thorough")


def load_profile(name: str | None = None) -> str:
    """Load the named profile (default: ``$CROSSCHECK_PROFILE`` or ``ci``) and return its name."""
    name = name or os.environ.get("CROSSCHECK_PROFILE", "ci")
    if name not in PROFILES:
        raise ValueError(f"CROSSCHECK_PROFILE: expected one of {PROFILES}, got {name!r}")
    settings.load_profile(name)
    return name

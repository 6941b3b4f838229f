"""Property tests: hostile input to every parser of text that is not ours. Budgeted so the whole
directory runs in well under 90 s on two cores (`make test` runs it; no database is kept)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")

"""Hypothesis profiles for the property and fuzz tests, picked by `HERALD_HYPOTHESIS_PROFILE`.

`ci` (the default) keeps the suite fast; `long` is for a deliberate hunt:
`HERALD_HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/unit/test_properties.py
tests/integration/test_hostile_input.py`. No deadline in either: the machines are shared and
slow, and a timing-dependent failure would be flaky, not a finding.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=100, deadline=None, derandomize=False)
settings.register_profile(
    "long", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HERALD_HYPOTHESIS_PROFILE", "ci"))

#: Examples for tests that make an HTTP round trip per example: a share of the profile's.
HTTP_EXAMPLES = max(20, settings().max_examples // 3)

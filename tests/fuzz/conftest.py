"""Hypothesis profiles: `ci` (default, small enough for `make test`) and `soak` (`make soak`).

Pick one with HYPOTHESIS_PROFILE. Failing examples are kept under var/hypothesis (replayed first).
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

_DATABASE = DirectoryBasedExampleDatabase(str(Path(__file__).resolve().parents[2] / "var" / "hypothesis"))
# Our own time limits are asserted (the turn budget, the loop watchdog); hypothesis' deadline would be noise.
_COMMON = dict(
    deadline=None,
    database=_DATABASE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
settings.register_profile("ci", max_examples=30, **_COMMON)
settings.register_profile("soak", max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

"""Shared test settings: a deterministic hypothesis profile so CI runs the same cases."""

import os

from hypothesis import settings

settings.register_profile("mg", deadline=None, derandomize=True, max_examples=60)
settings.register_profile("dev", deadline=None, max_examples=60)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "mg"))

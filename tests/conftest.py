"""Shared fixtures. Argon2 is cheap here (config, not code, decides the cost); only the
tests of the real parameters pay for them."""

import pytest
from hypothesis import HealthCheck, settings

from sipadu.crypto import Argon2Params

settings.register_profile(
    "sipadu", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=60
)
settings.load_profile("sipadu")


@pytest.fixture
def cheap_argon2() -> Argon2Params:
    return Argon2Params(time_cost=1, memory_kib=256, parallelism=1)

"""Seeded RNG for the conformance suite.

SEED=<int> replays a run (each test prints its seed); CONFORMANCE=full runs the large configuration set.
"""

import os
import random
import zlib

import numpy as np
import pytest

_BASE_SEED = int(os.environ["SEED"]) if os.environ.get("SEED") else random.SystemRandom().randrange(2**32)


@pytest.fixture
def rng(request):
    seed = [_BASE_SEED, zlib.crc32(request.node.nodeid.encode())]
    print(f"\n[seed] replay with SEED={_BASE_SEED} (test seed {seed})")
    return np.random.default_rng(seed)


@pytest.fixture
def base_seed():
    return _BASE_SEED

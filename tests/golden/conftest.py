"""Seeded RNG for the golden/ tests: SEED=<int> replays a run; the seed is printed by every test."""

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

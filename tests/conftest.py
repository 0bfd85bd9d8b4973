"""pytest set-up shared by all tests: the environment options (sim.options) checked once at start,
and printed, replayable seeds.

Fixtures: ``seed`` (an int per test: SEED, else fresh), ``base_seed`` (one per session: SEED, else
fresh) and ``rng`` (a NumPy generator seeded from ``base_seed`` and the test's id). Every test that
takes one prints the SEED that replays it.
"""

import random
import zlib

import numpy as np
import pytest

from sim import options


def pytest_configure(config):
    try:
        options.check_all()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config):
    return options.summary()


def _given_or_fresh(bits):
    given = options.seed()
    return given if given is not None else random.SystemRandom().randrange(2**bits)


@pytest.fixture
def seed(request):
    """SEED from the environment, else a fresh random one; printed so a failure can be replayed."""
    value = _given_or_fresh(31)
    print(f"\n{request.node.nodeid}: seed {value} (replay with SEED={value})")
    request.node.user_properties.append(("seed", value))
    return value


@pytest.fixture(scope="session")
def base_seed():
    """SEED from the environment, else one fresh random seed for the whole session."""
    return _given_or_fresh(32)


@pytest.fixture
def rng(request, base_seed):
    """A NumPy generator seeded from ``base_seed`` and the test's id (distinct per test, replayable)."""
    seed = [base_seed, zlib.crc32(request.node.nodeid.encode())]
    print(f"\n[seed] replay with SEED={base_seed} (test seed {seed})")
    return np.random.default_rng(seed)

"""pytest fixtures shared by all tests: a printed, replayable seed."""

import os
import random

import pytest


def pytest_report_header(config):
    return f"SIM={os.environ.get('SIM', 'verilator')} SEED={os.environ.get('SEED', '(random per test)')}"


@pytest.fixture
def seed(request):
    """SEED from the environment, else a fresh random one; printed so a failure can be replayed."""
    value = int(os.environ["SEED"]) if os.environ.get("SEED") else random.randrange(2**31)
    print(f"\n{request.node.nodeid}: seed {value} (replay with SEED={value})")
    request.node.user_properties.append(("seed", value))
    return value

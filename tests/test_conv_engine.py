"""Conv engine: whole layers through the generated Verilog (SIM=verilator|icarus), bit-exact.

The engine is built once per configuration; the edge set and the random layers run against that
one build, split into parallel simulator runs. RANDOM_LAYERS sets the random count (default 30).
"""

import os

import pytest

from hw.config import AcceleratorConfig
from hw.conv_engine import ConvEngine
from sim.runner import build, run_cocotb

pytestmark = pytest.mark.cocotb

CONFIG = AcceleratorConfig()
RANDOM_LAYERS = int(os.environ.get("RANDOM_LAYERS", "30"))
SHARDS = 2


@pytest.fixture(scope="module")
def engine():
    return build(ConvEngine(CONFIG), top="conv_engine", tag=CONFIG.name)


def test_edge_set(engine, seed):
    run_cocotb(engine, "tb.test_conv_engine", run_name=f"edge-{seed}",
               params={"config": CONFIG.as_dict(), "seed": seed, "part": "edge"}, seed=seed)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_random_layers(engine, seed, shard):
    count = RANDOM_LAYERS // SHARDS + (shard < RANDOM_LAYERS % SHARDS)
    run_cocotb(engine, "tb.test_conv_engine", run_name=f"random{shard}-{seed}",
               params={"config": CONFIG.as_dict(), "seed": seed, "part": "random", "random": count,
                       "shard": shard}, seed=seed)

"""Conv engine: whole layers through the RISC-V command port (SIM=verilator|icarus), bit-exact.

The accelerator with its CFU port (hw/cfu.py) is built once per configuration; the edge set, the
illegal configurations and the random layers run against that one build as parallel simulator
runs, each layer as the custom-0 instruction stream the driver generates, executed by the CPU model.
RANDOM_LAYERS sets the random count (default 30). Per-layer instructions, port cycles and compute
cycles are written to the run directory (layers.json) and printed.
"""

import os

import pytest

from hw.config import AcceleratorConfig
from tb.cpu_bfm import built_port, run_engine_layers

pytestmark = pytest.mark.cocotb

CONFIG = AcceleratorConfig()
# FULL=1: the exhaustive sweep (200 random layers in 8 parallel runs) instead of the quick 30.
FULL = os.environ.get("FULL", "0") not in ("", "0")
RANDOM_LAYERS = int(os.environ.get("RANDOM_LAYERS", "200" if FULL else "30"))
SHARDS = 8 if FULL else 2


@pytest.fixture(scope="module")
def port():
    return built_port(CONFIG)


def _run(port, run_name, params, seed):
    run_engine_layers(port, CONFIG, run_name, params, seed)


def test_edge_set(port, seed):
    _run(port, f"edge-{seed}", {"part": "edge"}, seed)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_random_layers(port, seed, shard):
    count = RANDOM_LAYERS // SHARDS + (shard < RANDOM_LAYERS % SHARDS)
    _run(port, f"random{shard}-{seed}", {"part": "random", "random": count, "shard": shard}, seed)

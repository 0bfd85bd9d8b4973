"""Conv engine: whole layers through the RISC-V command port (SIM=verilator|icarus), bit-exact.

The accelerator with its CFU port (hw/cfu.py) is built once per configuration; the edge set, the
illegal configurations and the random layers run against that one build as parallel simulator
runs, each layer as the custom-0 instruction stream the driver generates, executed by the CPU model.
RANDOM_LAYERS sets the random count (default 30, 200 with FULL=1). Per-layer instructions, port
cycles and compute cycles are written to the run directory (layers.json) and printed.
"""

import dataclasses

import pytest

from boards.boards import ICE40_ENGINE_CONFIG
from sim.options import full, random_layers, simulator_name
from spec.config import AcceleratorConfig, Output
from tb.cpu_bfm import built_port, run_engine_layers

pytestmark = pytest.mark.cocotb

CONFIG = AcceleratorConfig()
# FULL=1: the exhaustive sweep (200 random layers in 8 parallel runs) instead of the quick 30.
RANDOM_LAYERS = random_layers()
SHARDS = 8 if full() else 2


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


# ---- raw accumulator output (output = Output.RAW) in the default sizes -----------------------------
# The UP5K configuration (tests/test_up5k.py) runs raw output without the block copy and without
# MAC_CYCLES; this build covers it with the block copy and the counters, on the same layers (the
# edge set includes the raw-mode errors: POOL_UNSUPPORTED, BAD_ADDRESS, OUTPUT_TOO_BIG).
RAW_CONFIG = AcceleratorConfig(output=Output.RAW)


@pytest.fixture(scope="module")
def raw_port():
    return built_port(RAW_CONFIG)


def test_raw_edge_set(raw_port, seed):
    run_engine_layers(raw_port, RAW_CONFIG, f"raw-edge-{seed}", {"part": "edge"}, seed)


def test_raw_random_layers(raw_port, seed):
    run_engine_layers(raw_port, RAW_CONFIG, f"raw-random-{seed}",
                      {"part": "random", "random": RANDOM_LAYERS // SHARDS, "shard": 0}, seed)


# ---- output-side variants (hw/output_stage.py composed from hw/block_serializer.py and a block
# order source): the digit-serial requantizer, the raster walk instead of the block-info FIFO, and
# serialising in place instead of the block copy: the last two alone in the default sizes, all
# three together in the UP5K sizes (the requantising UP5K configuration, with pooling on the
# raster walk). Edge set + a few random layers each.
VARIANTS = {
    "no-fifo": AcceleratorConfig(block_info_fifo=False),
    "no-copy": AcceleratorConfig(output_block_copy=False),
    "serial": dataclasses.replace(ICE40_ENGINE_CONFIG, output=Output.REQUANT, perf_counters=True,
                                  requant_mul_cycles=4, block_info_fifo=False, pool_buf_words=256),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.skipif(simulator_name() == "icarus" and not full(),
                    reason="the engine variants run on Verilator always, on Icarus with FULL=1 (~6 min)")
def test_output_variant(variant, seed):
    config = VARIANTS[variant]
    port = built_port(config)
    run_engine_layers(port, config, f"{variant}-edge-{seed}", {"part": "edge"}, seed)
    run_engine_layers(port, config, f"{variant}-random-{seed}",
                      {"part": "random", "random": max(1, RANDOM_LAYERS // 6), "shard": 0}, seed)

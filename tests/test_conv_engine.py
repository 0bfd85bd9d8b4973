"""Conv engine: whole layers through the RISC-V command port (SIM=verilator|icarus), bit-exact.

The accelerator with its CFU port (hw/cfu.py) is built once per configuration; the edge set, the
illegal configurations and the random layers run against that one build as parallel simulator
runs, each layer as the custom-0 instruction stream the driver generates, executed by the CPU model.
RANDOM_LAYERS sets the random count (default 30). Per-layer instructions, port cycles and compute
cycles are written to the run directory (layers.json) and printed.
"""

import json
import os

import pytest

from hw.config import AcceleratorConfig
from sim.runner import run_cocotb
from tb.cpu_bfm import built_port, print_overhead

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
    log_dir = port.build_dir / "runs" / run_name / "layers"
    run_cocotb(port, "tb.test_conv_engine", run_name=run_name,
               params={"config": CONFIG.as_dict(), "seed": seed, "log_dir": str(log_dir), **params},
               seed=seed)
    for path in sorted(log_dir.glob("*.json")) if log_dir.exists() else []:
        print_overhead(json.loads(path.read_text()))


def test_edge_set(port, seed):
    _run(port, f"edge-{seed}", {"part": "edge"}, seed)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_random_layers(port, seed, shard):
    count = RANDOM_LAYERS // SHARDS + (shard < RANDOM_LAYERS % SHARDS)
    _run(port, f"random{shard}-{seed}", {"part": "random", "random": count, "shard": shard}, seed)

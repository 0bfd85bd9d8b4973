"""The iCE40UP5K engine configuration (boards.boards.ICE40_ENGINE_CONFIG, docs/up5k.md) on the RTL.

Its area options (raw accumulator output: the host requantises and pools; no block copy; no
MAC_CYCLES / STALL_CYCLES counters) change the engine's logic and timing, so the engine layer tests
of tests/test_conv_engine.py (edge set + random layers, through the CFU port, bit-exact after the
driver's host-side finishing, CYCLES == spec.cycle_model; the edge run also checks the raw
mode's errors) and the digits CNN end to end (tests/test_digits.py) run here once more with that
configuration. The iCE40 primitives themselves (SB_MAC16, SPRAM) with this configuration:
tests/test_ice40_spram.py. Plus fast checks of the options' validation and of the cycle model's
output rate for the earlier, requantising UP5K configuration (the digit-serial requantizer).
"""

import dataclasses

import numpy as np
import pytest

from boards.boards import ICE40_ENGINE_CONFIG
from sim.options import random_layers
from spec.config import AcceleratorConfig, Output, Sequencer
from spec.cycle_model import conv_engine_cycles, requant_cycles

CONFIG = ICE40_ENGINE_CONFIG
RANDOM_LAYERS = random_layers(default=30)


@pytest.mark.parametrize("field, value, message", [
    ("requant_mul_cycles", 0, r"requant_mul_cycles = 0 is out of range: must be an integer in \[1, 31\]"),
    ("requant_mul_cycles", 32, r"requant_mul_cycles = 32 is out of range"),
    ("block_info_fifo", 2, r"block_info_fifo = 2 is not allowed: must be True or False"),
    ("output_block_copy", 1, r"output_block_copy = 1 is not allowed: must be True or False"),
    ("output", "raw", r"output = 'raw' is not allowed: must be one of Output.REQUANT, Output.RAW"),
    ("sequencer", 0, r"sequencer = 0 is not allowed: must be one of Sequencer.LOOKAHEAD, Sequencer.COMPACT"),
    ("perf_counters", None, r"perf_counters = None is not allowed: must be True or False"),
])
def test_option_validation(field, value, message):
    with pytest.raises(ValueError, match=message):
        AcceleratorConfig(**{field: value})


def test_name_hashes_every_field():
    """Two configurations that differ in any field never share a name (build directory)."""
    base = AcceleratorConfig()
    assert base.name == AcceleratorConfig().name
    changes = [dict(requant_mul_cycles=4), dict(block_info_fifo=False), dict(output_block_copy=False),
               dict(output=Output.RAW), dict(perf_counters=False), dict(sequencer=Sequencer.COMPACT)]
    variants = [dataclasses.replace(base, **change) for change in changes]
    assert len({base.name, *(v.name for v in variants)}) == 1 + len(variants)
    for v in variants:
        assert AcceleratorConfig.from_dict(v.as_dict()) == v


# The UP5K configuration before raw output (requantising with the digit-serial multiplier).
SERIAL = dataclasses.replace(CONFIG, output=Output.REQUANT, perf_counters=True, requant_mul_cycles=4,
                             block_info_fifo=False, pool_buf_words=256)


def test_cycle_model_output_rate():
    """The serial requantizer's rate in the model: one element per requant_cycles (8 bits/cycle ->
    4 cycles); a 1x1 conv with few beats per block is output-bound, so it takes ~4x the default.
    Raw output (CONFIG) writes one element per cycle."""
    assert requant_cycles(AcceleratorConfig()) == 1
    assert requant_cycles(SERIAL) == 4
    assert requant_cycles(CONFIG) == 1
    assert requant_cycles(AcceleratorConfig(requant_mul_cycles=31)) == 31
    layer = dict(H=8, W=8, C=4, M=8, R=1, S=1, U=1, pad_top=0, E=8, F=8, CG=4)
    fast = conv_engine_cycles(dataclasses.replace(SERIAL, requant_mul_cycles=1, output_block_copy=True),
                              **layer)
    slow = conv_engine_cycles(SERIAL, **layer)
    raw = conv_engine_cycles(CONFIG, **layer)
    # raw output: the same serializer as the one-element-per-cycle requantizer without the block
    # copy, and a shorter tail; 4x faster than the digit-serial requantizer on this layer
    same = conv_engine_cycles(dataclasses.replace(SERIAL, requant_mul_cycles=1), **layer)
    assert raw.mac_cycles == same.mac_cycles and raw.cycles == same.cycles - 16
    assert raw.cycles < slow.cycles // 3
    elements = 8 * 8 * 8
    assert fast.mac_cycles == slow.mac_cycles == 8 * 8 // 4 * 2 * 4
    assert fast.cycles < elements + 100
    assert 4 * elements <= slow.cycles < 4 * elements + 100


# ---- RTL: engine layers and the digits CNN with the UP5K configuration -------------------------

@pytest.fixture(scope="module")
def port():
    from tb.cpu_bfm import built_port
    return built_port(CONFIG)


def _run(port, run_name, params, seed):
    from tb.cpu_bfm import run_engine_layers
    run_engine_layers(port, CONFIG, run_name, params, seed)


@pytest.mark.cocotb
def test_up5k_edge_set(port, seed):
    _run(port, f"up5k-edge-{seed}", {"part": "edge"}, seed)


@pytest.mark.cocotb
def test_up5k_random_layers(port, seed):
    _run(port, f"up5k-random-{seed}", {"part": "random", "random": RANDOM_LAYERS, "shard": 0}, seed)


@pytest.mark.cocotb
def test_up5k_digits(port, seed):
    """The digits CNN (8x8x1 -> 16 -> 32, 3x3, pools, 2x2x32 -> 10) on the UP5K configuration,
    every logit bit-identical to LiteRT and golden."""
    from demo.rtl import run_on_rtl
    from models.digits import MODEL_PATH, LiteRTModel, load_split, model_bytes, quantise_images
    _, _, x_te, _ = load_split()
    pick = np.random.default_rng(seed).choice(len(x_te), size=2, replace=False)
    xq = quantise_images(x_te[pick])
    litert = LiteRTModel(model_bytes()).logits(xq)
    results = run_on_rtl(MODEL_PATH, xq, litert, ids=pick, run_name=f"up5k-digits-{seed}", seed=seed,
                         config=CONFIG, design=port)
    assert len(results) == 2
    for r in results:
        assert r["match_litert"] and r["match_golden"] and r["output"] == r["litert"] == r["golden"]
    for layer in results[0]["layers"]:
        print(f"{layer['name'][:40]:40s} {layer['compute_cycles']:8.0f} cycles")
    print(f"cycles per inference: {results[0]['cycles']} (port + engine)")

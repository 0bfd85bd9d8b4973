"""hw/products.py: ProductArray in amaranth.sim against NumPy products, with random ``en`` stalls,
random and edge operands (-128, 127, 0, -1), two geometries, seed printed; its signature."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hw.products import ProductArray, product_array_signature
from spec.config import AcceleratorConfig

CONFIGS = [AcceleratorConfig(), AcceleratorConfig(rows=2, cols=8)]


def _operands(rng, config, count):
    lo_a, hi_a = -(1 << config.act_width - 1), (1 << config.act_width - 1) - 1
    lo_w, hi_w = -(1 << config.weight_width - 1), (1 << config.weight_width - 1) - 1
    acts = rng.integers(lo_a, hi_a + 1, (count, config.rows))
    weights = rng.integers(lo_w, hi_w + 1, (count, config.cols))
    edges_a = np.array([lo_a, hi_a, 0, -1])
    edges_w = np.array([lo_w, hi_w, 0, -1])
    for k in range(16):   # every edge pair somewhere in the first beats
        acts[k] = edges_a[(np.arange(config.rows) + k) % 4]
        weights[k] = edges_w[(np.arange(config.cols) + k // 4) % 4]
    return acts, weights


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.rows}x{c.cols}")
def test_products_match_numpy(config, seed):
    rng = np.random.default_rng(seed)
    acts, weights = _operands(rng, config, 120)
    enables = rng.random(len(acts)) < 0.7
    dut = ProductArray(config)
    assert dut.LATENCY == 1
    failures = []

    async def bench(ctx):
        held = np.zeros((config.rows, config.cols), np.int64)
        for k in range(len(acts)):
            ctx.set(dut.en, int(enables[k]))
            for i in range(config.rows):
                ctx.set(dut.act[i], int(acts[k, i]))
            for j in range(config.cols):
                ctx.set(dut.weight[j], int(weights[k, j]))
            await ctx.tick()
            if enables[k]:
                held = np.outer(acts[k], weights[k])    # registered one cycle after en
            got = np.array([[ctx.get(dut.product[i][j]) for j in range(config.cols)]
                            for i in range(config.rows)])
            if not np.array_equal(got, held):
                failures.append((k, bool(enables[k]), got.tolist(), held.tolist()))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not failures, f"{len(failures)} mismatches, first {failures[:2]}"


def test_signature_shapes():
    config = AcceleratorConfig(rows=2, cols=8)
    members = product_array_signature(config).members
    assert members["act"].shape.length == config.rows and members["weight"].shape.length == config.cols
    assert members["product"].shape.length == config.rows
    assert members["product"].shape.elem_shape.length == config.cols
    assert members["product"].shape.elem_shape.elem_shape.width == config.product_width
    assert members["product"].shape.elem_shape.elem_shape.signed

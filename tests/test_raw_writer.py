"""RawWriter unit tests (amaranth.sim): tile blocks of random and edge int32 accumulators in, every
written word compared with the layer's accumulators in NHWC order, in the sequencer's block order,
at one element per cycle; partial lanes and channel groups; OUTPUT_TOO_BIG (``overflow``)."""

import random

import pytest
from amaranth.sim import Simulator

from hw.raw_writer import WRITE_LATENCY, RawWriter
from spec.config import AcceleratorConfig, Output
from tests.writer_blocks import element_order, offer, pulse_start, random_blocks, recorder

BASE = dict(rows=4, cols=3, max_size=12, max_channels=12, out_mem_bytes=1024, output=Output.RAW)


def run(cfg, E, F, M, blocks, rng, gap):
    dut = RawWriter(cfg)
    writes, done_cycles, stop, result = [], [], [False], {}
    payloads = [dut.blocks.payload.shape().const(b) for b in blocks]

    async def bench(ctx):
        ctx.set(dut.M, M)
        ctx.set(dut.E, E)
        ctx.set(dut.F, F)
        await pulse_start(ctx, dut.start)
        await offer(dut.blocks, payloads, rng, gap)(ctx)
        for _ in range(cfg.rows * cfg.cols + WRITE_LATENCY + 2):
            await ctx.tick()
        result["idle"] = ctx.get(dut.idle)
        result["overflow"] = ctx.get(dut.overflow)
        stop[0] = True
        await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.add_process(recorder(dut, writes, done_cycles, stop))
    sim.run_until(1e-6 * (len(blocks) * cfg.macs * 4 + 200))
    assert stop[0], "the bench did not finish (hang?)"
    return writes, done_cycles, result


def expected_writes(cfg, E, F, M, acc):
    return [((p * M + m), acc[p][m] & 0xFFFFFFFF) for p, m in element_order(cfg, E, F, M)]


@pytest.mark.parametrize("copy", [True, False])
@pytest.mark.parametrize("acc_width", [32, 26])
def test_layers_bit_exact(copy, acc_width, seed):
    """Random layers (odd E/F, M not a multiple of cols, E*F not a multiple of rows): every word."""
    rng = random.Random(seed)
    cfg = AcceleratorConfig(**BASE, acc_width=acc_width, output_block_copy=copy)
    lim = 2 ** (acc_width - 1)
    for _ in range(4):
        E, F = rng.randint(1, 7), rng.randint(1, 7)
        M = rng.randint(1, min(12, cfg.out_mem_bytes // 4 // (E * F)))
        acc, blocks = random_blocks(cfg, rng, E, F, M, -lim, lim - 1)
        writes, _, result = run(cfg, E, F, M, blocks, rng, gap=0.3)
        want = expected_writes(cfg, E, F, M, acc)
        padded = writes + [None] * len(want)
        first = next((k for k, (g, w) in enumerate(zip(padded, want, strict=False)) if g != w), None)
        assert writes == want, f"E={E} F={F} M={M}: {len(writes)} writes, first difference at #{first}"
        assert result["idle"] and not result["overflow"]


@pytest.mark.parametrize("copy", [True, False])
def test_one_element_per_cycle(copy, seed):
    """Blocks offered back to back: a block's last element every rows * cols cycles (the rate the
    cycle model assumes), with and without the block copy."""
    rng = random.Random(seed)
    cfg = AcceleratorConfig(**BASE, output_block_copy=copy)
    E, F, M = 5, 3, 7
    acc, blocks = random_blocks(cfg, rng, E, F, M)
    writes, done_cycles, _ = run(cfg, E, F, M, blocks, rng, gap=0.0)
    assert writes == expected_writes(cfg, E, F, M, acc)
    assert len(done_cycles) == len(blocks)
    spans = {b - a for a, b in zip(done_cycles, done_cycles[1:], strict=False)}
    assert spans == {cfg.rows * cfg.cols}, done_cycles


def test_overflow(seed):
    """E*F*M above out_mem_bytes / 4: nothing is written beyond the memory and ``overflow`` is set."""
    rng = random.Random(seed)
    cfg = AcceleratorConfig(**BASE)
    words = cfg.out_mem_bytes // 4
    E, F, M = 7, 7, 12                                   # 588 > 256 words
    acc, blocks = random_blocks(cfg, rng, E, F, M)
    writes, _, result = run(cfg, E, F, M, blocks, rng, gap=0.1)
    want = [w for w in expected_writes(cfg, E, F, M, acc) if w[0] < words]
    assert result["overflow"]
    assert writes[:len(want)] == want
    assert all(addr < words for addr, _ in writes)

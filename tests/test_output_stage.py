"""OutputStage unit tests (amaranth.sim): tile blocks of random and edge int32 accumulators (and,
with the block-info FIFO, the sequencer's per-block lane offsets) in; every written byte compared
with golden.quant.requantize (bias added with int32 wrap) and golden.pool (2x2/2 VALID max and
average pooling on odd E/F), in the sequencer's element order; per-channel parameters with edge
multipliers, shifts, zero points and clamps; partial lanes and channel groups. Every output-side
variant: block-info FIFO or raster walk, block copy or in place, one-per-cycle or digit-serial
requantizer (whose back-pressure stalls the serializer)."""

import random

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module, signed
from amaranth.lib import memory
from amaranth.sim import Simulator

from golden.pool import avg_pool2d, max_pool2d
from golden.quant import requantize, wrap_int32
from hw.conv_sequencer import block_info_layout
from hw.output_stage import OutputStage
from hw.registers import POOL_AVG, POOL_MAX, POOL_NONE
from hw.requantizer import Requantizer
from spec.config import AcceleratorConfig
from tests.writer_blocks import (
    INT32_MAX,
    INT32_MIN,
    block_order,
    element_order,
    offer,
    pulse_start,
    random_blocks,
    recorder,
)

BASE = dict(rows=4, cols=3, max_size=12, max_channels=12, out_mem_bytes=1024, pool_buf_words=64)
VARIANTS = {   # block_info_fifo, output_block_copy, requant_mul_cycles
    "default": (True, True, 1),
    "no-fifo": (False, True, 1),
    "no-copy": (True, False, 1),
    "serial": (True, True, 4),
    "up5k": (False, False, 4),
}


def config(variant):
    fifo, copy, mul = VARIANTS[variant]
    return AcceleratorConfig(**BASE, block_info_fifo=fifo, output_block_copy=copy, requant_mul_cycles=mul)


class Harness(Elaboratable):
    """OutputStage with its per-channel bias / multiplier / shift memories."""

    def __init__(self, cfg, bias, mult, shift):
        self.dut = OutputStage(cfg)
        depth = cfg.max_channels
        pad = [0] * (depth - len(bias))
        self.mems = {"bias": memory.Memory(shape=signed(32), depth=depth, init=list(bias) + pad),
                     "multiplier": memory.Memory(shape=31, depth=depth, init=list(mult) + pad),
                     "shift": memory.Memory(shape=signed(6), depth=depth, init=list(shift) + pad)}

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = self.dut
        for name, mem in self.mems.items():
            m.submodules[name] = mem
            rp = mem.read_port()
            m.d.comb += [rp.addr.eq(self.dut.param_addr), rp.en.eq(self.dut.param_en),
                         getattr(self.dut, name).eq(rp.data)]
        return m


def random_params(rng, M):
    """Per-channel bias (edges wrap the int32 sum), multiplier (0, 2^30, 2^31 - 1, random) and
    shift (-31 .. 30, edges)."""
    bias = [rng.choice([INT32_MIN, INT32_MAX, 0, -1, rng.randint(-5000, 5000),
                        rng.randint(INT32_MIN, INT32_MAX)]) for _ in range(M)]
    mult = [rng.choice([0, 2**30, 2**31 - 1, rng.randint(2**30, 2**31 - 1)]) for _ in range(M)]
    shift = [rng.choice([-31, 30, 0, -1, rng.randint(-31, 30), rng.randint(-12, 2)]) for _ in range(M)]
    return bias, mult, shift


def random_layer(rng):
    """Layer registers: odd and even E/F, M not a multiple of cols, edge zero points and clamps."""
    E, F, M = rng.randint(1, 7), rng.randint(1, 7), rng.randint(1, 12)
    zp = rng.choice([-128, 127, 0, rng.randint(-128, 127)])
    lo, hi = rng.choice([(-128, 127), (zp, 127), (max(-128, zp), min(127, zp + 6)),
                         tuple(sorted(rng.randint(-128, 127) for _ in range(2)))])
    pool = rng.choice([POOL_NONE, POOL_MAX, POOL_AVG])
    return dict(E=E, F=F, M=M, zp=zp, act_min=lo, act_max=hi, pool=pool)


def block_infos(cfg, rng, E, F, M):
    """The sequencer's block info of every block (lanes past the layer hold junk, lane_valid = 0)."""
    infos = []
    lane_keys = ("e", "f", "pm", "qrm", "qcm")
    layout = block_info_layout(cfg)
    for p0, m0 in block_order(cfg, E, F, M):
        lanes = {k: [] for k in lane_keys}
        valid = 0
        for i in range(cfg.rows):
            p = p0 + i
            if p < E * F:
                e, f = divmod(p, F)
                vals = (e, f, p * M, (e // 2) * (F // 2) * M, (f // 2) * M)
                valid |= 1 << i
            else:
                vals = tuple(rng.randrange(8) for _ in lane_keys)
            for k, v in zip(lane_keys, vals, strict=True):
                lanes[k].append(v)
        infos.append(layout.const({"p0": p0, "m0": m0, "lane_valid": valid, **lanes}))
    return infos


def golden_writes(cfg, layer, acc, bias, mult, shift):
    """The output stage's writes in order: (byte address, int8) from golden.quant / golden.pool."""
    E, F, M = layer["E"], layer["F"], layer["M"]
    a = wrap_int32(np.array(acc, dtype=np.int64) + np.array(bias, dtype=np.int64))
    q = requantize(a, np.array(mult), np.array(shift), layer["zp"], layer["act_min"], layer["act_max"])
    q = q.reshape(E, F, M)
    order = element_order(cfg, E, F, M)
    if layer["pool"] == POOL_NONE:
        return [(p * M + m, int(q[p // F, p % F, m])) for p, m in order]
    if E < 2 or F < 2:
        return []                               # no whole 2x2 window: nothing is written
    pool = max_pool2d if layer["pool"] == POOL_MAX else avg_pool2d
    y = pool(q[None], (2, 2), (2, 2), "VALID", layer["act_min"], layer["act_max"])[0]
    writes = []
    for p, m in order:                          # a pooled value is written with its window's last
        e, f = divmod(p, F)
        if e % 2 and f % 2 and e // 2 < E // 2 and f // 2 < F // 2:
            writes.append((((e // 2) * (F // 2) + f // 2) * M + m, int(y[e // 2, f // 2, m])))
    return writes


def run(cfg, layer, rng, gap, info_gap):
    """Run one layer through the stage; returns (writes, done cycles, idle at the end, cycles)."""
    E, F, M = layer["E"], layer["F"], layer["M"]
    bias, mult, shift = random_params(rng, M)
    acc, blocks = random_blocks(cfg, rng, E, F, M)
    h = Harness(cfg, bias, mult, shift)
    dut = h.dut
    writes, done_cycles, stop, result = [], [], [False], {}
    payloads = [dut.blocks.payload.shape().const(b) for b in blocks]
    n_blocks = len(blocks)

    async def bench(ctx):
        for port, key in (("M", "M"), ("E", "E"), ("F", "F"), ("pool", "pool"), ("output_zp", "zp"),
                          ("act_min", "act_min"), ("act_max", "act_max")):
            ctx.set(getattr(dut, port), layer[key])
        await pulse_start(ctx, dut.start)
        await offer(dut.blocks, payloads, rng, gap)(ctx)
        cycles = 0
        while len(done_cycles) < n_blocks or not ctx.get(dut.idle):
            await ctx.tick()
            cycles += 1
            assert cycles < 100 * cfg.macs, "the stage did not finish (hang?)"
        result["idle_cycle"] = cycles
        stop[0] = True
        await ctx.tick()

    sim = Simulator(h)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    if cfg.block_info_fifo:
        sim.add_testbench(offer(dut.info, block_infos(cfg, rng, E, F, M), rng, info_gap))
    sim.add_process(recorder(dut, writes, done_cycles, stop))
    sim.run_until(1e-6 * (n_blocks * cfg.macs * 40 + 400))
    assert stop[0], "the bench did not finish (hang?)"
    want = golden_writes(cfg, layer, acc, bias, mult, shift)
    got = [(addr, value - 256 if value > 127 else value) for addr, value in writes]
    return got, want, done_cycles


def check(got, want, layer):
    if got != want:
        first = next(k for k in range(max(len(got), len(want)))
                     if k >= len(got) or k >= len(want) or got[k] != want[k])
        pytest.fail(f"{layer}: {len(got)} writes, {len(want)} expected; first difference at #{first}: "
                    f"RTL {got[first] if first < len(got) else None}, "
                    f"golden {want[first] if first < len(want) else None}")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_layers_bit_exact(variant, seed):
    """Random layers with random gaps on both input streams: every byte, in order, as golden."""
    rng = random.Random(seed)
    cfg = config(variant)
    for _ in range(4):
        layer = random_layer(rng)
        got, want, _ = run(cfg, layer, rng, gap=0.3, info_gap=0.3)
        check(got, want, layer)


@pytest.mark.parametrize("pool", [POOL_MAX, POOL_AVG])
@pytest.mark.parametrize("variant", ["default", "up5k"])
def test_pooling_odd_sizes(variant, pool, seed):
    """2x2 pooling of 7x5 and 5x7 outputs: the odd last row / column is dropped (VALID)."""
    rng = random.Random(seed)
    cfg = config(variant)
    for E, F in ((7, 5), (5, 7), (3, 3)):
        layer = dict(random_layer(rng), E=E, F=F, M=rng.randint(4, 8), pool=pool)
        got, want, _ = run(cfg, layer, rng, gap=0.2, info_gap=0.2)
        assert want, "the layer must produce pooled outputs"
        check(got, want, layer)


@pytest.mark.parametrize("variant", ["default", "no-fifo", "no-copy"])
def test_one_element_per_cycle(variant, seed):
    """With the one-element-per-cycle requantizer and blocks offered back to back, a block's last
    element leaves every rows * cols cycles (the rate spec/cycle_model.py assumes), pooling or not."""
    rng = random.Random(seed)
    cfg = config(variant)
    for pool in (POOL_NONE, POOL_AVG):
        layer = dict(random_layer(rng), E=5, F=6, M=7, pool=pool)
        got, want, done = run(cfg, layer, rng, gap=0.0, info_gap=0.0)
        check(got, want, layer)
        assert {b - a for a, b in zip(done, done[1:], strict=False)} == {cfg.macs}, done


@pytest.mark.parametrize("variant", ["serial", "up5k"])
def test_serial_requantizer_back_pressure(variant, seed):
    """The digit-serial requantizer takes one element per ``cycles_per_element`` cycles and stalls
    the serializer meanwhile: the blocks' elements inside the layer take at least that many cycles
    each, none is lost or repeated; elements outside the layer (or the pooled region) skip it."""
    rng = random.Random(seed)
    cfg = config(variant)
    per = Requantizer(cfg, mul_cycles=cfg.requant_mul_cycles).cycles_per_element
    assert per > 1
    layer = dict(random_layer(rng), E=3, F=5, M=7, pool=POOL_NONE)   # partial lanes and channels
    got, want, done = run(cfg, layer, rng, gap=0.0, info_gap=0.0)
    check(got, want, layer)
    E, F, M = layer["E"], layer["F"], layer["M"]
    kept = [sum(p0 + i < E * F and m0 + j < M for i in range(cfg.rows) for j in range(cfg.cols))
            for p0, m0 in block_order(cfg, E, F, M)]
    spans = [b - a for a, b in zip(done, done[1:], strict=False)]
    # O1 and O2 hold up to two elements ahead of the requantizer: the rate bound allows for them.
    assert done[-1] - done[0] >= (sum(kept[1:]) - 2) * per, (kept, spans)
    assert max(spans) > cfg.macs, "the requantizer never stalled the serializer"

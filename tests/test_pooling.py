"""MaxPool2x2 / AvgPool2x2: amaranth.sim unit tests and the cocotb run on the generated Verilog."""

import gc
import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from hw.config import AcceleratorConfig
from hw.pooling import AvgPool2x2, MaxPool2x2, Pool2x2
from sim.runner import build, run_cocotb
from tb.test_pooling import (
    clamp_choice,
    expected_lasts,
    from_beats,
    golden_pool,
    out_size,
    random_plane,
    to_beats,
)

CLASSES = {"max": MaxPool2x2, "avg": AvgPool2x2}


def simulate(dut, planes, rng, gap=0.25, stall=0.25):
    """Stream planes [(x, same, act_min, act_max)] back to back (settings change between planes
    once the previous plane has fully come out); returns per plane (outputs, lasts, accept cycles)."""
    cols = dut.config.cols
    results = [[] for _ in planes]
    accepted = []
    cycle = [0]
    plane_done = [False] * len(planes)

    async def clock_counter(ctx):
        async for _ in ctx.tick():
            cycle[0] += 1

    async def producer(ctx):
        for n, (x, same, act_min, act_max) in enumerate(planes):
            ctx.set(dut.width, x.shape[2])
            ctx.set(dut.height, x.shape[1])
            ctx.set(dut.same, int(same))
            ctx.set(dut.act_min, act_min)
            ctx.set(dut.act_max, act_max)
            for beat in to_beats(x, cols):
                while rng.random() < gap:
                    await ctx.tick()
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, beat)
                await ctx.tick().until(dut.i.ready)
                accepted.append(cycle[0])
                ctx.set(dut.i.valid, 0)
            while not plane_done[n]:
                await ctx.tick()

    async def consumer(ctx):
        for n, (x, same, _, _) in enumerate(planes):
            _, h, w, c = x.shape
            want = out_size(h, same) * out_size(w, same) * (c // cols)
            while len(results[n]) < want:
                ready = rng.random() >= stall
                ctx.set(dut.o.ready, ready)
                _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
                if ready and valid:
                    results[n].append(([int(v) for v in payload.data], int(payload.last), cycle[0]))
            plane_done[n] = True
        ctx.set(dut.o.ready, 0)
        for _ in range(10):  # nothing more may come out
            _, _, valid = await ctx.tick().sample(dut.o.valid)
            assert not valid, "an extra output after the last plane"

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_process(clock_counter)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    beats = sum(x.size // cols for x, *_ in planes)
    sim.run_until(1e-6 * (beats * 20 + 200 * len(planes)))
    assert all(plane_done), "not every plane came out (hang?)"
    return results, accepted


def check(mode, dut, planes, rng, **kwargs):
    results, accepted = simulate(dut, planes, rng, **kwargs)
    cols = dut.config.cols
    for (x, same, act_min, act_max), res in zip(planes, results, strict=True):
        _, h, w, c = x.shape
        oh, ow = out_size(h, same), out_size(w, same)
        got = from_beats([r[0] for r in res], oh, ow, c, cols)
        want = golden_pool(mode, x, same, act_min, act_max)
        assert np.array_equal(got, want), (
            f"{mode} {h}x{w}x{c} same={same} [{act_min}, {act_max}]\n"
            f"RTL {got[0].transpose(2, 0, 1)}\ngolden {want[0].transpose(2, 0, 1)}")
        assert [r[1] for r in res] == expected_lasts(oh, ow, c // cols)
    return accepted


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_every_small_size(mode, seed):
    """Every plane size 1..5 x 1..5, VALID and SAME, two channel groups, back to back."""
    rng = random.Random(seed)
    cfg = AcceleratorConfig(cols=2)
    planes = [(random_plane(rng, h, w, 4, ties=True), same, -128, 127)
              for h in range(1, 6) for w in range(1, 6) for same in (False, True)]
    check(mode, CLASSES[mode](cfg, max_width=8, max_height=8), planes, rng)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_random_planes_and_clamps(mode, seed):
    rng = random.Random(seed)
    planes = []
    for _ in range(8):
        h, w = rng.randint(1, 8), rng.randint(1, 10)
        planes.append((random_plane(rng, h, w, 4 * rng.randint(1, 2), ties=rng.random() < 0.5),
                       rng.random() < 0.5, *clamp_choice(rng)))
    check(mode, CLASSES[mode](max_width=10, max_height=10), planes, rng)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_average_ties_and_extremes(mode, seed):
    """All -128 / all 127 windows, and windows whose average is exactly k + 1/2 or k + 1/4 for
    positive and negative sums (count 4, 2 and 1 with SAME padding)."""
    rng = random.Random(seed)
    planes = [(np.full((1, 3, 3, 4), v, np.int8), same, -128, 127) for v in (-128, 127) for same in (0, 1)]
    tie = np.array([[1, 0, -1, 0], [2, 0, -2, 0], [3, 0, -3, 1], [1, 1, -1, -1]], np.int8)
    x = np.zeros((1, 4, 4, 4), np.int8)  # each 2x2 window of channel k sums to tie[k][window]
    for k in range(4):
        for wi, (r, s) in enumerate(((0, 0), (0, 2), (2, 0), (2, 2))):
            x[0, r, s, k] = tie[k][wi]
    planes.append((x, 0, -128, 127))
    planes.append((np.array([[[[1, -1, 3, -3]], [[0, 0, 0, 0]], [[5, -5, 1, -1]]]], np.int8)
                   .reshape(1, 3, 1, 4), 1, -128, 127))  # 3x1 SAME: counts 2 and 1
    check(mode, CLASSES[mode](max_width=4, max_height=4), planes, rng)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_full_rate(mode, seed):
    rng = random.Random(seed)
    dut = CLASSES[mode](max_width=8, max_height=8)
    x = random_plane(rng, 6, 8, 8)
    results, accepted = simulate(dut, [(x, False, -128, 127)], rng, gap=0.0, stall=0.0)
    got = from_beats([r[0] for r in results[0]], 3, 4, 8, dut.config.cols)
    assert np.array_equal(got, golden_pool(mode, x, False, -128, 127))
    assert accepted == list(range(accepted[0], accepted[0] + len(accepted))), "input bubbles"
    # The first window is complete with the beat of row 1, column 1 (input beat number 8 + 1).
    assert results[0][0][2] - accepted[8 + 1] == dut.LATENCY


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_parameter_errors():
    with pytest.raises(TypeError, match="MaxPool2x2 or AvgPool2x2"):
        Pool2x2()
    with pytest.raises(ValueError, match="max_width = 0"):
        MaxPool2x2(max_width=0)
    with pytest.raises(TypeError, match="AcceleratorConfig"):
        AvgPool2x2(config=4)
    gc.collect()


@pytest.mark.cocotb
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pooling_cocotb(mode, seed):
    config = AcceleratorConfig()
    max_width = 16
    design = build(CLASSES[mode](config, max_width=max_width, max_height=16), top=f"{mode}pool2x2",
                   tag=f"{config.name}_w{max_width}")
    run_cocotb(design, "tb.test_pooling", run_name=f"seed{seed}",
               params={"config": config.as_dict(), "mode": mode, "seed": seed, "max_width": max_width,
                       "planes": 120}, seed=seed)

"""cocotb tests of MaxPool2x2 / AvgPool2x2 on the generated Verilog, bit-exact against golden.pool.

The plane helpers below (plain Python/NumPy) put an NHWC tensor into the component's beat order and
back, and are shared with the amaranth.sim tests in tests/test_pooling.py.

Beat order: for each group of ``cols`` channels, for each row e, for each column f: x[e][f][group].
"""

import cocotb
import numpy as np

from golden.pool import avg_pool2d, max_pool2d

EDGE_VALUES = np.array([-128, 127, -127, 0, -1, 1], dtype=np.int8)


def golden_pool(mode, x, same, act_min, act_max):
    """golden.pool result; an empty plane where VALID leaves no window (golden refuses those sizes,
    the hardware simply produces no output)."""
    _, h, w, c = x.shape
    if out_size(h, same) == 0 or out_size(w, same) == 0:
        return np.zeros((1, out_size(h, same), out_size(w, same), c), dtype=np.int8)
    fn = max_pool2d if mode == "max" else avg_pool2d
    return fn(x, (2, 2), (2, 2), "SAME" if same else "VALID", act_min, act_max)


def to_beats(x, cols):
    """int8 [1][H][W][C] (C a multiple of cols) -> list of beats (lists of cols ints), in order."""
    _, h, w, c = x.shape
    assert c % cols == 0
    beats = []
    for g in range(c // cols):
        for e in range(h):
            for f in range(w):
                beats.append([int(v) for v in x[0, e, f, g * cols:(g + 1) * cols]])
    return beats


def from_beats(beats, out_h, out_w, c, cols):
    """Inverse of :func:`to_beats` for the pooled plane -> int8 [1][out_h][out_w][C]."""
    y = np.zeros((1, out_h, out_w, c), dtype=np.int8)
    it = iter(beats)
    for g in range(c // cols):
        for e in range(out_h):
            for f in range(out_w):
                y[0, e, f, g * cols:(g + 1) * cols] = next(it)
    return y


def expected_lasts(out_h, out_w, groups):
    per_plane = [0] * (out_h * out_w - 1) + [1] if out_h * out_w else []
    return per_plane * groups


def random_plane(rng, h, w, c, edge_fraction=0.2, ties=False):
    """Random int8 [1][h][w][c]; some pixels from the edge values; ``ties`` draws from a tiny set
    so equal maxima and average ties (sums of .5 after division) are common."""
    nprng = np.random.default_rng(rng.getrandbits(32))
    if ties:
        few = np.array([-128, -127, -3, -2, -1, 0, 1, 2, 3, 126, 127], dtype=np.int8)
        x = nprng.choice(few, (1, h, w, c))
    else:
        x = nprng.integers(-128, 128, size=(1, h, w, c), dtype=np.int64).astype(np.int8)
    edge = nprng.random((1, h, w, c)) < edge_fraction
    x[edge] = nprng.choice(EDGE_VALUES, size=int(edge.sum()))
    return x


def clamp_choice(rng):
    kind = rng.choice(["none", "none", "relu", "range", "point"])
    if kind == "none":
        return -128, 127
    if kind == "relu":
        return rng.randint(-128, 0), 127
    lo = rng.randint(-128, 127)
    return (lo, lo) if kind == "point" else (lo, rng.randint(lo, 127))


def out_size(n, same):
    return (n + 1) // 2 if same else n // 2


# --- cocotb tests ----------------------------------------------------------------------------

def _setup():
    from hw.config import AcceleratorConfig
    from hw.pooling import pool_in_layout, pool_out_layout

    from .common import tb_params
    params = tb_params()
    cfg = AcceleratorConfig.from_dict(params["config"])
    return params, cfg, pool_in_layout(cfg), pool_out_layout(cfg)


async def _run_planes(dut, planes, rng, gap, stall):
    """Each plane: (x, same, act_min, act_max, groups). Streams all planes, checks every output."""
    from .common import reset, start_clock
    from .streams import StreamSink, StreamSource, run_streams

    params, cfg, in_layout, out_layout = _setup()
    await start_clock(dut)
    await reset(dut)
    total_cycles = total_beats = total_out = 0
    for x, same, act_min, act_max in planes:
        _, h, w, c = x.shape
        dut.width.value = w
        dut.height.value = h
        dut.same.value = int(same)
        dut.act_min.value = act_min
        dut.act_max.value = act_max
        source = StreamSource(dut, "i", in_layout, rng, gap)
        sink = StreamSink(dut, "o", out_layout, rng, stall)
        beats = to_beats(x, cfg.cols)
        for beat in beats:
            source.put(beat)
        oh, ow = out_size(h, same), out_size(w, same)
        n_out = oh * ow * (c // cfg.cols)
        # Done when every beat went in and every output came out.
        cycles = await run_streams(dut, [source], [sink],
                                   lambda s=source, k=sink, n=n_out: s.idle and len(k.received) == n,
                                   max_cycles=20 * len(beats) + 200)
        want = golden_pool(params["mode"], x, same, act_min, act_max)
        got = from_beats([[int(v) for v in r.data] for r in sink.received], oh, ow, c, cfg.cols)
        lasts = [int(r.last) for r in sink.received]
        assert np.array_equal(got, want), (
            f"plane {h}x{w}x{c} same={same} clamp=[{act_min}, {act_max}]:\n"
            f"RTL\n{got[0].transpose(2, 0, 1)}\ngolden\n{want[0].transpose(2, 0, 1)}")
        assert lasts == expected_lasts(oh, ow, c // cfg.cols), f"last flags {lasts}"
        total_cycles += cycles
        total_beats += len(beats)
        total_out += n_out
    return total_beats, total_out, total_cycles


@cocotb.test()
async def random_planes(dut):
    """Random plane sizes 1..2*max (odd and even), VALID and SAME, several channel groups, random
    clamps, values with many equal maxima and average ties; random valid gaps and ready stalls."""
    from .common import seeded_rng, tb_params
    params, cfg, _, _ = _setup()
    rng = seeded_rng(dut, "random_planes")
    planes = []
    for n in range(params.get("planes", 40)):
        h = rng.randint(1, 9)
        w = rng.randint(1, min(params["max_width"], 13))
        if n % 5 == 0:
            w = params["max_width"]
        c = cfg.cols * rng.randint(1, 3)
        planes.append((random_plane(rng, h, w, c, ties=rng.random() < 0.5), rng.random() < 0.5,
                       *clamp_choice(rng)))
    beats, outs, cycles = await _run_planes(dut, planes, rng, 0.25, 0.25)
    dut._log.info(f"random_planes: {len(planes)} planes, {beats} beats in, {outs} pooled pixels "
                  f"({outs * cfg.cols} values) bit-exact, {cycles} cycles")
    assert tb_params()["mode"] in ("max", "avg")


@cocotb.test()
async def full_rate(dut):
    """No gaps, no stalls: one beat accepted every cycle over several back-to-back planes."""
    from .common import reset, seeded_rng, start_clock
    from .streams import StreamSink, StreamSource, run_streams

    params, cfg, in_layout, out_layout = _setup()
    rng = seeded_rng(dut, "full_rate")
    await start_clock(dut)
    await reset(dut)
    h, w, groups = 6, params["max_width"], 3
    x = random_plane(rng, h, w, cfg.cols * groups)
    dut.width.value, dut.height.value, dut.same.value = w, h, 0
    dut.act_min.value, dut.act_max.value = -128, 127
    source = StreamSource(dut, "i", in_layout)
    sink = StreamSink(dut, "o", out_layout)
    for beat in to_beats(x, cfg.cols):
        source.put(beat)
    accepted = []
    n_out = (h // 2) * (w // 2) * groups
    await run_streams(dut, [source], [sink], lambda: len(sink.received) == n_out, 10_000,
                      lambda cycle, flags: accepted.append(cycle) if flags[0] else None)
    got = from_beats([[int(v) for v in r.data] for r in sink.received], h // 2, w // 2, x.shape[3], cfg.cols)
    assert np.array_equal(got, golden_pool(params["mode"], x, False, -128, 127))
    assert len(accepted) == accepted[-1] - accepted[0] + 1 == h * w * groups, "input bubbles"
    dut._log.info(f"full_rate: {len(accepted)} beats in {len(accepted)} cycles")

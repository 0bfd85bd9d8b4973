"""Conv sequencer unit tests (amaranth.sim): the beat stream is exactly the loop nest.

The line buffer is emulated by the testbench, with its flow control: input row y is loaded into
line slot y mod lb_lines only while ``y < window.limit`` (the sequencer's output), and a lane
reading line address ``a`` gets, one cycle later, the byte ``tag(row held by that slot, a's
offset)``. The expected stream is the loop nest written out in Python (p0, m0, r, s, c), each
lane's input pixel turned into (row, line offset), so a wrong address, padding decision, first/last
flag or weight address changes the stream, and so does a beat that reads a row before it is
loaded or after its slot was given to a later row.

Both sequencers are tested, as ``sequencer_for`` chooses them: LookaheadSequencer
(``Sequencer.LOOKAHEAD``, the default) and CompactSequencer (``Sequencer.COMPACT``,
ICE40_ENGINE_CONFIG), on fixed shapes with an always-ready tile and
all rows loadable at once, and on edge and random shapes with random tile stalls and a slow
filler. For the small sequencer the gap between blocks is checked against spec.cycle_model.
"""

import dataclasses
import random

import pytest
from amaranth.sim import Simulator

from hw.compact_sequencer import CompactSequencer
from hw.conv_sequencer import sequencer_for
from hw.line_buffer import row_alignment
from hw.lookahead_sequencer import LookaheadSequencer
from spec.config import AcceleratorConfig, Sequencer
from spec.latency import SMALL_GAP

CFG = AcceleratorConfig(rows=4, cols=4, lb_lines=8, lb_line_bytes=128, max_size=16, max_channels=16,
                        weight_mem_words=1024)
CFG_SMALL = dataclasses.replace(CFG, sequencer=Sequencer.COMPACT)
LB_ADDR_WIDTH = (CFG.lb_lines * CFG.lb_line_bytes - 1).bit_length()
CONFIGS = {"lookahead": CFG, "small": CFG_SMALL}


def tag(row, offset):
    """The byte the emulated line buffer holds at ``offset`` of the line loaded with input ``row``."""
    return (row * 101 + offset * 37 + 11) & 0xFF


def as_signed8(v):
    return v - 256 if v & 0x80 else v


def out_size(sh):
    E = (sh["H"] + 2 * sh["pt"] - sh["R"]) // sh["U"] + 1
    F = (sh["W"] + 2 * sh["pl"] - sh["S"]) // sh["U"] + 1
    return E, F


def expected_beats(sh, zp, cfg=CFG):
    """The loop nest of hw/sequencer_parts.py (LoopNest), one (acts, first, last, weight address) per beat."""
    H, W, C, M, R, S, U = (sh[k] for k in "HWCMRSU")
    pt, pl, CG, c_step = sh["pt"], sh["pl"], sh["CG"], sh["c_step"]
    E, F = out_size(sh)
    beats = []
    groups = -(-M // cfg.cols)
    for p0 in range(0, E * F, cfg.rows):
        w_addr = 0          # weight rows restart with every block
        for g in range(groups):
            for r in range(R):
                for s in range(S):
                    for c in range(CG):
                        act = []
                        for i in range(cfg.rows):
                            p = p0 + i
                            e, f = divmod(p, F)
                            y, x = U * e + r - pt, U * f + s - pl
                            if p < E * F and 0 <= y < H and 0 <= x < W:
                                offset = row_alignment(y, W * C) + x * C + g * c_step + c
                                act.append(as_signed8(tag(y, offset)))
                            else:
                                act.append(zp)
                        first = r == 0 and s == 0 and c == 0
                        last = r == R - 1 and s == S - 1 and c == CG - 1
                        beats.append((tuple(act), first, last, w_addr))
                        w_addr += 1
    return beats


def run_sequencer(cfg, sh, zp, rng=None):
    """Run one layer; returns (beats, block infos, cycle of every beat). With ``rng`` the tile
    stalls (advance low) and the filler loads a row only now and then, else neither waits."""
    E, F = out_size(sh)
    n_expected = len(expected_beats(sh, zp, cfg))
    line_shift = (cfg.lb_line_bytes - 1).bit_length()
    dut = sequencer_for(cfg)(cfg, (cfg.lb_lines * cfg.lb_line_bytes - 1).bit_length())
    got, infos, beat_cycles = [], [], []

    async def bench(ctx):
        regs = dict(H=sh["H"], W=sh["W"], C=sh["C"], M=sh["M"], R=sh["R"], S=sh["S"], U=sh["U"],
                    pad_top=sh["pt"], pad_left=sh["pl"], E=E, F=F, CG=sh["CG"], c_step=sh["c_step"],
                    input_zp=zp)
        for name, value in regs.items():
            ctx.set(getattr(dut.shape, name), value)
        ctx.set(dut.row_align, (sh["W"] * sh["C"]) & 3)
        ctx.set(dut.info.ready, 1)
        ctx.set(dut.advance, 1)
        await ctx.tick()
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        lines = [None] * cfg.lb_lines       # input row held by each line slot
        rows_loaded = 0
        w_data = None
        for t in range(40 * n_expected + 400):
            advance = 1 if rng is None or rng.random() < 0.7 else 0
            ctx.set(dut.advance, advance)
            # Filler: row ``rows_loaded`` may go into its slot only below window.limit.
            load = (rows_loaded < sh["H"] and rows_loaded < ctx.get(dut.window.limit)
                    and (rng is None or rng.random() < 0.3))
            ctx.set(dut.window.row_done, load)
            ctx.set(dut.window.rows_loaded, rows_loaded)
            addrs = [ctx.get(dut.lanes.addr[i]) for i in range(cfg.rows)]
            w_addr = ctx.get(dut.w_addr)
            if advance and ctx.get(dut.info.valid):
                infos.append((ctx.get(dut.info.payload.p0), ctx.get(dut.info.payload.m0)))
            if advance and ctx.get(dut.beat_valid):
                act = tuple(ctx.get(dut.beat_act[i]) for i in range(cfg.rows))
                got.append((act, bool(ctx.get(dut.beat_first)), bool(ctx.get(dut.beat_last)), w_data))
                beat_cycles.append(t)
            # Read ports (enabled by advance) see the lines before this edge's row write.
            words = []
            for a in addrs:
                row = lines[a >> line_shift]
                byte = 0x5A if row is None else tag(row, a & (cfg.lb_line_bytes - 1))
                words.append(byte << (8 * (a & 3)))
            await ctx.tick()
            if load:
                lines[rows_loaded % cfg.lb_lines] = rows_loaded
                rows_loaded += 1
            if advance:
                w_data = w_addr
                for i in range(cfg.rows):
                    ctx.set(dut.lanes.word[i], words[i])
                    ctx.set(dut.lanes.sel[i], addrs[i] & 3)
            if not ctx.get(dut.busy) and len(got) == n_expected:
                break
        assert not ctx.get(dut.error_span)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return got, infos, beat_cycles


def check_layer(cfg, sh, zp=-77, rng=None):
    expected = expected_beats(sh, zp, cfg)
    got, infos, beat_cycles = run_sequencer(cfg, sh, zp, rng)
    assert len(got) == len(expected), f"{len(got)} beats, the loop nest has {len(expected)}"
    for n, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g == e, f"beat {n}: sequencer {g}, loop nest {e}"
    E, F = out_size(sh)
    groups = -(-sh["M"] // cfg.cols)
    assert infos == [(p0, g * cfg.cols) for p0 in range(0, E * F, cfg.rows) for g in range(groups)]
    return beat_cycles


def shape_id(s):
    return (f"H{s['H']}W{s['W']}C{s['C']}M{s['M']}R{s['R']}S{s['S']}U{s['U']}"
            f"p{s['pt']}{s['pl']}CG{s['CG']}")


SHAPES = [
    # H, W, C, M, R, S, U, pt, pl, CG, c_step
    dict(H=5, W=5, C=3, M=5, R=3, S=3, U=1, pt=1, pl=1, CG=3, c_step=0),
    dict(H=7, W=6, C=2, M=4, R=3, S=2, U=2, pt=1, pl=0, CG=2, c_step=0),
    dict(H=6, W=3, C=5, M=9, R=1, S=1, U=1, pt=0, pl=0, CG=5, c_step=0),
    dict(H=4, W=2, C=8, M=8, R=3, S=3, U=1, pt=1, pl=1, CG=4, c_step=4),    # depthwise-like groups
    dict(H=9, W=1, C=1, M=1, R=2, S=1, U=1, pt=0, pl=0, CG=1, c_step=0),    # F = 1 < rows
]

# Edge shapes for both sequencers (run with random stalls): 1x1 kernels (blocks shorter than the
# lookahead), 5x5 with padding 2, stride 2 with odd sizes, C not a multiple of 4 (rows not
# word-aligned in their lines), M > cols (several channel groups per block), E * F not a multiple
# of rows (a last block with invalid lanes), H > lb_lines (slots reused), one output pixel.
EDGE_SHAPES = [
    dict(H=5, W=7, C=3, M=6, R=1, S=1, U=1, pt=0, pl=0, CG=3, c_step=0),
    dict(H=8, W=8, C=1, M=4, R=5, S=5, U=1, pt=2, pl=2, CG=1, c_step=0),
    dict(H=9, W=9, C=2, M=5, R=3, S=3, U=2, pt=1, pl=1, CG=2, c_step=0),
    dict(H=7, W=5, C=5, M=9, R=5, S=5, U=2, pt=2, pl=2, CG=5, c_step=0),
    dict(H=12, W=3, C=7, M=13, R=3, S=3, U=1, pt=1, pl=1, CG=7, c_step=0),
    dict(H=16, W=5, C=3, M=4, R=2, S=2, U=2, pt=1, pl=0, CG=3, c_step=0),
    dict(H=3, W=3, C=4, M=4, R=3, S=3, U=1, pt=0, pl=0, CG=4, c_step=0),      # E = F = 1
    dict(H=6, W=6, C=8, M=8, R=3, S=3, U=1, pt=1, pl=1, CG=1, c_step=1),      # depthwise, cols = 4
]


@pytest.mark.parametrize("variant", CONFIGS)
@pytest.mark.parametrize("shape", SHAPES, ids=[shape_id(s) for s in SHAPES])
def test_beat_stream_is_the_loop_nest(shape, variant):
    check_layer(CONFIGS[variant], shape)


@pytest.mark.parametrize("variant", CONFIGS)
@pytest.mark.parametrize("shape", EDGE_SHAPES, ids=[shape_id(s) for s in EDGE_SHAPES])
def test_edge_shapes_with_stalls(shape, variant, seed):
    check_layer(CONFIGS[variant], shape, zp=random.Random(seed).randrange(-128, 128),
                rng=random.Random(seed))


def random_shape(rng, cfg):
    """A random legal layer for ``cfg`` (the engine's register limits; row bytes <= a line)."""
    while True:
        R, S = rng.randint(1, cfg.max_kernel), rng.randint(1, cfg.max_kernel)
        U = rng.randint(1, cfg.max_stride)
        pt, pl = rng.randrange(R), rng.randrange(S)
        H, W = rng.randint(max(1, R - 2 * pt), 14), rng.randint(max(1, S - 2 * pl), 14)
        C = rng.randint(1, 12)
        M = rng.randint(1, 12)
        CG, c_step = C, 0
        if rng.random() < 0.2:
            # Depthwise as the driver runs it: group g reads input channels cols*g .. + cols.
            M = C = cfg.cols * rng.randint(1, max(1, min(3, cfg.max_channels // cfg.cols)))
            CG = c_step = cfg.cols
        sh = dict(H=H, W=W, C=C, M=M, R=R, S=S, U=U, pt=pt, pl=pl, CG=CG, c_step=c_step)
        E, F = out_size(sh)
        if E < 1 or F < 1 or W * C + 3 > cfg.lb_line_bytes:
            continue
        # Every block's input rows (first lane's row .. last valid lane's row + R) must fit in
        # the line buffer at once.
        span = 0
        for p0 in range(0, E * F, cfg.rows):
            last = min(p0 + cfg.rows, E * F) - 1
            need = min(U * (last // F) - pt + R, H)
            span = max(span, need - max(U * (p0 // F) - pt, 0))
        if span <= cfg.lb_lines:
            return sh


@pytest.mark.parametrize("variant", CONFIGS)
def test_random_layers_with_stalls(variant, seed):
    cfg = CONFIGS[variant]
    rng = random.Random(seed)
    for n in range(6):
        sh = random_shape(rng, cfg)
        print(f"layer {n}: {sh}")
        check_layer(cfg, sh, zp=rng.randrange(-128, 128), rng=rng)


@pytest.mark.parametrize("shape", SHAPES + EDGE_SHAPES, ids=[shape_id(s) for s in SHAPES + EDGE_SHAPES])
def test_small_sequencer_block_gap(shape):
    """Small sequencer, tile always ready, rows all loadable: a block's beats are back to back and
    the next block's first beat comes exactly SMALL_GAP(rows) cycles after a block's last one (the
    gap spec.cycle_model assumes; CYCLES == model is checked on the engine in tests/test_up5k.py)."""
    beat_cycles = check_layer(CFG_SMALL, shape)
    per_block = -(-shape["M"] // CFG.cols) * shape["R"] * shape["S"] * shape["CG"]
    for n in range(1, len(beat_cycles)):
        gap = beat_cycles[n] - beat_cycles[n - 1]
        assert gap == (SMALL_GAP(CFG.rows) if n % per_block == 0 else 1), f"beat {n}: {gap} cycles"


@pytest.mark.parametrize("value", [-1, "compact", True])
def test_sequencer_validation(value):
    with pytest.raises(ValueError, match=rf"sequencer = {value!r} is not allowed: must be one of "
                                         r"Sequencer.LOOKAHEAD, Sequencer.COMPACT"):
        AcceleratorConfig(sequencer=value)


@pytest.mark.parametrize("variant", CONFIGS)
def test_span_error(variant):
    """A block whose input rows do not fit in the line buffer (F = 1: the rows lanes are rows
    output rows, U input rows apart, plus a 5-row kernel: 11 rows > 8 lines) ends the layer with
    ``error_span`` and no beat, never a hang. The small sequencer sees it as the filler stopped
    at release + lb_lines while the block still waits for a row."""
    cfg = CONFIGS[variant]
    sh = dict(H=16, W=1, C=1, M=4, R=5, S=1, U=2, pt=0, pl=0, CG=1, c_step=0)
    E, F = out_size(sh)
    dut = sequencer_for(cfg)(cfg, LB_ADDR_WIDTH)
    seen = {}

    async def bench(ctx):
        regs = dict(H=sh["H"], W=sh["W"], C=sh["C"], M=sh["M"], R=sh["R"], S=sh["S"], U=sh["U"],
                    pad_top=0, pad_left=0, E=E, F=F, CG=1, c_step=0, input_zp=0)
        for name, value in regs.items():
            ctx.set(getattr(dut.shape, name), value)
        ctx.set(dut.info.ready, 1)
        ctx.set(dut.advance, 1)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        rows_loaded = beats = 0
        for t in range(200):
            load = rows_loaded < sh["H"] and rows_loaded < ctx.get(dut.window.limit)
            ctx.set(dut.window.row_done, load)
            ctx.set(dut.window.rows_loaded, rows_loaded)
            beats += ctx.get(dut.beat_valid)
            if ctx.get(dut.error_span):
                seen.update(cycle=t, busy=ctx.get(dut.busy), rows_loaded=rows_loaded, beats=beats)
                break
            await ctx.tick()
            rows_loaded += load

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen, "no error_span within 200 cycles"
    assert seen["busy"] == 0 and seen["beats"] == 0, seen
    print(f"{variant}: error_span after {seen['cycle']} cycles, {seen['rows_loaded']} rows loaded")


# Other generator parameters for the small sequencer: 2 lanes and 8 columns, a 3-lane tile with
# stride 3 (U * C as shift-and-add of two bits), 1 lane, tiny kernels / lines / line counts.
OTHER_CONFIGS = {
    "rows2_cols8": dataclasses.replace(CFG_SMALL, rows=2, cols=8),
    "rows3_stride3_k3": dataclasses.replace(CFG_SMALL, rows=3, max_stride=3, max_kernel=3, lb_lines=16,
                                            lb_line_bytes=64),
    "rows1": dataclasses.replace(CFG_SMALL, rows=1),
    "k1_lines4_bytes32": dataclasses.replace(CFG_SMALL, max_kernel=1, lb_lines=4, lb_line_bytes=32),
}


@pytest.mark.parametrize("name", OTHER_CONFIGS)
def test_small_sequencer_other_configs(name, seed):
    cfg = OTHER_CONFIGS[name]
    rng = random.Random(seed)
    for n in range(4):
        sh = random_shape(rng, cfg)
        print(f"{name} layer {n}: {sh}")
        check_layer(cfg, sh, zp=rng.randrange(-128, 128), rng=rng)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")   # built only to inspect
def test_sequencer_choice_and_ports():
    """``sequencer_for`` picks the class the configuration names; both have the same ports, and
    each refuses a configuration asking for the other (the cycle model would not match)."""
    assert sequencer_for(CFG) is LookaheadSequencer
    assert sequencer_for(CFG_SMALL) is CompactSequencer
    lookahead = LookaheadSequencer(CFG, LB_ADDR_WIDTH).signature
    assert lookahead.members == CompactSequencer(CFG_SMALL, LB_ADDR_WIDTH).signature.members
    with pytest.raises(ValueError, match=r"LookaheadSequencer needs sequencer = Sequencer.LOOKAHEAD, "
                                         r"not <Sequencer.COMPACT"):
        LookaheadSequencer(CFG_SMALL, LB_ADDR_WIDTH)
    with pytest.raises(ValueError, match=r"CompactSequencer needs sequencer = Sequencer.COMPACT, "
                                         r"not <Sequencer.LOOKAHEAD"):
        CompactSequencer(CFG, LB_ADDR_WIDTH)

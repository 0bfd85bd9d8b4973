"""ConvSequencer unit tests (amaranth.sim): the beat stream is exactly the loop nest.

The line buffer is emulated by the testbench: a lane reading line address ``a`` gets the byte
``tag(a)`` one cycle later. The expected stream is the loop nest written out in Python
(p0, m0, r, s, c), with each lane's input pixel turned into its line address, so a wrong address,
padding decision, first/last flag or weight address changes the stream.
"""

import pytest
from amaranth.sim import Simulator

from hw.config import AcceleratorConfig
from hw.conv_sequencer import ConvSequencer
from hw.line_buffer import row_alignment

CFG = AcceleratorConfig(rows=4, cols=4, lb_lines=8, lb_line_bytes=128, max_size=16, max_channels=16,
                        weight_mem_words=1024)
LB_ADDR_WIDTH = (CFG.lb_lines * CFG.lb_line_bytes - 1).bit_length()


def tag(addr):
    return (addr * 37 + 11) & 0xFF


def as_signed8(v):
    return v - 256 if v & 0x80 else v


def expected_beats(H, W, C, M, R, S, U, pt, pl, E, F, CG, c_step, zp):
    beats = []
    groups = -(-M // CFG.cols)
    w_addr = 0
    for p0 in range(0, E * F, CFG.rows):
        for g in range(groups):
            for r in range(R):
                for s in range(S):
                    for c in range(CG):
                        act = []
                        for i in range(CFG.rows):
                            p = p0 + i
                            e, f = divmod(p, F)
                            y, x = U * e + r - pt, U * f + s - pl
                            if p < E * F and 0 <= y < H and 0 <= x < W:
                                addr = ((y % CFG.lb_lines) * CFG.lb_line_bytes + row_alignment(y, W * C)
                                        + x * C + g * c_step + c)
                                act.append(as_signed8(tag(addr)))
                            else:
                                act.append(zp)
                        first = r == 0 and s == 0 and c == 0
                        last = r == R - 1 and s == S - 1 and c == CG - 1
                        beats.append((tuple(act), first, last, w_addr))
                        w_addr += 1
            # (blocks of all groups share no weight rows: w_addr restarts per block)
        w_addr = 0
    return beats


SHAPES = [
    # H, W, C, M, R, S, U, pt, pl, CG, c_step
    dict(H=5, W=5, C=3, M=5, R=3, S=3, U=1, pt=1, pl=1, CG=3, c_step=0),
    dict(H=7, W=6, C=2, M=4, R=3, S=2, U=2, pt=1, pl=0, CG=2, c_step=0),
    dict(H=6, W=3, C=5, M=9, R=1, S=1, U=1, pt=0, pl=0, CG=5, c_step=0),
    dict(H=4, W=2, C=8, M=8, R=3, S=3, U=1, pt=1, pl=1, CG=4, c_step=4),    # depthwise-like groups
    dict(H=9, W=1, C=1, M=1, R=2, S=1, U=1, pt=0, pl=0, CG=1, c_step=0),    # F = 1 < rows
]


@pytest.mark.parametrize("shape", SHAPES,
                         ids=[f"H{s['H']}W{s['W']}C{s['C']}M{s['M']}R{s['R']}S{s['S']}U{s['U']}"
                              for s in SHAPES])
def test_beat_stream_is_the_loop_nest(shape):
    sh = dict(shape)
    E = (sh["H"] + 2 * sh["pt"] - sh["R"]) // sh["U"] + 1
    F = (sh["W"] + 2 * sh["pl"] - sh["S"]) // sh["U"] + 1
    zp = -77
    expected = expected_beats(sh["H"], sh["W"], sh["C"], sh["M"], sh["R"], sh["S"], sh["U"], sh["pt"],
                              sh["pl"], E, F, sh["CG"], sh["c_step"], zp)
    dut = ConvSequencer(CFG, LB_ADDR_WIDTH)
    got = []
    infos = []

    async def bench(ctx):
        regs = dict(H=sh["H"], W=sh["W"], C=sh["C"], M=sh["M"], R=sh["R"], S=sh["S"], U=sh["U"],
                    pad_top=sh["pt"], pad_left=sh["pl"], E=E, F=F, CG=sh["CG"], c_step=sh["c_step"],
                    input_zp=zp)
        for name, value in regs.items():
            ctx.set(getattr(dut.shape, name), value)
        ctx.set(dut.row_align, (sh["W"] * sh["C"]) & 3)
        ctx.set(dut.rows_loaded, sh["H"])
        ctx.set(dut.info_ready, 1)
        ctx.set(dut.advance, 1)
        await ctx.tick()
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        for _ in range(len(expected) + 50):
            addrs = [ctx.get(dut.lb_addr[i]) for i in range(CFG.rows)]
            w_addr = ctx.get(dut.w_addr)
            if ctx.get(dut.info_valid):
                infos.append((ctx.get(dut.info.p0), ctx.get(dut.info.m0)))
            await ctx.tick()
            for i in range(CFG.rows):
                ctx.set(dut.lb_word[i], tag(addrs[i]) << (8 * (addrs[i] & 3)))
                ctx.set(dut.lb_sel[i], addrs[i] & 3)
            if ctx.get(dut.beat_valid):
                act = tuple(ctx.get(dut.beat_act[i]) for i in range(CFG.rows))
                got.append((act, bool(ctx.get(dut.beat_first)), bool(ctx.get(dut.beat_last)), w_addr))
            if not ctx.get(dut.busy) and len(got) == len(expected):
                break

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert len(got) == len(expected)
    for n, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g == e, f"beat {n}: sequencer {g}, loop nest {e}"
    groups = -(-sh["M"] // CFG.cols)
    assert infos == [(p0, g * CFG.cols) for p0 in range(0, E * F, CFG.rows) for g in range(groups)]

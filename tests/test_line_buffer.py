"""LineBuffer unit tests (amaranth.sim): rows land in the right slots with their word alignment,
each input word is read once per visit, and the filler never overwrites a row still needed."""

import random

import pytest
from amaranth.hdl import Elaboratable, Module
from amaranth.lib import memory
from amaranth.sim import Simulator

from hw.line_buffer import LineBuffer, row_alignment
from spec.config import AcceleratorConfig

CFG = AcceleratorConfig(rows=4, cols=4, lb_lines=4, lb_line_bytes=64, act_mem_bytes=1024,
                        max_size=16, max_channels=16)


class Harness(Elaboratable):
    """LineBuffer reading from a 32-bit activation memory initialised with ``data`` bytes."""

    def __init__(self, data):
        self.lb = LineBuffer(CFG)
        words = [int.from_bytes(bytes(data[i:i + 4]).ljust(4, b"\0"), "little")
                 for i in range(0, len(data), 4)]
        self.mem = memory.Memory(shape=32, depth=CFG.act_mem_bytes // 4, init=words)

    def elaborate(self, platform):
        m = Module()
        m.submodules.lb = self.lb
        m.submodules.mem = self.mem
        rp = self.mem.read_port()
        m.d.comb += [rp.addr.eq(self.lb.act_addr), rp.en.eq(self.lb.act_en), self.lb.act_data.eq(rp.data)]
        return m


@pytest.mark.parametrize("H,row_bytes", [(7, 12), (6, 13), (5, 1), (3, 61)])
def test_fill_and_release(H, row_bytes, seed):
    rng = random.Random(seed)
    data = [rng.randrange(256) for _ in range(H * row_bytes)]
    h = Harness(data)
    lb = h.lb
    log = {}

    async def bench(ctx):
        ctx.set(lb.height, H)
        ctx.set(lb.row_bytes, row_bytes)
        ctx.set(lb.window.release, 0)
        ctx.set(lb.start, 1)
        await ctx.tick()
        ctx.set(lb.start, 0)
        release = 0
        for _ in range(40 * H * row_bytes + 100):
            await ctx.tick()
            loaded = ctx.get(lb.window.rows_loaded)
            # The filler may run at most lb_lines rows ahead of the release point.
            assert loaded <= release + CFG.lb_lines, (loaded, release)
            if loaded == min(H, release + CFG.lb_lines) and release < H:
                # Every row in the buffer holds exactly its bytes at slot * line + a_y + k.
                for y in range(release, loaded):
                    base = (y % CFG.lb_lines) * CFG.lb_line_bytes + row_alignment(y, row_bytes)
                    for k in rng.sample(range(row_bytes), min(row_bytes, 6)) + [0, row_bytes - 1]:
                        lane = rng.randrange(CFG.rows)
                        ctx.set(lb.read.addr[lane], base + k)
                        ctx.set(lb.read.en, 1)
                        await ctx.tick()
                        ctx.set(lb.read.en, 0)
                        got = ctx.get(lb.read.data[lane])
                        assert got == data[y * row_bytes + k], (y, k, lane, got)
                log.setdefault("checked", 0)
                log["checked"] += loaded - release
                release += 1
                ctx.set(lb.window.release, release)
            if release >= H:
                break
        assert release == H, f"only {release} of {H} rows were released (filler stalled)"

    sim = Simulator(h)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert log["checked"] >= H


def test_word_per_cycle(seed):
    """An aligned layer of H rows loads in H * W*C / 4 cycles (+2): one word per cycle."""
    H, row_bytes = 4, 16
    h = Harness([1] * (H * row_bytes))
    lb = h.lb
    result = {}

    async def bench(ctx):
        ctx.set(lb.height, H)
        ctx.set(lb.row_bytes, row_bytes)
        ctx.set(lb.window.release, 0)
        ctx.set(lb.start, 1)
        await ctx.tick()
        ctx.set(lb.start, 0)
        for cycle in range(100):
            if ctx.get(lb.window.rows_loaded) == H:
                result["cycles"] = cycle
                break
            await ctx.tick()

    sim = Simulator(h)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert result["cycles"] == H * row_bytes // 4 + 1

"""hw/cpu/regfile.py in amaranth.sim against a dict of 32 registers: random reads and writes
(x0 writes dropped, reads held while ``ren`` is low), random and edge data, seed printed."""

import random

from amaranth.sim import Simulator

from hw.cpu.regfile import RegisterFile

EDGES = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF]


def test_regfile_matches_model(seed):
    rng = random.Random(seed)
    dut = RegisterFile()
    regs = [0] * 32
    failures = []

    async def bench(ctx):
        held = (0, 0)
        for step in range(600):
            # The core never reads and writes in one cycle: alternate at random.
            if rng.random() < 0.5:
                waddr = rng.choice([0, 1, 31, rng.randrange(32)])
                wdata = rng.choice(EDGES) if rng.random() < 0.3 else rng.getrandbits(32)
                ctx.set(dut.we, 1)
                ctx.set(dut.ren, 0)
                ctx.set(dut.waddr, waddr)
                ctx.set(dut.wdata, wdata)
                await ctx.tick()
                ctx.set(dut.we, 0)
                if waddr:
                    regs[waddr] = wdata
                if (ctx.get(dut.rdata1), ctx.get(dut.rdata2)) != held:
                    failures.append((step, "read data changed while ren was low"))
            else:
                r1, r2 = rng.randrange(32), rng.choice([0, rng.randrange(32)])
                ctx.set(dut.ren, 1)
                ctx.set(dut.raddr1, r1)
                ctx.set(dut.raddr2, r2)
                await ctx.tick()
                ctx.set(dut.ren, 0)
                held = (ctx.get(dut.rdata1), ctx.get(dut.rdata2))
                if held != (regs[r1], regs[r2]):
                    failures.append((step, r1, r2, held, (regs[r1], regs[r2])))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not failures, f"{len(failures)} mismatches, first {failures[:5]}"
    assert regs[0] == 0

"""hw/cpu/csr.py in amaranth.sim against counters kept in Python: cycle and instret (a retire counts
one cycle late) read through every CSR number and alias, 32- and 64-bit counters, random retire
pattern, seed printed; the parameter check."""

import gc
import random

import pytest
from amaranth.sim import Simulator

from hw.cpu.csr import CsrUnit

# CSR number -> (counter, high half)
CSRS = {0xC00: ("cycle", 0), 0xC01: ("cycle", 0), 0xC02: ("instret", 0), 0xB00: ("cycle", 0),
        0xB02: ("instret", 0), 0xC80: ("cycle", 1), 0xC81: ("cycle", 1), 0xC82: ("instret", 1),
        0xB80: ("cycle", 1), 0xB82: ("instret", 1)}


@pytest.mark.parametrize("width", [32, 64])
def test_counters_match_model(seed, width):
    rng = random.Random(seed)
    dut = CsrUnit(counter_width=width)
    assert dut.counter_width == width
    failures = []

    async def bench(ctx):
        counts = {"cycle": 0, "instret": 0}
        pending = 0
        for step in range(400):
            addr = rng.choice(list(CSRS))
            ctx.set(dut.addr, addr)
            name, high = CSRS[addr]
            value = counts[name] & ((1 << width) - 1)
            want = (value >> 32) if high else value & 0xFFFF_FFFF
            if ctx.get(dut.rdata) != want:
                failures.append((step, hex(addr), ctx.get(dut.rdata), want))
            retire = int(rng.random() < 0.4)
            ctx.set(dut.retire, retire)
            await ctx.tick()
            counts["cycle"] += 1
            counts["instret"] += pending      # the retire strobe is registered
            pending = retire

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not failures, f"{len(failures)} mismatches, first {failures[:5]}"


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
@pytest.mark.parametrize("width", [0, 16, 33, "64"])
def test_counter_width_is_checked(width):
    with pytest.raises(ValueError, match=rf"counter_width must be 32 or 64, not {width!r}"):
        CsrUnit(counter_width=width)
    gc.collect()  # the half-built component warns "never used" when collected: here, filtered

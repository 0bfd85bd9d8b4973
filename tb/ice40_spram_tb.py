"""cocotb bench of the self-checking SPRAM harness (tests/test_ice40_spram.py: SpramCheck).

The harness compares an Ice40SpramMemory (SB_SPRAM256KA from Yosys's cells_sim.v, or the
behavioural model) with an ordinary lib.memory reference on pseudo-random writes (random byte
enables) and reads, entirely in gateware; the bench waits for ``done`` and checks the counters.
"""

import cocotb
from cocotb.triggers import First, ReadOnly, RisingEdge, Timer

from .common import CLOCK_NS, reset, start_clock, tb_params


@cocotb.test()
async def random_reads_and_writes_match_reference(dut):
    cycles = tb_params().get("cycles", 20000)
    await start_clock(dut)
    await reset(dut)
    timeout = Timer(CLOCK_NS * (cycles + 5000), unit="ns")
    result = await First(RisingEdge(dut.done), timeout)
    assert result is not timeout, "the harness never finished"
    await ReadOnly()
    reads = dut.reads.value.to_unsigned()
    writes = dut.writes.value.to_unsigned()
    errors = dut.errors.value.to_unsigned()
    dut._log.info(f"{reads} reads compared, {writes} writes, {errors} errors")
    assert errors == 0, f"{errors} reads differ from the reference memory"
    # writes 1/2 and reads 1/4 of the cycles (LFSR bits): far below that, the check is vacuous
    assert reads > cycles // 5 and writes > cycles // 3, "too few operations: the check is vacuous"

"""cocotb bench of the self-checking product harness (tests/test_ice40_products.py: ProductCheck).

The harness runs entirely in gateware: it walks every int8 pair (a, w) through every product
position of the array under test and of the generic reference ProductArray, with a pseudo-random
clock enable (and garbage operands while ``en`` is low, which must not reach the products), and
counts mismatching cycles. The bench only starts the clock, releases reset and waits for ``done``,
so a run of ~90k cycles costs milliseconds on Verilator and a few seconds on Icarus (where the
array may be the real SB_MAC16 from Yosys's cells_sim.v).
"""

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, Timer

from .common import CLOCK_NS, reset, start_clock, tb_params


@cocotb.test()
async def all_int8_pairs_in_every_position(dut):
    params = tb_params()
    pairs = params.get("pairs", 65536)
    await start_clock(dut)
    await reset(dut)
    # ~4/3 cycles per pair (en is high 3 cycles in 4 on average) plus slack.
    timeout = Timer(CLOCK_NS * (2 * pairs + 1000), unit="ns")
    result = await cocotb.triggers.First(RisingEdge(dut.done), timeout)
    assert result is not timeout, "the harness never finished"
    await FallingEdge(dut.clk)
    await ReadOnly()
    checked = dut.checked.value.to_unsigned()
    errors = dut.errors.value.to_unsigned()
    hold_cycles = dut.hold_cycles.value.to_unsigned()
    dut._log.info(f"{checked} enabled cycles checked ({pairs} pairs in each of "
                  f"{params.get('positions', '?')} positions), {hold_cycles} hold cycles, {errors} errors")
    if errors:
        first = dut.first_error.value.to_unsigned()
        raise AssertionError(f"{errors} mismatching cycles; first at pair counter {first}")
    assert checked == pairs, f"checked {checked} pairs, expected {pairs}"
    assert hold_cycles > pairs // 8, "the clock enable was hardly ever low: hold not exercised"

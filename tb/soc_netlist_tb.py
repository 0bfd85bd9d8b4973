"""cocotb: the synthesised iCE40 SoC netlist (boards/netlist.py) runs the conv-layer firmware baked into
its RAM init (firmware/soc/conv_soc.c built with NO_SW_REFERENCE and SHOW_ALL_OUTPUTS); the
testbench decodes the UART pin and compares every output with golden.

Only top-level ports are used (the netlist has no other names a testbench could rely on). The reset
is held for a few cycles: the netlist's flip-flops start at 0 (the iCE40's configuration state),
the synchronous reset brings them to the design's reset values.

TB_PARAMS: clocks_per_bit, max_cycles, expected (int8 list, [E][F][M] order), checksum (int),
seed (printed only), result_path (optional: the parsed report as JSON).
"""

import json
import re

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge, First, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time

from .common import CLOCK_NS, start_clock, tb_params
from .soc_tb import parse_report, uart_receiver

__all__ = ["parse_outhex"]


def parse_outhex(text):
    """The ``OUTHEX`` line (two hex digits per output byte) -> list of int8, or None."""
    m = re.search(r"^OUTHEX ([0-9a-f]*)$", text, re.M)
    if not m:
        return None
    digits = m[1]
    return [(int(digits[i:i + 2], 16) ^ 0x80) - 0x80 for i in range(0, len(digits) - 1, 2)]


async def wait_halted(dut, max_cycles):
    """Wait until ``halted`` is high once the time step has settled (1), or max_cycles (0).

    In a gate-level netlist a port driven through LUTs can glitch high for a delta cycle while
    Icarus evaluates the cells one by one; only a value still there in ReadOnly counts."""
    end_ns = get_sim_time("ns") + max_cycles * CLOCK_NS
    while (left := end_ns - get_sim_time("ns")) > 0:
        await First(RisingEdge(dut.halted), Timer(left, unit="ns"))
        await ReadOnly()
        if int(dut.halted.value):
            return 1
        await FallingEdge(dut.clk)
    return 0


@cocotb.test()
async def soc_netlist_conv_layer(dut):
    p = tb_params()
    cpb = p["clocks_per_bit"]
    dut._log.info(f"seed {p.get('seed')} (replay with SEED={p.get('seed')})")
    dut.rst.value = 1
    await start_clock(dut)
    await ClockCycles(dut.clk, 4)
    await FallingEdge(dut.clk)
    chars, errors = [], []
    cocotb.start_soon(uart_receiver(dut, cpb, chars, errors))
    dut.rst.value = 0
    halted = await wait_halted(dut, p["max_cycles"])
    await Timer(12 * cpb * CLOCK_NS, unit="ns")     # the last byte leaves the UART
    await ReadOnly()
    text = "".join(chars)
    dut._log.info(f"UART text:\n{text}")
    report = parse_report(text)
    outputs = parse_outhex(text)
    report.update(halted=halted, halt_cause=dut.halt_cause.value.to_unsigned(), uart_errors=errors,
                  uart_overflow=int(dut.uart_overflow.value), uart_text=text, all_outputs=outputs)
    if p.get("result_path"):
        with open(p["result_path"], "w") as f:
            json.dump(report, f, indent=1)

    assert halted, f"the SoC did not halt within {p['max_cycles']} cycles; text:\n{text}"
    assert report["halt_cause"] == 3, f"halt cause {report['halt_cause']} (expected 3, ebreak)"
    assert not errors, errors
    assert not report["uart_overflow"], "a byte was stored to the UART while it was busy"
    assert report.get("accel_rc") == 0, f"accelerator path failed: {report.get('accel_rc')}"
    expected = p["expected"]
    assert outputs is not None, "no OUTHEX line"
    assert len(outputs) == len(expected), f"{len(outputs)} outputs, golden has {len(expected)}"
    bad = [(i, got, want) for i, (got, want) in enumerate(zip(outputs, expected, strict=True)) if got != want]
    assert not bad, (f"{len(bad)} of {len(expected)} outputs differ from golden "
                     f"(index, netlist, golden): {bad[:16]}")
    assert report.get("checksum_accel") == p["checksum"], \
        f"firmware checksum {report.get('checksum_accel')} != golden {p['checksum']:#x}"
    assert report.get("mismatch_accel") == 0 and report["pass"], "the firmware did not print PASS"
    dut._log.info(f"{len(expected)} outputs bit-exact; accelerator path {report['accel_cycles']} "
                  f"cycles (engine {report['accel_compute_cycles']})")

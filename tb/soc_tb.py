"""cocotb: the SoC (hw/soc.py, built with ``loader=True``) runs the conv-layer firmware
(firmware/soc/conv_soc.c); the testbench decodes the real UART TX pin (8N1) and checks the report
against golden values passed in TB_PARAMS.

TB_PARAMS: imem, dmem (word lists), dmem_base, clocks_per_bit, max_cycles, expected (int8 list,
[E][F][M] order), checksum (int), result_path (optional: parsed report as JSON for bench/soc.py),
check (bool: assert bit-exactness and PASS; the benchmark sets it too).
"""

import json
import re

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge, First, RisingEdge, Timer

from .common import CLOCK_NS, start_clock, tb_params

__all__ = ["parse_report"]


async def uart_receiver(dut, clocks_per_bit, chars, errors):
    """Decode 8N1 bytes on dut.uart_tx by sampling the middle of every bit."""
    bit_ns = clocks_per_bit * CLOCK_NS
    while True:
        await FallingEdge(dut.uart_tx)
        await Timer(bit_ns // 2, unit="ns")
        if int(dut.uart_tx.value) != 0:
            errors.append(f"glitch: start bit not low in its middle after {len(chars)} bytes")
            continue
        byte = 0
        for i in range(8):
            await Timer(bit_ns, unit="ns")
            byte |= int(dut.uart_tx.value) << i
        await Timer(bit_ns, unit="ns")
        if int(dut.uart_tx.value) != 1:
            errors.append(f"framing error: stop bit low after byte {len(chars)}")
        chars.append(chr(byte))


async def finish_monitor(dut, codes):
    while True:
        await RisingEdge(dut.finish_valid)
        await FallingEdge(dut.clk)
        codes.append(dut.finish_code.value.to_unsigned())


async def print_monitor(dut, chars):
    while True:
        await RisingEdge(dut.print_valid)
        await FallingEdge(dut.clk)
        chars.append(chr(dut.print_char.value.to_unsigned()))


def parse_report(text):
    """The firmware's report (firmware/soc/conv_soc.c) -> dict."""
    r = {"outputs": {}}
    m = re.search(r"ACCEL rc (0x[0-9a-f]+) cycles (\d+) compute (\d+)", text)
    if m:
        r.update(accel_rc=int(m[1], 16), accel_cycles=int(m[2]), accel_compute_cycles=int(m[3]))
    m = re.search(r"SW cycles (\d+)", text)
    if m:
        r["sw_cycles"] = int(m[1])
    m = re.search(r"CHECKSUM accel (0x[0-9a-f]+) sw (0x[0-9a-f]+) expected (0x[0-9a-f]+)", text)
    if m:
        r.update(checksum_accel=int(m[1], 16), checksum_sw=int(m[2], 16), checksum_expected=int(m[3], 16))
    for m in re.finditer(r"OUT (\d+) (-?\d+) (-?\d+)", text):
        r["outputs"][int(m[1])] = (int(m[2]), int(m[3]))
    m = re.search(r"MISMATCH accel (\d+) sw (\d+)", text)
    if m:
        r.update(mismatch_accel=int(m[1]), mismatch_sw=int(m[2]))
    r["pass"] = bool(re.search(r"^PASS$", text, re.M))
    r["fail"] = bool(re.search(r"^FAIL$", text, re.M))
    return r


@cocotb.test()
async def soc_conv_layer(dut):
    p = tb_params()
    cpb = p["clocks_per_bit"]
    dut.load_valid.value = 0
    dut.load_addr.value = 0
    dut.load_data.value = 0
    dut.rst.value = 1
    await start_clock(dut)
    for base, words in ((0, p["imem"]), (p["dmem_base"], p["dmem"])):
        for i, word in enumerate(words):
            dut.load_valid.value = 1
            dut.load_addr.value = base + 4 * i
            dut.load_data.value = word
            await FallingEdge(dut.clk)
    dut.load_valid.value = 0
    await ClockCycles(dut.clk, 2)
    await FallingEdge(dut.clk)

    uart_chars, uart_errors, print_chars = [], [], []
    cocotb.start_soon(uart_receiver(dut, cpb, uart_chars, uart_errors))
    cocotb.start_soon(print_monitor(dut, print_chars))
    finish_codes = []
    cocotb.start_soon(finish_monitor(dut, finish_codes))
    dut.rst.value = 0
    timeout_ns = p["max_cycles"] * CLOCK_NS
    trig = await First(RisingEdge(dut.halted), Timer(timeout_ns, unit="ns"))
    halted = int(dut.halted.value)
    cause = dut.halt_cause.value.to_unsigned()
    await Timer(12 * cpb * CLOCK_NS, unit="ns")     # the last byte leaves the UART
    finish_code = finish_codes[-1] if finish_codes else None
    text = "".join(uart_chars)
    dut._log.info(f"UART text:\n{text}")
    report = parse_report(text)
    report.update(halted=halted, finish_code=finish_code, halt_cause=cause,
                  uart_overflow=int(dut.uart_overflow.value), uart_errors=uart_errors,
                  print_text="".join(print_chars), uart_text=text)
    if p.get("result_path"):
        with open(p["result_path"], "w") as f:
            json.dump(report, f, indent=1)
    assert halted, (f"the SoC did not halt within {p['max_cycles']} cycles (trigger {trig}); "
                    f"text so far:\n{text}")
    assert cause == 3, f"halt cause {cause} (expected 3, ebreak)"
    assert not uart_errors, uart_errors
    assert not report["uart_overflow"], "a byte was stored to the UART while it was busy"
    assert text == report["print_text"], \
        f"UART text != PRINT register text:\n{text!r}\n{report['print_text']!r}"
    if not p.get("check", True):
        return
    expected = p["expected"]
    assert report.get("accel_rc") == 0, f"accelerator path failed: {report.get('accel_rc')}"
    assert report.get("checksum_expected") == p["checksum"], "firmware data does not match golden"
    assert report.get("checksum_accel") == p["checksum"], \
        f"accelerator checksum {report.get('checksum_accel'):#x} != golden {p['checksum']:#x}"
    assert report.get("checksum_sw") == p["checksum"], \
        f"software checksum {report.get('checksum_sw'):#x} != golden {p['checksum']:#x}"
    assert report["outputs"], "no OUT lines"
    for i, (acc, sw) in report["outputs"].items():
        assert acc == expected[i] and sw == expected[i], \
            f"output {i}: accel {acc} sw {sw} golden {expected[i]}"
    assert report.get("mismatch_accel") == 0 and report.get("mismatch_sw") == 0
    assert report["pass"] and not report["fail"], "the firmware did not print PASS"
    assert finish_code == 0, f"finish code {finish_code}"

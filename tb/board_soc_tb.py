"""cocotb: the board top (boards/soc_top.py SocTop) runs the demo firmware baked into its RAMs; the
testbench only has the board's pins: it decodes the UART TX line (bit time = the board's divisor),
checks the printed report (PASS, no mismatch, the output checksum against golden/), the LEDs, and
that the reset button clears them.

TB_PARAMS: clocks_per_bit, max_cycles, checksum (of the golden output), outputs (E*F*M),
result_path (the parsed report as JSON), seed.
"""

import json
import re

import cocotb
from cocotb.triggers import ClockCycles, First, RisingEdge, Timer

from .common import CLOCK_NS, start_clock, tb_params
from .soc_tb import uart_receiver

__all__ = ["parse_board_report"]


def parse_board_report(text):
    """firmware/board/main.c's UART report -> dict (missing lines leave their keys out)."""
    r = {}
    m = re.search(r"LAYER conv (\d+)x(\d+)x(\d+) -> (\d+) (\d+)x(\d+) stride (\d+)", text)
    if m:
        r["layer"] = dict(zip("H W C M R S U".split(), map(int, m.groups()), strict=True))
    patterns = {"accel_cycles": r"ACCEL cycles (\d+)", "engine_cycles": r"ACCEL cycles \d+ engine (\d+)",
                "c_cycles": r"^C cycles (\d+)", "mismatch": r"MISMATCH (\d+) of",
                "outputs": r"MISMATCH \d+ of (\d+)", "mismatch_c": r"MISMATCH \d+ of \d+ \(C (\d+)\)"}
    for key, pattern in patterns.items():
        m = re.search(pattern, text, re.M)
        if m:
            r[key] = int(m[1])
    m = re.search(r"SPEEDUP (\d+\.\d)x", text)
    if m:
        r["speedup"] = float(m[1])
    m = re.search(r"CHECKSUM (0x[0-9a-f]{8})", text)
    if m:
        r["checksum"] = int(m[1], 16)
    r["pass"] = bool(re.search(r"^PASS$", text, re.M))
    r["fail"] = bool(re.search(r"^FAIL", text, re.M))
    return r


@cocotb.test()
async def board_soc_demo(dut):
    p = tb_params()
    cpb = p["clocks_per_bit"]
    dut._log.info(f"layer seed {p['seed']} (replay with SEED={p['seed']}), {cpb} clocks per UART bit")
    dut.button.value = 0
    dut.rst.value = 1
    await start_clock(dut)
    await ClockCycles(dut.clk, 2)
    chars, errors = [], []
    cocotb.start_soon(uart_receiver(dut, cpb, chars, errors))
    dut.rst.value = 0       # the top's own power-on counter still holds the SoC for por_cycles
    trig = await First(RisingEdge(dut.led_halted), Timer(p["max_cycles"] * CLOCK_NS, unit="ns"))
    await Timer(12 * cpb * CLOCK_NS, unit="ns")     # the last byte leaves the UART
    text = "".join(chars)
    dut._log.info(f"UART text:\n{text}")
    report = parse_board_report(text)
    leds = {name: int(getattr(dut, f"led_{name}").value) for name in ("pass", "fail", "halted")}
    report.update(uart_text=text, uart_errors=errors, leds=leds)
    with open(p["result_path"], "w") as f:
        json.dump(report, f, indent=1)
    assert leds["halted"], f"the SoC did not halt within {p['max_cycles']} cycles ({trig}); text:\n{text}"
    assert not errors, errors
    assert report.get("outputs") == p["outputs"], f"report outputs {report.get('outputs')} != {p['outputs']}"
    assert report.get("mismatch") == 0 and report.get("mismatch_c") == 0, \
        f"{report.get('mismatch')} accelerator / {report.get('mismatch_c')} C outputs differ from golden"
    assert report.get("checksum") == p["checksum"], \
        f"accelerator output checksum {report.get('checksum')} != golden {p['checksum']:#010x}"
    assert report["pass"] and not report["fail"], "the firmware did not print PASS"
    assert leds == {"pass": 1, "fail": 0, "halted": 1}, f"LEDs {leds}: expected pass"

    # The reset button (2-FF synchroniser) restarts the SoC: the result LEDs go dark.
    dut.button.value = 1
    await ClockCycles(dut.clk, 4)
    dut.button.value = 0
    await ClockCycles(dut.clk, 2)
    after = {name: int(getattr(dut, f"led_{name}").value) for name in ("pass", "fail", "halted")}
    assert after == {"pass": 0, "fail": 0, "halted": 0}, f"LEDs {after} after the reset button"

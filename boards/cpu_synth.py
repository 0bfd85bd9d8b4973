"""Size and speed of the RV32I core on an iCE40UP5K (the shared YoWASP runner, boards.yowasp).

    python -m boards.cpu_synth [--no-pnr] [--seed N] [--core multicycle|serial] [--no-instret]

1. The core alone (``Core()`` or ``SerialCore()``, no trace port) through ``synth_ice40``, then
   nextpnr's packer (``--pack-only``: the core's ~300 bus/CFU ports do not fit the package's pins,
   and packing is all an LC count needs) -> logic cells, EBRs, Yosys cell counts.
2. Unless ``--no-pnr``: the core in a pin-light wrapper (:class:`FmaxTop`: SocRam with 512-word
   RAMs running firmware/examples/hello.c, a 1-cycle adder as CFU, only the print/finish/halt
   outputs on pins) placed and routed for the UP5K (sg48) -> Fmax.

Both are elaborated for :class:`boards.netlist.NetlistPlatform` (device iCE40UP5K, primitive
instances), so SerialCore's register file is its two SB_RAM40_4K as on the board. Yosys runs are
cached by :func:`boards.yowasp.yosys` under ``build/synth/cpu*/``; resources and Fmax come from
nextpnr's JSON report and Yosys's ``stat -json`` (:mod:`boards.report`).

Writes ``build/reports/cpu_synth.json`` and prints a summary. The first call of each YoWASP tool
compiles WebAssembly (tens of seconds); later calls are fast.
"""

import argparse
import json
import sys

from amaranth.back import verilog
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from hw.cpu.soc_ram import CORES, SocRam, make_core

from .netlist import NetlistPlatform
from .report import load_json, main_clock, stat_cells, utilization
from .yowasp import BUILD, nextpnr_device, run, yosys

__all__ = ["FmaxTop", "synth_core", "pnr_fmax", "main"]

OUT = BUILD / "synth" / "cpu"
REPORT = BUILD / "reports" / "cpu_synth.json"
LC, EBR = "ICESTORM_LC", "ICESTORM_RAM"


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


def _synthesize(component, name, out, nextpnr_args, label):
    """Yosys (cached) and one nextpnr-ice40 run for the UP5K on ``component`` (module ``name``).

    Returns (nextpnr's JSON report, Yosys's cell counts, seconds spent). Raises RuntimeError
    naming the log when nextpnr fails (Yosys failures raise in :func:`boards.yowasp.yosys`)."""
    platform = NetlistPlatform()
    text = verilog.convert(component, name=name, platform=platform, emit_src=False,
                           strip_internal_attrs=True)
    script = (f"read_verilog {name}.v\nsynth_ice40 -top {name} -json {name}.json\n"
              "tee -q -o stat.json stat -json\n")
    synth = yosys(script, {f"{name}.v": text}, out, name)
    report = f"{label}.report.json"
    pnr = run(["nextpnr-ice40", *nextpnr_device(platform.device, platform.package),
               "--json", f"{name}.json", *nextpnr_args, "--report", report, "--log", f"{label}.log"],
              synth.directory, label)
    if not pnr.ok:
        raise RuntimeError(f"nextpnr-ice40 failed on {name}: see {synth.directory / (label + '.log')}")
    cells = dict(sorted(stat_cells(load_json(synth.directory / "stat.json")).items()))
    return load_json(synth.directory / report), cells, round((synth.seconds or 0) + pnr.seconds, 1)


def synth_core(out=OUT, core="multicycle", instret=True):
    """The core alone, packed for the UP5K: logic cells, EBRs and Yosys's cells."""
    report, cells, seconds = _synthesize(make_core(core, instret=instret), "cpu_core", out,
                                         ["--pack-only"], "nextpnr-pack")
    lcs = utilization(report, LC)
    return {"logic_cells": lcs["used"], "device_logic_cells": lcs["available"],
            "ebr": utilization(report, EBR)["used"], "yosys_cells": cells, "seconds": seconds}


def pnr_fmax(out=OUT, seed=1, freq=24, core="multicycle", instret=True):
    """:class:`FmaxTop` placed and routed for the UP5K at ``freq`` MHz with nextpnr ``seed``."""
    from firmware.build import FIRMWARE
    from firmware.build import build as build_firmware
    image = build_firmware([FIRMWARE / "examples" / "hello.c"], imem_words=512, dmem_words=512,
                           out_dir=BUILD / "firmware" / "hello-512")
    report, _, seconds = _synthesize(
        FmaxTop(image.imem, image.dmem, core=core, instret=instret), "cpu_fmax", out,
        ["--freq", str(freq), "--seed", str(seed), "--timing-allow-fail"], f"nextpnr-fmax-seed{seed}")
    return {"fmax_mhz": round(main_clock(report)[1], 2), "target_mhz": freq, "seed": seed,
            "logic_cells": utilization(report, LC)["used"], "ebr": utilization(report, EBR)["used"],
            "design": "SocRam (512-word IMEM/DMEM, hello.c) + 1-cycle adder CFU", "seconds": seconds}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m boards.cpu_synth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-pnr", action="store_true", help="only the LC count of the core")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr seed for the Fmax run")
    parser.add_argument("--core", choices=CORES, default="multicycle", help="which core")
    parser.add_argument("--no-instret", action="store_true", help="serial core without instret")
    args = parser.parse_args(argv)
    instret = not args.no_instret
    out = OUT if args.core == "multicycle" and instret else \
        OUT.parent / f"cpu-{args.core}{'' if instret else '-noinstret'}"
    report = {"device": NetlistPlatform.device, "core_kind": args.core, "instret": instret,
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

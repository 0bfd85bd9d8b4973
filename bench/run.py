"""``python -m bench.run``: the conv-engine benchmark (``make bench``).

Runs every layer of bench/layers.py through the generated Verilog (SIM=verilator by default,
SIM=icarus), reads the RTL counters, checks each output against golden/, compares the measured
cycle count with spec.cycle_model, and writes ``build/reports/bench.json`` (``bench-icarus.json``
for Icarus) plus a printed table. Exits non-zero if the cycle model misses any layer.
Ideal cycles = N*M*C*E*F*R*S / (rows*cols); utilisation = ideal / measured.
"""

import json
import sys
from dataclasses import asdict

from hw.conv_engine import ConvEngine
from sim.runner import BUILD, build, run_cocotb, simulator_name
from spec.config import AcceleratorConfig
from spec.cycle_model import conv_engine_cycles

from .layers import BENCH_LAYERS

__all__ = ["main", "predict"]


def predict(config, regs):
    return conv_engine_cycles(config, regs["H"], regs["W"], regs["C"], regs["M"], regs["R"], regs["S"],
                              regs["U"], regs["PAD_TOP"], regs["E"], regs["F"], regs["CG"], regs["POOL"])


def main(argv=None):
    config = AcceleratorConfig()
    sim = simulator_name()
    design = build(ConvEngine(config), top="conv_engine", tag=config.name)
    run_dir = design.build_dir / "runs" / "bench"
    run_cocotb(design, "tb.bench_conv_tb", run_name="bench",
               params={"config": config.as_dict(), "seed": 1, "layers": [asdict(b) for b in BENCH_LAYERS],
                       "log_dir": str(run_dir)}, seed=1)
    measured = json.loads((run_dir / "bench.json").read_text())
    rows = []
    model_ok = True
    for entry, layer in zip(measured, BENCH_LAYERS, strict=True):
        model = predict(config, entry["registers"])
        util = entry["ideal_cycles"] / entry["cycles"]
        match = model.cycles == entry["cycles"] and model.mac_cycles == entry["mac_cycles"]
        model_ok &= match
        rows.append({
            "layer": layer.name, "shape": asdict(layer), "N": 1,
            "E": entry["registers"]["E"], "F": entry["registers"]["F"],
            "ideal_cycles": entry["ideal_cycles"], "cycles": entry["cycles"],
            "mac_cycles": entry["mac_cycles"], "utilisation": util, "target": layer.target,
            "meets_target": None if layer.target is None else util >= layer.target,
            "model_cycles": model.cycles, "model_matches": match, "model_breakdown": model.as_dict(),
            "sim_cycles_per_s": entry["cycles"] / entry["wall_s"], "simulator": sim,
            "port_instructions": entry["port"]["instructions"],
            "port_cycles": entry["port"]["port_cycles"],
            "port_per_compute": entry["port"]["port_cycles"] / entry["cycles"],
        })
    report = {"config": config.as_dict(), "simulator": sim, "layers": rows, "model_matches_all": model_ok}
    out = BUILD / "reports" / ("bench.json" if sim == "verilator" else f"bench-{sim}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"\nwritten: {out}")
    return 0 if model_ok else 1


def print_table(report):
    cfg = report["config"]
    print(f"conv engine {cfg['rows']}x{cfg['cols']} tile, simulator {report['simulator']}")
    head = f"{'layer':42s} {'E x F':>7s} {'ideal':>8s} {'cycles':>8s} {'util':>6s} {'target':>6s} " \
           f"{'model':>8s} {'prolog':>6s} {'fill':>6s} {'out':>6s} {'tail':>5s} {'cyc/s':>9s} " \
           f"{'insns':>6s} {'port':>6s} {'p/c':>5s}"
    print(head)
    print("-" * len(head))
    for r in report["layers"]:
        b = r["model_breakdown"]
        target = "-" if r["target"] is None else f"{r['target']:.0%}"
        flag = "" if r["meets_target"] in (None, True) else " MISSED"
        model = ("=" if r["model_matches"] else "!=") + str(r["model_cycles"])
        print(f"{r['layer'][:42]:42s} {r['E']:>3d}x{r['F']:<3d} {r['ideal_cycles']:8.0f} {r['cycles']:8d} "
              f"{r['utilisation']:6.1%} {target:>6s} {model:>8s} "
              f"{b['prologue']:6d} {b['fill_stalls']:6d} {b['output_stalls']:6d} {b['tail']:5d} "
              f"{r['sim_cycles_per_s']:9,.0f} {r['port_instructions']:6d} {r['port_cycles']:6d} "
              f"{r['port_per_compute']:5.2f}{flag}")
    print(f"cycle model matches every layer: {report['model_matches_all']}")
    print("prolog: cycles before the first beat (first input rows); fill: gaps waiting for rows or the "
          "next block; out: output stage holding the tile; tail: last beat to done.\n"
          "insns / port: custom-0 instructions and CFU-port cycles to load, run and read the layer "
          "(CPU always ready); p/c: port cycles per compute cycle.")


if __name__ == "__main__":
    sys.exit(main())

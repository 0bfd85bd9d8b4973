"""``python -m bench.mlperf [--models NAME ...] [--files MODEL.tflite ...] [--tiles RxC ...] [--inputs N]``:
the MLPerf Tiny models on the SoC RTL (``make mlperf``).

For every look-alike model of models/mlperf_tiny.py (the published architectures with random weights
and calibrated int8 quantisation): compile it for the SoC's engine (compiler/), build the network
firmware without the plain-C copy of the weights (compiler/firmware.py, ``sw=False``), run N inputs
(seeded random int8, the first one all 127) on the SoC RTL (hw/soc.py, SIM=verilator by default) and
compare every output byte with TensorFlow Lite Micro (golden/tflm.py) and golden.run_network.
``--files`` runs any int8 .tflite the same way (e.g. the published mlcommons/tiny models; ``make
mlperf MODELS=...``); a file whose MAC count is that of a reference architecture is compared with
that model's published numbers.

Per model it records ``macs``, ``cycles`` (rdcycle around the whole inference on the core),
``engine_cycles`` (the engine's CYCLES counter summed over the layers), ``core_step_cycles`` (rdcycle
of the steps the core runs: ADD, SOFTMAX, pools, space-to-depth), ``ideal_cycles`` = macs / (rows *
cols), ``utilisation`` = ideal_cycles / cycles, ``bit_exact`` (every output byte of every input equal
to TFLite Micro), ``reference`` ("tflm"), ``cycle_model_exact`` (every engine layer's CYCLES counter
equal to spec.cycle_model), the firmware's DMEM bytes and the wall time, and prints them
against published cycle counts of MCUs running the same models.

The SoC is spec.config.SIM_SOC with 512 KiB of data memory (:data:`SOC`; the largest look-alike, VWW,
needs about 400 KiB of weights, parameters and activation buffers), with its default 4x4 MAC tile and
with an 8x8 tile (the ECP5's second target; :func:`soc_for`). Writes ``build/reports/mlperf.json``;
exits 1 if any output byte differs or an engine layer's cycles differ from spec.cycle_model.
"""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from compiler import CompileError, compile_tflite
from compiler.firmware import FirmwareSizeError, build_network_firmware
from demo.soc import run_images
from golden.network import run_network
from golden.tflm import run_tflm
from models.mlperf_tiny import MODELS, REFERENCE_MACS, model_path
from sim.runner import BUILD, simulator_name
from sim.soc import soc_design
from spec.config import SIM_SOC, AcceleratorConfig

__all__ = ["SOC", "PUBLISHED", "published_text", "soc_for", "run_model", "main"]

#: The simulated SoC of the benchmark: SIM_SOC's engine and core with 512 KiB of DMEM.
SOC = dataclasses.replace(SIM_SOC, dmem_words=1 << 17)


def soc_for(tile):
    """:data:`SOC` with a ``"RxC"`` MAC tile (the rest of the engine configuration unchanged)."""
    try:
        rows, cols = (int(v) for v in tile.lower().split("x"))
    except ValueError:
        raise ValueError(f"tile = {tile!r} is not allowed: must be 'RxC', e.g. '8x8'") from None
    engine = AcceleratorConfig.from_dict({**SOC.engine.as_dict(), "rows": rows, "cols": cols})
    return dataclasses.replace(SOC, engine=engine)

#: Published cycles per inference of MCUs on the same models (MLPerf Tiny results; issue tracker).
PUBLISHED = {
    "ic_resnet8": {"Cortex-M4/M33 (X-CUBE-AI)": (17.5e6, 20e6), "Cortex-M85": (4.07e6, 4.07e6)},
    "vww_mobilenet": {"Cortex-M4/M33 (X-CUBE-AI)": (9.5e6, 10.7e6), "Cortex-M85": (6.43e6, 6.43e6)},
    "kws_dscnn": {"Cortex-M4/M33 (X-CUBE-AI)": (4.6e6, 5.2e6), "Cortex-M85": (1.66e6, 1.66e6)},
    "ad_autoencoder": {"Cortex-M4/M33 (X-CUBE-AI)": (0.49e6, 0.58e6), "Cortex-M85": (0.255e6, 0.255e6)},
}


def _inputs(shape, n, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (n, *shape)).astype(np.int8)
    x[0] = 127
    return x


def reference_name(macs):
    """The reference architecture with ``macs`` MACs (within 1 %), or None."""
    for name, ref in REFERENCE_MACS.items():
        if abs(macs - ref) <= 0.01 * ref:
            return name
    return None


def run_model(name, n_inputs, seed, soc=SOC, path=None):
    """Compile, build and run one model (a look-alike by ``name``, or the .tflite at ``path``) on the
    SoC ``soc``; its report entry."""
    t0 = time.time()
    path = Path(path) if path is not None else model_path(name)
    model = path.read_bytes()
    schedule = compile_tflite(path, soc.engine)
    tile = f"{soc.engine.rows}x{soc.engine.cols}"
    fw = build_network_firmware(schedule, BUILD / "firmware" / f"mlperf-{name}-{tile}", soc, name="net",
                                sw=False)
    x = _inputs(schedule.input_shape, n_inputs, seed)
    results = run_images(fw, x, run_name=f"mlperf-{name}-{tile}", seed=seed, max_cycles=100_000_000,
                         design=soc_design(soc)[1])
    exact = []
    for r, xi in zip(results, x, strict=True):
        want = run_tflm(model, xi).reshape(-1)
        gold = run_network(schedule.net, xi).reshape(-1)
        ok = r.get("accel_rc") == 0 and r.get("logits") == want.tolist() and np.array_equal(gold, want)
        exact.append(bool(ok))
    first = results[0]
    macs = sum(step.macs for step in schedule.layers)
    ideal = macs / soc.engine.macs
    steps = [{"step": s.name, "runs_on": s.runs_on, "describe": s.describe(), "macs": s.macs,
              "cycles": first["layers"][k]["cycles"], "engine_cycles": first["layers"][k]["engine_cycles"]}
             for k, s in enumerate(schedule.layers)]
    cycles = first["accel_cycles"]
    model_cycles = [c["compute_cycles"] for c in schedule.static_cost()]
    cycle_model_exact = all(r["layers"][k]["engine_cycles"] == model_cycles[k]
                            for r in results for k in range(len(model_cycles)))
    return {
        "model": name, "file": path.name, "architecture": reference_name(macs), "config": soc.engine.name,
        "tile": tile, "macs": macs,
        "cycles": cycles,
        "cycles_all_inputs": sorted({r["accel_cycles"] for r in results}),
        "engine_cycles": sum(s["engine_cycles"] for s in steps),
        "core_step_cycles": sum(s["cycles"] for s in steps if s["runs_on"] == "core"),
        "ideal_cycles": ideal, "utilisation": round(ideal / cycles, 4),
        "bit_exact": all(exact), "inputs": len(results), "bit_exact_inputs": int(sum(exact)),
        "reference": "tflm", "cycle_model_exact": cycle_model_exact, "dmem_bytes": fw.dmem_bytes,
        "code_bytes": 4 * len(fw.image.imem),
        "steps": steps, "seconds": round(time.time() - t0, 1),
    }


def published_text(name):
    """The published cycle counts of reference architecture ``name``, as one line ("" if unknown)."""
    rows = []
    for mcu, (lo, hi) in PUBLISHED.get(name, {}).items():
        rows.append(f"{mcu} {lo / 1e6:.2f}" + (f"-{hi / 1e6:.2f}" if hi != lo else "") + " M")
    return "; ".join(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.mlperf", description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", choices=sorted(MODELS), default=None,
                    help="look-alikes to run (default: all four, unless --files is given)")
    ap.add_argument("--files", nargs="+", type=Path, default=[], help="int8 .tflite files to run")
    ap.add_argument("--tiles", nargs="+", default=["4x4", "8x8"], help="MAC tiles (default: 4x4 8x8)")
    ap.add_argument("--inputs", type=int, default=2, help="inputs per model (default 2: all 127, random)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=BUILD / "reports" / "mlperf.json")
    args = ap.parse_args(argv)
    if not 1 <= args.inputs <= 100:
        ap.error(f"--inputs = {args.inputs} is out of range: must be in [1, 100]")
    try:
        socs = [soc_for(t) for t in args.tiles]
    except ValueError as exc:
        ap.error(str(exc))
    for f in args.files:
        if not f.is_file():
            ap.error(f"--files: {f} does not exist")
    runs = [(name, None) for name in (args.models if args.models or args.files else list(MODELS))]
    runs += [(f.stem, f) for f in args.files]
    sim = simulator_name()
    entries = []
    for soc in socs:
        for name, path in runs:
            try:
                entries.append(run_model(name, args.inputs, args.seed, soc, path))
            except (CompileError, FirmwareSizeError) as exc:
                print(f"error: {name}: {exc}", file=sys.stderr)
                return 1
            e = entries[-1]
            print(f"{name} {e['tile']}: {e['cycles']} cycles, utilisation {e['utilisation']:.1%}, bit-exact "
                  f"{e['bit_exact_inputs']}/{e['inputs']} ({e['seconds']} s)", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    command = "python -m bench.mlperf" + "".join(
        f" --{k} {' '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in (("models", [n for n, p in runs if p is None]), ("files", [p.name for _, p in runs if p]),
                     ("tiles", args.tiles), ("inputs", args.inputs)) if v)
    report = {"simulator": sim, "dmem_bytes": 4 * SOC.dmem_words, "command": command, "results": entries}
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"MLPerf Tiny look-alikes on the SoC RTL ({sim}), every output byte compared with TensorFlow "
          f"Lite Micro")
    head = (f"  {'model':15s} {'tile':4s} {'MACs':>10s} {'cycles':>10s} {'engine':>9s} {'core steps':>10s} "
            f"{'ideal':>9s} {'util':>6s} {'exact':>5s} {'DMEM KiB':>8s}  published (cycles per inference)")
    print(head)
    for e in entries:
        print(f"  {e['model']:15s} {e['tile']:4s} {e['macs']:10d} {e['cycles']:10d} {e['engine_cycles']:9d} "
              f"{e['core_step_cycles']:10d} {e['ideal_cycles']:9.0f} {e['utilisation']:6.1%} "
              f"{'yes' if e['bit_exact'] else 'NO':>5s} {e['dmem_bytes'] / 1024:8.0f}  "
              f"{published_text(e['architecture'])}")
    print(f"written: {args.out}")
    return 0 if all(e["bit_exact"] and e["cycle_model_exact"] for e in entries) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

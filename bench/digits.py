"""``python -m bench.digits [--images N]``: the digits CNN as firmware on the SoC RTL (``make bench``).

Measures, with the network firmware (compiler/firmware.py + firmware/net/net.c) on the SoC RTL
(hw/soc.py, SIM=verilator by default):

* accuracy on the held-out split (450 images): float (the training script's number), int8 LiteRT
  (BUILTIN_REF, all 450 images, run here) and the hardware's on the first N held-out images
  (default 100: the RTL simulation takes ~5 s per image; ``--images 450`` runs them all),
  with every logit checked bit-identical to LiteRT and golden.run_network;
* cycles per inference on the accelerator: rdcycle around the firmware's whole inference (the core
  issuing every command, gathering / scattering the activations) and per engine layer the same
  rdcycle difference, the engine's CYCLES counter and MAC utilisation (ideal = MACs / 16);
* the same network in plain C on the core (firmware/soc/tflite_ref.c, TFLite int8 reference
  semantics, RV32I without M: every product calls __mulsi3), run once on the first image in the same
  simulation, its logits equal to the accelerator's, and the speedup = software / accelerator cycles.

Writes ``build/reports/digits_bench.json`` (``digits_bench-icarus.json`` for Icarus), prints a table;
exits 1 if any logit differs.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from compiler import compile_tflite
from demo.soc import FLAG_ACCEL, FLAG_SW, SOC, compare, network_firmware, run_images
from golden.network import run_network
from models.digits import (
    MODEL_PATH,
    LiteRTModel,
    accuracy,
    load_metrics,
    load_split,
    model_bytes,
    quantise_images,
)
from sim.runner import BUILD, simulator_name
from sim.soc import soc_design

__all__ = ["main"]

CONFIG = SOC.engine


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.digits", description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=100,
                    help="held-out images for the hardware accuracy (default 100, at most 450)")
    ap.add_argument("--no-sw", action="store_true", help="skip the plain-C run (~24M simulated cycles)")
    ap.add_argument("--out", type=Path, default=None,
                    help="report path (default build/reports/digits_bench.json)")
    args = ap.parse_args(argv)
    _, _, x_te, y_te = load_split()
    if not 1 <= args.images <= len(x_te):
        ap.error(f"--images = {args.images} is out of range: must be in [1, {len(x_te)}]")
    sim = simulator_name()
    t0 = time.time()
    metrics = load_metrics()
    schedule = compile_tflite(MODEL_PATH, CONFIG)
    xq = quantise_images(x_te)
    lite = LiteRTModel(model_bytes()).logits(xq)
    int8_acc = accuracy(lite, y_te)
    n = args.images
    gold = np.stack([run_network(schedule.net, x[None]).reshape(-1) for x in xq[:n]])
    fw = network_firmware(MODEL_PATH, SOC, schedule=schedule)
    _, design = soc_design(SOC)
    flags = [FLAG_ACCEL | (0 if args.no_sw else FLAG_SW)] + [FLAG_ACCEL] * (n - 1)
    from tqdm import tqdm

    bar = tqdm(total=n, desc=f"SoC RTL ({sim})", unit="img", file=sys.stderr)
    results = run_images(fw, xq[:n], ids=range(n), flags=flags, run_name="digits-bench",
                         max_cycles=200_000_000, design=design, on_result=lambda r: bar.update(1))
    bar.close()
    checks = [compare(r, lite[i], gold[i]) for i, r in enumerate(results)]
    exact = [bool(c["accel_ok"] and c["match_litert"] and c["match_golden"]) for c in checks]
    preds = np.array([int(np.argmax(r["logits"])) for r in results])
    hw_acc = float(np.mean(preds == y_te[:n]))
    lite_acc_n = accuracy(lite[:n], y_te[:n])

    costs = schedule.static_cost()
    layers = []
    for i, layer in enumerate(schedule.layers):
        eng = results[0]["layers"][i]["engine_cycles"]
        ideal = layer.ideal_cycles(CONFIG)
        layers.append({"layer": layer.name, "describe": layer.describe(), "passes": layer.passes,
                       "macs": layer.macs, "ideal_cycles": ideal, "engine_cycles": eng,
                       "engine_cycles_model": costs[i]["compute_cycles"],
                       "mac_utilisation": round(ideal / eng, 4),
                       "firmware_cycles": results[0]["layers"][i]["cycles"]})
    accel = results[0]["accel_cycles"]
    first = results[0]
    sw = first.get("sw_cycles")
    sw_ok = None if sw is None else bool(first.get("sw_logits") == first["logits"] and first.get("match"))
    macs = sum(layer.macs for layer in schedule.layers)
    report = {
        "model": MODEL_PATH.name, "config": CONFIG.as_dict(), "simulator": sim,
        "float_accuracy_heldout": metrics["float_accuracy"], "int8_litert_accuracy_heldout": int8_acc,
        "heldout_images": len(y_te), "hardware_images": n, "hardware_accuracy": hw_acc,
        "litert_accuracy_same_images": lite_acc_n, "bit_identical_images": int(sum(exact)),
        "macs_per_inference": macs, "accel_cycles_per_inference": accel,
        "accel_cycles_all_images": sorted({r["accel_cycles"] for r in results}),
        "engine_cycles_per_inference": sum(x["engine_cycles"] for x in layers),
        "ideal_cycles_per_inference": macs / CONFIG.macs, "layers": layers,
        "sw_cycles_per_inference": sw, "sw_logits_equal": sw_ok,
        "speedup": round(sw / accel, 1) if sw else None,
        "firmware_code_bytes": 4 * len(fw.image.imem), "firmware_dmem_bytes": fw.dmem_bytes,
        "command": "python -m bench.digits" + (f" --images {n}" if n != 100 else "")
                   + (" --no-sw" if args.no_sw else ""),
        "seconds": round(time.time() - t0, 1),
    }
    out = args.out or BUILD / "reports" / ("digits_bench.json" if sim == "verilator"
                                           else f"digits_bench-{sim}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")

    print(f"digits CNN ({MODEL_PATH.name}) as firmware on the SoC RTL ({sim}), {CONFIG.rows}x{CONFIG.cols} "
          f"MAC tile")
    print(f"  accuracy, {len(y_te)} held-out images: float {metrics['float_accuracy']:.2%}, int8 LiteRT "
          f"{int8_acc:.2%}")
    print(f"  hardware accuracy, first {n} held-out images: {hw_acc:.2%} (int8 LiteRT on the same images "
          f"{lite_acc_n:.2%}); logits bit-identical to LiteRT and golden: {sum(exact)}/{n}")
    head = f"  {'engine layer':36s} {'passes':>6s} {'MACs':>6s} {'firmware':>9s} {'engine':>7s} " \
           f"{'ideal':>6s} {'MAC util':>8s}"
    print(head)
    print("  " + "-" * (len(head) - 2))
    for x in layers:
        print(f"  {x['layer'][:36]:36s} {x['passes']:6d} {x['macs']:6d} {x['firmware_cycles']:9d} "
              f"{x['engine_cycles']:7d} {x['ideal_cycles']:6.0f} {x['mac_utilisation']:8.1%}")
    print(f"  {'inference on the accelerator (rdcycle)':36s} {'':6s} {macs:6d} {accel:9d} "
          f"{report['engine_cycles_per_inference']:7d} {macs / CONFIG.macs:6.0f}")
    if sw:
        print(f"  same network in plain C on the core: {sw} cycles (logits equal: "
              f"{'yes' if sw_ok else 'NO'}); speedup {sw / accel:.1f}x")
    print(f"written: {out} ({report['seconds']} s)")
    return 0 if all(exact) and sw_ok is not False and hw_acc == lite_acc_n else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

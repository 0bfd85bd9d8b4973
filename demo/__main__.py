"""``python -m demo [-n N]`` (``make demo N=...``): the digits CNN as firmware on the SoC RTL, end to end.

1. compiles models/digits_int8.tflite into conv-engine layers (compiler/) and prints the schedule;
2. generates the whole schedule as C data (compiler/firmware.py) and builds the network firmware
   (firmware/net/net.c: a generic driver loop issuing the accelerator's custom-0 commands);
3. runs the first N held-out test images (default 5) on the SoC RTL in simulation (hw/soc.py: RV32I
   core + RAMs + UART + the accelerator on the CFU port; Verilator by default, SIM=icarus): one
   simulator build, one firmware; each image is written into the firmware's input buffer through the
   SoC's loader port, the core runs the inference and prints the logits and the rdcycle count of the
   inference over the UART, which the testbench decodes from the TX pin;
4. prints per image the prediction, LiteRT's prediction (BUILTIN_REF), whether all logits are
   bit-identical (to LiteRT and to golden.run_network) and the cycles per inference;
5. writes build/reports/demo.png (the images with their labels and predictions) and demo.json;
6. summary: hardware accuracy on the N images (must equal int8 LiteRT's), float / int8 accuracy on the
   whole held-out split, per-layer cycles (whole firmware path and engine CYCLES) and MAC utilisation
   (ideal = N*M*C*E*F*R*S / 16). The plain-C baseline and the speedup: ``make bench`` (bench/digits.py).

Exit status 0 only if every logit is bit-identical to LiteRT and golden.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from sim.runner import BUILD, simulator_name

__all__ = ["main", "write_png"]


def write_png(path, images, labels, predictions, ok):
    """A grid of the 8x8 images (upscaled), each with 'label -> prediction' (green if correct) and a
    mark whether the hardware logits were bit-identical to LiteRT."""
    from PIL import Image, ImageDraw, ImageFont

    n = len(images)
    cols = min(n, 10)
    rows = -(-n // cols)
    scale, pad, text_h = 12, 10, 34
    cell_w, cell_h = 8 * scale + 2 * pad, 8 * scale + text_h + 2 * pad
    title_h = 30
    img = Image.new("RGB", (max(cols * cell_w, 460), rows * cell_h + title_h), "white")
    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.load_default(size=14)
        small = ImageFont.load_default(size=11)
    except TypeError:          # Pillow without FreeType sizes
        font = small = ImageFont.load_default()
    draw.text((pad, 8), "digits CNN as firmware on the SoC RTL (label -> prediction)", fill="black",
              font=font)
    for k, (x, label, pred, same) in enumerate(zip(images, labels, predictions, ok, strict=True)):
        r, c = divmod(k, cols)
        x0, y0 = c * cell_w + pad, r * cell_h + pad + title_h
        pix = np.clip(255 - np.asarray(x, np.float64).reshape(8, 8) * 255, 0, 255).astype(np.uint8)
        tile = Image.fromarray(pix, "L").resize((8 * scale, 8 * scale), Image.NEAREST)
        img.paste(tile, (x0, y0))
        colour = (0, 140, 0) if pred == label else (200, 0, 0)
        draw.rectangle([x0 - 2, y0 - 2, x0 + 8 * scale + 1, y0 + 8 * scale + 1], outline=colour, width=2)
        draw.text((x0, y0 + 8 * scale + 4), f"{label} -> {pred}", fill=colour, font=font)
        draw.text((x0, y0 + 8 * scale + 20), "= LiteRT" if same else "!= LiteRT",
                  fill=(80, 80, 80) if same else (200, 0, 0), font=small)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--images", type=int, default=5, help="held-out test images to run (default 5)")
    ap.add_argument("--start", type=int, default=0, help="first held-out image (default 0)")
    ap.add_argument("--out", type=Path, default=BUILD / "reports" / "demo.png")
    ap.add_argument("--seed", type=int, default=1, help="cocotb seed")
    args = ap.parse_args(argv)

    from tqdm import tqdm

    from compiler import compile_tflite
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
    from sim.soc import soc_design

    from .soc import SOC, SocRunError, compare, network_firmware, run_images

    CONFIG = SOC.engine

    t0 = time.time()
    _, _, x_te, y_te = load_split()
    if args.images < 1 or args.start < 0 or args.start + args.images > len(x_te):
        ap.error(f"--start + --images must be within the {len(x_te)} held-out images")
    sel = np.arange(args.start, args.start + args.images)
    metrics = load_metrics()
    schedule = compile_tflite(MODEL_PATH, CONFIG)
    print(f"model {MODEL_PATH.name} ({len(model_bytes())} bytes) -> {len(schedule.layers)} engine layers on "
          f"{CONFIG.rows}x{CONFIG.cols} MAC tile ({CONFIG.name}):")
    print(schedule.table())

    lite = LiteRTModel(model_bytes())
    xq_all = quantise_images(x_te)
    lite_all = lite.logits(xq_all)
    int8_acc = accuracy(lite_all, y_te)
    xq = xq_all[sel]
    lite_sel = lite_all[sel]
    gold_sel = [run_network(schedule.net, x[None]).reshape(-1) for x in xq]

    sim = simulator_name()
    fw = network_firmware(MODEL_PATH, SOC, schedule=schedule)
    print(f"\nfirmware {fw.image.elf.relative_to(BUILD.parent)}: {4 * len(fw.image.imem)} bytes of code, "
          f"{fw.dmem_bytes} bytes of DMEM (data + stack reserve); input at 0x{fw.io_addr:08x}")
    print(f"building / loading the {sim} model of the SoC ...", flush=True)
    t_build = time.time()
    soc, design = soc_design(SOC)
    t_build = time.time() - t_build
    print(f"SoC: IMEM {4 * soc.imem_words} bytes, DMEM {4 * soc.dmem_words} bytes, UART {soc.clocks_per_bit} "
          f"clocks per bit ({t_build:.1f} s)")

    bar = tqdm(total=len(sel), desc=f"SoC RTL ({sim})", unit="img", file=sys.stdout)

    def on_result(r):
        k = r["n"]
        c = compare(r, lite_sel[k], gold_sel[k])
        label = int(y_te[sel[k]])
        pred = int(np.argmax(r["logits"])) if r.get("logits") else None
        same = bool(c["match_litert"] and c["match_golden"])
        bar.write(f"image {int(sel[k]):3d}: label {label}  hardware -> {pred}  LiteRT -> "
                  f"{int(np.argmax(lite_sel[k]))}  logits bit-identical: {'yes' if same else 'NO'}  "
                  f"cycles {r.get('accel_cycles')}")
        bar.update(1)

    t_sim = time.time()
    failed = None
    try:
        results = run_images(fw, xq, ids=sel, run_name="demo", seed=args.seed, design=design,
                             on_result=on_result)
    except SocRunError as exc:
        results, failed = exc.results, exc
    bar.close()
    t_sim = time.time() - t_sim
    for r in results:
        c = compare(r, lite_sel[r["n"]], gold_sel[r["n"]])
        r["litert"] = lite_sel[r["n"]].tolist()
        r["golden"] = gold_sel[r["n"]].tolist()
        r["match_litert"], r["match_golden"] = bool(c["match_litert"]), bool(c["match_golden"])
        r["output"] = r.get("logits") or []

    preds = [int(np.argmax(r["output"])) if r["output"] else -1 for r in results]
    labels = [int(y_te[sel[r["n"]]]) for r in results]
    ok = [bool(r["match_litert"] and r["match_golden"]) for r in results]
    if results:
        write_png(args.out, x_te[sel[: len(results)]], labels, preds, ok)
    n = len(results)
    hw_acc = float(np.mean(np.array(preds) == np.array(labels))) if n else 0.0
    lite_acc_n = accuracy(lite_sel[:n], y_te[sel[:n]]) if n else 0.0

    print(f"\nsummary ({n} image(s) on the RTL, {sim}):")
    print(f"  hardware accuracy          {hw_acc:.1%} ({sum(np.array(preds) == np.array(labels))}/{n})")
    print(f"  int8 LiteRT, same images   {lite_acc_n:.1%}   "
          f"{'(equal)' if hw_acc == lite_acc_n else '(DIFFERENT)'}")
    print(f"  logits bit-identical to LiteRT and golden.run_network: {sum(ok)}/{n} images")
    print(f"  held-out split ({len(y_te)} images): float {metrics['float_accuracy']:.2%}, int8 "
          f"{metrics['int8_accuracy']:.2%} (training script); int8 LiteRT now {int8_acc:.2%}")
    if results:
        print(f"  cycles per inference (rdcycle around the firmware's inference): "
              f"{np.mean([r['accel_cycles'] for r in results]):.0f}")
        print(f"  {'engine layer':36s} {'cycles':>7s} {'engine':>7s} {'ideal':>6s} {'MAC util':>8s}")
        for i, layer in enumerate(schedule.layers):
            cyc = np.mean([r["layers"][i]["cycles"] for r in results])
            eng = np.mean([r["layers"][i]["engine_cycles"] for r in results])
            ideal = layer.ideal_cycles(CONFIG)
            print(f"  {layer.name[:36]:36s} {cyc:7.0f} {eng:7.0f} {ideal:6.0f} {ideal / eng:8.1%}")
        print(f"  image: {args.out}")
    report = {"images": [int(i) for i in sel[:n]], "labels": labels, "predictions": preds,
              "bit_identical": ok, "hardware_accuracy": hw_acc, "litert_accuracy_same_images": lite_acc_n,
              "float_accuracy_heldout": metrics["float_accuracy"], "int8_accuracy_heldout": int8_acc,
              "results": results, "simulator": sim, "firmware": str(fw.image.elf), "build_seconds": t_build,
              "sim_seconds": t_sim,
              "total_seconds": time.time() - t0}
    (args.out.parent / "demo.json").write_text(json.dumps(report, indent=1))
    print(f"  time: {t_build:.1f} s build/load, {t_sim:.1f} s simulation "
          f"({t_sim / max(n, 1):.1f} s per image), {time.time() - t0:.1f} s in all")
    if failed is not None:
        print(f"error: {failed}", file=sys.stderr)
        return 1
    if not all(ok) or hw_acc != lite_acc_n or int8_acc != metrics["int8_accuracy"]:
        print("error: the hardware does not match int8 LiteRT", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

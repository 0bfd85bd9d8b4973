"""How often does LiteRT's FULLY_CONNECTED op (float requantisation) differ from golden's integer FC?
And TFLite Micro's FULLY_CONNECTED op (integer requantisation), on the same models?

    .venv/bin/python tests/conformance/fc_float_report.py [--count 2000] [--seed 1]

golden.fully_connected follows the integer path (TFLite Micro / classic TFLite); the conformance
suite proves it bit-exact against TFLite Micro's FULLY_CONNECTED op and against LiteRT through the
same FC written as a 1x1 CONV_2D.  LiteRT's current reference FULLY_CONNECTED computes
zp + round(acc * (double)(in_scale * w_scale / out_scale)) instead.
"""

import argparse
from collections import Counter

import numpy as np

from golden import conformance as cf
from golden.network import run_network
from golden.tflite_build import build_tflite, run_litert
from golden.tflm import run_tflm


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    for per_channel in (False, True):
        cfg_diff = el_diff = elements = tflm_cfg_diff = tflm_el_diff = 0
        hist = Counter()
        for _ in range(args.count):
            net, x, _desc = cf.random_fc(rng, per_channel=per_channel)
            model, golden_out = build_tflite(net), run_network(net, x).astype(int)
            d = run_litert(model, x).astype(int) - golden_out
            cfg_diff += bool(d.any())
            el_diff += int((d != 0).sum())
            elements += d.size
            hist.update(d[d != 0].tolist())
            dt = run_tflm(model, x).astype(int) - golden_out
            tflm_cfg_diff += bool(dt.any())
            tflm_el_diff += int((dt != 0).sum())
        kind = "per-channel" if per_channel else "per-tensor "
        print(
            f"{kind} FC, seed {args.seed}: LiteRT: {cfg_diff}/{args.count} configurations "
            f"({100.0 * cfg_diff / args.count:.1f}%) and {el_diff}/{elements} output elements "
            f"({100.0 * el_diff / elements:.3f}%) differ, LiteRT - golden: {dict(sorted(hist.items()))}; "
            f"TFLM: {tflm_cfg_diff}/{args.count} configurations and {tflm_el_diff}/{elements} "
            f"elements differ"
        )


if __name__ == "__main__":
    main()

"""How often does LiteRT's FULLY_CONNECTED op (float requantisation) differ from golden's integer FC?

    .venv/bin/python tests/conformance/fc_float_report.py [--count 2000] [--seed 1]

golden.fully_connected follows the integer path (TFLite Micro / classic TFLite); the conformance
suite proves it bit-exact through the same FC written as a 1x1 CONV_2D.  LiteRT's current reference
FULLY_CONNECTED computes zp + round(acc * (double)(in_scale * w_scale / out_scale)) instead.
"""

import argparse
from collections import Counter

import numpy as np

from golden import conformance as cf
from golden.network import run_network
from golden.tflite_build import build_tflite, run_litert


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    for per_channel in (False, True):
        cfg_diff = el_diff = elements = 0
        hist = Counter()
        for _ in range(args.count):
            net, x, _desc = cf.random_fc(rng, per_channel=per_channel)
            d = run_litert(build_tflite(net), x).astype(int) - run_network(net, x).astype(int)
            cfg_diff += bool(d.any())
            el_diff += int((d != 0).sum())
            elements += d.size
            hist.update(d[d != 0].tolist())
        kind = "per-channel" if per_channel else "per-tensor "
        print(
            f"{kind} FC, seed {args.seed}: {cfg_diff}/{args.count} configurations "
            f"({100.0 * cfg_diff / args.count:.1f}%) and {el_diff}/{elements} output elements "
            f"({100.0 * el_diff / elements:.3f}%) differ; LiteRT - golden: {dict(sorted(hist.items()))}"
        )


if __name__ == "__main__":
    main()

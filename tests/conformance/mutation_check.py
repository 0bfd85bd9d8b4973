"""Does the conformance suite catch a wrong golden/?  Mutation switch + counter.

Temporarily replaces golden's rounding helpers (in this process only, restored afterwards -- golden/
on disk is never touched) with plausible mistakes and counts how many random conformance
configurations then fail, per operator and per reference engine (LiteRT with its reference kernels,
FULLY_CONNECTED as a 1x1 CONV_2D; TFLite Micro, FULLY_CONNECTED as itself).

    .venv/bin/python tests/conformance/mutation_check.py [--count 200] [--seed 1]

Mutations:
  half_even        RoundingDivideByPOT rounds ties to even instead of away from zero
  single_rounding  TFLITE_SINGLE_ROUNDING formula: (acc * M + 2^(30 - shift)) >> (31 - shift) in 64 bit
  srdhm_symmetric  SaturatingRoundingDoublingHighMul rounds ties away from zero (not toward +inf)
  no_double_round  exact single rounding half away from zero of acc * M * 2^(shift - 31)
  saturate         saturate instead of wrapping (left shift, output zero point)
  avg_floor        average pooling divides with floor instead of rounding
"""

import argparse
import contextlib
import sys
from collections import Counter

import numpy as np

import golden.pool
import golden.quant as q
from golden import conformance as cf
from golden.network import Conv2D, Network, run_network
from golden.tflite_build import build_tflite, run_litert
from golden.tflm import run_tflm

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _rdbpot_half_even(x, e):
    mask = (np.int64(1) << e) - 1
    rem = x & mask
    half = np.where(e > 0, np.int64(1) << np.maximum(e - 1, 0), 0)
    fl = x >> e
    up = (rem > half) | ((rem == half) & (e > 0) & (fl & 1 == 1))
    return fl + up.astype(np.int64)


def _mbqm_single(acc, m, s):
    total = 31 - s
    return ((acc * m + (np.int64(1) << (total - 1))) >> total).astype(np.int64)


def _srdhm_symmetric(a, b):
    ab = a * b
    t = np.abs(ab) + (1 << 30)
    return np.sign(ab) * (t >> 31)


def _mbqm_exact(acc, m, s):
    total = 31 - s  # 1..62: acc * m < 2^62 fits
    t = np.abs(acc * m) + (np.int64(1) << (total - 1))
    return np.sign(acc) * (t >> total)


def _mbqm_saturate(acc, m, s):
    left = np.maximum(s, 0)
    shifted = np.clip(acc << left, INT32_MIN, INT32_MAX)
    high = q.saturating_rounding_doubling_high_mul(shifted, m)
    return q.rounding_divide_by_pot(high, np.maximum(-s, 0)).astype(np.int64)


def _requantize_saturate(acc, m, s, zp, act_min, act_max):
    v = np.clip(_mbqm_saturate(np.asarray(acc, np.int64), m, s) + zp, INT32_MIN, INT32_MAX)
    return np.clip(v, act_min, act_max).astype(np.int8)


def _avg_pool_floor(x, filter_size, stride=(1, 1), padding="VALID", act_min=-128, act_max=127):
    total = count = None
    for win, inside in golden.pool.windows(x, filter_size, stride, padding):
        total = win if total is None else total + win
        count = inside.astype(np.int64) if count is None else count + inside
    return np.clip(total // count, act_min, act_max).astype(np.int8)


MUTATIONS = {
    "half_even": [(q, "_rdbpot", _rdbpot_half_even)],
    "single_rounding": [(q, "_mbqm", _mbqm_single)],
    "srdhm_symmetric": [(q, "_srdhm", _srdhm_symmetric)],
    "no_double_round": [(q, "_mbqm", _mbqm_exact)],
    "saturate": [
        (q, "_mbqm", _mbqm_saturate),
        (q, "_requantize", _requantize_saturate),
        (golden.conv, "_requantize", _requantize_saturate),
    ],
    "avg_floor": [
        (golden.pool, "avg_pool2d", _avg_pool_floor),  # golden.network calls it through the module
    ],
}


@contextlib.contextmanager
def mutated(name):
    """Apply mutation ``name`` to golden (in memory) for the duration of the block."""
    saved = [(mod, attr, getattr(mod, attr)) for mod, attr, _ in MUTATIONS[name]]
    try:
        for mod, attr, fn in MUTATIONS[name]:
            setattr(mod, attr, fn)
        yield
    finally:
        for mod, attr, fn in saved:
            setattr(mod, attr, fn)


ENGINES = ("LiteRT", "TFLM")

OPERATORS = {
    "conv2d": cf.random_conv,
    "depthwise_conv2d": cf.random_depthwise,
    "fully_connected": cf.random_fc,
    "max_pool2d": lambda rng: cf.random_pool(rng, "max"),
    "avg_pool2d": lambda rng: cf.random_pool(rng, "avg"),
}


def make_cases(seed, count, edge_repeats=0):
    """Random configurations (and edge_repeats of every fixed edge case, operator name suffixed
    "+edges") with their reference outputs {engine: output} (ENGINES), computed once, unmutated."""
    rng = np.random.default_rng(seed)
    jobs = [(op, gen, None) for op, gen in OPERATORS.items() for _ in range(count)]
    for op in ("conv2d", "depthwise_conv2d", "fully_connected"):
        jobs += [(op, OPERATORS[op], e) for e in cf.EDGE_CASES for _ in range(edge_repeats)]
    for op in ("max_pool2d", "avg_pool2d"):
        kind = op[:3]
        jobs += [
            (op, lambda r, e, k=kind: cf.random_pool(r, k, e), e)
            for e in cf.POOL_EDGES
            for _ in range(edge_repeats)
        ]
    cases = []
    for op, gen, edge in jobs:
        if edge is None:
            net, x, _desc = gen(rng)
        else:
            net, x, _desc = gen(rng, edge)
            op = op + "+edges"
        if op.startswith("fully_connected"):  # LiteRT's integer path: the FC as a 1x1 CONV_2D
            fc = net.layers[0]
            layer = Conv2D(
                fc.weights[:, None, None, :].copy(),
                fc.bias,
                fc.weight_scales,
                fc.input,
                fc.output,
                activation=fc.activation,
            )
            litert = run_litert(
                build_tflite(Network((x.shape[0], 1, 1, x.shape[1]), fc.input, [layer])),
                x.reshape(x.shape[0], 1, 1, x.shape[1]),
            ).reshape(x.shape[0], -1)
        else:
            litert = run_litert(build_tflite(net), x)
        cases.append((op, net, x, {"LiteRT": litert, "TFLM": run_tflm(build_tflite(net), x)}))
    return cases


def count_failures(cases, mutation=None, engine="LiteRT"):
    """Per operator: number of configurations where golden (optionally mutated) != ``engine``'s output
    (and under key (op, "elements") the number of differing output elements)."""
    if engine not in ENGINES:
        raise ValueError(f"engine = {engine!r} is not one of {ENGINES}")
    fails = Counter()
    ctx = mutated(mutation) if mutation else contextlib.nullcontext()
    with ctx:
        for op, net, x, refs in cases:
            ref = refs[engine]
            out = run_network(net, x)
            if not np.array_equal(out, ref):
                fails[op] += 1
                fails[op, "elements"] += int((out != ref).sum())
    return fails


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200, help="random configurations per operator")
    ap.add_argument("--edge-repeats", type=int, default=3, help="repeats of every fixed edge case")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    cases = make_cases(args.seed, args.count, args.edge_repeats)
    totals = Counter(op for op, *_ in cases)
    elements = Counter()
    for op, _n, _x, refs in cases:
        elements[op] += refs["LiteRT"].size
    ops = list(totals)
    print(
        f"seed {args.seed}: {args.count} random configurations per operator, "
        f"{args.edge_repeats} repeats of each "
        f"fixed edge case (rows '+edges'). Failing configurations (differing elements) per engine:"
    )
    for name in [None, *MUTATIONS]:
        fails = {e: count_failures(cases, name, e) for e in ENGINES}
        print(f"  {name or '(golden as is)':26s}" + "".join(f"   {e:<40s}" for e in ENGINES).rstrip())
        for op in ops:
            cols = "".join(
                f"{f[op]:4d}/{totals[op]:<4d} configs {f[op, 'elements']:6d}/{elements[op]:<6d} elements   "
                for f in fails.values()
            )
            print(f"    {op:24s}{cols.rstrip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

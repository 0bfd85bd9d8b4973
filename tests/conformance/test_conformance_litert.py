"""golden/ against LiteRT (reference kernels) and TFLite Micro: every output element must be equal.

Small int8 .tflite models are built in the test (golden.tflite_build) with random weights and random
quantisation parameters (golden.conformance), and run in both engines.  FULLY_CONNECTED: TFLite
Micro runs the FULLY_CONNECTED op itself; LiteRT runs the same FC written as a 1x1 CONV_2D (its
FULLY_CONNECTED op requantises in floating point: test_litert_float_fully_connected_report).
Default: a quick set; CONFORMANCE=full: >= 200 random configurations per operator (plus more repeats
of every fixed edge case).  SEED=<int> replays.
"""

import numpy as np
import pytest

from golden import conformance as cf
from golden import conv as gconv
from golden.network import Conv2D, FullyConnected, Network, run_network
from golden.tflite_build import build_tflite, run_litert
from golden.tflm import run_tflm
from sim.options import conformance_full

FULL = conformance_full()
CHUNKS = 4  # random configurations are split so pytest-xdist can spread them
N_RANDOM = 1000 if FULL else 100  # per operator (all chunks together)
N_EDGE = 20 if FULL else 3  # repeats of every fixed edge case
ENGINES = ("LiteRT", "TFLM")

GENERATORS = {
    "conv2d": cf.random_conv,
    "depthwise_conv2d": cf.random_depthwise,
    "fully_connected": cf.random_fc,  # LiteRT: as a 1x1 CONV_2D; TFLM: the FULLY_CONNECTED op
    "max_pool2d": lambda rng, edge=None: cf.random_pool(rng, "max", edge),
    "avg_pool2d": lambda rng, edge=None: cf.random_pool(rng, "avg", edge),
}


def fc_as_conv(net, x):
    """The same FULLY_CONNECTED written as a 1x1 CONV_2D on [N][1][1][C] (LiteRT's integer path)."""
    fc = net.layers[0]
    n, c = x.shape
    layer = Conv2D(
        fc.weights[:, None, None, :].copy(),
        fc.bias,
        fc.weight_scales,
        fc.input,
        fc.output,
        activation=fc.activation,
    )
    return Network((n, 1, 1, c), fc.input, [layer]), x.reshape(n, 1, 1, c)


def engine_outputs(net, x):
    """{engine: output} for a one-layer network, each engine on its integer path."""
    model = build_tflite(net)
    if isinstance(net.layers[0], FullyConnected):
        conv_net, conv_x = fc_as_conv(net, x)
        litert = run_litert(build_tflite(conv_net), conv_x).reshape(x.shape[0], -1)
    else:
        litert = run_litert(model, x)
    return {"LiteRT": litert, "TFLM": run_tflm(model, x)}


def _mismatch(got, expected, desc):
    """None if equal, else a one-line description of the mismatch."""
    if got.shape != expected.shape:
        return f"{desc}: shape {got.shape} != {expected.shape}"
    d = np.abs(got.astype(int) - expected.astype(int))
    if not d.any():
        return None
    return f"{desc}: {int((d > 0).sum())}/{d.size} elements differ, max |diff| {int(d.max())}"


def _run(rng, gen, count, edge=None):
    """(failures, stats): failure lines "<engine>: <desc>: ..." and, per engine, [equal configurations,
    equal elements, elements]."""
    failures = []
    stats = {e: [0, 0, 0] for e in ENGINES}
    for _ in range(count):
        net, x, desc = gen(rng, edge=edge) if edge else gen(rng)
        expected = run_network(net, x)
        for engine, got in engine_outputs(net, x).items():
            msg = _mismatch(got, expected, desc)
            st = stats[engine]
            st[0] += msg is None
            st[1] += int((got == expected).sum()) if got.shape == expected.shape else 0
            st[2] += expected.size
            if msg:
                failures.append(f"{engine}: {msg}")
    return failures, stats


def _report(name, count, stats):
    cols = "; ".join(
        f"{e} {c}/{count} configurations, {eq}/{n} elements equal" for e, (c, eq, n) in stats.items()
    )
    print(f"{name}: golden vs {cols}")


@pytest.mark.parametrize("chunk", range(CHUNKS))
@pytest.mark.parametrize("op", list(GENERATORS))
def test_random(rng, op, chunk):
    count = N_RANDOM // CHUNKS
    failures, stats = _run(rng, GENERATORS[op], count)
    _report(op, count, stats)
    assert not failures, f"{len(failures)} mismatches in {count} configurations; first: " + " | ".join(
        failures[:3]
    )


EDGE_PARAMS = [(op, e) for op in ("conv2d", "depthwise_conv2d", "fully_connected") for e in cf.EDGE_CASES]
EDGE_PARAMS += [(op, e) for op in ("max_pool2d", "avg_pool2d") for e in cf.POOL_EDGES]


@pytest.mark.parametrize("op, edge", EDGE_PARAMS, ids=[f"{o}-{e}" for o, e in EDGE_PARAMS])
def test_edge(rng, op, edge):
    failures, stats = _run(rng, GENERATORS[op], N_EDGE, edge)
    _report(f"{op} edge={edge}", N_EDGE, stats)
    assert not failures, f"{len(failures)} mismatches in {N_EDGE} configurations; first: " + " | ".join(
        failures[:3]
    )


def test_edge_cases_hit_their_target(rng):
    """The fixed edge cases really produce the advertised integer parameters."""
    seen = set()
    for edge in ("mult_max", "mult_min", "shift_min", "shift_max"):
        for gen in (cf.random_conv, cf.random_depthwise, cf.random_fc):
            net, _x, _d = gen(rng, edge=edge)
            mult, shift, _lo, _hi = net.layers[0].requant()
            seen |= {(edge, int(m), int(s)) for m, s in zip(mult, shift, strict=True)}
            if edge == "mult_max":
                assert (mult == 2**31 - 1).all()
            elif edge == "mult_min":
                assert (mult == 2**30).all()
            elif edge == "shift_min":
                assert (shift == -31).all()
            else:
                assert (shift == 30).all()
    assert len(seen) >= 4


def _float_fc_model(net, x):
    """What LiteRT's current reference FULLY_CONNECTED computes: v = round_half_away(acc * (double)real)
    converted to int32, + zp, clamped.  A v outside int32 converts to INT32_MIN (C++ leaves that
    conversion undefined; x86-64's cvttsd2si gives INT32_MIN), and adding the zero point wraps."""
    fc = net.layers[0]
    acc = gconv.fully_connected_accumulate(x, fc.weights, fc.bias, fc.input.zero_point).astype(np.float64)
    real = (
        np.float64(fc.input.scale)
        * np.broadcast_to(fc.weight_scales, (fc.out_channels,)).astype(np.float64)
        / np.float64(fc.output.scale)
    )
    v = acc * real
    v = np.sign(v) * np.floor(np.abs(v) + 0.5)
    i32 = np.where((v >= 2.0**31) | (v < -(2.0**31)), -(2**31), v).astype(np.int64)
    i32 = (i32 + fc.output.zero_point + 2**31) % 2**32 - 2**31
    _m, _s, lo, hi = fc.requant()
    return np.clip(i32, lo, hi).astype(np.int8)


def test_litert_float_fully_connected_report(rng):
    """The FULLY_CONNECTED op itself, on random and edge configurations: TFLite Micro (integer
    requantisation) equals golden everywhere; LiteRT's reference FC requantises in floating point,
    so the test counts where it differs from golden and checks that the float model above explains
    every LiteRT output.  On random configurations the difference is at most 1."""
    n_cfg = 400 if FULL else 100
    jobs = [(None, bool(rng.random() < 0.3)) for _ in range(n_cfg)]
    jobs += [(e, bool(rng.random() < 0.3)) for e in cf.EDGE_CASES for _ in range(N_EDGE)]
    # per kind ("random" / "edge"): configurations, LiteRT configurations differing, elements,
    # LiteRT elements differing, max |LiteRT - golden|, float model mismatches, TFLM elements differing
    st = {k: [0] * 7 for k in ("random", "edge")}
    tflm_failures = []
    for edge, per_channel in jobs:
        net, x, desc = cf.random_fc(rng, edge, per_channel=per_channel)
        model = build_tflite(net)
        golden_out = run_network(net, x)
        litert_fc = run_litert(model, x)
        tflm_fc = run_tflm(model, x)
        d = np.abs(golden_out.astype(int) - litert_fc.astype(int))
        s = st["random" if edge is None else "edge"]
        s[0] += 1
        s[1] += bool(d.any())
        s[2] += d.size
        s[3] += int((d > 0).sum())
        s[4] = max(s[4], int(d.max()))
        s[5] += int((_float_fc_model(net, x) != litert_fc).sum())
        s[6] += int((tflm_fc != golden_out).sum())
        if s[6] and len(tflm_failures) < 3:
            tflm_failures.append(_mismatch(tflm_fc, golden_out, desc))
    for kind, (n, cfg_d, el, el_d, mx, model_mm, tflm_d) in st.items():
        print(
            f"FULLY_CONNECTED op, {kind} configurations: TFLM vs golden {el - tflm_d}/{el} elements "
            f"equal; LiteRT (float requantisation) vs golden {cfg_d}/{n} configurations and "
            f"{el_d}/{el} elements ({100.0 * el_d / max(el, 1):.3f}%) differ, max |diff| {mx}; "
            f"float model mismatches {model_mm}"
        )
    assert not tflm_failures, tflm_failures
    assert st["random"][4] <= 1
    assert st["random"][5] == 0 and st["edge"][5] == 0


def test_suite_catches_wrong_golden(base_seed):
    """Mutation check: every plausible rounding / wrapping mistake in golden/ (applied in memory and
    restored) makes some configurations fail against LiteRT and against TFLite Micro.  Full numbers:
    tests/conformance/mutation_check.py."""
    import mutation_check as mc

    cases = mc.make_cases(base_seed, 30 if FULL else 12, edge_repeats=3 if FULL else 2)
    report = {}
    for engine in mc.ENGINES:
        assert sum(mc.count_failures(cases, engine=engine).values()) == 0, engine
        for name in mc.MUTATIONS:
            fails = mc.count_failures(cases, name, engine)
            report[engine, name] = sum(v for k, v in fails.items() if isinstance(k, str))
    print(f"configurations failing per (engine, mutation) (of {len(cases)}): {report}")
    assert all(report.values()), report

"""golden/ against the LiteRT interpreter (reference kernels): every output element must be equal.

Small int8 .tflite models are built in the test (golden.tflite_build) with random weights and random
quantisation parameters (golden.conformance).  Default: a quick set; CONFORMANCE=full: >= 200 random
configurations per operator (plus more repeats of every fixed edge case).  SEED=<int> replays.
"""


import numpy as np
import pytest

from golden import conformance as cf
from golden import conv as gconv
from golden.network import Conv2D, FullyConnected, Network, run_network
from golden.tflite_build import build_tflite, run_litert
from sim.options import conformance_full

FULL = conformance_full()
CHUNKS = 4  # random configurations are split so pytest-xdist can spread them
N_RANDOM = 1000 if FULL else 100  # per operator (all chunks together)
N_EDGE = 20 if FULL else 3  # repeats of every fixed edge case

GENERATORS = {
    "conv2d": cf.random_conv,
    "depthwise_conv2d": cf.random_depthwise,
    "fully_connected_as_conv": cf.random_fc,  # FC checked bit-exact through a 1x1 CONV_2D
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


def _compare(net, x, desc):
    """None if golden == LiteRT, else a one-line description of the mismatch."""
    expected = run_network(net, x)
    if isinstance(net.layers[0], FullyConnected):
        conv_net, conv_x = fc_as_conv(net, x)
        got = run_litert(build_tflite(conv_net), conv_x).reshape(expected.shape)
    else:
        got = run_litert(build_tflite(net), x)
    if got.shape == expected.shape and np.array_equal(got, expected):
        return None
    if got.shape != expected.shape:
        return f"{desc}: shape {got.shape} != {expected.shape}"
    d = np.abs(got.astype(int) - expected.astype(int))
    return f"{desc}: {int((d > 0).sum())}/{d.size} elements differ, max |diff| {int(d.max())}"


def _run(rng, gen, count, edge=None):
    failures = []
    for _ in range(count):
        net, x, desc = gen(rng, edge=edge) if edge else gen(rng)
        msg = _compare(net, x, desc)
        if msg:
            failures.append(msg)
    return failures


@pytest.mark.parametrize("chunk", range(CHUNKS))
@pytest.mark.parametrize("op", list(GENERATORS))
def test_random(rng, op, chunk):
    count = N_RANDOM // CHUNKS
    failures = _run(rng, GENERATORS[op], count)
    print(f"{op}: {count - len(failures)}/{count} random configurations bit-exact")
    assert not failures, f"{len(failures)}/{count} configurations differ; first: " + " | ".join(failures[:3])


EDGE_PARAMS = [
    (op, e) for op in ("conv2d", "depthwise_conv2d", "fully_connected_as_conv") for e in cf.EDGE_CASES
]
EDGE_PARAMS += [(op, e) for op in ("max_pool2d", "avg_pool2d") for e in cf.POOL_EDGES]


@pytest.mark.parametrize("op, edge", EDGE_PARAMS, ids=[f"{o}-{e}" for o, e in EDGE_PARAMS])
def test_edge(rng, op, edge):
    failures = _run(rng, GENERATORS[op], N_EDGE, edge)
    assert not failures, f"{len(failures)}/{N_EDGE} configurations differ; first: " + " | ".join(failures[:3])


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
    """What LiteRT's current reference FULLY_CONNECTED computes: zp + round(acc * (double)real), clamped."""
    fc = net.layers[0]
    acc = gconv.fully_connected_accumulate(x, fc.weights, fc.bias, fc.input.zero_point).astype(np.float64)
    real = (
        np.float64(fc.input.scale)
        * np.broadcast_to(fc.weight_scales, (fc.out_channels,)).astype(np.float64)
        / np.float64(fc.output.scale)
    )
    v = acc * real
    _m, _s, lo, hi = fc.requant()
    return np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5) + fc.output.zero_point, lo, hi).astype(np.int8)


def test_litert_float_fully_connected_report(rng):
    """LiteRT's FULLY_CONNECTED op itself requantises in floating point: count how often it differs
    from golden's integer FC (which the 1x1-conv tests prove bit-exact), and check that a float
    model explains every difference."""
    n_cfg = 400 if FULL else 100
    configs_differ = elements_differ = elements = max_diff = model_mismatch = 0
    for _ in range(n_cfg):
        net, x, _desc = cf.random_fc(rng, per_channel=bool(rng.random() < 0.3))
        golden_out = run_network(net, x)
        litert_fc = run_litert(build_tflite(net), x)
        d = np.abs(golden_out.astype(int) - litert_fc.astype(int))
        configs_differ += bool(d.any())
        elements_differ += int((d > 0).sum())
        elements += d.size
        max_diff = max(max_diff, int(d.max()))
        model_mismatch += int((_float_fc_model(net, x) != litert_fc).sum())
    print(
        f"LiteRT FULLY_CONNECTED (float requantisation) vs golden integer FC: {configs_differ}/{n_cfg} "
        f"configurations and {elements_differ}/{elements} elements "
        f"({100.0 * elements_differ / max(elements, 1):.3f}%) differ, max |diff| = {max_diff}; "
        f"float model mismatches: {model_mismatch}"
    )
    assert max_diff <= 1
    assert model_mismatch == 0


def test_suite_catches_wrong_golden(base_seed):
    """Mutation check: every plausible rounding / wrapping mistake in golden/ (applied in memory and
    restored) makes some LiteRT configurations fail.  Full numbers: tests/conformance/mutation_check.py."""
    import mutation_check as mc

    cases = mc.make_cases(base_seed, 30 if FULL else 12, edge_repeats=3 if FULL else 2)
    assert sum(mc.count_failures(cases).values()) == 0
    report = {}
    for name in mc.MUTATIONS:
        fails = mc.count_failures(cases, name)
        report[name] = sum(v for k, v in fails.items() if isinstance(k, str))
    print(f"configurations failing per mutation (of {len(cases)}): {report}")
    assert all(report.values()), report

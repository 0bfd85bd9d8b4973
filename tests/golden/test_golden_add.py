"""golden/add.py: the table form of ADD (what the SoC firmware computes) equals ``add_int8`` on every
(x1, x2) int8 pair, for random and edge quantisation and clamps.  ``add_int8`` itself is checked
against LiteRT and TFLite Micro in tests/conformance/test_conformance_graph.py and, on every pair, in
tests/test_tflite_ref_c.py.  SEED=<int> replays.
"""

import numpy as np
import pytest

from golden.add import add_by_tables, add_int8, add_params, add_tables
from golden.network import Add, Network, QuantParams, run_network
from golden.quant import activation_range
from sim.options import full

X1, X2 = (a.astype(np.int8) for a in np.meshgrid(np.arange(-128, 128), np.arange(-128, 128)))
CASES = 200 if full() else 25


def _random_quant(rng, edge):
    s1, s2, so = (float(np.float32(10 ** rng.uniform(-3, 0))) for _ in range(3))
    z1, z2, zo = (int(v) for v in rng.integers(-128, 128, 3))
    if edge == "ratio":
        s2 = s1 * float(rng.choice([1000.0, 0.001]))
    elif edge == "zero_points":
        z1, z2, zo = -128, 127, int(rng.choice([-128, 127]))
    elif edge == "saturate":
        so = min(s1, s2) / 100
    elif edge == "coarse":
        so = max(s1, s2) * 50
    so = max(so, 4 * max(s1, s2) / (1 << 20))  # TFLite requires an output multiplier < 1
    return QuantParams(s1, z1), QuantParams(s2, z2), QuantParams(so, zo)


@pytest.mark.parametrize("edge", ["random", "ratio", "zero_points", "saturate", "coarse", "relu", "relu6"])
def test_tables_equal_the_kernel_on_every_pair(rng, edge):
    for _ in range(CASES):
        q1, q2, qo = _random_quant(rng, edge)
        act = edge.upper() if edge.startswith("relu") else "NONE"
        p = add_params(q1.scale, q1.zero_point, q2.scale, q2.zero_point, qo.scale, qo.zero_point)
        lo, hi = activation_range(act, qo.scale, qo.zero_point)
        tables = add_tables(p, lo, hi)
        t = tables.thresholds
        assert len(t) == hi - lo and (np.diff(t) >= 0).all() and len(tables.start) <= 1024
        firsts = tables.base + (np.arange(len(tables.start), dtype=np.int64) << tables.shift)
        assert all(tables.start[b] == int((t < f).sum()) for b, f in enumerate(firsts))
        got, want = add_by_tables(X1, X2, tables), add_int8(X1, X2, p, lo, hi)
        assert np.array_equal(got, want), f"{q1} + {q2} -> {qo} {act}: {int((got != want).sum())} differ"


def test_add_layer_equals_kernel(rng):
    q1, q2, qo = _random_quant(rng, "random")
    layer = Add(q1, q2, qo, "RELU")
    x1, x2 = (rng.integers(-128, 128, (1, 3, 4, 5), dtype=np.int8) for _ in range(2))
    lo, hi = layer.act_range()
    assert np.array_equal(layer(x1, x2), add_int8(x1, x2, layer.params(), lo, hi))
    net = Network((1, 3, 4, 5), q1, [Add(q1, q1, qo)], {0: (0, 0)}).validate()
    assert np.array_equal(run_network(net, x1), add_int8(x1, x1, net.layers[0].params(), -128, 127))


def test_add_params_errors():
    with pytest.raises(ValueError, match=r"input1_scale = 0.0 is out of range"):
        add_params(0.0, 0, 1.0, 0, 1.0, 0)
    with pytest.raises(ValueError, match=r"output_zero_point = 200 is out of range"):
        add_params(1.0, 0, 1.0, 0, 1.0, 200)

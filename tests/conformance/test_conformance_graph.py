"""Graphs and ADD: golden/ against LiteRT's reference kernels, and the .tflite round trip.

A random int8 ADD joins two branches of a small graph (a conv and the block input, a ResNet block);
edge cases push the rescaling to its limits (scales 1000x apart, zero points -128/127, an output
scale that saturates, fused ReLU/ReLU6).  Every output element is compared; SEED=<int> replays.
"""

import numpy as np
import pytest

from golden.network import Add, Conv2D, Network, QuantParams, Reshape, Softmax, run_network
from golden.tflite_build import build_tflite, run_litert, writer_for
from golden.tflite_import import UnsupportedModelError, load_tflite

ADD_EDGES = ("random", "scale_ratio", "zp_extremes", "saturate", "relu", "relu6", "x_extremes")


def _q(rng, lo=-3.0, hi=-1.0):
    return QuantParams(float(10 ** rng.uniform(lo, hi)), int(rng.integers(-128, 128)))


def _conv(rng, c, m, q_in, q_out, activation="NONE"):
    w = rng.integers(-127, 128, size=(m, 3, 3, c), dtype=np.int8)
    bias = rng.integers(-2000, 2000, size=m, dtype=np.int32)
    ws = (10 ** rng.uniform(-3, -2, size=m)).astype(np.float32)
    return Conv2D(w, bias, ws, q_in, q_out, padding="SAME", activation=activation)


def add_block(rng, edge="random"):
    """input -> conv -> ADD(conv output, input): (net, x, description)."""
    h, w, c = (int(v) for v in rng.integers(1, 9, size=3))
    q_in, q_conv, q_out = _q(rng), _q(rng), _q(rng)
    activation = "NONE"
    if edge == "scale_ratio":
        ratio = float(rng.choice([1000.0, 0.001]))  # either operand may be the larger one
        q_conv = QuantParams(q_in.scale * ratio, q_conv.zero_point)
    elif edge == "zp_extremes":
        q_in, q_conv = QuantParams(q_in.scale, -128), QuantParams(q_conv.scale, 127)
        q_out = QuantParams(q_out.scale, int(rng.choice([-128, 127])))
    elif edge == "saturate":
        q_out = QuantParams(min(q_in.scale, q_conv.scale) / 50.0, q_out.zero_point)
    elif edge in ("relu", "relu6"):
        activation = edge.upper()
        q_out = QuantParams(0.05, -128) if edge == "relu6" else q_out
    net = Network((1, h, w, c), q_in, [_conv(rng, c, c, q_in, q_conv), Add(q_conv, q_in, q_out, activation)])
    net.sources[1] = (1, 0)
    if edge == "x_extremes":
        x = rng.choice(np.array([-128, 127], np.int8), size=(1, h, w, c))
    else:
        x = rng.integers(-128, 128, size=(1, h, w, c), dtype=np.int8)
    desc = f"{edge}: {h}x{w}x{c}, in {q_in}, conv {q_conv}, out {q_out}, {activation}"
    return net.validate(), x, desc


@pytest.mark.parametrize("edge", ADD_EDGES)
def test_add_block_matches_litert(rng, edge):
    bad = []
    for _ in range(12):
        net, x, desc = add_block(rng, edge)
        model = build_tflite(net)
        expected = run_network(net, x)
        got = run_litert(model, x)
        if not np.array_equal(got, expected):
            d = np.abs(got.astype(int) - expected.astype(int))
            bad.append(f"{desc}: {int((d > 0).sum())}/{d.size} differ")
        # the importer reads back the same graph
        back = load_tflite(model)
        assert back.sources == net.sources
        assert np.array_equal(run_network(back, x), expected), desc
    assert not bad, "\n".join(bad)


def test_add_operands_swapped_and_shared_input(rng):
    """ADD(input, conv) (operand order matters for the rescaling) and a tensor read by three layers."""
    net, x, _ = add_block(rng)
    conv, add = net.layers
    swapped = Network(net.input_shape, net.input, [conv, Add(add.input2, add.input1, add.output)])
    swapped.sources[1] = (0, 1)
    assert np.array_equal(run_litert(build_tflite(swapped), x), run_network(swapped, x))
    # the input feeds the conv, the ADD and a second ADD of the first ADD's output
    q = add.output
    net.layers.append(Add(q, net.input, _q(rng)))
    net.sources[2] = (2, 0)
    net.validate()
    assert np.array_equal(run_litert(build_tflite(net), x), run_network(net, x))
    assert net.consumers(0) == [0, 1, 2]


def test_graph_validation_errors(rng):
    net, _, _ = add_block(rng)
    with pytest.raises(ValueError, match=r"layers\[1\] \(Add\) has 2 inputs but sources\[1\] = \(1,\)"):
        Network(net.input_shape, net.input, net.layers).validate()
    bad = Network(net.input_shape, net.input, net.layers, {1: (2, 0)})
    with pytest.raises(
        ValueError, match=r"sources\[1\]\[0\] = 2 is out of range: must be a tensor in \[0, 1\]"
    ):
        bad.validate()
    bad = Network(net.input_shape, net.input, net.layers, {1: (0, 1)})
    with pytest.raises(ValueError, match=r"input 0 quantisation .* does not match tensor 0's quantisation"):
        bad.validate()
    with pytest.raises(ValueError, match=r"sources has key 5: must be a layer index in \[0, 1\]"):
        Network(net.input_shape, net.input, net.layers, {5: (0,)}).validate()


def test_import_refuses_constant_add_operand(rng):
    net, x, _ = add_block(rng)
    wr, ins, outs = writer_for(net)
    const = wr.tensor("const", x.shape, 9, [net.input.scale], [net.input.zero_point], data=x)
    op = list(wr.ops[-1])
    op[1] = [op[1][0], const]
    wr.ops[-1] = tuple(op)
    with pytest.raises(
        UnsupportedModelError,
        match=r"operator 1 \(ADD\) input 1 is tensor \d+ 'const', which is "
        r"neither the model input nor an earlier operator's output",
    ):
        load_tflite(wr.finish(ins, outs))


def test_import_refuses_output_not_last(rng):
    net, x, _ = add_block(rng)
    wr, ins, outs = writer_for(net)
    conv_out = next(i for i, t in enumerate(wr.tensors) if t["name"] == "l0_Conv2D")
    with pytest.raises(
        UnsupportedModelError, match=r"the model output is tensor \d+ 'l0_Conv2D', not the last"
    ):
        load_tflite(wr.finish(ins, [conv_out]))


def test_softmax_output_quantisation_is_checked():
    with pytest.raises(
        ValueError, match=r"output = .* is not allowed: an int8 SOFTMAX output must be quantised"
    ):
        Softmax(QuantParams(0.1, 0), 1.0, QuantParams(1 / 128, 0))


@pytest.mark.parametrize("beta", [1.0, 0.25, 3.0])
def test_softmax_classifier_matches_litert(rng, beta):
    """conv over the whole input (a classifier) -> RESHAPE -> SOFTMAX, through build_tflite / load_tflite."""
    for _ in range(8):
        h, w, c, k = 3, 3, int(rng.integers(1, 5)), int(rng.integers(2, 13))
        q_in, q_logits = _q(rng), _q(rng, -2.0, 0.0)
        w8 = rng.integers(-127, 128, size=(k, h, w, c), dtype=np.int8)
        conv = Conv2D(
            w8,
            rng.integers(-5000, 5000, size=k, dtype=np.int32),
            (10 ** rng.uniform(-3, -2, size=k)).astype(np.float32),
            q_in,
            q_logits,
        )
        net = Network(
            (1, h, w, c), q_in, [conv, Reshape((1, k), q_logits), Softmax(q_logits, beta)]
        ).validate()
        model = build_tflite(net)
        back = load_tflite(model)
        assert isinstance(back.layers[-1], Softmax) and back.layers[-1].beta == np.float32(beta)
        for x in (
            rng.integers(-128, 128, size=(1, h, w, c), dtype=np.int8),
            np.full((1, h, w, c), 127, np.int8),
        ):
            expected = run_network(net, x)
            assert np.array_equal(run_litert(model, x), expected), f"beta {beta}, {q_in}, {q_logits}"
            assert np.array_equal(run_network(back, x), expected)


def test_import_explains_float_io(rng):
    """A converter output with float input (a QUANTIZE operator first) is refused with the fix."""
    net, _, _ = add_block(rng)
    wr, ins, outs = writer_for(net)
    x_float = wr.tensor("x_float", net.input_shape, 0)
    wr.ops.insert(0, (len(wr.opcodes), [x_float], [ins[0]], 0, None))
    wr.opcodes.append("QUANTIZE")
    with pytest.raises(
        UnsupportedModelError,
        match=r"operator 0 \(QUANTIZE\) is not supported: the model has "
        r"float inputs .* inference_input_type",
    ):
        load_tflite(wr.finish([x_float], outs))

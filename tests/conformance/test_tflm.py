"""golden.tflm.run_tflm: the TFLite Micro runner itself (its arguments and the interpreter's refusals).
Its agreement with golden is checked in test_conformance_litert.py and test_conformance_import.py."""

import numpy as np
import pytest

from golden import conformance as cf
from golden.network import run_network
from golden.tflite_build import build_tflite, writer_for
from golden.tflm import arena_size_for, run_tflm


def _model(rng):
    net, x, _desc = cf.random_conv(rng)
    return net, x, build_tflite(net)


def test_output_is_a_fresh_int8_array(rng):
    net, x, model = _model(rng)
    a, b = run_tflm(model, x), run_tflm(model, x)
    assert a.dtype == np.int8 and a.shape == run_network(net, x).shape
    np.testing.assert_array_equal(a, b)
    assert not np.shares_memory(a, b)


def test_non_contiguous_input(rng):
    net, x, model = _model(rng)
    xf = np.asfortranarray(x)
    np.testing.assert_array_equal(run_tflm(model, xf), run_network(net, x))


def test_arena_covers_the_activations(rng):
    net, x, model = _model(rng)
    acts = sum(int(np.prod(o.shape)) for o in run_network(net, x, return_all=True)) + x.size
    assert arena_size_for(model) >= (1 << 16) + len(model) + acts


def test_large_activations_fit(rng):
    """A model whose activations are far larger than its weights (the interpreter's default arena
    of 10x the model size would not hold them)."""
    from golden.network import MaxPool2D, Network, QuantParams

    q = QuantParams(0.05, 3)
    net = Network((1, 96, 96, 16), q, [MaxPool2D((1, 1), (1, 1), "VALID", q)])
    x = rng.integers(-128, 128, net.input_shape).astype(np.int8)
    model = build_tflite(net)
    assert arena_size_for(model) > 10 * len(model)
    np.testing.assert_array_equal(run_tflm(model, x), run_network(net, x))


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda x: x.astype(np.int16), r"x has dtype int16; the model input is int8"),
        (lambda x: x.astype(np.float32), r"x has dtype float32"),
        (lambda x: x[..., :0], r"x has shape .*; the model input has shape"),
        (lambda x: x[None], r"x has shape .*; the model input has shape"),
    ],
)
def test_bad_input(rng, bad, match):
    _net, x, model = _model(rng)
    with pytest.raises(ValueError, match=match):
        run_tflm(model, bad(x))


def test_not_a_model(rng):
    _net, x, model = _model(rng)
    with pytest.raises(ValueError, match=r"model is not a \.tflite flatbuffer \(file identifier"):
        run_tflm(b"\0" * 64, x)
    with pytest.raises(ValueError, match=r"model is not a readable \.tflite flatbuffer"):
        run_tflm(model[:48], x)
    with pytest.raises(ValueError, match=r"model must be the bytes of a \.tflite file, not str"):
        run_tflm("model.tflite", x)


def test_unregistered_operator(rng):
    """An operator TFLite Micro does not register: ValueError carrying the interpreter's report."""
    net, x, _model_bytes = _model(rng)
    wr, ins, outs = writer_for(net)
    o2 = wr.tensor("nms", wr.tensors[outs[0]]["shape"], 9, [1 / 256], [-128])
    wr.op("NON_MAX_SUPPRESSION_V4", [outs[0]], [o2], 0, None)
    with pytest.raises(ValueError, match=r"TFLite Micro refused the model: .*NON_MAX_SUPPRESSION_V4"):
        run_tflm(wr.finish(ins, [o2]), x)


def test_not_int8_input(rng):
    import tflite

    net, x, _model_bytes = _model(rng)
    wr, ins, outs = writer_for(net)
    wr.tensors[ins[0]].update(type=tflite.TensorType.FLOAT32, scales=None)
    with pytest.raises(ValueError, match=r"model input has type FLOAT32; run_tflm supports INT8 only"):
        run_tflm(wr.finish(ins, outs), x)


def test_two_outputs(rng):
    net, x, _model_bytes = _model(rng)
    wr, ins, outs = writer_for(net)
    with pytest.raises(ValueError, match=r"model has 2 outputs; run_tflm supports exactly one input"):
        run_tflm(wr.finish(ins, outs + ins), x)

"""golden.tflite_import: multi-layer .tflite networks imported into golden give LiteRT's and TFLite
Micro's output exactly (LiteRT's float FULLY_CONNECTED op aside: within 1, see golden/README.md)."""

import numpy as np
import pytest
import tflite

from golden import conformance as cf
from golden.network import (
    AvgPool2D,
    Conv2D,
    DepthwiseConv2D,
    FullyConnected,
    MaxPool2D,
    Network,
    QuantParams,
    Reshape,
    run_network,
)
from golden.tflite_build import build_tflite, run_litert, writer_for
from golden.tflite_import import UnsupportedModelError, load_tflite
from golden.tflm import run_tflm


def _i8(rng, shape, lo=-127, hi=127):
    return rng.integers(lo, hi, shape, endpoint=True).astype(np.int8)


def _q(rng, scale_lo=-6, scale_hi=-1):
    return QuantParams(
        float(np.float32(2.0 ** rng.uniform(scale_lo, scale_hi))), int(rng.integers(-128, 128))
    )


def _out_scale(rng, in_s, w_s, fan_in):
    return float(np.float32(in_s * float(np.mean(w_s)) * np.sqrt(fan_in) * 74 * 73 / rng.uniform(30, 150)))


def make_network(rng, fc_kind="conv"):
    """conv -> depthwise -> avg pool -> max pool -> reshape -> FC (as a 1x1 CONV_2D or FULLY_CONNECTED)."""
    n, h, w, c = (
        int(rng.integers(1, 3)),
        int(rng.integers(6, 12)),
        int(rng.integers(6, 12)),
        int(rng.integers(1, 5)),
    )
    q0 = QuantParams(
        float(np.float32(2.0 ** rng.uniform(-6, -1))), int(rng.integers(-20, 21))
    )  # data ~ centred
    layers = []
    m1 = int(rng.integers(2, 7))
    k = int(rng.integers(1, 4)) * 2 - 1
    ws1 = (2.0 ** rng.uniform(-7, -6, m1)).astype(np.float32)
    q1 = QuantParams(_out_scale(rng, q0.scale, ws1, k * k * c), int(rng.integers(-128, 0)))
    layers.append(
        Conv2D(
            _i8(rng, (m1, k, k, c)),
            rng.integers(-500, 500, m1).astype(np.int32),
            ws1,
            q0,
            q1,
            (2, 2),
            "SAME",
            (1, 1),
            str(rng.choice(["RELU", "NONE"])),
        )
    )
    dm = int(rng.integers(1, 3))
    # RELU6 clamps at zp + 6 / scale: a scale <= 0.06 keeps that >= 100 steps; weight scales follow from it
    q2 = QuantParams(float(np.float32(0.06 * rng.uniform(0.3, 1))), int(rng.integers(-128, -60)))
    ws2 = (q2.scale * rng.uniform(30, 150, m1 * dm) / (q1.scale * 3 * 74 * 73)).astype(np.float32)
    layers.append(
        DepthwiseConv2D(
            _i8(rng, (1, 3, 3, m1 * dm)),
            rng.integers(-3000, 3000, m1 * dm).astype(np.int32),
            ws2,
            q1,
            q2,
            (1, 1),
            "SAME",
            (1, 1),
            "RELU6",
            depth_multiplier=dm,
        )
    )
    layers.append(AvgPool2D((2, 2), (2, 2), "SAME", q2))
    layers.append(MaxPool2D((2, 2), (1, 1), "SAME", q2, "NONE"))
    shapes = [
        o.shape
        for o in run_network(
            Network((n, h, w, c), q0, layers), np.zeros((n, h, w, c), np.int8), return_all=True
        )
    ]
    feat = int(np.prod(shapes[-1][1:]))
    m_out = int(rng.integers(2, 11))
    ws3 = (2.0 ** rng.uniform(-7, -6, m_out)).astype(np.float32)
    q3 = QuantParams(_out_scale(rng, q2.scale, ws3, feat), int(rng.integers(-128, 128)))
    wfc = _i8(rng, (m_out, feat))
    bfc = rng.integers(-20000, 20000, m_out).astype(np.int32)
    if fc_kind == "conv":
        layers.append(Reshape((n, 1, 1, feat), q2))
        layers.append(Conv2D(wfc.reshape(m_out, 1, 1, feat), bfc, ws3, q2, q3))
        layers.append(Reshape((n, m_out), q3))
    else:
        layers.append(Reshape((n, feat), q2))
        layers.append(FullyConnected(wfc, bfc, ws3[:1], q2, q3, "NONE"))
    net = Network((n, h, w, c), q0, layers).validate()
    return net, _i8(rng, (n, h, w, c), -128, 127)


def _same_network(a, b):
    assert a.input_shape == b.input_shape and a.input == b.input and len(a.layers) == len(b.layers)
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert type(la) is type(lb)
        for k, va in vars(la).items():
            vb = getattr(lb, k)
            if isinstance(va, np.ndarray) or isinstance(vb, np.ndarray):
                np.testing.assert_array_equal(va, vb, err_msg=k)
            else:
                assert va == vb, (k, va, vb)


@pytest.mark.parametrize("i", range(6))
def test_imported_network_matches_litert(rng, i):
    net, x = make_network(rng, "conv")
    model = build_tflite(net)
    imported = load_tflite(model)
    _same_network(net, imported)
    got = run_network(imported, x)
    np.testing.assert_array_equal(got, run_litert(model, x))
    np.testing.assert_array_equal(got, run_tflm(model, x))
    # intermediate outputs are meaningful (not everything saturated)
    outs = run_network(imported, x, return_all=True)
    assert len(np.unique(outs[0])) + len(np.unique(outs[1])) > 6


def test_imported_network_with_fully_connected(rng, tmp_path):
    """With a real FULLY_CONNECTED op the import is still exact: TFLite Micro equals golden on every
    element; LiteRT's float FC may differ by 1 (every layer before it is bit-exact)."""
    worst = litert_differ = elements = 0
    for _ in range(6):
        net, x = make_network(rng, "fc")
        path = tmp_path / "net.tflite"
        path.write_bytes(build_tflite(net))
        imported = load_tflite(str(path))
        _same_network(net, imported)
        got = run_network(imported, x)
        lite = run_litert(path.read_bytes(), x)
        np.testing.assert_array_equal(got, run_tflm(path.read_bytes(), x))
        worst = max(worst, int(np.abs(got.astype(int) - lite.astype(int)).max()))
        litert_differ += int((got != lite).sum())
        elements += got.size
        # everything before the FC is bit-exact
        pre = Network(net.input_shape, net.input, net.layers[:-1])
        np.testing.assert_array_equal(
            run_network(load_tflite(build_tflite(pre)), x), run_litert(build_tflite(pre), x)
        )
    print(
        f"chains ending in FULLY_CONNECTED: TFLM {elements}/{elements} elements equal to golden; "
        f"LiteRT {elements - litert_differ}/{elements}, max |diff| {worst}"
    )
    assert worst <= 1


@pytest.mark.parametrize("gen", ["conv", "depthwise", "fc", "max", "avg"])
def test_single_layer_round_trip(rng, gen):
    make = {
        "conv": cf.random_conv,
        "depthwise": cf.random_depthwise,
        "fc": cf.random_fc,
        "max": lambda r: cf.random_pool(r, "max"),
        "avg": lambda r: cf.random_pool(r, "avg"),
    }[gen]
    for _ in range(5):
        net, x, _desc = make(rng)
        imported = load_tflite(build_tflite(net))
        if net.layers[0].__dict__.get("bias", 1) is None:  # the builder writes a zero bias for conv/depthwise
            net.layers[0].bias = np.zeros(net.layers[0].out_channels, np.int32) if gen != "fc" else None
        _same_network(net, imported)
        np.testing.assert_array_equal(run_network(imported, x), run_network(net, x))


# --- errors ----------------------------------------------------------------------------------------


def _simple(rng):
    net, _x = make_network(rng, "conv")
    return net


def test_error_unsupported_operator(rng):
    wr, ins, outs = writer_for(_simple(rng))
    out = outs[0]
    tanh = wr.tensor("tanh", wr.tensors[out]["shape"], 9, [1 / 128], [0])
    wr.op("TANH", [out], [tanh], 0, None)
    n_ops = len(wr.ops)
    with pytest.raises(UnsupportedModelError, match=rf"operator {n_ops - 1} \(TANH\) is not supported"):
        load_tflite(wr.finish(ins, [tanh]))


def test_error_float_model(rng):
    wr, ins, outs = writer_for(_simple(rng))
    wr.tensors[ins[0]].update(type=tflite.TensorType.FLOAT32, scales=None)
    with pytest.raises(UnsupportedModelError, match=r"'input' \(model input\) has type FLOAT32; only INT8"):
        load_tflite(wr.finish(ins, outs))


def test_error_uint8_activations(rng):
    wr, ins, outs = writer_for(_simple(rng))
    idx = next(i for i, t in enumerate(wr.tensors) if t["name"] == "l0_Conv2D")
    wr.tensors[idx]["type"] = tflite.TensorType.UINT8
    with pytest.raises(UnsupportedModelError, match=r"operator 0 \(CONV_2D\) output\) has type UINT8"):
        load_tflite(wr.finish(ins, outs))


def test_error_weight_zero_point(rng):
    wr, ins, outs = writer_for(_simple(rng))
    idx = next(i for i, t in enumerate(wr.tensors) if t["name"] == "l0_Conv2D/weights")
    wr.tensors[idx]["zero_points"] = [3] * len(wr.tensors[idx]["zero_points"])
    with pytest.raises(UnsupportedModelError, match=r"weight zero points \[3.*only symmetric weights"):
        load_tflite(wr.finish(ins, outs))


def test_error_per_axis_activation(rng):
    wr, ins, outs = writer_for(_simple(rng))
    wr.tensors[ins[0]].update(scales=[0.1, 0.2], zero_points=[0, 0])
    with pytest.raises(UnsupportedModelError, match=r"quantised per axis \(2 scales\); activations must be"):
        load_tflite(wr.finish(ins, outs))


def test_error_wrong_quantized_dimension(rng):
    wr, ins, outs = writer_for(_simple(rng))
    idx = next(i for i, t in enumerate(wr.tensors) if t["name"] == "l1_DepthwiseConv2D/weights")
    wr.tensors[idx]["qdim"] = 0
    with pytest.raises(
        UnsupportedModelError, match=r"scales on quantized_dimension 0; supported: per-tensor"
    ):
        load_tflite(wr.finish(ins, outs))


def test_error_unquantised_tensor(rng):
    wr, ins, outs = writer_for(_simple(rng))
    wr.tensors[ins[0]].update(scales=None)
    with pytest.raises(UnsupportedModelError, match=r"is not quantised \(no scale\)"):
        load_tflite(wr.finish(ins, outs))


def test_error_is_value_error():
    assert issubclass(UnsupportedModelError, ValueError)

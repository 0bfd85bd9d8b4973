"""compiler/: .tflite / golden Network -> conv-engine schedule (no simulation).

The schedule's own executor (golden/ conv + pool on every engine layer, not the original operators)
must reproduce golden.run_network bit for bit, which checks every lowering rule: conv + pool fusion,
folded clamps, depthwise, FC as a whole-input conv or a 1x1 conv, standalone pools as identity convs,
RESHAPE as a no-op. Errors must name the first operator the engine cannot run.
"""

import numpy as np
import pytest

from compiler import CompileError, compile_network, compile_tflite
from compiler.__main__ import main as compiler_main
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
from golden.tflite_build import build_tflite, writer_for
from models.digits import MODEL_PATH, LiteRTModel, load_split, model_bytes, quantise_images
from spec.config import AcceleratorConfig

CFG = AcceleratorConfig()


def _q(scale, zp):
    return QuantParams(float(np.float32(scale)), zp)


def conv(rng, in_q, C, M, R, S, stride=1, padding="SAME", activation="NONE", depthwise=0, dilation=1):
    """A random conv layer whose outputs spread over the int8 range; returns (layer, output quant)."""
    taps = R * S * (1 if depthwise else C)
    ws = (rng.random(M if not depthwise else C * depthwise) * 0.02 + 0.005).astype(np.float32)
    out_q = _q(in_q.scale * float(ws.mean()) * 60 * np.sqrt(taps), int(rng.integers(-20, 21)))
    if depthwise:
        w = rng.integers(-127, 128, (1, R, S, C * depthwise)).astype(np.int8)
        b = rng.integers(-3000, 3000, C * depthwise).astype(np.int32)
        return DepthwiseConv2D(w, b, ws, in_q, out_q, (stride, stride), padding, (dilation, dilation),
                               activation, depth_multiplier=depthwise), out_q
    w = rng.integers(-127, 128, (M, R, S, C)).astype(np.int8)
    b = rng.integers(-3000, 3000, M).astype(np.int32)
    return Conv2D(w, b, ws, in_q, out_q, (stride, stride), padding, (dilation, dilation), activation), out_q


def fc(rng, in_q, K, M, activation="NONE"):
    ws = (rng.random(M) * 0.02 + 0.005).astype(np.float32)
    out_q = _q(in_q.scale * float(ws.mean()) * 60 * np.sqrt(K), int(rng.integers(-20, 21)))
    w = rng.integers(-127, 128, (M, K)).astype(np.int8)
    b = rng.integers(-3000, 3000, M).astype(np.int32)
    return FullyConnected(w, b, ws, in_q, out_q, activation), out_q


def check_reference(net, rng, count=4):
    sched = compile_network(net, CFG)
    for _ in range(count):
        x = rng.integers(-128, 128, net.input_shape).astype(np.int8)
        expected = run_network(net, x)
        got, per_layer = sched.run_reference(x, return_all=True)
        assert got.shape == expected.shape
        assert np.array_equal(got, expected)
        for layer, out in zip(sched.layers, per_layer, strict=True):
            assert out.shape == layer.out_shape
    return sched


# ---- the digits model ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    return compile_tflite(MODEL_PATH, CFG)


def test_digits_schedule(digits):
    s = digits
    assert [layer.ops for layer in s.layers] == [(0, 1), (2, 3), (4,)]
    assert [layer.pool for layer in s.layers] == ["max", "avg", "none"]
    assert [layer.in_shape for layer in s.layers] == [(8, 8, 1), (4, 4, 16), (2, 2, 32)]
    assert [layer.out_shape for layer in s.layers] == [(4, 4, 16), (2, 2, 32), (1, 1, 10)]
    assert [layer.passes for layer in s.layers] == [1, 1, 1]
    assert s.layers[0].act_min == -128              # ReLU with zero point -128
    assert s.output_shape == (1, 10) and not s.notes
    costs = s.static_cost()
    assert all(c["compute_cycles"] >= c["ideal_cycles"] for c in costs)
    assert [layer.macs for layer in s.layers] == [16 * 1 * 64 * 9, 32 * 16 * 16 * 9, 10 * 32 * 4]


def test_digits_reference_equals_golden_and_litert(digits):
    """All 450 held-out images: schedule executor == golden.run_network == LiteRT (BUILTIN_REF)."""
    _, _, x_te, _ = load_split()
    xq = quantise_images(x_te)
    lite = LiteRTModel(model_bytes())
    for x in xq:
        x = x[None]
        ref = digits.run_reference(x)
        assert np.array_equal(ref, run_network(digits.net, x))
        assert np.array_equal(ref, lite(x))


def test_digits_programs_are_well_formed(digits):
    x = quantise_images(load_split()[2][:1])
    for layer in digits.layers:
        prog = layer.program(CFG, x)
        stats = prog.stats()
        assert stats["passes"] == 1 and stats["instructions"] == len(prog)
        x = layer.reference(x)       # the next layer's input


def test_cli(capsys, tmp_path):
    assert compiler_main([str(MODEL_PATH), "--listing", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "op2 CONV_2D + op3 AVERAGE_POOL_2D" in out and "cycles per inference" in out
    assert (tmp_path / "layer2.S").read_text().count(".insn r 0x0b") > 100


# ---- lowering rules -----------------------------------------------------------------------------------
def test_fusion_depthwise_folded_clamp_and_fc_as_whole_input_conv():
    rng = np.random.default_rng(1)
    q0 = _q(0.05, 3)
    c1, q1 = conv(rng, q0, 3, 8, 3, 3, activation="RELU")
    # max pool with a narrower clamp (RELU6 on the same quantisation): folded into the conv's clamp
    pool1 = MaxPool2D((2, 2), (2, 2), "VALID", q1, "RELU6")
    dw, q2 = conv(rng, q1, 8, 0, 3, 3, depthwise=2)
    pool2 = AvgPool2D((2, 2), (2, 2), "SAME", q2)          # SAME on an even 4x4 = VALID
    f, q3 = fc(rng, q2, 2 * 2 * 16, 10)
    net = Network((1, 8, 8, 3), q0, [c1, pool1, dw, pool2, Reshape((1, 64), q2), f])
    s = check_reference(net, rng, count=8)
    assert [layer.ops for layer in s.layers] == [(0, 1), (2, 3), (5,)]
    assert [layer.kind for layer in s.layers] == ["conv", "depthwise", "fc"]
    assert s.layers[2].w.shape == (10, 2, 2, 16) and s.layers[2].in_shape == (2, 2, 16)
    assert s.layers[1].depth_multiplier == 2
    assert len(s.notes) == 1 and "FULLY_CONNECTED" in s.notes[0]


def test_standalone_pools_become_identity_convs():
    rng = np.random.default_rng(2)
    q0 = _q(0.1, -7)
    net = Network((1, 12, 10, 5), q0, [MaxPool2D((2, 2), (2, 2), "VALID", q0, "RELU"),
                                       AvgPool2D((2, 2), (2, 2), "VALID", q0)])
    s = check_reference(net, rng, count=8)
    assert [layer.kind for layer in s.layers] == ["pool", "pool"]
    assert s.layers[1].out_shape == (3, 2, 5)


def test_fc_wider_than_max_channels_runs_as_whole_input_conv():
    rng = np.random.default_rng(3)
    q0 = _q(0.05, 0)
    c1, q1 = conv(rng, q0, 2, 32, 3, 3, activation="RELU")
    f, _ = fc(rng, q1, 4 * 4 * 32, 7)                         # K = 512 > max_channels = 256
    s = check_reference(Network((1, 4, 4, 2), q0, [c1, f]), rng)
    assert s.layers[1].w.shape == (7, 4, 4, 32)


def test_fc_on_flat_input_is_a_1x1_conv():
    rng = np.random.default_rng(4)
    q0 = _q(0.05, 0)
    f, _ = fc(rng, q0, 200, 12, activation="RELU")
    s = check_reference(Network((1, 200), q0, [f]), rng)
    assert s.layers[0].in_shape == (1, 1, 200) and s.layers[0].w.shape == (12, 1, 1, 200)


def test_large_layer_is_split_into_passes():
    rng = np.random.default_rng(5)
    q0 = _q(0.05, 0)
    c1, q1 = conv(rng, q0, 16, 16, 3, 3, activation="RELU")   # 40x40x16 = 25.6 KB > 16 KB input memory
    s = check_reference(Network((1, 40, 40, 16), q0, [c1, MaxPool2D((2, 2), (2, 2), "VALID", q1)]),
                        rng, count=1)
    assert s.layers[0].passes > 1


# ---- errors name the first operator the engine cannot run --------------------------------------------
def _net(*layers_fn, shape=(1, 8, 8, 4)):
    rng = np.random.default_rng(0)
    q = _q(0.05, 0)
    layers = []
    for fn in layers_fn:
        layer, q = fn(rng, q)
        layers.append(layer)
    return Network(shape, _q(0.05, 0), layers)


@pytest.mark.parametrize("layers, message", [
    ([lambda r, q: conv(r, q, 4, 4, 3, 3), lambda r, q: conv(r, q, 4, 4, 7, 7)],
     r"operator 1 \(CONV_2D\): the conv engine cannot run it: R = 7 is out of range"),
    ([lambda r, q: conv(r, q, 4, 4, 3, 3, dilation=2), lambda r, q: conv(r, q, 4, 4, 7, 7)],
     r"operator 0 \(CONV_2D\): .*dilation \(2, 2\)"),
    ([lambda r, q: conv(r, q, 4, 4, 3, 3, stride=3)],
     r"operator 0 \(CONV_2D\): .*stride = 3 is out of range"),
    ([lambda r, q: conv(r, q, 4, 4, 3, 3), lambda r, q: (Reshape((1, 256), q), q),
      lambda r, q: fc(r, q, 256, 257), lambda r, q: fc(r, q, 257, 4)],
     r"operator 3 \(FULLY_CONNECTED\): .*C \(input channels.*\) = 257 is out of range"),
])
def test_errors_name_the_first_bad_operator(layers, message):
    with pytest.raises(CompileError, match=message):
        compile_network(_net(*layers), CFG)


def test_fc_too_wide_for_any_mapping():
    rng = np.random.default_rng(6)
    q0 = _q(0.05, 0)
    f, _ = fc(rng, q0, 257, 4)                                # a prime > max_channels: no R x S x C
    with pytest.raises(CompileError,
                       match=r"operator 0 \(FULLY_CONNECTED\).*as a 1x1 conv over 1x1x257: C .* = 257"):
        compile_network(Network((1, 257), q0, [f]), CFG)


def test_unsupported_operator_in_tflite(tmp_path):
    net = compile_tflite(MODEL_PATH).net
    wr, ins, outs = writer_for(net)
    wr.opcodes[wr.opcodes.index("RESHAPE")] = "SQUEEZE"
    path = tmp_path / "squeeze.tflite"
    path.write_bytes(wr.finish(ins, outs))
    with pytest.raises(CompileError, match=r"operator 5 \(SQUEEZE\) is not supported"):
        compile_tflite(path)
    assert compiler_main([str(path)]) == 1


def test_tflite_roundtrip_of_lowering_network():
    """build_tflite -> compile_tflite gives the same schedule as compiling the Network directly."""
    rng = np.random.default_rng(7)
    q0 = _q(0.05, 3)
    c1, q1 = conv(rng, q0, 3, 8, 3, 3, activation="RELU", stride=2)
    net = Network((1, 9, 9, 3), q0, [c1, MaxPool2D((2, 2), (2, 2), "VALID", q1)])
    a, b = compile_network(net), compile_tflite(build_tflite(net))
    def key(s):
        return [(x.ops, x.out_shape, x.padding, x.act_min, x.act_max) for x in s.layers]
    assert key(a) == key(b)

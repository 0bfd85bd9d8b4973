"""compiler/: graphs and the operators the core runs (no simulation).

The schedule's executor (golden/ on every engine layer and core step) must equal golden.run_network
bit for bit on random and extreme inputs: ADD joining two branches (a ResNet block with a strided 1x1
shortcut), a pool or global average pool the engine cannot fuse, SOFTMAX, a 10x4 stride-2 kernel
(space-to-depth on the core, then a 5x2 conv), FULLY_CONNECTED wider than max_channels.
"""

import numpy as np
import pytest

from compiler import CompileError, compile_network
from compiler.schedule import space_to_depth
from golden.network import Add, AvgPool2D, MaxPool2D, Network, Reshape, Softmax, run_network
from spec.config import AcceleratorConfig
from tests.test_digits_compiler import _q, conv, fc

CFG = AcceleratorConfig()


def check(net, rng, count=4):
    sched = compile_network(net, CFG)
    xs = [rng.integers(-128, 128, net.input_shape).astype(np.int8) for _ in range(count)]
    xs += [np.full(net.input_shape, v, np.int8) for v in (-128, 127)]
    for x in xs:
        got, per_step = sched.run_reference(x, return_all=True)
        assert np.array_equal(got, run_network(net, x))
        for step, out in zip(sched.layers, per_step, strict=True):
            assert out.shape == tuple(step.out_shape), step.name
    return sched


def resnet_block(rng, q0, H, C, M, stride):
    """conv3x3/stride ReLU, conv3x3, (1x1/stride shortcut when the shape changes), ADD ReLU."""
    c1, q1 = conv(rng, q0, C, M, 3, 3, stride=stride, activation="RELU")
    c2, q2 = conv(rng, q1, M, M, 3, 3)
    layers = [c1, c2]
    if stride > 1 or C != M:
        sc, qs = conv(rng, q0, C, M, 1, 1, stride=stride)
        layers.append(sc)
    else:
        qs = q0
    add = Add(q2, qs, _q(max(q2.scale, qs.scale) * 1.5, -128), "RELU")
    return layers + [add]


def test_resnet_blocks_global_pool_fc_softmax(rng):
    q0 = _q(0.02, -5)
    b1 = resnet_block(rng, q0, 8, 4, 4, 1)                 # identity shortcut
    b2 = resnet_block(rng, b1[-1].output, 8, 4, 8, 2)       # strided 1x1 shortcut
    q = b2[-1].output
    pool = AvgPool2D((4, 4), (4, 4), "VALID", q)
    f, qf = fc(rng, q, 8, 10)
    layers = b1 + b2 + [pool, Reshape((1, 8), q), f, Softmax(qf, 1.0)]
    # b1: 0 conv, 1 conv, 2 ADD(t2, t0); b2: 3 conv(t3), 4 conv, 5 shortcut conv(t3), 6 ADD(t5, t6)
    net = Network((1, 8, 8, 4), q0, layers, {2: (2, 0), 5: (3,), 6: (5, 6)}).validate()
    s = check(net, rng)
    assert [(x.runs_on, x.kind) for x in s.layers] == [
        ("engine", "conv"), ("engine", "conv"), ("core", "add"), ("engine", "conv"), ("engine", "conv"),
        ("engine", "conv"), ("core", "add"), ("core", "avg_pool"), ("engine", "fc"), ("core", "softmax")]
    assert [x.sources for x in s.layers] == [(0,), (1,), (2, 0), (3,), (4,), (3,), (5, 6), (7,), (8,), (9,)]
    assert s.output_shape == (1, 10)
    # the schedule knows when each tensor dies (the firmware reuses its buffer after that)
    assert s.last_uses()[3] == 5 and s.last_uses()[0] == 2


def test_pools_the_engine_cannot_fuse_run_on_the_core(rng):
    q0 = _q(0.05, 3)
    c1, q1 = conv(rng, q0, 3, 4, 3, 3, padding="VALID")                # 7x7 output
    net = Network((1, 9, 9, 3), q0, [c1, MaxPool2D((3, 3), (2, 2), "SAME", q1, "RELU"),
                                     AvgPool2D((2, 2), (1, 1), "VALID", q1, "RELU6")])
    s = check(net, rng)
    assert [x.kind for x in s.layers] == ["conv", "max_pool", "avg_pool"]
    # a 2x2/2 pool whose clamp the engine cannot apply after pooling runs on the core too
    net = Network((1, 8, 8, 3), q0, [AvgPool2D((2, 2), (2, 2), "VALID", q0, "RELU")])
    assert [x.kind for x in check(net, rng).layers] == ["avg_pool"]


def test_conv_feeding_two_consumers_is_not_fused_with_its_pool(rng):
    q0 = _q(0.05, 0)
    c1, q1 = conv(rng, q0, 4, 4, 3, 3)
    net = Network((1, 8, 8, 4), q0, [c1, MaxPool2D((2, 2), (2, 2), "VALID", q1),
                                     MaxPool2D((2, 2), (2, 2), "VALID", q1), Add(q1, q1, q1)],
                  {2: (1,), 3: (2, 3)}).validate()
    s = check(net, rng)
    assert [x.ops for x in s.layers] == [(0,), (1,), (2,), (3,)]


@pytest.mark.parametrize("shape, R, S, stride, padding", [
    ((49, 10, 1), 10, 4, 2, "SAME"),         # the DS-CNN first layer
    ((20, 17, 3), 7, 7, 2, "SAME"),
    ((16, 16, 2), 11, 6, 3, "VALID"),
    ((9, 8, 5), 6, 6, 2, "VALID"),
])
def test_large_strided_kernels_run_as_space_to_depth(rng, shape, R, S, stride, padding):
    q0 = _q(0.05, int(rng.integers(-128, 128)))
    c1, _ = conv(rng, q0, shape[2], 8, R, S, stride=stride, padding=padding, activation="RELU")
    s = check(Network((1, *shape), q0, [c1]), rng)
    s2d, eng = s.layers
    assert (s2d.runs_on, s2d.kind, eng.kind, eng.stride) == ("core", "space_to_depth", "conv", 1)
    assert eng.w.shape[1:3] == (-(-R // stride), -(-S // stride))
    assert eng.macs == 8 * shape[2] * eng.out_shape[0] * eng.out_shape[1] * R * S   # the layer's own MACs


def test_space_to_depth_layout():
    x = np.arange(2 * 3 * 1, dtype=np.int8).reshape(2, 3, 1)
    y = space_to_depth(x, 2, (1, 0), (2, 2), -9)
    # padded rows: [-9 -9 -9 -9], [0 1 2 -9], [3 4 5 -9], [-9 ...]
    assert y[0, 0].tolist() == [-9, -9, 0, 1] and y[0, 1].tolist() == [-9, -9, 2, -9]
    assert y[1, 0].tolist() == [3, 4, -9, -9] and y[1, 1].tolist() == [5, -9, -9, -9]


def test_wide_fully_connected_is_a_conv_over_a_row(rng):
    """K = 640 > max_channels: the largest C' <= max_channels with K = S * C' (driver.network.fc_geometry)."""
    q0 = _q(0.05, 0)
    f1, q1 = fc(rng, q0, 640, 128, activation="RELU")
    f2, _ = fc(rng, q1, 128, 640)
    s = check(Network((1, 640), q0, [f1, f2]), rng)
    assert s.layers[0].w.shape == (128, 1, 4, 160) and s.layers[1].w.shape == (640, 1, 1, 128)
    assert s.layers[1].passes > 1                      # 640 outputs: the driver splits the channels


def test_stride_one_kernel_larger_than_the_engine_is_refused(rng):
    q0 = _q(0.05, 0)
    c1, _ = conv(rng, q0, 2, 4, 7, 7)
    with pytest.raises(CompileError, match=r"operator 0 \(CONV_2D\): the conv engine cannot run it: R = 7"):
        compile_network(Network((1, 9, 9, 2), q0, [c1]), CFG)


def test_add_of_different_shapes_is_refused(rng):
    q0 = _q(0.05, 0)
    c1, q1 = conv(rng, q0, 2, 2, 4, 4, padding="VALID")      # 1x1x2, broadcast against 4x4x2 by golden
    net = Network((1, 4, 4, 2), q0, [c1, Add(q1, q0, q0)], {1: (1, 0)}).validate()
    with pytest.raises(CompileError,
                       match=r"operator 1 \(ADD\): input shapes \(1, 1, 1, 2\) and \(1, 4, 4, 2\) differ"):
        compile_network(net, CFG)

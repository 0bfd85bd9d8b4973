"""Conv-engine test layers: a fixed edge set and seeded random layers, each with its golden output.

The expected output always comes from golden/ applied to the layer as a user states it (dense
conv, depthwise weights [1][R][S][C*k], fully connected weights [M][K]), never from the driver's
hardware mapping, so the driver's folding, grouping and padding are checked too. Used by the
benchmarks (bench/soc.py, bench/report.py) and the tests (tb/, tests/).
"""

from dataclasses import dataclass

import numpy as np

from driver.conv_layer import ConvLayer, conv_from_depthwise, conv_from_fc, plan_conv
from golden.conv import conv2d, depthwise_conv2d, fully_connected
from golden.pool import avg_pool2d, max_pool2d

__all__ = ["TestLayer", "expected_output", "make_layer", "edge_layers", "random_layer", "random_layers",
           "multi_pass_layers", "random_multi_pass_layer"]


@dataclass
class TestLayer:
    name: str
    layer: ConvLayer
    expected: np.ndarray      # int8 [E'][F'][M]


def _quant(rng, M, taps, edge=False):
    """Per-channel bias/multiplier/shift that spread outputs over the int8 range (and, with
    edge=True, the extreme multipliers and shifts)."""
    bias = rng.integers(-4000, 4000, M, dtype=np.int64).astype(np.int32)
    multiplier = rng.integers(2**30, 2**31, M, dtype=np.int64).astype(np.int32)
    typical = max(1.0, np.sqrt(taps) * 75 * 75)
    base = -int(np.log2(typical)) + 6
    shift = np.clip(base + rng.integers(-2, 3, M), -31, 30).astype(np.int32)
    if edge:
        multiplier[0] = 2**31 - 1
        if M > 1:
            multiplier[1] = 2**30
        if M > 2:
            shift[2] = 0            # saturates most outputs
        if M > 3:
            multiplier[3] = 0       # every output = zero point, then clamped
    return bias, multiplier, shift


def expected_output(layer: ConvLayer, kind, w_user):
    """golden/'s int8 output [E][F][M] of ``layer`` (``kind`` conv|depthwise|fc, ``w_user`` the weights as
    the user gave them), pooled as the layer asks."""
    pt, pb, pl, pr = layer.resolved_padding()
    common = dict(multiplier=layer.multiplier, shift=layer.shift, input_zero_point=layer.input_zp,
                  output_zero_point=layer.output_zp, act_min=layer.act_min, act_max=layer.act_max)
    x = layer.x[None]
    if kind == "depthwise":
        out = depthwise_conv2d(x, w_user, layer.bias, depth_multiplier=layer.depth_multiplier,
                               stride=(layer.stride, layer.stride), padding=((pt, pb), (pl, pr)), **common)
    elif kind == "fc":
        out = fully_connected(layer.x.reshape(1, -1), w_user, layer.bias, **common).reshape(1, 1, 1, -1)
    else:
        out = conv2d(x, layer.w, layer.bias, stride=(layer.stride, layer.stride),
                     padding=((pt, pb), (pl, pr)), **common)
    if layer.pool == "max":
        out = max_pool2d(out, (2, 2), (2, 2), "VALID", layer.act_min, layer.act_max)
    elif layer.pool == "avg":
        out = avg_pool2d(out, (2, 2), (2, 2), "VALID", layer.act_min, layer.act_max)
    return out[0]


def make_layer(rng, name, H, W, C, M, R, S, stride=1, padding="VALID", kind="conv", k=1, pool="none",
               input_zp=None, output_zp=None, act=(-128, 127), x_fill=None, edge_quant=False):
    x = rng.integers(-128, 128, (H, W, C), dtype=np.int64).astype(np.int8)
    if x_fill is not None:
        x[...] = x_fill
    input_zp = int(rng.integers(-128, 128)) if input_zp is None else input_zp
    output_zp = int(rng.integers(-20, 21)) if output_zp is None else output_zp
    common = dict(input_zp=input_zp, output_zp=output_zp, stride=stride, padding=padding,
                  act_min=act[0], act_max=act[1], pool=pool)
    if kind == "depthwise":
        M = C * k
        w_user = rng.integers(-127, 128, (1, R, S, M), dtype=np.int64).astype(np.int8)
        bias, mult, shift = _quant(rng, M, R * S, edge_quant)
        layer = conv_from_depthwise(x, w_user, k, bias=bias, multiplier=mult, shift=shift, **common)
    elif kind == "fc":
        w_user = rng.integers(-127, 128, (M, H * W * C), dtype=np.int64).astype(np.int8)
        bias, mult, shift = _quant(rng, M, H * W * C, edge_quant)
        layer = conv_from_fc(x, w_user, bias=bias, multiplier=mult, shift=shift, **common)
    else:
        w_user = rng.integers(-127, 128, (M, R, S, C), dtype=np.int64).astype(np.int8)
        bias, mult, shift = _quant(rng, M, R * S * C, edge_quant)
        layer = ConvLayer(x=x, w=w_user, bias=bias, multiplier=mult, shift=shift, **common)
    return TestLayer(name, layer, expected_output(layer, kind, w_user))


def edge_layers(rng, config):
    """The fixed edge set (sizes chosen to fit the default configuration)."""
    L = []
    add = L.append
    add(make_layer(rng, "1x1 input, 1x1 kernel, C=M=1", 1, 1, 1, 1, 1, 1))
    add(make_layer(rng, "5x5 kernel SAME, C=3 (RGB), M=5", 9, 9, 3, 5, 5, 5, padding="SAME", edge_quant=True))
    add(make_layer(rng, "stride 2 odd size SAME, C=4, M=8", 11, 11, 4, 8, 3, 3, stride=2, padding="SAME"))
    add(make_layer(rng, "stride 2 VALID 5x5, odd, M=1", 13, 7, 2, 1, 5, 5, stride=2))
    add(make_layer(rng, "ReLU6-like clamp, zp -128/127", 6, 6, 4, 4, 3, 3, padding="SAME",
                   input_zp=-128, output_zp=127, act=(-128, -90)))
    add(make_layer(rng, "input all -128, zp 127", 5, 5, 4, 4, 3, 3, padding="SAME", input_zp=127,
                   output_zp=-128, x_fill=-128))
    add(make_layer(rng, "input all 127, zp -128", 5, 5, 4, 4, 3, 3, padding="SAME", input_zp=-128,
                   output_zp=0, x_fill=127))
    add(make_layer(rng, "saturation (shift 0, extreme multipliers)", 6, 6, 8, 8, 3, 3, edge_quant=True))
    add(make_layer(rng, "explicit asymmetric padding", 7, 8, 3, 6, 3, 2, padding=(2, 0, 1, 1)))
    add(make_layer(rng, "max pool 2x2", 8, 8, 4, 8, 3, 3, padding="SAME", pool="max"))
    add(make_layer(rng, "avg pool 2x2 odd E,F", 9, 7, 4, 4, 3, 3, padding="SAME", pool="avg"))
    add(make_layer(rng, "depthwise k=1", 8, 8, 8, 0, 3, 3, padding="SAME", kind="depthwise", k=1))
    add(make_layer(rng, "depthwise k=2 stride 2", 9, 9, 4, 0, 3, 3, stride=2, padding="SAME",
                   kind="depthwise", k=2))
    add(make_layer(rng, "depthwise k=3 (dense fallback)", 6, 6, 3, 0, 3, 3, kind="depthwise", k=3))
    add(make_layer(rng, "fully connected 64 -> 10", 4, 4, 4, 10, 1, 1, kind="fc"))
    add(make_layer(rng, "1x1 conv C=16 M=16", 8, 8, 16, 16, 1, 1))
    add(make_layer(rng, "M=1 C=3 F=5", 7, 5, 3, 1, 3, 1))
    cfg = config
    W = min(cfg.max_size, cfg.lb_line_bytes // 32)
    H = min(cfg.max_size, cfg.act_mem_bytes // (W * 32), cfg.out_mem_bytes // (W * 32))
    add(make_layer(rng, f"maximum: {H}x{W}x32 -> M=32, 3x3 SAME", H, W, 32, 32, 3, 3, padding="SAME"))
    return L


def random_layer(rng, config, index):
    """A random layer that fits the configuration (shapes redrawn until the driver accepts them)."""
    for _ in range(100):
        kind = rng.choice(["conv", "conv", "conv", "conv", "depthwise", "fc"])
        R, S = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        stride = int(rng.integers(1, 3))
        H = int(rng.integers(max(1, R - 2), 15))
        W = int(rng.integers(max(1, S - 2), 15))
        C = int(rng.integers(1, 21))
        M = int(rng.integers(1, 21))
        padding = rng.choice(["SAME", "VALID", "explicit"])
        if padding == "explicit":
            padding = tuple(int(rng.integers(0, k)) for k in (R, R, S, S))
        pool = rng.choice(["none", "none", "max", "avg"])
        k = int(rng.integers(1, 4))
        if kind == "fc":
            R = S = 1
            stride, padding, pool = 1, "VALID", "none"
        try:
            t = make_layer(rng, f"random {index}", H, W, C, M, R, S, stride=stride, padding=padding,
                           kind=kind, k=k, pool=pool,
                           act=(int(rng.integers(-128, -60)), int(rng.integers(40, 128))),
                           edge_quant=bool(rng.integers(0, 4) == 0))
            plan_conv(config, t.layer)
        except ValueError:
            continue
        t.name = (f"random {index}: {kind} H{H} W{W} C{t.layer.x.shape[2]} M{t.layer.w.shape[0]} "
                  f"R{R} S{S} U{stride} pad {padding} pool {pool}")
        return t
    raise RuntimeError("could not draw a random layer that fits the configuration")


def random_layers(rng, config, count):
    return [random_layer(rng, config, i) for i in range(count)]


def multi_pass_layers(rng, config):
    """Layers that do not fit ``config`` in one pass, each needing a different kind of split
    (sized for a small-buffer configuration such as tests/test_cfu.py's SMALL)."""
    L = []
    add = L.append
    add(make_layer(rng, "row bands: input and output memory", 16, 12, 3, 6, 3, 3, padding="SAME",
                   edge_quant=True))
    add(make_layer(rng, "column bands: W*C above the line", 6, 30, 4, 4, 3, 3, padding="SAME"))
    add(make_layer(rng, "channel groups: weights", 6, 6, 4, 12, 3, 3, padding="VALID"))
    add(make_layer(rng, "max pool, stride 2, odd sizes, rows and columns", 21, 19, 4, 8, 3, 3, stride=2,
                   padding="SAME", pool="max"))
    add(make_layer(rng, "avg pool, pool buffer", 10, 24, 1, 8, 3, 3, padding="SAME", pool="avg"))
    add(make_layer(rng, "depthwise k=2, C*k above max_channels", 8, 8, 24, 0, 3, 3, padding="SAME",
                   kind="depthwise", k=2))
    add(make_layer(rng, "depthwise k=3 (dense fallback), channel groups", 10, 10, 6, 0, 3, 3, stride=2,
                   padding="SAME", kind="depthwise", k=3))
    add(make_layer(rng, "fully connected 32 -> 40 (M above max_channels)", 4, 4, 2, 40, 1, 1, kind="fc"))
    add(make_layer(rng, "1x1 conv, 32x32 image", 32, 32, 1, 2, 1, 1))
    add(make_layer(rng, "line-buffer span: tall kernel, stride 2, F = 1", 32, 3, 2, 3, 5, 3, stride=2))
    add(make_layer(rng, "explicit asymmetric padding across bands", 18, 10, 3, 5, 3, 4, padding=(2, 1, 0, 2)))
    for t in L:
        from driver.passes import split_layer
        assert len(split_layer(config, t.layer).passes) > 1, f"{t.name}: fits in one pass"
    return L


def random_multi_pass_layer(rng, config, index, max_passes=24):
    """A random layer up to the configuration's maxima that the driver splits into 2..max_passes passes."""
    from driver.passes import split_layer

    for _ in range(200):
        kind = rng.choice(["conv", "conv", "conv", "depthwise"])
        R, S = int(rng.integers(1, config.max_kernel + 1)), int(rng.integers(1, config.max_kernel + 1))
        stride = int(rng.integers(1, config.max_stride + 1))
        H = int(rng.integers(max(1, R - 2), config.max_size + 1))
        W = int(rng.integers(max(1, S - 2), config.max_size + 1))
        C = int(rng.integers(1, config.max_channels + 1))
        M = int(rng.integers(1, 2 * config.max_channels + 1))
        padding = rng.choice(["SAME", "VALID", "explicit"])
        if padding == "explicit":
            padding = tuple(int(rng.integers(0, k)) for k in (R, R, S, S))
        pool = rng.choice(["none", "none", "max", "avg"])
        k = int(rng.integers(1, 4))
        try:
            act = (int(rng.integers(-128, -60)), int(rng.integers(40, 128)))
            t = make_layer(rng, f"random multi-pass {index}", H, W, C, M, R, S, stride=stride,
                           padding=padding, kind=kind, k=k, pool=pool, act=act,
                           edge_quant=bool(rng.integers(0, 4) == 0))
            passes = len(split_layer(config, t.layer).passes)
        except ValueError:
            continue
        if not 2 <= passes <= max_passes:
            continue
        t.name = (f"random multi-pass {index}: {kind} H{H} W{W} C{t.layer.x.shape[2]} M{t.layer.w.shape[0]} "
                  f"R{R} S{S} U{stride} pad {padding} pool {pool} ({passes} passes)")
        return t
    raise RuntimeError("could not draw a random multi-pass layer for the configuration")

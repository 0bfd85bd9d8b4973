"""Random single-layer int8 configurations with float32 quantisation parameters (for conformance tests).

Every generator returns ``(net, x, desc)``: a one-layer :class:`~golden.network.Network`, an int8
input and a short description (enough to rebuild the case by hand).  The same generators drive
tests/conformance (golden/ against LiteRT and TFLite Micro) and can drive hardware tests.

``scales_for_multipliers`` finds float32 scales for which TFLite (LiteRT and TFLite Micro alike)
derives exactly the requested (multiplier, shift) pairs -- e.g. multiplier 2^31 - 1, which no
"round" scale produces.
"""

import math

import numpy as np

from .network import AvgPool2D, Conv2D, DepthwiseConv2D, FullyConnected, MaxPool2D, Network, QuantParams
from .quant import conv_multipliers

__all__ = [
    "EDGE_CASES",
    "scales_for_multipliers",
    "random_conv",
    "random_depthwise",
    "random_fc",
    "random_pool",
]

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1

# edge cases understood by random_conv / random_depthwise / random_fc
EDGE_CASES = (
    "mult_max",
    "mult_min",
    "shift_min",
    "shift_max",
    "zp_min",
    "zp_max",
    "x_all_min",
    "x_all_max",
    "bias_max",
    "bias_min",
    "bias_wrap",
    "relu",
    "relu6",
    "ties",
)


def _f32(v):
    return float(np.float32(v))


def scales_for_multipliers(targets, rng, input_exponent=-31):
    """Float32 (input_scale, weight_scales[k], output_scale = 1.0) with
    QuantizeMultiplier(double(in) * double(w[k]) / 1.0) == targets[k] = (multiplier, shift).

    With 24-bit mantissas in = A * 2^ea and w = B * 2^eb, the product P = A * B is exact in double.
    If P is in [2^(31+k-1), 2^(31+k)) (k = 16 or 17) then multiplier = round-half-away(P / 2^k): for
    each candidate A we solve for B and keep an A that works for every target.
    """
    targets = [(int(m), int(s)) for m, s in targets]
    for m, s in targets:
        if not ((1 << 30) <= m <= INT32_MAX and -31 <= s <= 30):
            raise ValueError(f"target (multiplier, shift) = {(m, s)} is out of range")
    for _ in range(50):
        a = rng.integers(1 << 23, 1 << 24, 200_000, dtype=np.int64)
        ok = np.ones(a.shape, bool)
        choice = []
        for m, _s in targets:
            ok_m = np.zeros(a.shape, bool)
            b_m = np.zeros(a.shape, np.int64)
            k_m = np.zeros(a.shape, np.int64)
            for k in (16, 17):
                # P in [lo, hi) rounds (half away) to m and stays in the binade [2^(30+k), 2^(31+k))
                lo = max(m * (1 << k) - (1 << (k - 1)), 1 << (30 + k))
                hi = m * (1 << k) + (1 << (k - 1))
                b = -(-lo // a)
                hit = ~ok_m & (a * b < hi) & (b >= (1 << 23)) & (b < (1 << 24))
                b_m = np.where(hit, b, b_m)
                k_m = np.where(hit, k, k_m)
                ok_m |= hit
            ok &= ok_m
            choice.append((b_m, k_m))
        idx = np.flatnonzero(ok)
        if idx.size:
            i = idx[0]
            in_s = math.ldexp(int(a[i]), input_exponent)
            w_s = [
                math.ldexp(int(b[i]), s - 31 - int(k[i]) - input_exponent)
                for (b, k), (_m, s) in zip(choice, targets, strict=True)
            ]
            got = conv_multipliers(in_s, w_s, 1.0)
            assert [(int(x), int(y)) for x, y in zip(*got, strict=True)] == targets, (targets, got)
            return in_s, np.array(w_s, np.float32), 1.0
    raise RuntimeError(f"no float32 scales found for {targets}")


def _zp(rng):
    return int(rng.choice([-128, 127, int(rng.integers(-128, 128)), 0]))


def _i8(rng, shape, lo=-128, hi=127):
    return rng.integers(lo, hi, shape, endpoint=True).astype(np.int8)


def _in_size(rng, eff, padding, stride):
    extra = int(rng.integers(0, 3 * stride + 2))
    return 1 + extra if padding == "SAME" else eff + extra


def _quant(rng, m, fan_in, per_channel=True):
    """Random realistic scales: output scale chosen so outputs mostly land inside int8."""
    in_s = _f32(2.0 ** rng.uniform(-8, 0))
    w_s = (2.0 ** rng.uniform(-10, -4, m if per_channel else 1)).astype(np.float32)
    acc_std = math.sqrt(fan_in) * 74.0 * 73.0
    out_s = _f32(in_s * float(np.mean(w_s)) * acc_std / rng.uniform(15, 250))
    return in_s, w_s, out_s


def _apply_edge(
    rng, edge, m, fan_in, in_s, w_s, out_s, x, w, bias, in_zp, out_zp, act, channel_axis, exact24=False
):
    """Modify a random configuration for one of EDGE_CASES (w_s keeps its size: 1 or m).

    exact24: choose multipliers whose input_scale * weight_scale is exact in float32 (LiteRT's
    FULLY_CONNECTED rejects a bias scale that differs from it by > 2% of the output scale, which
    float32 rounding exceeds when the real multiplier is ~2^29).
    """

    def exact(mult, shift):
        if exact24:
            k = mult >> 7  # 24 significant bits: in = 2^-7, w = k * 2^(shift - 24 + 7) are exact products
            return 2.0**-7, np.full(w_s.size, math.ldexp(k, shift - 17), np.float32), 1.0
        a, b, c = scales_for_multipliers([(mult, shift)], rng)
        return a, np.full(w_s.size, b[0], np.float32), c

    if edge in ("relu", "relu6"):
        act = edge.upper()
    elif edge in ("mult_max", "mult_min"):
        real = 100.0 / (math.sqrt(fan_in) * 74 * 73)
        shift = max(-31, min(30, math.frexp(real)[1]))
        in_s, w_s, out_s = exact(INT32_MAX if edge == "mult_max" else 1 << 30, shift)
    elif edge == "shift_min":  # real ~ 2^-32: only int32-extreme accumulators reach +-1
        in_s, w_s, out_s = exact(int(rng.integers(1 << 30, INT32_MAX)), -31)
        bias = np.where(np.arange(m) % 2 == 0, INT32_MAX - (1 << 22), INT32_MIN + (1 << 22)).astype(np.int32)
    elif edge == "shift_max":  # real ~ 2^29: tiny accumulators; the left shift by 30 wraps for |acc| >= 2
        in_s, w_s, out_s = exact(int(rng.integers(1 << 30, INT32_MAX)), 30)
        x = np.full_like(x, in_zp)  # every tap contributes 0, acc = bias
        bias = rng.integers(-4, 5, m).astype(np.int32)
    elif edge == "ties":  # real = 2^-k exactly (multiplier 2^30): many exact rounding ties at both stages
        w = rng.integers(-1, 2, w.shape).astype(np.int8)
        k0 = max(1, round(math.log2(math.sqrt(fan_in * 2 / 3) * 74 / 60)))
        in_s, out_s = 1.0, 1.0
        w_s = (2.0 ** -(k0 + rng.integers(0, 3, w_s.size))).astype(np.float32)
        bias = rng.integers(-64, 65, m).astype(np.int32)
        out_zp = int(rng.integers(-16, 17))
    elif edge == "zp_min":
        in_zp = out_zp = -128
    elif edge == "zp_max":
        in_zp = out_zp = 127
    elif edge == "x_all_min":
        x = np.full_like(x, -128)
    elif edge == "x_all_max":
        x = np.full_like(x, 127)
    elif edge in ("bias_max", "bias_min"):  # int32 extremes, leaving room so the sum does not overflow
        room = fan_in * 255 * 127
        bias = np.full(m, INT32_MAX - room if edge == "bias_max" else INT32_MIN + room, np.int32)
        out_s = _f32(in_s * float(np.max(w_s)) * (1 << 31) / 100.0)
    elif edge == "bias_wrap":  # int32 extremes that DO overflow: golden wraps like the C++ reference
        even = np.arange(m) % 2 == 0
        bias = np.where(even, INT32_MAX, INT32_MIN).astype(np.int32)
        shape = [1] * w.ndim
        shape[channel_axis] = m
        w = np.broadcast_to(np.where(even, 127, -127).reshape(shape), w.shape).astype(np.int8)
        x = np.full_like(x, 127)
        in_zp = -128  # every tap adds +-127 * 255: the sum overflows past the bias
    else:
        raise ValueError(f"edge = {edge!r} is not one of {EDGE_CASES}")
    return in_s, np.asarray(w_s, np.float32), out_s, x, w.astype(np.int8), bias, in_zp, out_zp, act


def random_conv(rng, edge=None, depthwise=False):
    """Random CONV_2D (or DEPTHWISE_CONV_2D): kernels 1x1..5x5, strides 1/2, dilation 1/2, SAME/VALID,
    per-channel (mostly) or per-tensor weights, fused NONE/RELU/RELU6."""
    n = int(rng.integers(1, 3))
    c = int(rng.integers(1, 9))
    dm = int(rng.integers(1, 3)) if depthwise else 1
    m = c * dm if depthwise else int(rng.integers(1, 9))
    r, s = (int(v) for v in rng.integers(1, 6, 2))
    stride = tuple(int(v) for v in rng.integers(1, 3, 2))
    dil = tuple(int(v) for v in rng.integers(1, 3, 2))
    padding = "SAME" if rng.random() < 0.5 else "VALID"
    h = _in_size(rng, (r - 1) * dil[0] + 1, padding, stride[0])
    w_ = _in_size(rng, (s - 1) * dil[1] + 1, padding, stride[1])
    fan_in = r * s * (1 if depthwise else c)
    per_channel = rng.random() < 0.8
    in_s, w_s, out_s = _quant(rng, m, fan_in, per_channel)
    x = _i8(rng, (n, h, w_, c))
    w = _i8(rng, (1, r, s, m) if depthwise else (m, r, s, c), -127, 127)
    bias = (
        rng.normal(0, math.sqrt(fan_in) * 74 * 73, m)
        .astype(np.int64)
        .clip(-(1 << 24), 1 << 24)
        .astype(np.int32)
        if rng.random() < 0.85
        else None
    )
    act = str(rng.choice(["NONE", "RELU", "RELU6"]))
    in_zp, out_zp = _zp(rng), _zp(rng)
    if edge is not None:
        bias = np.zeros(m, np.int32) if bias is None else bias
        in_s, w_s, out_s, x, w, bias, in_zp, out_zp, act = _apply_edge(
            rng, edge, m, fan_in, in_s, w_s, out_s, x, w, bias, in_zp, out_zp, act, 3 if depthwise else 0
        )
        if edge not in ("relu", "relu6"):
            act = "NONE" if edge.startswith(("shift", "bias", "ties")) else act
    qi, qo = QuantParams(in_s, in_zp), QuantParams(out_s, out_zp)
    if depthwise:
        layer = DepthwiseConv2D(w, bias, w_s, qi, qo, stride, padding, dil, act, depth_multiplier=dm)
    else:
        layer = Conv2D(w, bias, w_s, qi, qo, stride, padding, dil, act)
    desc = (
        f"{'depthwise' if depthwise else 'conv'} edge={edge} x={x.shape} w={w.shape} dm={dm} stride={stride} "
        f"dil={dil} pad={padding} act={act} zp=({in_zp},{out_zp}) scales=({in_s!r},{w_s.tolist()},{out_s!r}) "
        f"per_channel={w_s.size > 1}"
    )
    return Network(x.shape, qi, [layer]), x, desc


def random_depthwise(rng, edge=None):
    """Random DEPTHWISE_CONV_2D (depth multiplier 1 or 2); see :func:`random_conv`."""
    return random_conv(rng, edge, depthwise=True)


def random_fc(rng, edge=None, per_channel=False):
    """Random FULLY_CONNECTED: x [N][C], weights [M][C], per-tensor (default) or per-channel scales."""
    n = int(rng.integers(1, 4))
    c = int(rng.integers(1, 65))
    m = int(rng.integers(1, 17))
    in_s, w_s, out_s = _quant(rng, m, c, per_channel)
    x = _i8(rng, (n, c))
    w = _i8(rng, (m, c), -127, 127)
    bias = (
        rng.normal(0, math.sqrt(c) * 74 * 73, m).astype(np.int64).clip(-(1 << 24), 1 << 24).astype(np.int32)
        if rng.random() < 0.85
        else None
    )
    act = str(rng.choice(["NONE", "RELU", "RELU6"]))
    in_zp, out_zp = _zp(rng), _zp(rng)
    if edge is not None:
        bias = np.zeros(m, np.int32) if bias is None else bias
        in_s, w_s, out_s, x, w, bias, in_zp, out_zp, act = _apply_edge(
            rng, edge, m, c, in_s, w_s, out_s, x, w, bias, in_zp, out_zp, act, 0, exact24=edge == "shift_max"
        )
        if edge not in ("relu", "relu6"):
            act = "NONE" if edge.startswith(("shift", "bias", "ties")) else act
    qi, qo = QuantParams(in_s, in_zp), QuantParams(out_s, out_zp)
    layer = FullyConnected(w, bias, w_s, qi, qo, act)
    desc = (
        f"fc edge={edge} x={x.shape} w={w.shape} act={act} zp=({in_zp},{out_zp}) "
        f"scales=({in_s!r},{w_s.tolist()},{out_s!r})"
    )
    return Network(x.shape, qi, [layer]), x, desc


def random_pool(rng, kind, edge=None):
    """Random MAX_POOL_2D / AVERAGE_POOL_2D (kind = 'max' / 'avg'): filters 1..4, strides 1..3."""
    n, c = int(rng.integers(1, 3)), int(rng.integers(1, 9))
    fr, fs = (int(v) for v in rng.integers(1, 5, 2))
    stride = tuple(int(v) for v in rng.integers(1, 4, 2))
    padding = "SAME" if rng.random() < 0.5 else "VALID"
    h, w = _in_size(rng, fr, padding, stride[0]), _in_size(rng, fs, padding, stride[1])
    x = _i8(rng, (n, h, w, c))
    q = QuantParams(_f32(2.0 ** rng.uniform(-8, 0)), _zp(rng))
    act = str(rng.choice(["NONE", "RELU", "RELU6"]))
    if edge == "x_all_min":
        x[:] = -128
    elif edge == "x_all_max":
        x[:] = 127
    elif edge in ("zp_min", "zp_max"):
        q = QuantParams(q.scale, -128 if edge == "zp_min" else 127)
    elif edge in ("relu", "relu6"):
        act = edge.upper()
    elif edge is not None:
        raise ValueError(f"edge = {edge!r} is not a pooling edge case")
    layer = (MaxPool2D if kind == "max" else AvgPool2D)((fr, fs), stride, padding, q, act)
    desc = (
        f"{kind}pool edge={edge} x={x.shape} filter={(fr, fs)} stride={stride} pad={padding} act={act} q={q}"
    )
    return Network(x.shape, q, [layer]), x, desc


POOL_EDGES = ("x_all_min", "x_all_max", "zp_min", "zp_max", "relu", "relu6")

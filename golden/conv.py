"""Convolutions and fully connected layers with TFLite int8 semantics (vectorised NumPy).

Loop nest (notation N, M, C, H, W, R, S, E, F, U, D = dilation):

    acc[n][e][f][m] = B[m] + sum_{r<R} sum_{s<S} sum_{c<C}
                      W[m][r][s][c] * (I[n][U*e + D*r - pad_top][U*f + D*s - pad_left][c] - input_zp)

Only in-bounds taps contribute (same as padding with the input zero point).  The sum wraps in int32
(:func:`conv2d_accumulate` returns exactly the accumulator the hardware tile holds before
requantisation); :func:`conv2d` then requantises with golden.quant.requantize.
"""

import numpy as np

from .quant import _requantize, wrap_int32
from .validate import (
    check_act_range,
    check_array,
    check_multiplier,
    check_pair,
    check_scalar,
    check_shift,
    per_channel,
)

__all__ = [
    "conv_output_size",
    "same_padding",
    "resolve_padding",
    "conv2d_accumulate",
    "conv2d",
    "depthwise_conv2d_accumulate",
    "depthwise_conv2d",
    "fully_connected_accumulate",
    "fully_connected",
]

_MAX_DIM = 1 << 20


def conv_output_size(in_size, filter_size, stride=1, dilation=1, padding="VALID"):
    """Output size along one axis (E from H, or F from W) and the padding (before, after) used.

    SAME: E = ceil(H / U); total = max((E - 1) * U + (R - 1) * D + 1 - H, 0); before = total // 2,
    the odd extra row/column goes at the end.  VALID: E = (H - ((R - 1) * D + 1)) // U + 1.
    Explicit: ``padding`` = (before, after).  Returns (E, (before, after)).
    """
    h = check_scalar("in_size", in_size, 1, _MAX_DIM)
    r = check_scalar("filter_size", filter_size, 1, _MAX_DIM)
    u = check_scalar("stride", stride, 1, _MAX_DIM)
    d = check_scalar("dilation", dilation, 1, _MAX_DIM)
    eff = (r - 1) * d + 1
    if isinstance(padding, str):
        p = padding.upper()
        if p == "SAME":
            e = (h + u - 1) // u
            total = max((e - 1) * u + eff - h, 0)
            return e, (total // 2, total - total // 2)
        if p == "VALID":
            e = (h - eff) // u + 1 if h >= eff else 0
            pads = (0, 0)
        else:
            raise ValueError(
                f"padding = {padding!r} is not allowed (must be 'SAME', 'VALID' or explicit pairs)"
            )
    else:
        pads = check_pair("padding", padding, 0, _MAX_DIM)
        span = h + pads[0] + pads[1]
        e = (span - eff) // u + 1 if span >= eff else 0
    if e < 1:
        raise ValueError(
            f"output size = {e} is out of range [1, ...]: input {h} with padding {pads} is smaller than "
            f"the dilated filter {eff} (filter {r}, dilation {d})"
        )
    return e, pads


def same_padding(in_size, filter_size, stride=1, dilation=1):
    """SAME padding (before, after) along one axis: before = total // 2, extra at the end."""
    return conv_output_size(in_size, filter_size, stride, dilation, "SAME")[1]


def resolve_padding(padding, hw, rs, stride, dilation):
    """Return ((E, F), ((top, bottom), (left, right))) for 'SAME' / 'VALID' / ((t, b), (l, r))."""
    if isinstance(padding, str):
        pad_h = pad_w = padding
    else:
        if not isinstance(padding, (tuple, list)) or len(padding) != 2:
            raise ValueError(
                f"padding = {padding!r} must be 'SAME', 'VALID' or ((top, bottom), (left, right))"
            )
        pad_h, pad_w = padding
    e, ph = conv_output_size(hw[0], rs[0], stride[0], dilation[0], pad_h)
    f, pw = conv_output_size(hw[1], rs[1], stride[1], dilation[1], pad_w)
    return (e, f), (ph, pw)


def _common(x, input_zero_point, stride, dilation):
    check_array("x", x, np.int8, 4)
    zp = check_scalar("input_zero_point", input_zero_point, -128, 127)
    stride = check_pair("stride", stride, 1, _MAX_DIM)
    dilation = check_pair("dilation", dilation, 1, _MAX_DIM)
    return zp, stride, dilation


def _taps(x, zp, rs, stride, dilation, padding):
    """Yield (r, s, window) with window[n, e, f, c] = x - zp at tap (r, s) (0 outside the image)."""
    n, h, w, c = x.shape
    (e, f), ((pt, pb), (pl, pr)) = resolve_padding(padding, (h, w), rs, stride, dilation)
    xp = np.zeros((n, h + pt + pb, w + pl + pr, c), dtype=np.int64)
    xp[:, pt : pt + h, pl : pl + w, :] = x.astype(np.int64) - zp
    u, v = stride
    dh, dw = dilation
    for r in range(rs[0]):
        for s in range(rs[1]):
            y0, x0 = r * dh, s * dw
            yield r, s, xp[:, y0 : y0 + (e - 1) * u + 1 : u, x0 : x0 + (f - 1) * v + 1 : v, :]


def _bias(bias, m):
    if bias is None:
        return np.zeros(m, dtype=np.int64)
    check_array("bias", bias, np.int32, 1, (m,))
    return bias.astype(np.int64)


def conv2d_accumulate(x, w, bias, input_zero_point, stride=(1, 1), padding="VALID", dilation=(1, 1)):
    """Raw int32 accumulators of a 2-D convolution, shape [N][E][F][M], dtype int32.

    x: int8 [N][H][W][C] (NHWC); w: int8 [M][R][S][C] (OHWI); bias: int32 [M] or None.
    acc = bias[m] + sum over in-bounds taps of w * (x - input_zero_point), wrapped to int32.
    """
    zp, stride, dilation = _common(x, input_zero_point, stride, dilation)
    check_array("w", w, np.int8, 4)
    m, r, s, c = w.shape
    if c != x.shape[3]:
        raise ValueError(
            f"w.shape = {w.shape} does not match x.shape = {x.shape}: C must be equal ({c} != {x.shape[3]})"
        )
    acc = None
    w64 = w.astype(np.int64)
    for ri, si, win in _taps(x, zp, (r, s), stride, dilation, padding):
        t = win @ w64[:, ri, si, :].T  # [N, E, F, C] @ [C, M]
        acc = t if acc is None else acc + t
    return wrap_int32(acc + _bias(bias, m)).astype(np.int32)


def _epilogue(acc, m, multiplier, shift, output_zero_point, act_min, act_max):
    mult = per_channel("multiplier", multiplier, m, check_multiplier)
    sh = per_channel("shift", shift, m, check_shift)
    ozp = check_scalar("output_zero_point", output_zero_point, -128, 127)
    act_min, act_max = check_act_range(act_min, act_max)
    return _requantize(acc, mult, sh, ozp, act_min, act_max)


def _check_epilogue_args(m, multiplier, shift, output_zero_point, act_min, act_max):
    # validate before computing so errors do not depend on the data
    per_channel("multiplier", multiplier, m, check_multiplier)
    per_channel("shift", shift, m, check_shift)
    check_scalar("output_zero_point", output_zero_point, -128, 127)
    check_act_range(act_min, act_max)


def conv2d(
    x,
    w,
    bias,
    multiplier,
    shift,
    input_zero_point,
    output_zero_point,
    stride=(1, 1),
    padding="VALID",
    dilation=(1, 1),
    act_min=-128,
    act_max=127,
):
    """TFLite int8 CONV_2D (reference_integer_ops::ConvPerChannel) -> int8 [N][E][F][M].

    multiplier / shift: per output channel [M] (or a scalar for per-tensor); padding: 'SAME',
    'VALID' or explicit ((top, bottom), (left, right)).  Fused ReLU/ReLU6 = act_min/act_max clamps.
    """
    check_array("w", w, np.int8, 4)
    _check_epilogue_args(w.shape[0], multiplier, shift, output_zero_point, act_min, act_max)
    acc = conv2d_accumulate(x, w, bias, input_zero_point, stride, padding, dilation)
    return _epilogue(acc, w.shape[0], multiplier, shift, output_zero_point, act_min, act_max)


def depthwise_conv2d_accumulate(
    x, w, bias, input_zero_point, depth_multiplier=1, stride=(1, 1), padding="VALID", dilation=(1, 1)
):
    """Raw int32 accumulators of a depthwise convolution, shape [N][E][F][C * depth_multiplier].

    w: int8 [1][R][S][C * depth_multiplier]; output channel o = c * depth_multiplier + k reads input
    channel c.  acc[..., o] = bias[o] + sum_{r,s} w[0][r][s][o] * (x[..., c] - input_zero_point).
    """
    zp, stride, dilation = _common(x, input_zero_point, stride, dilation)
    check_array("w", w, np.int8, 4)
    dm = check_scalar("depth_multiplier", depth_multiplier, 1, _MAX_DIM)
    one, r, s, mo = w.shape
    c = x.shape[3]
    if one != 1:
        raise ValueError(f"w.shape = {w.shape}: depthwise weights must be [1][R][S][C*depth_multiplier]")
    if mo != c * dm:
        raise ValueError(
            f"w.shape = {w.shape} does not match x.shape = {x.shape} and depth_multiplier = {dm}: "
            f"last axis must be C * depth_multiplier = {c * dm}"
        )
    acc = None
    w64 = w.astype(np.int64)
    for ri, si, win in _taps(x, zp, (r, s), stride, dilation, padding):
        t = (np.repeat(win, dm, axis=-1) if dm > 1 else win) * w64[0, ri, si, :]
        acc = t if acc is None else acc + t
    return wrap_int32(acc + _bias(bias, mo)).astype(np.int32)


def depthwise_conv2d(
    x,
    w,
    bias,
    multiplier,
    shift,
    input_zero_point,
    output_zero_point,
    depth_multiplier=1,
    stride=(1, 1),
    padding="VALID",
    dilation=(1, 1),
    act_min=-128,
    act_max=127,
):
    """TFLite int8 DEPTHWISE_CONV_2D (reference_integer_ops::DepthwiseConvPerChannel).

    Returns int8 [N][E][F][C * depth_multiplier]; same arguments as :func:`conv2d` plus depth_multiplier.
    """
    check_array("w", w, np.int8, 4)
    _check_epilogue_args(w.shape[3], multiplier, shift, output_zero_point, act_min, act_max)
    acc = depthwise_conv2d_accumulate(
        x, w, bias, input_zero_point, depth_multiplier, stride, padding, dilation
    )
    return _epilogue(acc, w.shape[3], multiplier, shift, output_zero_point, act_min, act_max)


def fully_connected_accumulate(x, w, bias, input_zero_point):
    """Raw int32 accumulators of FULLY_CONNECTED: x int8 [N][C], w int8 [M][C] -> [N][M].

    acc[n][m] = bias[m] + sum_c w[m][c] * (x[n][c] - input_zero_point), wrapped to int32 (weight
    zero point 0, as TFLite int8 requires).
    """
    check_array("x", x, np.int8, 2)
    check_array("w", w, np.int8, 2)
    zp = check_scalar("input_zero_point", input_zero_point, -128, 127)
    m, c = w.shape
    if c != x.shape[1]:
        raise ValueError(
            f"w.shape = {w.shape} does not match x.shape = {x.shape}: C must be equal ({c} != {x.shape[1]})"
        )
    acc = (x.astype(np.int64) - zp) @ w.astype(np.int64).T
    return wrap_int32(acc + _bias(bias, m)).astype(np.int32)


def fully_connected(
    x, w, bias, multiplier, shift, input_zero_point, output_zero_point, act_min=-128, act_max=127
):
    """int8 FULLY_CONNECTED with the INTEGER requantisation path (TFLite Micro / classic TFLite).

    multiplier/shift: scalar (per-tensor, the usual case) or per output channel [M].  Note: LiteRT's
    current reference FULLY_CONNECTED kernel requantises in floating point instead and can differ
    by one; an FC written as a 1x1 CONV_2D matches this function exactly in LiteRT.
    """
    check_array("w", w, np.int8, 2)
    _check_epilogue_args(w.shape[0], multiplier, shift, output_zero_point, act_min, act_max)
    acc = fully_connected_accumulate(x, w, bias, input_zero_point)
    return _epilogue(acc, w.shape[0], multiplier, shift, output_zero_point, act_min, act_max)

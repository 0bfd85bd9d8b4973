"""Max and average pooling with TFLite int8 semantics (reference_integer_ops::MaxPool / AveragePool).

x: int8 [N][H][W][C]; window R x S, stride U, padding 'SAME' / 'VALID' / ((top, bottom), (left, right)).
Only in-bounds taps take part: max over them, or their sum divided by their count (for SAME padding
the border windows have fewer taps, exactly as the reference counts them), rounded
(sum > 0 ? sum + count/2 : sum - count/2) / count with C truncation = half away from zero.
Input and output share scale and zero point (LiteRT requires it), so no requantisation; the result
is clamped to [act_min, act_max].
"""

import numpy as np

from .conv import resolve_padding
from .validate import check_act_range, check_array, check_pair

__all__ = ["max_pool2d", "avg_pool2d", "windows"]

_MAX_DIM = 1 << 20


def windows(x, filter_size, stride, padding):
    """For each tap (r, s) of the window: (the int64 input values under it for every output, zero on
    padding; a bool mask of the taps that are in bounds), both shaped like the output [N][E][F][C]
    (the mask broadcasts over N and C). Raises ValueError for bad arguments, as the pooling ops do."""
    check_array("x", x, np.int8, 4)
    rs = check_pair("filter_size", filter_size, 1, _MAX_DIM)
    stride = check_pair("stride", stride, 1, _MAX_DIM)
    n, h, w, c = x.shape
    (e, f), ((pt, pb), (pl, pr)) = resolve_padding(padding, (h, w), rs, stride, (1, 1))
    xp = np.zeros((n, h + pt + pb, w + pl + pr, c), dtype=np.int64)
    xp[:, pt : pt + h, pl : pl + w, :] = x
    inside = np.zeros((1, h + pt + pb, w + pl + pr, 1), dtype=bool)
    inside[:, pt : pt + h, pl : pl + w, :] = True
    u, v = stride
    for r in range(rs[0]):
        for s in range(rs[1]):
            sl = (
                slice(None),
                slice(r, r + (e - 1) * u + 1, u),
                slice(s, s + (f - 1) * v + 1, v),
                slice(None),
            )
            yield xp[sl], inside[sl]


def max_pool2d(x, filter_size, stride=(1, 1), padding="VALID", act_min=-128, act_max=127):
    """TFLite int8 MAX_POOL_2D -> int8 [N][E][F][C] (max over in-bounds taps, then clamp)."""
    act_min, act_max = check_act_range(act_min, act_max)
    out = None
    for win, inside in windows(x, filter_size, stride, padding):
        t = np.where(inside, win, -128)
        out = t if out is None else np.maximum(out, t)
    return np.clip(out, act_min, act_max).astype(np.int8)


def avg_pool2d(x, filter_size, stride=(1, 1), padding="VALID", act_min=-128, act_max=127):
    """TFLite int8 AVERAGE_POOL_2D -> int8 [N][E][F][C].

    Raises ValueError if some window has no in-bounds tap (only possible with explicit padding;
    the reference kernel fails there too).
    """
    act_min, act_max = check_act_range(act_min, act_max)
    total = count = None
    for win, inside in windows(x, filter_size, stride, padding):
        total = win if total is None else total + win  # padded cells hold 0
        count = inside.astype(np.int64) if count is None else count + inside
    if (count == 0).any():
        raise ValueError(
            "padding leaves a pooling window with no in-bounds tap (count = 0 is out of range [1, R*S])"
        )
    count = np.broadcast_to(count, total.shape)
    half = count // 2
    num = np.where(total > 0, total + half, total - half)
    q = np.abs(num) // count
    avg = np.where(num < 0, -q, q)  # C division truncates toward zero
    return np.clip(avg, act_min, act_max).astype(np.int8)

"""int8 ADD with TFLite's integer semantics (reference_integer_ops::Add, TFLite Micro's add kernel).

Both inputs are shifted left by ``left_shift`` = 20 bits after adding their offsets, rescaled to a
common scale (twice the larger input scale) with their own multipliers, summed, rescaled to the
output scale, offset by the output zero point and clamped to the fused activation range.  The
multipliers come from the float32 scales in double, exactly as TFLite's Prepare computes them::

    twice_max = 2 * max(s1, s2)
    m1, sh1 = QuantizeMultiplierSmallerThanOneExp(s1 / twice_max)
    m2, sh2 = QuantizeMultiplierSmallerThanOneExp(s2 / twice_max)
    mo, sho = QuantizeMultiplierSmallerThanOneExp(twice_max / ((1 << 20) * s_out))

and every product is MultiplyByQuantizedMultiplierSmallerThanOneExp (SaturatingRoundingDoublingHighMul,
then RoundingDivideByPOT).  Inputs broadcast against each other as NumPy (and TFLite's BroadcastAdd) do.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .quant import multiply_by_quantized_multiplier, quantize_multiplier
from .validate import check_array, check_scalar

__all__ = ["LEFT_SHIFT", "AddParams", "add_params", "add_int8", "AddTables", "add_tables", "add_by_tables"]

LEFT_SHIFT = 20  # int8 inputs (TFLite uses 15 for int16)


@dataclass(frozen=True)
class AddParams:
    """The integer parameters of one int8 ADD (what TFLite's ArithmeticParams holds)."""

    input1_offset: int
    input2_offset: int
    output_offset: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int
    left_shift: int = LEFT_SHIFT


def _f32(name, v):
    s = np.float32(v)
    if not (np.isfinite(s) and s > 0):
        raise ValueError(f"{name} = {v!r} is out of range: must be a finite float32 > 0")
    return s


def _smaller_than_one(name, real):
    mult, shift = quantize_multiplier(real)
    if shift > 0:
        raise ValueError(f"{name} = {real!r} is out of range: must be < 1 (TFLite requires it)")
    return mult, shift


def add_params(
    input1_scale, input1_zero_point, input2_scale, input2_zero_point, output_scale, output_zero_point
) -> AddParams:
    """TFLite's Prepare for an int8 ADD: scales are float32 values, zero points in [-128, 127]."""
    s1 = _f32("input1_scale", input1_scale)
    s2 = _f32("input2_scale", input2_scale)
    so = _f32("output_scale", output_scale)
    zps = [
        check_scalar(n, v, -128, 127)
        for n, v in (
            ("input1_zero_point", input1_zero_point),
            ("input2_zero_point", input2_zero_point),
            ("output_zero_point", output_zero_point),
        )
    ]
    twice_max = 2.0 * float(max(s1, s2))
    m1, sh1 = _smaller_than_one("input1 multiplier", float(s1) / twice_max)
    m2, sh2 = _smaller_than_one("input2 multiplier", float(s2) / twice_max)
    # (1 << 20) * output_scale is a float product in C++ (exact: a power of two)
    mo, sho = _smaller_than_one("output multiplier", twice_max / float(np.float32((1 << LEFT_SHIFT) * so)))
    return AddParams(-zps[0], -zps[1], zps[2], m1, sh1, m2, sh2, mo, sho)


def add_int8(x1, x2, params: AddParams, act_min=-128, act_max=127):
    """Elementwise int8 ADD of ``x1`` and ``x2`` (broadcasting) with ``params``; returns int8."""
    check_array("x1", x1, np.int8)
    check_array("x2", x2, np.int8)
    act_min = check_scalar("act_min", act_min, -128, 127)
    act_max = check_scalar("act_max", act_max, act_min, 127)
    try:
        np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ValueError(f"x1.shape = {x1.shape} and x2.shape = {x2.shape} do not broadcast") from None
    p = params
    v1 = (x1.astype(np.int64) + p.input1_offset) << p.left_shift
    v2 = (x2.astype(np.int64) + p.input2_offset) << p.left_shift
    a = multiply_by_quantized_multiplier(v1, p.input1_multiplier, p.input1_shift).astype(np.int64)
    b = multiply_by_quantized_multiplier(v2, p.input2_multiplier, p.input2_shift).astype(np.int64)
    raw = multiply_by_quantized_multiplier(a + b, p.output_multiplier, p.output_shift) + np.int64(
        p.output_offset
    )
    return np.clip(raw, act_min, act_max).astype(np.int8)


class AddTables(NamedTuple):
    """ADD as tables (:func:`add_tables`)."""

    in1: np.ndarray          # int32 [256]: input 1's rescaled value, indexed by x + 128
    in2: np.ndarray          # int32 [256]: input 2's
    thresholds: np.ndarray   # int32 [act_max - act_min], ascending
    act_min: int
    base: int                # the smallest possible sum in1 + in2
    shift: int               # bucket of a sum s: (s - base) >> shift
    start: np.ndarray        # int32 [buckets]: the number of thresholds below each bucket's first sum


BUCKETS = 1024


def add_tables(params: AddParams, act_min=-128, act_max=127) -> AddTables:
    """The same ADD as tables, for a core without a multiplier (the SoC firmware):

    ``in1[x + 128]`` and ``in2[x + 128]``: each input's rescaled value, and ``thresholds[k]``
    (``act_max - act_min`` entries, ascending): the smallest sum s = in1 + in2 whose output is at least
    ``act_min + k + 1``.  The output of a sum s is ``act_min`` plus the number of thresholds <= s (exact
    because the output rescaling, offset and clamp are non-decreasing in s).  To count them quickly,
    the sums are cut into at most :data:`BUCKETS` buckets of 2^shift: ``start[b]`` thresholds lie below
    bucket b, and a scan from there finds the rest (:func:`add_by_tables` does exactly that).
    """
    act_min = check_scalar("act_min", act_min, -128, 127)
    act_max = check_scalar("act_max", act_max, act_min, 127)
    x = np.arange(-128, 128, dtype=np.int64)
    p = params
    t1 = multiply_by_quantized_multiplier((x + p.input1_offset) << p.left_shift, p.input1_multiplier,
                                          p.input1_shift).astype(np.int64)
    t2 = multiply_by_quantized_multiplier((x + p.input2_offset) << p.left_shift, p.input2_multiplier,
                                          p.input2_shift).astype(np.int64)

    def out(s):
        r = multiply_by_quantized_multiplier(s, p.output_multiplier, p.output_shift)
        return np.clip(r + np.int64(p.output_offset), act_min, act_max)

    # bisection for every output level at once: the smallest s in [lo, hi] with out(s) >= level
    base, top = int(t1.min() + t2.min()), int(t1.max() + t2.max())
    levels = np.arange(act_min + 1, act_max + 1, dtype=np.int64)
    lo = np.full(levels.shape, base, np.int64)
    hi = np.full(levels.shape, top + 1, np.int64)  # hi: "never reached"
    while (lo < hi).any():
        mid = (lo + hi) // 2
        ok = out(mid) >= levels
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid + 1)
    shift = max(0, (top - base).bit_length() - (BUCKETS.bit_length() - 1))
    firsts = base + (np.arange((top - base >> shift) + 1, dtype=np.int64) << shift)
    start = np.searchsorted(lo, firsts, side="left")
    return AddTables(t1.astype(np.int32), t2.astype(np.int32), lo.astype(np.int32), act_min, base, shift,
                     start.astype(np.int32))


def add_by_tables(x1, x2, tables: AddTables):
    """ADD of equal-shape int8 tensors through :func:`add_tables`' tables, as the firmware computes it
    (bucket, then scan the thresholds); equals :func:`add_int8`."""
    t = tables
    s = t.in1[x1.astype(np.int64) + 128].astype(np.int64) + t.in2[x2.astype(np.int64) + 128]
    i = t.start[(s - t.base) >> t.shift].astype(np.int64)
    thresholds = np.append(t.thresholds.astype(np.int64), np.iinfo(np.int64).max)  # a sentinel
    while True:
        step = thresholds[i] <= s
        if not step.any():
            break
        i += step
    return (t.act_min + i).astype(np.int8)

"""TFLite fixed-point requantisation, bit-exact with the LiteRT reference kernels.

This is the "double rounding" variant (the default build of TFLite/LiteRT; the TFLITE_SINGLE_ROUNDING
build flag selects another formula that golden/ does NOT implement):

    MultiplyByQuantizedMultiplier(x, M, shift) =
        RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * 2^max(shift, 0), M), max(-shift, 0))

int32 wrap-around
-----------------
The C++ reference computes ``x * (1 << left_shift)`` in int32 and ``acc + output_offset`` in int32;
both can overflow.  golden/ **wraps exactly like the compiled reference** (two's complement, modulo
2^32) in both places, and wraps the accumulation of a convolution in int32 too.  These are verified
against the LiteRT interpreter (tests/conformance).  Nothing saturates except SRDHM's single
INT32_MIN * INT32_MIN case, as in gemmlowp.

All functions are elementwise and broadcast (so a per-channel multiplier/shift of shape [M] applies
to the last axis of an accumulator of shape [..., M]).  Intermediates are int64.
"""

import math

import numpy as np

from .validate import (
    INT32_MAX,
    INT32_MIN,
    SHIFT_MAX,
    SHIFT_MIN,
    check_act_range,
    check_multiplier,
    check_scalar,
    check_shift,
    check_values,
)

__all__ = [
    "INT32_MIN",
    "INT32_MAX",
    "wrap_int32",
    "quantize_multiplier",
    "quantize_multipliers",
    "conv_multipliers",
    "saturating_rounding_doubling_high_mul",
    "rounding_divide_by_pot",
    "multiply_by_quantized_multiplier",
    "requantize",
    "activation_range",
]


def wrap_int32(x):
    """Reduce integer array ``x`` modulo 2^32 into [INT32_MIN, INT32_MAX] (two's complement wrap); int64."""
    return np.asarray(x, dtype=np.int64).astype(np.int32).astype(np.int64)


def _round_half_away(v: float) -> int:
    """std::round (TfLiteRound) on a double: ties away from zero."""
    frac, whole = math.modf(abs(v))
    r = int(whole) + (1 if frac >= 0.5 else 0)
    return -r if v < 0 else r


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplier``: real (double) -> (multiplier, shift), real ~= M * 2^(shift - 31).

    frexp, multiplier = round-half-away(q * 2^31); 2^31 becomes (2^30, e + 1); shift < -31 flushes
    to (0, 0); real == 0 gives (0, 0).  Raises ValueError for negative or non-finite reals and when
    the shift would exceed 30 (real >= 2^30), which the reference cannot represent either.
    """
    try:
        real = float(real)
    except (TypeError, ValueError):
        raise ValueError(f"real = {real!r} is not a number (must be finite and >= 0)") from None
    if not math.isfinite(real) or real < 0:
        raise ValueError(f"real = {real!r} is out of range: must be finite and >= 0")
    if real == 0.0:
        return 0, 0
    q, e = math.frexp(real)
    q_fixed = _round_half_away(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        e += 1
    if e < SHIFT_MIN:
        return 0, 0
    if e > SHIFT_MAX:
        raise ValueError(
            f"real = {real!r} is out of range: needs shift {e} > {SHIFT_MAX} (real must be < 2^30)"
        )
    return int(q_fixed), int(e)


def quantize_multipliers(reals):
    """Vector form of :func:`quantize_multiplier`: returns (multiplier int32 [M], shift int32 [M])."""
    pairs = [quantize_multiplier(r) for r in np.asarray(reals, dtype=np.float64).reshape(-1)]
    mult = np.array([p[0] for p in pairs], dtype=np.int32)
    shift = np.array([p[1] for p in pairs], dtype=np.int32)
    return mult, shift


def conv_multipliers(input_scale, weight_scales, output_scale):
    """Per-channel (multiplier, shift) exactly as LiteRT's PopulateConvolutionQuantizationParams.

    The scales are float32 values (as stored in a .tflite file); the effective scale
    input_scale * weight_scale[m] / output_scale is computed in double, then QuantizeMultiplier.
    """
    in_s = float(np.float32(input_scale))
    out_s = float(np.float32(output_scale))
    w = np.asarray(weight_scales, dtype=np.float32).reshape(-1).astype(np.float64)
    return quantize_multipliers([in_s * float(ws) / out_s for ws in w])


def saturating_rounding_doubling_high_mul(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values (elementwise, broadcasting).

    (a*b + (a*b >= 0 ? 2^30 : 1 - 2^30)) / 2^31 with C truncation toward zero on the 64-bit product;
    INT32_MIN * INT32_MIN saturates to INT32_MAX.  Ties therefore go toward +infinity.
    """
    a = check_values("a", a, INT32_MIN, INT32_MAX)
    b = check_values("b", b, INT32_MIN, INT32_MAX)
    return _srdhm(a, b).astype(np.int32)


def _srdhm(a, b):
    ab = a * b  # |ab| <= 2^62: fits int64
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    t = ab + nudge
    q = np.where(t >= 0, t >> 31, -((-t) >> 31))  # truncating division by 2^31
    return np.where((a == INT32_MIN) & (b == INT32_MIN), np.int64(INT32_MAX), q)


def rounding_divide_by_pot(x, exponent):
    """gemmlowp RoundingDivideByPOT: x / 2^exponent rounded half away from zero; exponent in [0, 31]."""
    x = check_values("x", x, INT32_MIN, INT32_MAX)
    e = check_values("exponent", exponent, 0, 31)
    return _rdbpot(x, e).astype(np.int32)


def _rdbpot(x, e):
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0).astype(np.int64)
    return (x >> e) + (remainder > threshold).astype(np.int64)


def multiply_by_quantized_multiplier(acc, multiplier, shift):
    """TFLite MultiplyByQuantizedMultiplier (double rounding), elementwise with broadcasting.

    acc: int32 values; multiplier: 0 or [2^30, 2^31 - 1]; shift: [-31, 30] (positive = left shift).
    The left shift ``acc * 2^shift`` WRAPS in int32 like the compiled C++ reference.  Exact for every
    int32 acc.  Returns an int32 array.
    """
    acc = check_values("acc", acc, INT32_MIN, INT32_MAX)
    m = check_multiplier("multiplier", multiplier)
    s = check_shift("shift", shift)
    return _mbqm(acc, m, s).astype(np.int32)


def _mbqm(acc, m, s):
    left = np.maximum(s, 0)
    right = np.maximum(-s, 0)
    return _rdbpot(_srdhm(wrap_int32(acc << left), m), right)


def requantize(acc, multiplier, shift, output_zero_point, act_min=-128, act_max=127):
    """int32 accumulator -> int8 output, as in the reference kernels' epilogue.

    MultiplyByQuantizedMultiplier, then ``+ output_zero_point`` with int32 wrap (like the reference),
    then clamp to [act_min, act_max].  Returns an int8 array of the broadcast shape.
    """
    acc = check_values("acc", acc, INT32_MIN, INT32_MAX)
    m = check_multiplier("multiplier", multiplier)
    s = check_shift("shift", shift)
    zp = check_scalar("output_zero_point", output_zero_point, -128, 127)
    act_min, act_max = check_act_range(act_min, act_max)
    return _requantize(acc, m, s, zp, act_min, act_max)


def _requantize(acc, m, s, zp, act_min, act_max):
    v = wrap_int32(_mbqm(np.asarray(acc, dtype=np.int64), m, s) + zp)
    return np.clip(v, act_min, act_max).astype(np.int8)


def activation_range(activation, output_scale, output_zero_point):
    """LiteRT CalculateActivationRangeQuantized for int8 outputs -> (act_min, act_max).

    activation: "NONE", "RELU", "RELU6" or "RELU_N1_TO_1".  Quantises in float32 like the
    reference: zp + round(f / scale) (round half away from zero), clamped to [-128, 127].
    """
    zp = check_scalar("output_zero_point", output_zero_point, -128, 127)
    scale = np.float32(output_scale)
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"output_scale = {output_scale!r} is out of range: must be finite and > 0")

    def q(f):
        v = np.float32(f) / scale
        return zp + _round_half_away(float(v))

    act = str(activation).upper()
    if act == "NONE":
        return -128, 127
    if act == "RELU":
        return max(-128, q(0.0)), 127
    if act == "RELU6":
        return max(-128, q(0.0)), min(127, q(6.0))
    if act == "RELU_N1_TO_1":
        return max(-128, q(-1.0)), min(127, q(1.0))
    raise ValueError(
        f"activation = {activation!r} is not supported (allowed: NONE, RELU, RELU6, RELU_N1_TO_1)"
    )

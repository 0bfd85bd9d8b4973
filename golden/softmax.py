"""int8 SOFTMAX, bit-exact with the TFLite reference kernel (TFLite Micro, LiteRT BUILTIN_REF).

The kernel is ``reference_ops::Softmax<int8_t, int8_t>`` (tensorflow/lite/kernels/internal/reference/
softmax.h) with gemmlowp's fixed-point helpers; its parameters come from TFLite Micro's
``CalculateSoftmaxParams`` (softmax_common.cc) for an int8 input and an int8 output.  Per row (the last
axis) of ``x``::

    max     = max(row)
    diff    = x - max                                    (int32, in [-255, 0])
    used    = diff >= diff_min                           (the others output -128 and add nothing)
    s       = SRDHM(diff * 2^input_left_shift, input_multiplier)     Q5.26, i.e. beta*scale*diff
    e       = exp_on_negative_values(s)                  Q0.31
    sum     = sum over used of RoundingDivideByPOT(e, 12)            Q12.19, plain int32 add (wraps)
    recip, num_bits_over_unit = GetReciprocal(sum, 12)   Q0.31, 1/sum = recip * 2^-num_bits_over_unit
    shift   = num_bits_over_unit + 31 - 8
    out     = clamp(RoundingDivideByPOT(SRDHM(recip, e), shift) - 128, -128, 127)

Parameters (``softmax_params``), computed in double from the float32 ``beta`` and input scale::

    real = min(beta * input_scale * 2^26, 2^31 - 1)      (PreprocessSoftmaxScaling, 5 integer bits)
    (input_multiplier, input_left_shift) = QuantizeMultiplierGreaterThanOne(real)
    diff_min = -floor(31 * 2^26 / 2^input_left_shift)    (-CalculateInputRadius(5, input_left_shift))

Quirks of the reference that golden reproduces:

* ``diff_min`` cuts off only differences whose scaled value would not fit Q5.26 (about beta*scale*diff
  < -31); such elements output -128 and are left out of the sum (their exp would be ~1e-14 anyway).
  When ``beta * input_scale >= 16`` the multiplier is capped, ``input_left_shift`` is 31 and
  ``diff_min`` is 0: only the elements equal to the row maximum count.
* The reference checks ``0 <= shift <= 31`` with TFLITE_CHECK (an abort).  ``shift > 31`` happens when
  the sum of exponentials reaches 512 (e.g. 512 or more elements equal to the row maximum); golden
  raises ``ValueError`` for such a row instead of aborting.
* The Q12.19 accumulator is summed with plain int32 additions: with 4096 or more elements at the
  maximum it wraps.  A sum that wraps to a small positive value (8192 or more such elements) passes
  the check and gives the reference's meaningless output, which golden reproduces.
* The output quantisation is fixed: scale 1/256, zero point -128 (TFLite rejects anything else).
"""

import math
import numbers

import numpy as np

from .quant import _rdbpot, _srdhm, quantize_multiplier, wrap_int32
from .validate import INT32_MAX, INT32_MIN, check_array, check_scalar

__all__ = [
    "OUTPUT_SCALE",
    "OUTPUT_ZERO_POINT",
    "softmax_params",
    "softmax_int8",
    "softmax",
]

OUTPUT_SCALE = 1.0 / 256  # the only int8 output quantisation TFLite accepts for SOFTMAX
OUTPUT_ZERO_POINT = -128

_SCALED_DIFF_INTEGER_BITS = 5  # Q5.26 input to exp()
_ACCUMULATION_INTEGER_BITS = 12  # Q12.19 sum of exponentials
_OUTPUT_BITS = 8  # sizeof(int8_t) * 8


def _float32_value(name, value):
    """A real number given as Python/NumPy scalar, rounded to float32 (as a .tflite file stores it)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} = {value!r} is not a real number (must be finite and > 0)")
    v = float(np.float32(value))
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} = {value!r} is out of range: must be finite and > 0 (as a float32)")
    return v


def softmax_params(beta, input_scale):
    """TFLite Micro's CalculateSoftmaxParams (int8 -> int8): (input_multiplier, input_left_shift, diff_min).

    ``beta`` (SoftmaxOptions.beta) and ``input_scale`` are rounded to float32 like the .tflite fields,
    then ``real = min(beta * input_scale * 2^26, 2^31 - 1)`` is computed in double and quantised with
    QuantizeMultiplierGreaterThanOne: input_multiplier in [2^30, 2^31 - 1], input_left_shift in
    [0, 31].  ``diff_min = -floor(31 * 2^26 / 2^input_left_shift)`` (<= 0).

    Raises ValueError when beta or input_scale is not finite and > 0, and when
    ``beta * input_scale <= 2^-26`` (real <= 1, which the reference rejects with TFLITE_CHECK).
    """
    b = _float32_value("beta", beta)
    s = _float32_value("input_scale", input_scale)
    real = min(b * s * float(1 << (31 - _SCALED_DIFF_INTEGER_BITS)), float((1 << 31) - 1))
    if not real > 1.0:
        raise ValueError(
            f"beta * input_scale = {b!r} * {s!r} = {b * s!r} is out of range: must be > 2^-26 "
            f"(TFLite's PreprocessSoftmaxScaling needs beta * input_scale * 2^26 > 1)"
        )
    # QuantizeMultiplier(real) with real in (1, 2^31 - 1]: its shift can reach 31, one more than
    # quantize_multiplier accepts.  Halving is exact in double and leaves the frexp mantissa (hence the
    # rounding) unchanged, so quantise real / 2 and add 1 to the shift.
    multiplier, shift = quantize_multiplier(real / 2)
    left_shift = shift + 1
    diff_min = -(((1 << _SCALED_DIFF_INTEGER_BITS) - 1) << (31 - _SCALED_DIFF_INTEGER_BITS) >> left_shift)
    return int(multiplier), int(left_shift), int(diff_min)


# --- gemmlowp fixed-point primitives on int64 arrays holding int32 values -------------------------------


def _add(a, b):
    """gemmlowp Add: plain int32 addition (wraps like the compiled reference)."""
    return wrap_int32(a + b)


def _sat_mul_pot(x, exponent):
    """gemmlowp SaturatingRoundingMultiplyByPOT<exponent> for exponent > 0: a saturating left shift.

    The thresholds are +-(2^(31 - exponent) - 1), so -2^(31 - exponent) already saturates to INT32_MIN.
    """
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))


def _rounding_half_sum(a, b):
    """gemmlowp RoundingHalfSum (int32): (a + b + sign(a + b)) / 2, C division (toward zero)."""
    t = a + b
    t = t + np.where(t >= 0, 1, -1)
    return np.where(t >= 0, t >> 1, -((-t) >> 1))


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    """gemmlowp exp() for a in [-1/4, 0) in Q0.31 (Taylor expansion around -1/8); returns Q0.31."""
    constant_term = 1895147668  # exp(-1/8)
    constant_1_over_3 = 715827883
    x = _add(a, 1 << 28)  # a + 1/8
    x2 = _srdhm(x, x)
    x3 = _srdhm(x2, x)
    x4 = _srdhm(x2, x2)
    x4_over_4 = _rdbpot(x4, 2)
    poly = _rdbpot(_add(_srdhm(_add(x4_over_4, x3), constant_1_over_3), x2), 1)
    return _add(constant_term, _srdhm(constant_term, _add(x, poly)))


# exp(-2^k) in Q0.31 for the barrel shifter, k = -2 .. 4 (bit 26 + k of the Q5.26 remainder)
_EXP_BARREL = (
    (-2, 1672461947),
    (-1, 1302514674),
    (0, 790015084),
    (1, 290630308),
    (2, 39332535),
    (3, 720401),
    (4, 242),
)


def _exp_on_negative_values_q5_26(a):
    """gemmlowp exp_on_negative_values for FixedPoint<int32, 5> (Q5.26, a <= 0); returns Q0.31.

    With 5 integer bits every barrel-shifter stage is active and gemmlowp's clamp at -32 is not
    compiled (it needs more than 5 integer bits).
    """
    frac_bits = 31 - _SCALED_DIFF_INTEGER_BITS
    one_quarter = 1 << (frac_bits - 2)
    a_mod_quarter_minus_one_quarter = _add(a & (one_quarter - 1), -one_quarter)
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        _sat_mul_pot(a_mod_quarter_minus_one_quarter, _SCALED_DIFF_INTEGER_BITS)  # Rescale<0>
    )
    remainder = _add(a_mod_quarter_minus_one_quarter, -a)
    for exponent, multiplier in _EXP_BARREL:
        bit = (remainder >> (frac_bits + exponent)) & 1
        result = np.where(bit != 0, _srdhm(result, multiplier), result)
    return np.where(a == 0, INT32_MAX, result)  # exp(0) = One() = INT32_MAX


def _one_over_one_plus_x_for_x_in_0_1(a):
    """gemmlowp one_over_one_plus_x_for_x_in_0_1: Newton-Raphson 1/(1 + a), a and result in Q0.31."""
    f2_one = 1 << 29
    half_denominator = _rounding_half_sum(a, INT32_MAX)
    x = _add(1515870810, _srdhm(half_denominator, -1010580540))  # 48/17 - 32/17 * d, Q2.29
    for _ in range(3):
        one_minus_half_denominator_times_x = _add(f2_one, -_srdhm(half_denominator, x))
        x = _add(x, _sat_mul_pot(_srdhm(x, one_minus_half_denominator_times_x), 2))  # Rescale<2>
    return _sat_mul_pot(x, 1)  # Rescale<0>(ExactMulByPot<-1>(x))


def _get_reciprocal(x, x_integer_digits):
    """TFLite GetReciprocal: ``(shifted_scale, num_bits_over_unit)`` for int32 values ``x``."""
    u = x & 0xFFFFFFFF  # static_cast<uint32_t>
    _, bit_length = np.frexp(u.astype(np.float64))  # exact: u < 2^32
    headroom_plus_one = 32 - bit_length.astype(np.int64)  # CountLeadingZeros (32 for 0)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted_sum_minus_one = wrap_int32(((u << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    return _one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit


def softmax_int8(x, input_multiplier, input_left_shift, diff_min):
    """The int8 reference SOFTMAX over the last axis of ``x`` (any rank >= 1); returns int8, same shape.

    input_multiplier: [2^30, 2^31 - 1]; input_left_shift: [0, 31]; diff_min: [-2^31, 0] (as made by
    :func:`softmax_params`).  The output is quantised with scale 1/256 and zero point -128.

    Raises ValueError for bad arguments, and for a row whose sum of exponentials reaches 512 (the
    reference aborts there: its output shift would exceed 31); the message names the row.
    """
    check_array("x", x, dtype=np.int8)
    if x.ndim < 1:
        raise ValueError(f"x has rank 0 (shape {x.shape}); must have rank >= 1")
    m = check_scalar("input_multiplier", input_multiplier, 1 << 30, INT32_MAX)
    ls = check_scalar("input_left_shift", input_left_shift, 0, 31)
    dmin = check_scalar("diff_min", diff_min, INT32_MIN, 0)
    if x.size == 0:
        return x.copy()

    xi = x.astype(np.int64)
    diff = xi - xi.max(axis=-1, keepdims=True)
    used = diff >= dmin
    scaled_diff = _srdhm(wrap_int32(diff << ls), m)  # MultiplyByQuantizedMultiplierGreaterThanOne
    exp_q0_31 = _exp_on_negative_values_q5_26(scaled_diff)
    terms = np.where(used, _rdbpot(exp_q0_31, _ACCUMULATION_INTEGER_BITS), 0)  # Rescale<12>
    sum_of_exps = wrap_int32(terms.sum(axis=-1, keepdims=True))  # int32 adds wrap: same as one final wrap

    shifted_scale, num_bits_over_unit = _get_reciprocal(sum_of_exps, _ACCUMULATION_INTEGER_BITS)
    exponent = num_bits_over_unit + 31 - _OUTPUT_BITS
    bad = (exponent < 0) | (exponent > 31)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0][:-1])
        s = int(sum_of_exps[idx + (0,)])
        raise ValueError(
            f"x[{', '.join(map(str, idx))}, :]: the sum of exponentials is {s} / 2^19 = {s / 2**19:.2f} "
            f"(int32 Q12.19), which needs an output shift of {int(exponent[idx + (0,)])}; the reference "
            f"kernel requires a shift in [0, 31] (a sum below 512) and aborts otherwise"
        )
    unsat = _rdbpot(_srdhm(shifted_scale, exp_q0_31), exponent)
    out = np.clip(unsat + np.iinfo(np.int8).min, -128, 127)
    return np.where(used, out, -128).astype(np.int8)


def softmax(x, input_scale, beta=1.0, output_scale=OUTPUT_SCALE, output_zero_point=OUTPUT_ZERO_POINT):
    """int8 SOFTMAX of ``x`` (last axis) for a given float32 input scale and beta; returns int8.

    The input zero point does not matter (only differences within a row are used).  ``output_scale``
    must be exactly 1/256 (as float32) and ``output_zero_point`` -128, the only int8 output
    quantisation TFLite accepts; anything else raises ValueError.
    """
    if _float32_value("output_scale", output_scale) != OUTPUT_SCALE:
        raise ValueError(
            f"output_scale = {output_scale!r} is not allowed: int8 SOFTMAX requires exactly "
            f"1/256 = {OUTPUT_SCALE}"
        )
    if check_scalar("output_zero_point", output_zero_point, -128, 127) != OUTPUT_ZERO_POINT:
        raise ValueError(
            f"output_zero_point = {output_zero_point!r} is not allowed: int8 SOFTMAX requires exactly "
            f"{OUTPUT_ZERO_POINT}"
        )
    return softmax_int8(x, *softmax_params(beta, input_scale))

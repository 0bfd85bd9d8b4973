"""golden.quant against the scalar transcription of the TFLite C++ helpers."""

import math

import golden_scalar_ref as ref
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golden import quant

INT32_MIN, INT32_MAX = ref.INT32_MIN, ref.INT32_MAX

EDGE_ACC = sorted(
    {
        INT32_MIN,
        INT32_MIN + 1,
        INT32_MIN + 2,
        -(1 << 30) - 1,
        -(1 << 30),
        -(1 << 16) - 1,
        -12345,
        -3,
        -2,
        -1,
        0,
        1,
        2,
        3,
        12345,
        (1 << 16) + 1,
        (1 << 30) - 1,
        1 << 30,
        INT32_MAX - 1,
        INT32_MAX,
    }
)
EDGE_MULT = [0, 1 << 30, (1 << 30) + 1, 1518500250, (1 << 31) - 2, (1 << 31) - 1]
ALL_SHIFTS = list(range(-31, 31))


def test_mbqm_edge_grid():
    acc = np.array(EDGE_ACC, dtype=np.int64)[:, None, None]
    mult = np.array(EDGE_MULT, dtype=np.int64)[None, :, None]
    shift = np.array(ALL_SHIFTS, dtype=np.int64)[None, None, :]
    got = quant.multiply_by_quantized_multiplier(acc, mult, shift)
    assert got.dtype == np.int32 and got.shape == (len(EDGE_ACC), len(EDGE_MULT), len(ALL_SHIFTS))
    for i, a in enumerate(EDGE_ACC):
        for j, m in enumerate(EDGE_MULT):
            for k, s in enumerate(ALL_SHIFTS):
                assert got[i, j, k] == ref.mbqm(a, m, s), (a, m, s)


def test_mbqm_random_vs_scalar(rng):
    n = 20000
    acc = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)
    # mix of small and full-range accumulators
    acc[: n // 2] >>= rng.integers(0, 31, n // 2)
    mult = rng.integers(1 << 30, INT32_MAX, n, endpoint=True)
    shift = rng.integers(-31, 30, n, endpoint=True)
    got = quant.multiply_by_quantized_multiplier(acc, mult, shift)
    exp = [ref.mbqm(int(a), int(m), int(s)) for a, m, s in zip(acc, mult, shift, strict=True)]
    np.testing.assert_array_equal(got, exp)


def test_mbqm_ties_and_known_values():
    mbqm = quant.multiply_by_quantized_multiplier
    half = 1 << 30  # multiplier 0.5
    # SRDHM ties go toward +inf: 3 * 0.5 = 1.5 -> 2, -3 * 0.5 = -1.5 -> -1
    assert mbqm(3, half, 0) == 2 and mbqm(-3, half, 0) == -1
    # RoundingDivideByPOT ties go away from zero
    assert quant.rounding_divide_by_pot(3, 1) == 2 and quant.rounding_divide_by_pot(-3, 1) == -2
    assert quant.rounding_divide_by_pot(-5, 2) == -1 and quant.rounding_divide_by_pot(-6, 2) == -2
    # double rounding: -3 * 0.25 -> SRDHM(-3, 0.5) = -1 then /2 -> -0.5 -> -1 (away from zero)
    assert mbqm(-3, half, -1) == -1
    # double rounding visible: 5 * 0.25 = 1.25, but SRDHM(5, 0.5) = 2.5 -> 3, then 3 / 2 = 1.5 -> 2
    # (single rounding would give 1)
    assert mbqm(5, half, -1) == 2 == ref.mbqm(5, half, -1)
    # left shift wraps in int32 like the C++ reference: 2^30 << 1 = INT32_MIN
    assert mbqm(1 << 30, half, 1) == ref.srdhm(INT32_MIN, half) == -(1 << 30)
    assert mbqm(INT32_MIN, INT32_MAX, 0) == ref.srdhm(INT32_MIN, INT32_MAX)
    assert mbqm(INT32_MAX, INT32_MAX, 0) == INT32_MAX - 1
    assert mbqm(12345, 0, 7) == 0


def test_srdhm_and_rdbpot_scalar_grid():
    vals = [INT32_MIN, INT32_MIN + 1, -(1 << 30), -3, -1, 0, 1, 3, 1 << 30, INT32_MAX]
    a = np.array(vals)[:, None]
    b = np.array(vals)[None, :]
    got = quant.saturating_rounding_doubling_high_mul(a, b)
    for i, x in enumerate(vals):
        for j, y in enumerate(vals):
            assert got[i, j] == ref.srdhm(x, y)
    assert quant.saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX
    e = np.arange(32)[None, :]
    got = quant.rounding_divide_by_pot(a, e)
    for i, x in enumerate(vals):
        for k in range(32):
            assert got[i, k] == ref.rdbpot(x, k)


def test_mbqm_broadcast_per_channel(rng):
    acc = rng.integers(-(1 << 20), 1 << 20, (3, 5, 7))
    mult = rng.integers(1 << 30, INT32_MAX, 7)
    shift = rng.integers(-20, 3, 7)
    got = quant.multiply_by_quantized_multiplier(acc, mult, shift)
    for idx in np.ndindex(acc.shape):
        assert got[idx] == ref.mbqm(int(acc[idx]), int(mult[idx[-1]]), int(shift[idx[-1]]))


def test_requantize_wraps_output_zero_point_and_clamps():
    # MBQM(INT32_MAX, 2^31-1, 0) = INT32_MAX - 1; + 127 wraps to negative -> clamps to act_min
    out = quant.requantize(np.array([INT32_MAX, 0, -5000, 5000]), INT32_MAX, 0, 127, -100, 100)
    assert out.dtype == np.int8
    exp = [
        min(max(ref.to_int32(ref.mbqm(a, INT32_MAX, 0) + 127), -100), 100)
        for a in [INT32_MAX, 0, -5000, 5000]
    ]
    assert out.tolist() == exp == [-100, 100, -100, 100]


mult_st = st.one_of(st.just(0), st.integers(1 << 30, INT32_MAX), st.sampled_from([1 << 30, INT32_MAX]))
acc_st = st.one_of(
    st.integers(INT32_MIN, INT32_MAX),
    st.integers(-(1 << 16), 1 << 16),
    st.sampled_from([INT32_MIN, INT32_MAX, 0, 1, -1]),
)


@settings(max_examples=400, deadline=None)
@given(acc=acc_st, mult=mult_st, shift=st.integers(-31, 30))
def test_mbqm_hypothesis(acc, mult, shift):
    assert quant.multiply_by_quantized_multiplier(acc, mult, shift) == ref.mbqm(acc, mult, shift)


@settings(max_examples=300, deadline=None)
@given(
    acc=acc_st,
    mult=mult_st,
    shift=st.integers(-31, 30),
    zp=st.integers(-128, 127),
    lo=st.integers(-128, 127),
    hi=st.integers(-128, 127),
)
def test_requantize_hypothesis(acc, mult, shift, zp, lo, hi):
    lo, hi = min(lo, hi), max(lo, hi)
    exp = min(max(ref.to_int32(ref.mbqm(acc, mult, shift) + zp), lo), hi)
    assert quant.requantize(acc, mult, shift, zp, lo, hi) == exp


# --- quantize_multiplier ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "real, expected",
    [
        (0.0, (0, 0)),
        (0.5, (1 << 30, 0)),
        (1.0, (1 << 30, 1)),
        (0.25, (1 << 30, -1)),
        (0.75, (3 << 29, 0)),
        (1 - 2.0**-31, ((1 << 31) - 1, 0)),  # exactly 2^31 - 1
        (1 - 2.0**-32, (1 << 30, 1)),  # q * 2^31 = 2^31 - 0.5 rounds away to 2^31 -> (2^30, e+1)
        (1 - 3 * 2.0**-33, ((1 << 31) - 1, 0)),  # 2^31 - 0.75 -> 2^31 - 1
        (0.5 + 2.0**-32, ((1 << 30) + 1, 0)),  # 2^30 + 0.5: tie, away from zero
        (0.5 + 2.0**-33, (1 << 30, 0)),  # 2^30 + 0.25
        (2.0**-32, (1 << 30, -31)),  # smallest exponent kept
        (2.0**-33, (0, 0)),  # shift -32 < -31 flushes to zero
        (1e-30, (0, 0)),
        (2.0**29, (1 << 30, 30)),  # largest exponent
        (2.0**30 - 1, ((1 << 31) - 2, 30)),
        (2.0**30 - 2.0**-10, None),  # rounds up to 2^31 -> shift 31: rejected
    ],
)
def test_quantize_multiplier_edges(real, expected):
    if expected is None:
        with pytest.raises(ValueError, match="shift 31"):
            quant.quantize_multiplier(real)
    else:
        assert quant.quantize_multiplier(real) == expected


@pytest.mark.parametrize("real", [-1e-9, -1.0, math.inf, -math.inf, math.nan, 2.0**30, 1e300, "abc"])
def test_quantize_multiplier_rejects(real):
    with pytest.raises(ValueError, match="real"):
        quant.quantize_multiplier(real)


def test_quantize_multiplier_random(rng):
    for real in np.exp(rng.uniform(math.log(2.0**-31), math.log(2.0**29), 2000)):
        m, s = quant.quantize_multiplier(real)
        assert (1 << 30) <= m <= INT32_MAX and -31 <= s <= 30
        # |M * 2^(s-31) - real| <= half an ulp of the 31-bit mantissa
        assert abs(m * 2.0 ** (s - 31) - real) <= 2.0 ** (s - 32) * (1 + 1e-12)


def test_conv_multipliers_double_of_float32():
    m, s = quant.conv_multipliers(np.float32(0.1), np.array([0.02, 0.5], np.float32), np.float32(0.3))
    for k, ws in enumerate([0.02, 0.5]):
        real = float(np.float32(0.1)) * float(np.float32(ws)) / float(np.float32(0.3))
        assert (m[k], s[k]) == quant.quantize_multiplier(real)


def test_activation_range():
    assert quant.activation_range("NONE", 0.1, 5) == (-128, 127)
    assert quant.activation_range("RELU", 0.1, 5) == (5, 127)
    assert quant.activation_range("RELU6", 0.1, -128) == (-128, -68)
    assert quant.activation_range("RELU6", 0.01, 0) == (0, 127)
    assert quant.activation_range("RELU", 1.0, -128) == (-128, 127)
    # 6 / 0.04 in float32 = 150.0 exactly? round half away from zero on the float32 quotient
    assert quant.activation_range("RELU6", 0.048, -128) == (
        -128,
        -128 + int(np.float32(6) / np.float32(0.048) + 0.5),
    )
    with pytest.raises(ValueError, match="activation = 'TANH'"):
        quant.activation_range("TANH", 0.1, 0)
    with pytest.raises(ValueError, match="output_scale"):
        quant.activation_range("RELU", 0.0, 0)

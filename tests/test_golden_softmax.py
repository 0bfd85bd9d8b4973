"""golden.softmax against a scalar port of the TFLite reference loop, LiteRT (BUILTIN_REF) and, when
installed, the TFLite Micro interpreter: every element equal, on random and edge rows.

The scalar port below is written straight from tensorflow/lite/kernels/internal/reference/softmax.h
(``Softmax<int8_t, int8_t>``), common.h (GetReciprocal, MultiplyByQuantizedMultiplierGreaterThanOne),
gemmlowp's fixedpoint.h and quantization_util.cc (PreprocessSoftmaxScaling, CalculateInputRadius),
one element at a time with Python integers.  FULL=1 runs many more random configurations.
"""

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tflite

import golden.softmax as gs
from golden.softmax import OUTPUT_SCALE, softmax, softmax_int8, softmax_params
from golden.tflite_build import _Writer, run_litert
from sim import options

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
_INT8 = 9  # TensorType.INT8


# --- scalar port of the reference ------------------------------------------------------------------------


class _Abort(Exception):
    """The reference's TFLITE_CHECK(0 <= exponent && exponent <= 31) failed (the C++ aborts)."""


def _i32(v):
    return (v + 2**31) % 2**32 - 2**31


def _cdiv(n, d):
    """C integer division (truncation toward zero)."""
    q = abs(n) // abs(d)
    return q if (n >= 0) == (d > 0) else -q


def _srdhm(a, b):
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return _i32(_cdiv(ab + nudge, 1 << 31))


def _rdbpot(x, exponent):
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def _sat_mul_pot(x, exponent):
    """SaturatingRoundingMultiplyByPOT<exponent > 0>."""
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return _i32(x * (1 << exponent))


def _exp_interval(a):
    """exp_on_interval_between_negative_one_quarter_and_0_excl, Q0.31."""
    x = _i32(a + (1 << 28))
    x2 = _srdhm(x, x)
    x3 = _srdhm(x2, x)
    x4 = _srdhm(x2, x2)
    x4_over_4 = _rdbpot(x4, 2)
    rest = _rdbpot(_i32(_srdhm(_i32(x4_over_4 + x3), 715827883) + x2), 1)
    return _i32(1895147668 + _srdhm(1895147668, _i32(x + rest)))


def _exp_on_negative_values(a):
    """exp_on_negative_values<int32, 5 integer bits>: Q5.26 -> Q0.31."""
    quarter = 1 << 24
    a_mod = _i32((a & (quarter - 1)) - quarter)
    result = _exp_interval(_sat_mul_pot(a_mod, 5))
    remainder = _i32(a_mod - a)
    barrel = [(-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535)]
    barrel += [(3, 720401), (4, 242)]
    for exponent, multiplier in barrel:
        if remainder & (1 << (26 + exponent)):
            result = _srdhm(result, multiplier)
    return INT32_MAX if a == 0 else result


def _one_over_one_plus_x(a):
    s = a + INT32_MAX
    half_denominator = _i32(_cdiv(s + (1 if s >= 0 else -1), 2))
    x = _i32(1515870810 + _srdhm(half_denominator, -1010580540))
    for _ in range(3):
        one_minus = _i32((1 << 29) - _srdhm(half_denominator, x))
        x = _i32(x + _sat_mul_pot(_srdhm(x, one_minus), 2))
    return _sat_mul_pot(x, 1)


def _get_reciprocal(x, integer_digits):
    u = x & 0xFFFFFFFF
    headroom_plus_one = 32 - u.bit_length()
    shifted_sum_minus_one = _i32(((u << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    return _one_over_one_plus_x(shifted_sum_minus_one), integer_digits - headroom_plus_one


def _ref_row(row, multiplier, left_shift, diff_min):
    max_in_row = -128
    for v in row:
        max_in_row = max(max_in_row, int(v))

    def scaled(v):
        return _srdhm(_i32((int(v) - max_in_row) * (1 << left_shift)), multiplier)

    sum_of_exps = 0
    for v in row:
        if int(v) - max_in_row >= diff_min:
            sum_of_exps = _i32(sum_of_exps + _rdbpot(_exp_on_negative_values(scaled(v)), 12))
    shifted_scale, num_bits_over_unit = _get_reciprocal(sum_of_exps, 12)
    exponent = num_bits_over_unit + 31 - 8
    if not 0 <= exponent <= 31:
        raise _Abort(exponent)
    out = []
    for v in row:
        if int(v) - max_in_row >= diff_min:
            unsat = _rdbpot(_srdhm(shifted_scale, _exp_on_negative_values(scaled(v))), exponent)
            out.append(max(min(unsat - 128, 127), -128))
        else:
            out.append(-128)
    return out


def _ref_params(beta, input_scale):
    """PreprocessSoftmaxScaling + QuantizeMultiplierGreaterThanOne + CalculateInputRadius (double)."""
    real = min(float(np.float32(beta)) * float(np.float32(input_scale)) * (1 << 26), (1 << 31) - 1.0)
    assert real > 1.0
    q, shift = math.frexp(real)
    q_fixed = int(math.floor(q * (1 << 31) + 0.5))  # TfLiteRound of a positive value
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    radius = math.floor(1.0 * 31 * (1 << 26) / (1 << shift))
    return q_fixed, shift, -radius


def _ref_softmax(x, params):
    flat = x.reshape(-1, x.shape[-1])
    return np.array([_ref_row(r, *params) for r in flat], dtype=np.int8).reshape(x.shape)


# --- a one-operator SOFTMAX model ---------------------------------------------------------------------


def softmax_model(
    shape, input_scale, input_zero_point, beta, output_scale=OUTPUT_SCALE, output_zero_point=-128
):
    """An int8 -> int8 SOFTMAX .tflite (bytes) with the given quantisation and SoftmaxOptions.beta."""
    wr = _Writer()
    x = wr.tensor("input", shape, _INT8, [input_scale], [input_zero_point])
    y = wr.tensor("softmax", shape, _INT8, [output_scale], [output_zero_point])

    def opts(b, _w):
        tflite.SoftmaxOptionsStart(b)
        tflite.SoftmaxOptionsAddBeta(b, float(beta))
        return tflite.SoftmaxOptionsEnd(b)

    wr.op("SOFTMAX", [x], [y], tflite.BuiltinOptions.SoftmaxOptions, opts)
    return wr.finish([x], [y])


def _run_tflm(model, x):
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model, arena_size=16384 + 4 * x.size)
    interp.set_input(x, 0)
    interp.invoke()
    return np.asarray(interp.get_output(0)).copy()


# --- data ----------------------------------------------------------------------------------------------

# (input_scale, beta): typical, tiny, large (capped multiplier, diff_min 0), beta != 1, and the scales
# where diff_min cuts rows of int8 differences (beta * scale > 31 / 255)
_SCALES = [
    (1 / 256, 1.0),
    (0.0625, 1.0),
    (0.1, 1.0),
    (0.2, 1.0),
    (0.5, 1.0),
    (1.0, 1.0),
    (3.0, 1.0),
    (16.0, 1.0),
    (100.0, 1.0),
    (1e-5, 1.0),
    (2.0**-25, 1.0),
    (0.05, 2.5),
    (0.3, 0.25),
    (0.7, 3.0),
    (0.0123, 0.5),
]
_LENGTHS = [1, 2, 3, 10, 12, 100, 1000]


def _edge_rows(k, rng):
    """Edge rows of length k: all equal, one 127 among -128, two maxima, extremes, a ramp, random."""
    rows = [
        np.full(k, -128),
        np.full(k, 127),
        np.full(k, int(rng.integers(-128, 128))),
        np.where(np.arange(k) == k // 2, 127, -128),
        np.where(np.arange(k) % 2 == 0, 127, -128),
        np.where(np.arange(k) < 2, 127, -128),
        np.linspace(-128, 127, k).round(),
        np.where(np.arange(k) == 0, 0, -1),
        rng.integers(-128, 128, k),
        rng.integers(100, 128, k),
    ]
    return np.stack(rows).astype(np.int8)


def _random_config(rng):
    """A random (input_scale, beta, x [rows, k]) with k < 512 so that no row can abort."""
    scale = float(2.0 ** rng.uniform(-14, 5))
    beta = float(rng.choice([1.0, 1.0, rng.uniform(0.1, 4.0)]))
    if scale * beta * 2**26 <= 1.0:
        scale = 1.0
    k = int(rng.choice([1, 2, 10, 12, int(rng.integers(1, 512))]))
    rows = int(rng.integers(1, 9))
    lo = int(rng.integers(-128, 128))
    hi = int(rng.integers(lo, 128))
    return scale, beta, rng.integers(lo, hi, (rows, k), endpoint=True).astype(np.int8)


# --- parameters ----------------------------------------------------------------------------------------


def test_params_match_scalar_port(rng):
    cases = list(_SCALES) + [(2.0**-26 * 1.0000001, 1.0), (15.999, 1.0), (2.0**-20, 64.0), (8.0, 2.0)]
    cases += [(float(2.0 ** rng.uniform(-25, 8)), float(rng.uniform(0.05, 8))) for _ in range(500)]
    for scale, beta in cases:
        if float(np.float32(scale)) * float(np.float32(beta)) * 2**26 <= 1.0:
            continue
        assert softmax_params(beta, scale) == _ref_params(beta, scale), (scale, beta)
    # the capped multiplier: beta * scale >= 16 gives shift 31 and diff_min 0 (only the maxima count)
    assert softmax_params(1.0, 16.0) == (1 << 30, 31, 0)
    assert softmax_params(1.0, 1000.0) == ((1 << 31) - 1, 31, 0)
    assert softmax_params(1.0, 1 / 256) == (1 << 30, 19, -3968)


# --- vectorised kernel against the scalar port ---------------------------------------------------------


def test_kernel_matches_scalar_port_random(rng):
    count = 2000 if options.full() else 60
    for _ in range(count):
        scale, beta, x = _random_config(rng)
        params = softmax_params(beta, scale)
        np.testing.assert_array_equal(
            softmax_int8(x, *params), _ref_softmax(x, params), err_msg=f"{scale} {beta}"
        )


def test_kernel_matches_scalar_port_edges(rng):
    """Row by row: equal outputs, or both the port aborts and golden raises (long rows, small scales)."""
    cut = aborted = 0
    for scale, beta in _SCALES:
        params = softmax_params(beta, scale)
        for k in _LENGTHS:
            for row in _edge_rows(k, rng):
                x = row[None, :]
                try:
                    want = _ref_softmax(x, params)
                except _Abort:
                    aborted += 1
                    with pytest.raises(ValueError, match="aborts"):
                        softmax_int8(x, *params)
                    continue
                np.testing.assert_array_equal(softmax_int8(x, *params), want, err_msg=f"{scale} {beta} {row}")
                cut += int((row.astype(np.int64) - row.max() < params[2]).sum())
    assert cut > 0 and aborted > 0  # both the diff_min cut-off and the reference's abort are exercised


def test_fixed_point_primitives_match_scalar_port(rng):
    """exp, 1/(1+x) and GetReciprocal elementwise on every reachable input class (a wrong constant or
    rounding in the last bit of Q0.31 rarely shows in an int8 output)."""
    n = 20_000 if options.full() else 3000
    # exp inputs: SRDHM(diff * 2^shift, M) lies in [-31 * 2^26, 0]; include 0 and the quarter boundaries
    a = np.concatenate([-rng.integers(0, 31 << 26, n, endpoint=True), -np.arange(0, 31 << 26, 1 << 22)])
    np.testing.assert_array_equal(
        gs._exp_on_negative_values_q5_26(a), [_exp_on_negative_values(int(v)) for v in a]
    )
    b = np.concatenate(
        [rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True), [INT32_MIN, -1, 0, 1, INT32_MAX]]
    )
    np.testing.assert_array_equal(
        gs._one_over_one_plus_x_for_x_in_0_1(b), [_one_over_one_plus_x(int(v)) for v in b]
    )
    recip, bits = gs._get_reciprocal(b, 12)
    want = [_get_reciprocal(int(v), 12) for v in b]
    np.testing.assert_array_equal(recip, [w[0] for w in want])
    np.testing.assert_array_equal(bits, [w[1] for w in want])


def test_any_rank_is_rows_of_the_last_axis(rng):
    params = softmax_params(1.0, 0.1)
    for shape in [(7,), (3, 5), (2, 3, 4), (2, 1, 3, 6)]:
        x = rng.integers(-128, 128, shape).astype(np.int8)
        y = softmax_int8(x, *params)
        assert y.shape == x.shape and y.dtype == np.int8
        np.testing.assert_array_equal(
            y.reshape(-1, shape[-1]), softmax_int8(x.reshape(-1, shape[-1]), *params)
        )
        np.testing.assert_array_equal(y, _ref_softmax(x, params))


def test_accumulator_limits_match_scalar_port():
    params = softmax_params(1.0, 0.1)
    # 511 elements at the maximum: the largest all-equal row the reference accepts
    x = np.zeros((1, 511), np.int8)
    np.testing.assert_array_equal(softmax_int8(x, *params), _ref_softmax(x, params))
    # a sum of exponentials of 512: the reference aborts, golden raises and names the row
    x = np.zeros((3, 512), np.int8)
    x[0, 1:] = -128
    x[2, 1:] = -128
    with pytest.raises(_Abort):
        _ref_softmax(x, params)
    with pytest.raises(ValueError, match=r"x\[1, :\]: the sum of exponentials is .* = 512\.00"):
        softmax_int8(x, *params)
    # 8200 equal elements: the int32 sum wraps to 8 * 2^19 and the reference outputs 1/8 everywhere
    x = np.zeros((1, 8200), np.int8)
    y = softmax_int8(x, *params)
    np.testing.assert_array_equal(y, _ref_softmax(x, params))
    assert (y == -96).all()


def test_close_to_float_softmax(rng):
    """Sanity: the integer result is within one output step of round(256 * softmax) - 128."""
    for _ in range(50):
        scale, beta, x = _random_config(rng)
        d = x.astype(np.float64) - x.max(axis=-1, keepdims=True)
        p = np.exp(float(np.float32(beta)) * float(np.float32(scale)) * d)
        p /= p.sum(axis=-1, keepdims=True)
        want = np.clip(np.round(p * 256) - 128, -128, 127)
        assert np.abs(softmax(x, scale, beta).astype(np.int64) - want).max() <= 1, (scale, beta)


# --- real engines -------------------------------------------------------------------------------------


def _accepted_rows(x, scale, beta):
    """The rows of x that the reference does not abort on (golden raises for the others)."""
    keep = []
    for row in x:
        try:
            softmax(row[None, :], scale, beta)
            keep.append(row)
        except ValueError:
            pass
    return np.stack(keep) if keep else x[:0]


def _engine_cases(rng):
    for scale, beta in _SCALES:
        for k in _LENGTHS:
            x = _accepted_rows(_edge_rows(k, rng), scale, beta)
            if len(x):
                yield scale, beta, x
    for _ in range(2000 if options.full() else 40):
        yield _random_config(rng)


@pytest.mark.parametrize("engine", ["litert", "tflite_micro"])
def test_matches_engine(rng, engine):
    if engine == "tflite_micro":
        pytest.importorskip("tflite_micro")
    run = run_litert if engine == "litert" else _run_tflm
    n = 0
    for scale, beta, x in _engine_cases(rng):
        zp = int(rng.integers(-128, 128))
        got = run(softmax_model(x.shape, scale, zp, beta), x)
        np.testing.assert_array_equal(
            softmax(x, scale, beta), got, err_msg=f"scale {scale} beta {beta} {x.shape}"
        )
        n += x.size
    assert n > 10_000


@pytest.mark.parametrize("engine", ["litert", "tflite_micro"])
def test_engine_accumulator_wrap(engine):
    if engine == "tflite_micro":
        pytest.importorskip("tflite_micro")
    run = run_litert if engine == "litert" else _run_tflm
    # the int32 sum of exponentials wraps past 2^32 (8192 maxima) and ends small and positive
    x = np.zeros((2, 8200), np.int8)
    x[1, :8] = -5
    got = run(softmax_model(x.shape, 0.1, 0, 1.0), x)
    np.testing.assert_array_equal(softmax(x, 0.1), got)


def test_litert_aborts_where_golden_raises():
    """512 equal elements: golden raises ValueError; the reference kernel aborts the process."""
    x = np.zeros((1, 512), np.int8)
    with pytest.raises(ValueError, match="aborts"):
        softmax(x, 0.1)
    script = textwrap.dedent(
        f"""
        import sys, numpy as np
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_golden_softmax import softmax_model
        from golden.tflite_build import run_litert
        run_litert(softmax_model((1, 512), 0.1, 0, 1.0), np.zeros((1, 512), np.int8))
        print("returned")
        """
    )
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "returned" not in res.stdout
    assert res.returncode != 0, res.stderr


@pytest.mark.parametrize("out_scale, out_zp", [(1 / 255, -128), (1 / 256, -127), (1 / 256, 0)])
def test_litert_rejects_other_output_quantisation(out_scale, out_zp):
    x = np.zeros((1, 4), np.int8)
    with pytest.raises(RuntimeError):
        run_litert(softmax_model(x.shape, 0.1, 0, 1.0, out_scale, out_zp), x)
    with pytest.raises(ValueError, match="output_scale|output_zero_point"):
        softmax(x, 0.1, output_scale=out_scale, output_zero_point=out_zp)


# --- errors ------------------------------------------------------------------------------------------


_X = np.zeros((2, 3), np.int8)
_P = softmax_params(1.0, 0.1)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: softmax(_X, 0.0), r"input_scale = 0\.0 is out of range"),
        (lambda: softmax(_X, float("nan")), r"input_scale = nan is out of range"),
        (lambda: softmax(_X, -0.1), r"input_scale = -0\.1 is out of range"),
        (lambda: softmax(_X, "0.1"), r"input_scale = '0\.1' is not a real number"),
        (lambda: softmax(_X, 0.1, beta=0.0), r"beta = 0\.0 is out of range"),
        (lambda: softmax(_X, 2.0**-27), r"beta \* input_scale = .* must be > 2\^-26"),
        (lambda: softmax(_X, 0.1, output_scale=1 / 128), r"output_scale = 0\.0078125 is not allowed"),
        (lambda: softmax(_X, 0.1, output_zero_point=0), r"output_zero_point = 0 is not allowed"),
        (lambda: softmax(_X, 0.1, output_zero_point=200), r"output_zero_point = 200 is out of range"),
        (lambda: softmax(_X.astype(np.int16), 0.1), r"x\.dtype = int16 is not allowed"),
        (lambda: softmax(np.int8(3), 0.1), r"x must be a numpy\.ndarray"),
        (lambda: softmax(np.array(3, np.int8), 0.1), r"x has rank 0"),
        (lambda: softmax_int8(_X, 1 << 29, *_P[1:]), r"input_multiplier = 536870912 is out of range"),
        (lambda: softmax_int8(_X, _P[0], 32, _P[2]), r"input_left_shift = 32 is out of range \[0, 31\]"),
        (lambda: softmax_int8(_X, _P[0], _P[1], 1), r"diff_min = 1 is out of range"),
        (lambda: softmax_int8(_X, _P[0], 1.5, _P[2]), r"input_left_shift = 1\.5 is not an integer"),
    ],
)
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_empty_input():
    assert softmax(np.zeros((0, 5), np.int8), 0.1).shape == (0, 5)
    assert softmax(np.zeros((3, 0), np.int8), 0.1).shape == (3, 0)

"""The plain-C operator kernels of firmware/soc/tflite_ref.c (tfl_add, tfl_softmax, tfl_avg_pool,
tfl_max_pool, tfl_space_to_depth) against the references, every output element compared:

* built for the host with ziglang (UBSan in trap mode: undefined behaviour stops the test) and called
  through ctypes: against golden (golden.add, golden.softmax, golden.pool) on random and edge data,
  ADD and SOFTMAX also against the engines on one-operator models (LiteRT's reference kernels and,
  when installed, TFLite Micro), and softmax's fixed-point pieces (gemmlowp's exp_on_negative_values
  and one_over_one_plus_x_for_x_in_0_1) value by value against golden.softmax's;
* cross-compiled for the RV32I core with firmware/lib only and run on unicorn: the same outputs as on
  the host.
"""

import ctypes
import importlib.util
import subprocess

import numpy as np
import pytest

from compiler.schedule import space_to_depth
from firmware.build import FIRMWARE, build, compiler_command
from golden.add import add_int8, add_params, add_tables
from golden.pool import avg_pool2d, max_pool2d
from golden.quant import activation_range
from golden.softmax import softmax_int8, softmax_params

gs = importlib.import_module("golden.softmax")  # the module: golden re-exports a function of that name

SOC_DIR = FIRMWARE / "soc"
SOURCE = SOC_DIR / "tflite_ref.c"

# Test-only entry points to the static fixed-point helpers of tflite_ref.c, over arrays.
_SHIM = """
#include "tflite_ref.c"
void test_exp_on_negative_q5_26(const int32_t *a, int32_t *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = exp_on_negative_q5_26(a[i]);
}
void test_one_over_one_plus_x(const int32_t *a, int32_t *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = one_over_one_plus_x(a[i]);
}
"""


class AddParams(ctypes.Structure):
    """tfl_add_t"""

    _fields_ = [
        (name, ctypes.c_int32)
        for name in (
            "input1_offset", "input2_offset", "output_offset", "left_shift",
            "input1_multiplier", "input2_multiplier", "output_multiplier",
            "input1_shift", "input2_shift", "output_shift", "act_min", "act_max",
        )
    ]  # fmt: skip


class SoftmaxParams(ctypes.Structure):
    """tfl_softmax_t"""

    _fields_ = [(name, ctypes.c_int32) for name in ("input_multiplier", "input_left_shift", "diff_min")]


class AvgPoolParams(ctypes.Structure):
    """tfl_pool_t"""

    _fields_ = [
        (name, ctypes.c_int32)
        for name in ("H", "W", "C", "fh", "fw", "sh", "sw", "pad_top", "pad_left", "E", "F", "act_min",
                     "act_max")
    ]  # fmt: skip


class AddTableParams(ctypes.Structure):
    """tfl_add_table_t"""

    _p = ctypes.POINTER(ctypes.c_int32)
    _fields_ = [
        ("in1", _p),
        ("in2", _p),
        ("thresholds", _p),
        ("start", _p),
        ("n_thresholds", ctypes.c_int),
        ("act_min", ctypes.c_int),
        ("shift", ctypes.c_int),
        ("base", ctypes.c_int32),
    ]


class S2dParams(ctypes.Structure):
    """tfl_s2d_t"""

    _fields_ = [
        (n, ctypes.c_int) for n in ("H", "W", "C", "block", "pad_top", "pad_left", "Hb", "Wb", "pad_value")
    ]


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    """tflite_ref.c (with the test shim) as a host shared library (-O2, UBSan trapping)."""
    pytest.importorskip("ziglang")
    out = tmp_path_factory.mktemp("tflite_ref")
    shim, so = out / "shim.c", out / "libtflite_ref.so"
    shim.write_text(_SHIM)
    cmd = compiler_command() + [
        "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-fsanitize=undefined",
        "-fsanitize-trap=undefined", "-I", str(SOC_DIR), "-o", str(so), str(shim),
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stderr}"
    c = ctypes.CDLL(str(so))
    i8, i32 = ctypes.POINTER(ctypes.c_int8), ctypes.POINTER(ctypes.c_int32)
    c.tfl_add.argtypes = [ctypes.POINTER(AddParams), i8, i8, i8, ctypes.c_int]
    c.tfl_add.restype = None
    c.tfl_softmax.argtypes = [ctypes.POINTER(SoftmaxParams), i8, i8, ctypes.c_int, ctypes.c_int]
    c.tfl_softmax.restype = ctypes.c_int
    for name in ("tfl_avg_pool", "tfl_max_pool"):
        getattr(c, name).argtypes = [ctypes.POINTER(AvgPoolParams), i8, i8]
        getattr(c, name).restype = ctypes.c_int
    c.tfl_srdhm.argtypes = [ctypes.c_int32, ctypes.c_int32]
    c.tfl_srdhm.restype = ctypes.c_int32
    c.tfl_add_table.argtypes = [ctypes.POINTER(AddTableParams), i8, i8, i8, ctypes.c_int]
    c.tfl_add_table.restype = None
    c.tfl_space_to_depth.argtypes = [ctypes.POINTER(S2dParams), i8, i8]
    c.tfl_space_to_depth.restype = None
    for name in ("test_exp_on_negative_q5_26", "test_one_over_one_plus_x"):
        getattr(c, name).argtypes = [i32, i32, ctypes.c_int]
        getattr(c, name).restype = None
    return c


def _ptr(a, ctype=ctypes.c_int8):
    return a.ctypes.data_as(ctypes.POINTER(ctype))


def c_add_params(s1, zp1, s2, zp2, s_out, zp_out, activation="NONE"):
    """tfl_add_t from golden.add.add_params (TFLite's Prepare) and the fused activation's range."""
    g = add_params(s1, zp1, s2, zp2, s_out, zp_out)
    lo, hi = activation_range(activation, s_out, zp_out)
    return AddParams(g.input1_offset, g.input2_offset, g.output_offset, g.left_shift,
                     g.input1_multiplier, g.input2_multiplier, g.output_multiplier,
                     g.input1_shift, g.input2_shift, g.output_shift, lo, hi)  # fmt: skip


def c_softmax_params(beta, input_scale):
    return SoftmaxParams(*softmax_params(beta, input_scale))


# --- one-operator models for the engines -------------------------------------------------------------------


def engines():
    """(name, run(model, x)): LiteRT BUILTIN_REF, and TFLite Micro when it is installed."""
    from golden.tflite_build import run_litert

    found = [("LiteRT", run_litert)]
    if importlib.util.find_spec("tflite_micro") is not None:
        from golden.tflm import run_tflm

        found.append(("TFLM", run_tflm))
    return found


def add_model(b, s1, zp1, s2, zp2, s_out, zp_out, activation):
    """int8 ADD of an input [1, n] and the constant b."""
    import tflite

    from golden.tflite_build import _ACT, _INT8, _Writer

    wr = _Writer()
    shape = (1, b.size)
    x = wr.tensor("a", shape, _INT8, [s1], [zp1])
    y = wr.tensor("b", shape, _INT8, [s2], [zp2], data=b.astype(np.int8))
    out = wr.tensor("out", shape, _INT8, [s_out], [zp_out])

    def opts(bld, _w):
        tflite.AddOptionsStart(bld)
        tflite.AddOptionsAddFusedActivationFunction(bld, _ACT[activation])
        return tflite.AddOptionsEnd(bld)

    wr.op("ADD", [x, y], [out], tflite.BuiltinOptions.AddOptions, opts)
    return wr.finish([x], [out])


def softmax_model(shape, input_scale, input_zp, beta):
    """int8 SOFTMAX over the last axis (output scale 1/256, zero point -128)."""
    import tflite

    from golden.tflite_build import _INT8, _Writer

    wr = _Writer()
    inp = wr.tensor("x", shape, _INT8, [input_scale], [input_zp])
    out = wr.tensor("y", shape, _INT8, [gs.OUTPUT_SCALE], [gs.OUTPUT_ZERO_POINT])

    def opts(bld, _w):
        tflite.SoftmaxOptionsStart(bld)
        tflite.SoftmaxOptionsAddBeta(bld, beta)
        return tflite.SoftmaxOptionsEnd(bld)

    wr.op("SOFTMAX", [inp], [out], tflite.BuiltinOptions.SoftmaxOptions, opts)
    return wr.finish([inp], [out])


# --- calls into the library ------------------------------------------------------------------------------


def c_add(lib, p, a, b):
    a, b = np.ascontiguousarray(a, np.int8), np.ascontiguousarray(b, np.int8)
    out = np.zeros(a.size, np.int8)
    lib.tfl_add(ctypes.byref(p), _ptr(a), _ptr(b), _ptr(out), a.size)
    return out


def c_softmax(lib, p, x):
    x = np.ascontiguousarray(x, np.int8)
    out = np.full(x.shape, 99, np.int8)
    status = lib.tfl_softmax(ctypes.byref(p), _ptr(x), _ptr(out), x.shape[0], x.shape[1])
    return status, out


def c_avg_pool(lib, x, filt, stride, pads, out_hw, act=(-128, 127), kind="avg"):
    """x [H][W][C]; pads (top, left); out_hw (E, F) -> (status, out [E][F][C])."""
    x = np.ascontiguousarray(x, np.int8)
    (h, w, c), (e, f) = x.shape, out_hw
    p = AvgPoolParams(h, w, c, *filt, *stride, *pads, e, f, *act)
    out = np.full((e, f, c), 99, np.int8)
    status = getattr(lib, f"tfl_{kind}_pool")(ctypes.byref(p), _ptr(x), _ptr(out))
    return status, out


def _mismatch(name, got, want):
    bad = np.flatnonzero(np.asarray(got).reshape(-1) != np.asarray(want).reshape(-1))
    if bad.size:
        i = bad[0]
        return (
            f"{name}: {bad.size} of {got.size} outputs differ, first at flat index {i}: "
            f"C {got.reshape(-1)[i]}, reference {want.reshape(-1)[i]}"
        )
    return None


# --- ADD ---------------------------------------------------------------------------------------------------


def _edge_vector(rng, n):
    """Random int8 with runs of -128 and 127 and their neighbours."""
    v = rng.integers(-128, 128, n).astype(np.int8)
    v[rng.random(n) < 0.3] = rng.choice(np.array([-128, -127, 0, 126, 127], np.int8), 1)
    return v


def _add_cases(rng):
    acts = ["NONE", "RELU", "RELU6"]
    cases = []
    for _ in range(40):  # random scales over three decades each, zero points anywhere
        s1, s2 = 10.0 ** rng.uniform(-4, -0.5, 2)
        s_out = max(s1, s2) * 10.0 ** rng.uniform(-1.5, 1)
        zp1, zp2, zp_out = (int(z) for z in rng.integers(-128, 128, 3))
        cases.append((s1, zp1, s2, zp2, s_out, zp_out, str(rng.choice(acts))))
    # edges: extreme zero points, 1000x scale ratios both ways, equal scales, saturating output scales
    # (tiny: every sum saturates; huge: everything rounds to the zero point), ReLU ranges at the ends
    cases += [
        (0.02, -128, 0.02, -128, 0.02, -128, "NONE"),
        (0.02, 127, 0.02, 127, 0.02, 127, "NONE"),
        (0.02, -128, 0.02, 127, 0.04, 0, "NONE"),
        (1.0, 0, 0.001, 0, 1.0, 0, "NONE"),
        (0.001, 5, 1.0, -7, 0.5, 3, "RELU"),
        (0.5, -128, 0.0005, 127, 0.0001, -128, "NONE"),
        (0.01, 0, 0.01, 0, 0.01 * 4e-5, 0, "NONE"),
        (0.01, 0, 0.01, 0, 1000.0, 0, "NONE"),
        (0.1, 10, 0.05, -20, 0.02, 127, "RELU"),
        (0.1, 10, 0.05, -20, 0.02, -128, "RELU6"),
        (0.1, 10, 0.05, -20, 0.2, -100, "RELU6"),
        (3e-6, 0, 3e-3, 0, 3e-3, 0, "RELU"),
    ]
    return cases


def test_add_matches_golden(lib, rng):
    failures = []
    for s1, zp1, s2, zp2, s_out, zp_out, act in _add_cases(rng):
        n = int(rng.integers(1, 300))
        a, b = _edge_vector(rng, n), _edge_vector(rng, n)
        p = c_add_params(s1, zp1, s2, zp2, s_out, zp_out, act)
        want = add_int8(a, b, add_params(s1, zp1, s2, zp2, s_out, zp_out), p.act_min, p.act_max)
        msg = _mismatch(f"add s=({s1:.3g}, {s2:.3g}, {s_out:.3g}) zp=({zp1}, {zp2}, {zp_out}) {act}",
                        c_add(lib, p, a, b), want)  # fmt: skip
        if msg:
            failures.append(msg)
    assert not failures, "\n".join(failures)


def test_add_matches_engines_on_every_pair(lib):
    """Every (a, b) int8 pair for a few parameter sets, against the engines' ADD."""
    a, b = (g.reshape(-1).astype(np.int8) for g in np.meshgrid(np.arange(-128, 128), np.arange(-128, 128)))
    for case in [(0.05, -3, 0.03, 17, 0.07, -9, "NONE"), (0.5, 127, 0.0005, -128, 0.25, -128, "RELU")]:
        got = c_add(lib, c_add_params(*case), a, b)
        model = add_model(b, *case)
        for name, run in engines():
            assert not _mismatch(f"add {case} vs {name}", got, run(model, a.reshape(1, -1)).reshape(-1))


def test_add_table_matches_golden_on_every_pair(lib, rng):
    """tfl_add_table (the firmware's ADD: golden.add.add_tables, bucket + scan) == add_int8 on every pair."""
    a, b = (g.reshape(-1).astype(np.int8) for g in np.meshgrid(np.arange(-128, 128), np.arange(-128, 128)))
    failures = []
    for s1, zp1, s2, zp2, s_out, zp_out, act in _add_cases(rng):
        g = add_params(s1, zp1, s2, zp2, s_out, zp_out)
        lo, hi = activation_range(act, s_out, zp_out)
        t = add_tables(g, lo, hi)
        arrays = [np.ascontiguousarray(x, np.int32) for x in (t.in1, t.in2, t.thresholds, t.start)]
        p = AddTableParams(
            *(_ptr(x, ctypes.c_int32) for x in arrays), len(t.thresholds), t.act_min, t.shift, t.base
        )
        got = np.full(a.size, 99, np.int8)
        lib.tfl_add_table(ctypes.byref(p), _ptr(a), _ptr(b), _ptr(got), a.size)
        msg = _mismatch(f"add table s=({s1:.3g}, {s2:.3g}, {s_out:.3g}) zp=({zp1}, {zp2}, {zp_out}) {act}",
                        got, add_int8(a, b, g, lo, hi))  # fmt: skip
        if msg:
            failures.append(msg)
    assert not failures, "\n".join(failures)


def test_add_in_place(lib, rng):
    """out may alias an input (the firmware adds into a branch's buffer)."""
    a, b = _edge_vector(rng, 100), _edge_vector(rng, 100)
    p = c_add_params(0.04, 3, 0.02, -5, 0.05, 1, "RELU")
    want = c_add(lib, p, a, b)
    lib.tfl_add(ctypes.byref(p), _ptr(a), _ptr(b), _ptr(a), a.size)
    np.testing.assert_array_equal(a, want)


# --- SOFTMAX -----------------------------------------------------------------------------------------------


def _softmax_rows(rng, rows, depth, kind):
    if kind == "random":
        return rng.integers(-128, 128, (rows, depth)).astype(np.int8)
    if kind == "edge":  # rows of -128 / 127 extremes, ties at the maximum, a single winner
        x = rng.choice(np.array([-128, -127, 126, 127], np.int8), (rows, depth))
        x[0] = -128
        if rows > 1:
            x[1] = 127
        if rows > 2:
            x[2] = -128
            x[2, rng.integers(depth)] = 127
        return x
    raise ValueError(kind)


def _softmax_cases(rng):
    cases = []
    for _ in range(30):  # depth < 512 keeps every row's sum of exponentials below the reference's limit
        depth = int(rng.choice([1, 2, 3, 5, 10, 12, 37, 100, 300]))
        beta = float(rng.choice([1.0, rng.uniform(0.1, 3.0)]))
        scale = float(10.0 ** rng.uniform(-4, 0.5))
        cases.append((int(rng.integers(1, 6)), depth, beta, scale, str(rng.choice(["random", "edge"]))))
    cases += [
        (4, 1, 1.0, 0.1, "random"),  # rows of one: always 127 (1.0 saturates)
        (6, 2, 1.0, 0.1, "edge"),
        (3, 1000, 1.0, 0.05, "random"),  # long rows
        (3, 1000, 0.7, 0.3, "random"),
        (3, 1000, 2.5, 0.1, "random"),
        (5, 10, 1.0, 1e-7, "random"),  # tiny scale: beta * scale * 2^26 ~ 6.7, all exps ~1
        (5, 10, 1.0, 0.5, "random"),  # diff_min = -62: larger differences cut off
        (5, 10, 0.5, 2.0, "random"),
        (5, 10, 1.0, 20.0, "random"),  # beta * scale >= 16: multiplier capped, diff_min 0
        (5, 300, 3.0, 1.0, "edge"),
        (5, 12, 1.0, 1.0 / 256, "edge"),
    ]
    return cases


def test_softmax_matches_golden(lib, rng):
    failures = []
    for rows, depth, beta, scale, kind in _softmax_cases(rng):
        x = _softmax_rows(rng, rows, depth, kind)
        status, got = c_softmax(lib, c_softmax_params(beta, scale), x)
        name = f"softmax {rows}x{depth} beta {beta:.3g} scale {scale:.3g} {kind}"
        assert status == 0, f"{name}: tfl_softmax returned {status}"
        msg = _mismatch(name, got, softmax_int8(x, *softmax_params(beta, scale)))
        if msg:
            failures.append(msg)
    assert not failures, "\n".join(failures)


def test_softmax_matches_engines(lib, rng):
    failures = []
    for rows, depth, beta, scale, kind in _softmax_cases(rng)[::3]:
        x = _softmax_rows(rng, rows, depth, kind)
        zp = int(rng.integers(-128, 128))  # softmax ignores the zero point (differences only)
        status, got = c_softmax(lib, c_softmax_params(beta, scale), x)
        name = f"softmax {rows}x{depth} beta {beta:.3g} scale {scale:.3g} {kind}"
        assert status == 0, f"{name}: tfl_softmax returned {status}"  # the engines would abort
        model = softmax_model(x.shape, scale, zp, beta)
        for engine, run in engines():
            msg = _mismatch(f"{name} vs {engine}", got, run(model, x))
            if msg:
                failures.append(msg)
    assert not failures, "\n".join(failures)


def test_softmax_sum_limit(lib, rng):
    """511 elements at the maximum still work; 512 make the reference's output shift 32 (its
    TFLITE_CHECK aborts, golden raises): tfl_softmax returns -1 and writes -128 for that row only."""
    p = c_softmax_params(1.0, 0.1)
    ok = np.full((1, 511), 5, np.int8)
    status, got = c_softmax(lib, p, ok)
    assert status == 0
    assert not _mismatch("softmax 511 ties", got, softmax_int8(ok, *softmax_params(1.0, 0.1)))
    x = rng.integers(-128, 128, (3, 512)).astype(np.int8)
    x[1] = 7
    with pytest.raises(ValueError, match="aborts"):
        softmax_int8(x, *softmax_params(1.0, 0.1))
    status, got = c_softmax(lib, p, x)
    assert status == -1
    assert (got[1] == -128).all()
    want = softmax_int8(x[[0, 2]], *softmax_params(1.0, 0.1))
    assert not _mismatch("softmax rows beside the failing one", got[[0, 2]], want)


def _fixed_point_sweep(lib, c_name, values, golden_fn):
    a = np.ascontiguousarray(values, np.int32)
    got = np.zeros_like(a)
    getattr(lib, c_name)(_ptr(a, ctypes.c_int32), _ptr(got, ctypes.c_int32), a.size)
    want = golden_fn(a.astype(np.int64))
    bad = np.flatnonzero(got != want)
    assert not bad.size, f"{c_name}({a[bad[0]]}) = {got[bad[0]]}, golden {want[bad[0]]} ({bad.size} differ)"


def test_softmax_exp_values(lib, rng):
    """exp_on_negative_values on Q5.26: every power-of-two boundary and its neighbours, and random values
    over the whole range [-2^31, 0] (int8 outputs hide most one-ulp errors of the pieces)."""
    pots = np.array([-(1 << k) for k in range(32)], np.int64)
    edges = np.concatenate([[0, -1], pots, pots + 1, pots - 1, pots * 3 // 2])
    values = np.concatenate([edges, rng.integers(-(1 << 31), 1, 200_000), -rng.integers(0, 1 << 26, 100_000)])
    values = values.clip(-(1 << 31), 0)
    _fixed_point_sweep(lib, "test_exp_on_negative_q5_26", values, gs._exp_on_negative_values_q5_26)


def test_softmax_reciprocal_values(lib, rng):
    """one_over_one_plus_x_for_x_in_0_1 on Q0.31 values in [0, 1)."""
    pots = np.array([1 << k for k in range(31)], np.int64)
    edges = np.concatenate([[0, (1 << 31) - 1], pots, pots - 1, pots + 1])
    values = np.concatenate([edges, rng.integers(0, 1 << 31, 300_000)])
    values = values.clip(0, (1 << 31) - 1)
    _fixed_point_sweep(lib, "test_one_over_one_plus_x", values, gs._one_over_one_plus_x_for_x_in_0_1)


# --- AVERAGE_POOL_2D ---------------------------------------------------------------------------------------


def _check_pool(lib, x, filt, stride, padding, act=(-128, 127), kind="avg"):
    """C vs golden.pool.avg_pool2d / max_pool2d; padding 'VALID', 'SAME' or ((top, bottom), (left, right))."""
    want = (avg_pool2d if kind == "avg" else max_pool2d)(x[None], filt, stride, padding, *act)[0]
    if padding == "VALID":
        pads = (0, 0)
    elif padding == "SAME":  # TFLite SAME: the odd extra row / column at the end
        sizes = zip(want.shape[:2], stride, filt, x.shape[:2], strict=True)
        pads = tuple(max((o - 1) * s + k - n, 0) // 2 for o, s, k, n in sizes)
    else:
        pads = (padding[0][0], padding[1][0])
    status, got = c_avg_pool(lib, x, filt, stride, pads, want.shape[:2], act, kind)
    assert status == 0
    return _mismatch(f"{kind}_pool {x.shape} filter {filt} stride {stride} {padding} act {act}", got, want)


@pytest.mark.parametrize("shape", [(8, 8, 64), (3, 3, 256), (25, 5, 64)])
def test_avg_pool_global(lib, rng, shape):
    """The global pools of the MLPerf Tiny models (IC 8x8, VWW 3x3, KWS 25x5 = 125 taps)."""
    h, w, c = shape
    datasets = [
        rng.integers(-128, 128, shape),
        np.full(shape, -128),
        np.full(shape, 127),
        rng.choice([-128, 127], shape),
        rng.integers(-3, 4, shape),  # many exact .5 ties for even tap counts
    ]
    for x in datasets:
        for act in [(-128, 127), (-5, 127), (int(rng.integers(-128, 0)), int(rng.integers(0, 128)))]:
            msg = _check_pool(lib, x.astype(np.int8), (h, w), (h, w), "VALID", act)
            assert not msg, msg


@pytest.mark.parametrize("kind", ["avg", "max"])
def test_pool_random(lib, rng, kind):
    failures = []
    for _ in range(150):
        h, w = (int(v) for v in rng.integers(1, 13, 2))
        fh, fw = int(rng.integers(1, min(h, 5) + 1)), int(rng.integers(1, min(w, 5) + 1))
        stride = tuple(int(v) for v in rng.integers(1, 4, 2))
        pad_kind = rng.choice(["VALID", "SAME", "explicit"])
        padding = str(pad_kind)
        if pad_kind == "explicit":  # pads below the window size: every window keeps a tap
            padding = tuple(tuple(int(v) for v in rng.integers(0, k, 2)) for k in (fh, fw))
        x = _edge_vector(rng, h * w * int(rng.integers(1, 9))).reshape(h, w, -1)
        lo = int(rng.integers(-128, 128))
        act = (lo, int(rng.integers(lo, 128))) if rng.random() < 0.3 else (-128, 127)
        msg = _check_pool(lib, x, (fh, fw), stride, padding, act, kind)
        if msg:
            failures.append(msg)
    assert not failures, "\n".join(failures[:10])


def test_avg_pool_empty_window(lib, rng):
    """Padding as large as the window leaves a window without taps: golden raises, the C returns -1."""
    x = rng.integers(-128, 128, (4, 4, 2)).astype(np.int8)
    with pytest.raises(ValueError, match="no in-bounds tap"):
        avg_pool2d(x[None], (2, 2), (2, 2), ((2, 0), (0, 0)))
    status, out = c_avg_pool(lib, x, (2, 2), (2, 2), (2, 0), (3, 2))
    assert status == -1
    assert (out[0] == 99).all()  # left unwritten
    want = avg_pool2d(x[None], (2, 2), (2, 2), "VALID")[0]
    np.testing.assert_array_equal(out[1:], want)


# --- the same kernels on the RV32I core ------------------------------------------------------------------


def _c_array(name, values):
    return f"static int8_t {name}[{len(values)}] = {{{', '.join(str(int(v)) for v in values)}}};\n"


def _c_struct(ctype, name, params):
    fields = ", ".join(str(getattr(params, f)) for f, _ in params._fields_)
    return f"static const {ctype} {name} = {{{fields}}};\n"


def test_kernels_on_rv32i(lib, rng, tmp_path):
    """tflite_ref.c built for the core (firmware/lib's __mulsi3/__divsi3, muldi3.c) and run on unicorn
    gives byte for byte what the host build gives."""
    pytest.importorskip("unicorn")
    from tb.cpu_iss import run_unicorn

    a, b = _edge_vector(rng, 48), _edge_vector(rng, 48)
    addp = c_add_params(0.03, -7, 0.011, 100, 0.04, -128, "RELU")
    sm = _softmax_rows(rng, 3, 10, "random")
    smp = c_softmax_params(1.0, 0.15)
    pool_x = _edge_vector(rng, 25 * 5 * 4)
    poolp = AvgPoolParams(25, 5, 4, 25, 5, 25, 5, 0, 0, 1, 1, -128, 127)
    same_x = _edge_vector(rng, 5 * 6 * 3)
    samep = AvgPoolParams(5, 6, 3, 3, 3, 2, 2, 1, 1, 3, 3, -20, 100)
    main = tmp_path / "kernels.c"
    main.write_text(
        '#include "io.h"\n#include "tflite_ref.h"\n'
        + _c_array("a", a) + _c_array("b", b) + _c_array("sm", sm.reshape(-1))
        + _c_array("pool_x", pool_x) + _c_array("same_x", same_x)
        + _c_struct("tfl_add_t", "addp", addp) + _c_struct("tfl_softmax_t", "smp", smp)
        + _c_struct("tfl_pool_t", "poolp", poolp) + _c_struct("tfl_pool_t", "samep", samep)
        + "static int8_t out[64];\n"
        "static void dump(int status, int n) {\n"
        "    print_dec(status);\n"
        "    for (int i = 0; i < n; i++) { putchar(' '); print_dec(out[i]); }\n"
        "    putchar('\\n');\n}\n"
        "int main(void) {\n"
        "    tfl_add(&addp, a, b, out, sizeof a); dump(0, sizeof a);\n"
        "    dump(tfl_softmax(&smp, sm, out, 3, 10), 30);\n"
        "    dump(tfl_avg_pool(&poolp, pool_x, out), 4);\n"
        "    dump(tfl_avg_pool(&samep, same_x, out), 27);\n"
        "    return 0;\n}\n"
    )  # fmt: skip
    image = build([main, SOURCE, SOC_DIR / "muldi3.c"], out_dir=tmp_path, extra_flags=["-I", str(SOC_DIR)])
    finish, text, _ = run_unicorn(image.imem, image.dmem, max_steps=5_000_000)
    assert finish == 0, text
    lines = [[int(v) for v in line.split()] for line in text.splitlines()]

    def pool(x, p):
        return c_avg_pool(lib, x.reshape(p.H, p.W, p.C), (p.fh, p.fw), (p.sh, p.sw), (p.pad_top, p.pad_left),
                          (p.E, p.F), (p.act_min, p.act_max))  # fmt: skip

    want = [
        [0, *c_add(lib, addp, a, b)],
        [*c_softmax(lib, smp, sm)[:1], *c_softmax(lib, smp, sm)[1].reshape(-1)],
        [pool(pool_x, poolp)[0], *pool(pool_x, poolp)[1].reshape(-1)],
        [pool(same_x, samep)[0], *pool(same_x, samep)[1].reshape(-1)],
    ]
    assert lines == [[int(v) for v in row] for row in want]


def test_space_to_depth_matches_the_compiler(lib, rng):
    """tfl_space_to_depth == compiler.schedule.space_to_depth (the layout of the engine layer's weights)."""
    for _ in range(60):
        h, w, c = (int(v) for v in rng.integers(1, 12, 3))
        block = int(rng.integers(1, 4))
        pt, pl = int(rng.integers(0, 5)), int(rng.integers(0, 5))
        hb, wb = (
            -(-(h + pt) // block) + int(rng.integers(-1, 2)),
            -(-(w + pl) // block) + int(rng.integers(-1, 2)),
        )
        hb, wb = max(hb, 1), max(wb, 1)
        x = _edge_vector(rng, h * w * c).reshape(h, w, c)
        zp = int(rng.integers(-128, 128))
        want = space_to_depth(x, block, (pt, pl), (hb, wb), zp)
        p = S2dParams(h, w, c, block, pt, pl, hb, wb, zp)
        got = np.full(want.shape, 99, np.int8)
        lib.tfl_space_to_depth(ctypes.byref(p), _ptr(x), _ptr(got))
        assert np.array_equal(got, want), f"{(h, w, c)} block {block} pad {(pt, pl)} out {(hb, wb)}"


def test_srdhm_matches_golden(lib, rng):
    """tfl_srdhm (its 32x32 -> 64 product without a multiplier) == gemmlowp's, golden.quant's version."""
    from golden.quant import saturating_rounding_doubling_high_mul

    edges = np.array([-(1 << 31), -(1 << 31) + 1, -(1 << 30), -1, 0, 1, (1 << 30), (1 << 31) - 1], np.int64)
    a = np.concatenate([rng.integers(-(1 << 31), 1 << 31, 4000), np.repeat(edges, edges.size)])
    b = np.concatenate([rng.integers(-(1 << 31), 1 << 31, 4000), np.tile(edges, edges.size)])
    want = saturating_rounding_doubling_high_mul(a, b)
    got = np.array([lib.tfl_srdhm(int(x), int(y)) for x, y in zip(a, b, strict=True)], np.int64)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, (
        f"{bad.size} differ, e.g. srdhm({a[bad[0]]}, {b[bad[0]]}) = {got[bad[0]]}, not {want[bad[0]]}"
    )

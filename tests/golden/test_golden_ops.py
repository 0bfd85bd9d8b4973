"""Fast vectorised golden/ operators against the scalar 7-loop reference on random shapes."""

import golden_scalar_ref as ref
import numpy as np
import pytest

import golden

INT32_MIN, INT32_MAX = ref.INT32_MIN, ref.INT32_MAX


def _i8(rng, shape, lo=-128, hi=127):
    return rng.integers(lo, hi, shape, endpoint=True).astype(np.int8)


def _padding(rng, r, s, dil, h, w):
    kind = rng.integers(0, 3)
    if kind == 0:
        return "SAME"
    if kind == 1:
        return "VALID"
    return tuple(tuple(int(v) for v in rng.integers(0, 3, 2)) for _ in range(2))


def _shape_for(rng, eff, padding, axis):
    """Input size >= what the padding mode needs for an output of at least 1."""
    extra = int(rng.integers(0, 6))
    if padding == "SAME":
        return 1 + extra
    if padding == "VALID":
        return eff + extra
    p = sum(padding[axis])
    return max(1, eff - p) + extra


def _quant_for(rng, acc, m):
    """Random per-channel multiplier/shift that keep most outputs inside int8, plus rare extremes."""
    mult = rng.integers(1 << 30, INT32_MAX, m, endpoint=True)
    amax = max(1, int(np.abs(np.asarray(acc, dtype=np.int64)).max()))
    base = -int(np.ceil(np.log2(amax / 100.0))) if amax > 100 else 0
    shift = np.clip(base + rng.integers(-1, 2, m), -31, 30)
    return mult, shift


def _rand_conv(rng, depthwise=False):
    n = int(rng.integers(1, 3))
    c = int(rng.integers(1, 7))
    r, s = (int(v) for v in rng.integers(1, 5, 2))
    u = tuple(int(v) for v in rng.integers(1, 3, 2))
    d = tuple(int(v) for v in rng.integers(1, 3, 2))
    pad = _padding(rng, r, s, d, 0, 0)
    h = _shape_for(rng, (r - 1) * d[0] + 1, pad, 0)
    w = _shape_for(rng, (s - 1) * d[1] + 1, pad, 1)
    in_zp = int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
    out_zp = int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
    x = _i8(rng, (n, h, w, c))
    dm = int(rng.integers(1, 3)) if depthwise else 1
    m = c * dm if depthwise else int(rng.integers(1, 8))
    wt = _i8(rng, (1, r, s, m) if depthwise else (m, r, s, c), -127, 127)
    bias = rng.integers(-(1 << 16), 1 << 16, m).astype(np.int32) if rng.random() < 0.8 else None
    lo, hi = sorted(int(v) for v in rng.integers(-128, 128, 2)) if rng.random() < 0.3 else (-128, 127)
    return dict(
        x=x,
        w=wt,
        bias=bias,
        in_zp=in_zp,
        out_zp=out_zp,
        stride=u,
        dilation=d,
        padding=pad,
        dm=dm,
        act=(lo, hi),
    )


def _check_conv(rng, cfg, depthwise):
    x, w, bias = cfg["x"], cfg["w"], cfg["bias"]
    xl, wl = x.tolist(), w.tolist()
    bl = None if bias is None else bias.tolist()
    lo, hi = cfg["act"]
    if depthwise:
        acc_ref = ref.depthwise_conv2d(
            xl,
            wl,
            bl,
            None,
            None,
            cfg["in_zp"],
            0,
            cfg["dm"],
            cfg["stride"],
            cfg["padding"],
            cfg["dilation"],
            lo,
            hi,
        )
        acc = golden.depthwise_conv2d_accumulate(
            x, w, bias, cfg["in_zp"], cfg["dm"], cfg["stride"], cfg["padding"], cfg["dilation"]
        )
    else:
        acc_ref = ref.conv2d(
            xl, wl, bl, None, None, cfg["in_zp"], 0, cfg["stride"], cfg["padding"], cfg["dilation"], lo, hi
        )
        acc = golden.conv2d_accumulate(
            x, w, bias, cfg["in_zp"], cfg["stride"], cfg["padding"], cfg["dilation"]
        )
    assert acc.dtype == np.int32
    np.testing.assert_array_equal(acc, np.array(acc_ref))
    m = acc.shape[-1]
    mult, shift = cfg.get("quant") or _quant_for(rng, acc_ref, m)
    if depthwise:
        exp = ref.depthwise_conv2d(
            xl,
            wl,
            bl,
            mult,
            shift,
            cfg["in_zp"],
            cfg["out_zp"],
            cfg["dm"],
            cfg["stride"],
            cfg["padding"],
            cfg["dilation"],
            lo,
            hi,
        )
        got = golden.depthwise_conv2d(
            x,
            w,
            bias,
            mult,
            shift,
            cfg["in_zp"],
            cfg["out_zp"],
            cfg["dm"],
            cfg["stride"],
            cfg["padding"],
            cfg["dilation"],
            lo,
            hi,
        )
    else:
        exp = ref.conv2d(
            xl,
            wl,
            bl,
            mult,
            shift,
            cfg["in_zp"],
            cfg["out_zp"],
            cfg["stride"],
            cfg["padding"],
            cfg["dilation"],
            lo,
            hi,
        )
        got = golden.conv2d(
            x,
            w,
            bias,
            mult,
            shift,
            cfg["in_zp"],
            cfg["out_zp"],
            cfg["stride"],
            cfg["padding"],
            cfg["dilation"],
            lo,
            hi,
        )
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, np.array(exp))
    return got


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
def test_random_vs_scalar(rng, depthwise):
    distinct = 0
    for _ in range(60):
        got = _check_conv(rng, _rand_conv(rng, depthwise), depthwise)
        distinct += len(np.unique(got)) > 3
    assert distinct > 20  # the random quantisation does not saturate everything


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
@pytest.mark.parametrize(
    "case",
    ["all_min", "all_max", "zp_min", "zp_max", "saturate", "bias_wrap", "shift_ends", "mult_ends", "flush"],
)
def test_edge_cases(rng, depthwise, case):
    cfg = _rand_conv(rng, depthwise)
    x, w = cfg["x"], cfg["w"]
    m = w.shape[3] if depthwise else w.shape[0]
    if case == "all_min":
        cfg["x"] = np.full_like(x, -128)
        cfg["in_zp"] = 127
        cfg["w"] = np.full_like(w, -127)
    elif case == "all_max":
        cfg["x"] = np.full_like(x, 127)
        cfg["in_zp"] = -128
        cfg["w"] = np.full_like(w, 127)
    elif case == "zp_min":
        cfg["in_zp"] = cfg["out_zp"] = -128
    elif case == "zp_max":
        cfg["in_zp"] = cfg["out_zp"] = 127
    elif case == "saturate":
        cfg["quant"] = (np.full(m, INT32_MAX), np.full(m, 8))
    elif case == "bias_wrap":  # bias at the int32 extremes: the accumulation wraps
        cfg["bias"] = np.where(np.arange(m) % 2 == 0, INT32_MAX, INT32_MIN).astype(np.int32)
        cfg["quant"] = (np.full(m, 1 << 30), np.full(m, -24))
    elif case == "shift_ends":
        cfg["quant"] = (rng.integers(1 << 30, INT32_MAX, m), np.where(np.arange(m) % 2 == 0, -31, 30))
    elif case == "mult_ends":
        cfg["quant"] = (np.where(np.arange(m) % 2 == 0, 1 << 30, INT32_MAX), np.full(m, -6))
    elif case == "flush":
        cfg["quant"] = (np.zeros(m, np.int64), np.zeros(m, np.int64))
    _check_conv(rng, cfg, depthwise)


def test_fully_connected_vs_scalar(rng):
    for _ in range(40):
        n, c, m = (int(v) for v in rng.integers(1, 20, 3))
        x, w = _i8(rng, (n, c)), _i8(rng, (m, c), -127, 127)
        bias = rng.integers(-(1 << 20), 1 << 20, m).astype(np.int32) if rng.random() < 0.8 else None
        in_zp, out_zp = (int(rng.choice([-128, 127, int(rng.integers(-128, 128))])) for _ in range(2))
        acc_ref = ref.fully_connected(
            x.tolist(), w.tolist(), None if bias is None else bias.tolist(), None, None, in_zp, 0, -128, 127
        )
        acc = golden.fully_connected_accumulate(x, w, bias, in_zp)
        np.testing.assert_array_equal(acc, acc_ref)
        per_tensor = rng.random() < 0.5
        mult, shift = _quant_for(rng, acc_ref, 1 if per_tensor else m)
        mult_v, shift_v = (np.repeat(mult, m), np.repeat(shift, m)) if per_tensor else (mult, shift)
        exp = ref.fully_connected(
            x.tolist(),
            w.tolist(),
            None if bias is None else bias.tolist(),
            mult_v,
            shift_v,
            in_zp,
            out_zp,
            -128,
            127,
        )
        args = (int(mult[0]), int(shift[0])) if per_tensor else (mult, shift)
        got = golden.fully_connected(x, w, bias, *args, in_zp, out_zp)
        np.testing.assert_array_equal(got, exp)


def test_fc_equals_1x1_conv(rng):
    x, w = _i8(rng, (3, 10)), _i8(rng, (5, 10), -127, 127)
    bias = rng.integers(-1000, 1000, 5).astype(np.int32)
    a = golden.fully_connected(x, w, bias, 1 << 30, -7, 3, -4)
    b = golden.conv2d(x[:, None, None, :], w[:, None, None, :], bias, 1 << 30, -7, 3, -4)
    np.testing.assert_array_equal(a, b[:, 0, 0, :])


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_vs_scalar(rng, kind):
    fn = golden.max_pool2d if kind == "max" else golden.avg_pool2d
    for i in range(60):
        n, c = int(rng.integers(1, 3)), int(rng.integers(1, 6))
        fr, fs = (int(v) for v in rng.integers(1, 5, 2))
        u = tuple(int(v) for v in rng.integers(1, 4, 2))
        pad = ["SAME", "VALID"][int(rng.integers(0, 2))]
        if pad == "VALID" or i % 5 == 0:
            pad = (
                pad
                if i % 5
                else tuple(tuple(int(p) for p in rng.integers(0, [fr, fs][k], 2)) for k in range(2))
            )
        h = _shape_for(rng, fr, pad, 0)
        w = _shape_for(rng, fs, pad, 1)
        x = _i8(rng, (n, h, w, c))
        if i % 7 == 0:
            x[:] = -128 if i % 2 else 127
        lo, hi = sorted(int(v) for v in rng.integers(-128, 128, 2)) if rng.random() < 0.3 else (-128, 127)
        exp = ref.pool(x.tolist(), kind, (fr, fs), u, pad, lo, hi)
        got = fn(x, (fr, fs), u, pad, lo, hi)
        assert got.dtype == np.int8
        np.testing.assert_array_equal(got, exp, err_msg=str((x.shape, fr, fs, u, pad)))


def test_avg_pool_rounding_known():
    x = np.array([1, 2, -1, -2, -3, 0], np.int8).reshape(1, 1, 6, 1)
    # windows of 2: (1+2)=3 -> 1.5 -> 2; (-1-2) = -3 -> -1.5 -> -2; (-3+0) -> -1.5 -> -2
    assert golden.avg_pool2d(x, (1, 2), (1, 2)).reshape(-1).tolist() == [2, -2, -2]
    # SAME border windows count only in-bounds taps
    y = np.full((1, 3, 3, 1), 100, np.int8)
    assert (golden.avg_pool2d(y, 3, 1, "SAME") == 100).all()


def test_output_size_and_same_padding():
    assert golden.conv_output_size(7, 3, 2, 1, "SAME") == (4, (1, 1))
    assert golden.conv_output_size(8, 3, 2, 1, "SAME") == (4, (0, 1))
    assert golden.conv_output_size(5, 3, 1, 2, "SAME") == (5, (2, 2))
    assert golden.conv_output_size(6, 4, 1, 1, "SAME") == (6, (1, 2))
    assert golden.conv_output_size(7, 3, 2, 2, "VALID") == (2, (0, 0))
    assert golden.conv_output_size(7, 3, 2, 1, (1, 2)) == (4, (1, 2))
    assert golden.same_padding(1, 5, 1, 1) == (2, 2)
    for h in range(1, 12):
        for r in range(1, 6):
            for u in range(1, 4):
                for d in range(1, 3):
                    e, (pb, pa) = golden.conv_output_size(h, r, u, d, "SAME")
                    exp_e, exp_pb = ref.out_size_and_pad(h, r, u, d, "SAME")
                    assert (e, pb) == (exp_e, exp_pb) and pa - pb in (0, 1)


def test_matmul_and_tile(rng):
    a, b = _i8(rng, (2, 3, 17)), _i8(rng, (17, 5))
    got = golden.matmul_int32(a, b)
    assert got.dtype == np.int32 and got.shape == (2, 3, 5)
    for idx in np.ndindex(2, 3, 5):
        assert got[idx] == sum(int(a[idx[0], idx[1], k]) * int(b[k, idx[2]]) for k in range(17))
    t, rows, cols = 9, 4, 4
    a_seq, w_seq = _i8(rng, (t, rows)), _i8(rng, (t, cols))
    acc = golden.tile_accumulate(a_seq, w_seq)
    exp = sum(np.outer(a_seq[i].astype(np.int64), w_seq[i].astype(np.int64)) for i in range(t))
    np.testing.assert_array_equal(acc, exp)
    assert acc.dtype == np.int32
    # int32 wrap: 2^17 beats of (-128)*(-128) = 2^31 -> wraps to INT32_MIN
    big = np.full((1 << 17, 1), -128, np.int8)
    assert golden.tile_accumulate(big, big)[0, 0] == INT32_MIN
    assert golden.matmul_int32(big[:, 0], big)[0] == INT32_MIN


def test_tile_accumulate_is_conv_im2col(rng):
    """A 1x1 conv output pixel row through the tile equals conv2d_accumulate (zero points 0, no bias)."""
    x, w = _i8(rng, (1, 1, 4, 6)), _i8(rng, (4, 1, 1, 6), -127, 127)
    acc = golden.conv2d_accumulate(x, w, None, 0)
    np.testing.assert_array_equal(golden.tile_accumulate(x[0, 0].T.copy(), w[:, 0, 0, :].T.copy()), acc[0, 0])

"""Slow, obviously-correct scalar reference: Python ints, written line by line from the C++ reference.

Sources (TensorFlow Lite / LiteRT): internal/common.h MultiplyByQuantizedMultiplier, gemmlowp
fixedpoint.h SaturatingRoundingDoublingHighMul / RoundingDivideByPOT, internal/reference/integer_ops
conv.h (ConvPerChannel), depthwise_conv.h (DepthwiseConvPerChannel), fully_connected.h, pooling.h,
kernels/padding.h (ComputePaddingHeightWidth).  Nothing here is vectorised or imported from golden/.
"""

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def to_int32(v):
    """What storing into an int32 does on two's complement hardware."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= (1 << 31) else v


def c_div(a, b):
    """C/C++ integer division: truncation toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def srdhm(a, b):
    overflow = a == b and a == INT32_MIN
    ab_64 = a * b
    nudge = (1 << 30) if ab_64 >= 0 else (1 - (1 << 30))
    ab_x2_high32 = c_div(ab_64 + nudge, 1 << 31)
    return INT32_MAX if overflow else ab_x2_high32


def rdbpot(x, exponent):
    assert 0 <= exponent <= 31
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def mbqm(x, quantized_multiplier, shift):
    left_shift = shift if shift > 0 else 0
    right_shift = 0 if shift > 0 else -shift
    return rdbpot(srdhm(to_int32(x * (1 << left_shift)), quantized_multiplier), right_shift)


def out_size_and_pad(in_size, filter_size, stride, dilation, padding):
    """TFLite ComputeOutSize + ComputePaddingWithOffset; padding: 'SAME', 'VALID' or (before, after)."""
    eff = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        out = (in_size + stride - 1) // stride
        total = (out - 1) * stride + eff - in_size
        total = total if total > 0 else 0
        return out, total // 2
    if padding == "VALID":
        return (in_size + stride - eff) // stride, 0
    before, after = padding
    return (in_size + before + after - eff) // stride + 1, before


def _pads(padding):
    if isinstance(padding, str):
        return padding, padding
    return tuple(padding[0]), tuple(padding[1])


def conv2d(x, w, bias, mult, shift, in_zp, out_zp, stride, padding, dilation, act_min, act_max):
    """The 7-loop nest (n, m, e, f, c, r, s) on nested lists / arrays of Python ints."""
    N, H, W, C = len(x), len(x[0]), len(x[0][0]), len(x[0][0][0])
    M, R, S = len(w), len(w[0]), len(w[0][0])
    ph, pw = _pads(padding)
    E, pad_top = out_size_and_pad(H, R, stride[0], dilation[0], ph)
    F, pad_left = out_size_and_pad(W, S, stride[1], dilation[1], pw)
    out = [[[[0] * M for _ in range(F)] for _ in range(E)] for _ in range(N)]
    for n in range(N):
        for m in range(M):
            for e in range(E):
                for f in range(F):
                    acc = 0
                    for c in range(C):
                        for r in range(R):
                            for s in range(S):
                                iy = e * stride[0] - pad_top + dilation[0] * r
                                ix = f * stride[1] - pad_left + dilation[1] * s
                                if 0 <= iy < H and 0 <= ix < W:
                                    acc = to_int32(acc + int(w[m][r][s][c]) * (int(x[n][iy][ix][c]) - in_zp))
                    if bias is not None:
                        acc = to_int32(acc + int(bias[m]))
                    out[n][e][f][m] = acc
    if mult is None:
        return out
    return _epilogue(out, mult, shift, out_zp, act_min, act_max)


def _epilogue(acc4, mult, shift, out_zp, act_min, act_max):
    out = []
    for plane in acc4:
        out.append([])
        for row in plane:
            out[-1].append([])
            for px in row:
                vals = []
                for m, acc in enumerate(px):
                    v = mbqm(acc, int(mult[m]), int(shift[m]))
                    v = to_int32(v + out_zp)
                    v = max(v, act_min)
                    v = min(v, act_max)
                    vals.append(v)
                out[-1][-1].append(vals)
    return out


def depthwise_conv2d(x, w, bias, mult, shift, in_zp, out_zp, dm, stride, padding, dilation, act_min, act_max):
    N, H, W, C = len(x), len(x[0]), len(x[0][0]), len(x[0][0][0])
    R, S = len(w[0]), len(w[0][0])
    ph, pw = _pads(padding)
    E, pad_top = out_size_and_pad(H, R, stride[0], dilation[0], ph)
    F, pad_left = out_size_and_pad(W, S, stride[1], dilation[1], pw)
    out = [[[[0] * (C * dm) for _ in range(F)] for _ in range(E)] for _ in range(N)]
    for n in range(N):
        for e in range(E):
            for f in range(F):
                for ic in range(C):
                    for k in range(dm):
                        oc = k + ic * dm
                        acc = 0
                        for r in range(R):
                            for s in range(S):
                                iy = e * stride[0] - pad_top + dilation[0] * r
                                ix = f * stride[1] - pad_left + dilation[1] * s
                                if 0 <= iy < H and 0 <= ix < W:
                                    acc = to_int32(
                                        acc + int(w[0][r][s][oc]) * (int(x[n][iy][ix][ic]) - in_zp)
                                    )
                        if bias is not None:
                            acc = to_int32(acc + int(bias[oc]))
                        out[n][e][f][oc] = acc
    if mult is None:
        return out
    return _epilogue(out, mult, shift, out_zp, act_min, act_max)


def fully_connected(x, w, bias, mult, shift, in_zp, out_zp, act_min, act_max):
    out = []
    for xb in x:
        row = []
        for m, wm in enumerate(w):
            acc = 0
            for d in range(len(wm)):
                acc = to_int32(acc + int(wm[d]) * (int(xb[d]) - in_zp))
            if bias is not None:
                acc = to_int32(acc + int(bias[m]))
            if mult is not None:
                acc = mbqm(acc, int(mult[m]), int(shift[m]))
                acc = to_int32(acc + out_zp)
                acc = min(max(acc, act_min), act_max)
            row.append(acc)
        out.append(row)
    return out


def pool(x, kind, filt, stride, padding, act_min, act_max):
    N, H, W, C = len(x), len(x[0]), len(x[0][0]), len(x[0][0][0])
    ph, pw = _pads(padding)
    E, pad_top = out_size_and_pad(H, filt[0], stride[0], 1, ph)
    F, pad_left = out_size_and_pad(W, filt[1], stride[1], 1, pw)
    out = [[[[0] * C for _ in range(F)] for _ in range(E)] for _ in range(N)]
    for n in range(N):
        for e in range(E):
            for f in range(F):
                for c in range(C):
                    in_y_origin = e * stride[0] - pad_top
                    in_x_origin = f * stride[1] - pad_left
                    fy_start = max(0, -in_y_origin)
                    fy_end = min(filt[0], H - in_y_origin)
                    fx_start = max(0, -in_x_origin)
                    fx_end = min(filt[1], W - in_x_origin)
                    if kind == "max":
                        acc = -128
                        for fy in range(fy_start, fy_end):
                            for fx in range(fx_start, fx_end):
                                acc = max(acc, int(x[n][in_y_origin + fy][in_x_origin + fx][c]))
                    else:
                        acc = 0
                        count = 0
                        for fy in range(fy_start, fy_end):
                            for fx in range(fx_start, fx_end):
                                acc += int(x[n][in_y_origin + fy][in_x_origin + fx][c])
                                count += 1
                        assert count > 0
                        acc = c_div(acc + count // 2, count) if acc > 0 else c_div(acc - count // 2, count)
                    out[n][e][f][c] = min(max(acc, act_min), act_max)
    return out

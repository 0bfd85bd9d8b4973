"""Every ValueError path: the message names the parameter, its value and the allowed range."""

import re

import numpy as np
import pytest

import golden
from golden import quant

X = np.zeros((1, 4, 4, 3), np.int8)
W = np.zeros((2, 3, 3, 3), np.int8)
DW = np.zeros((1, 3, 3, 6), np.int8)
B = np.zeros(2, np.int32)
OK = dict(multiplier=1 << 30, shift=-3, input_zero_point=0, output_zero_point=0)


def conv(**kw):
    args = dict(x=X, w=W, bias=B, **OK)
    args.update(kw)
    return golden.conv2d(**args)


def dw(**kw):
    args = dict(x=X, w=DW, bias=np.zeros(6, np.int32), depth_multiplier=2, **OK)
    args.update(kw)
    return golden.depthwise_conv2d(**args)


def fc(**kw):
    args = dict(x=np.zeros((2, 5), np.int8), w=np.zeros((3, 5), np.int8), bias=np.zeros(3, np.int32), **OK)
    args.update(kw)
    return golden.fully_connected(**args)


CASES = [
    (lambda: conv(input_zero_point=300), "input_zero_point = 300 is out of range [-128, 127]"),
    (lambda: conv(input_zero_point=-129), "input_zero_point = -129 is out of range [-128, 127]"),
    (lambda: conv(output_zero_point=128), "output_zero_point = 128 is out of range [-128, 127]"),
    (lambda: conv(input_zero_point=1.5), "input_zero_point = 1.5 is not an integer"),
    (lambda: conv(input_zero_point=True), "input_zero_point = True is not an integer"),
    (lambda: conv(x=X.astype(np.int16)), "x.dtype = int16 is not allowed (must be int8)"),
    (lambda: conv(x=X.astype(np.uint8)), "x.dtype = uint8"),
    (lambda: conv(x=X.tolist()), "x must be a numpy.ndarray"),
    (lambda: conv(x=X[0]), "x has rank 3"),
    (lambda: conv(w=W.astype(np.int32)), "w.dtype = int32"),
    (lambda: conv(w=W[0]), "w has rank 3"),
    (lambda: conv(w=np.zeros((2, 3, 3, 4), np.int8)), "C must be equal (4 != 3)"),
    (lambda: conv(bias=np.zeros(3, np.int32)), "bias.shape = (3,) does not match the expected (2,)"),
    (lambda: conv(bias=np.zeros(2, np.int64)), "bias.dtype = int64"),
    (lambda: conv(multiplier=-1), "multiplier = -1 is out of range [0, 2147483647]"),
    (lambda: conv(multiplier=1 << 31), "multiplier = 2147483648 is out of range [0, 2147483647]"),
    (
        lambda: conv(multiplier=12345),
        "multiplier = 12345 is out of range: must be 0 or in [1073741824, 2147483647]",
    ),
    (lambda: conv(multiplier=np.array([1 << 30, 5])), "multiplier[1] = 5 is out of range"),
    (
        lambda: conv(multiplier=np.array([1 << 30] * 3)),
        "multiplier.shape = (3,) does not match the expected (2,)",
    ),
    (lambda: conv(multiplier=0.5), "multiplier.dtype = float64 is not an integer type"),
    (lambda: conv(shift=31), "shift = 31 is out of range [-31, 30]"),
    (lambda: conv(shift=np.array([0, -32])), "shift[1] = -32 is out of range [-31, 30]"),
    (lambda: conv(act_min=5, act_max=4), "act_min = 5 is greater than act_max = 4"),
    (lambda: conv(act_min=-129), "act_min = -129 is out of range [-128, 127]"),
    (lambda: conv(act_max=200), "act_max = 200 is out of range [-128, 127]"),
    (lambda: conv(stride=0), "stride[0] = 0 is out of range [1, "),
    (lambda: conv(stride=(1, -2)), "stride[1] = -2 is out of range [1, "),
    (lambda: conv(stride=(1, 2, 3)), "stride = (1, 2, 3) must be an integer or a pair"),
    (lambda: conv(dilation=(0, 1)), "dilation[0] = 0 is out of range [1, "),
    (lambda: conv(padding="FULL"), "padding = 'FULL' is not allowed"),
    (lambda: conv(padding=((1, 1), (-1, 0))), "padding[0] = -1 is out of range [0, "),
    (lambda: conv(padding=(1, 2, 3)), "padding = (1, 2, 3) must be"),
    (lambda: conv(w=np.zeros((2, 5, 5, 3), np.int8)), "output size = 0 is out of range"),
    (lambda: dw(depth_multiplier=0), "depth_multiplier = 0 is out of range [1, "),
    (lambda: dw(depth_multiplier=3), "last axis must be C * depth_multiplier = 9"),
    (
        lambda: dw(w=np.zeros((2, 3, 3, 6), np.int8)),
        "depthwise weights must be [1][R][S][C*depth_multiplier]",
    ),
    (
        lambda: dw(multiplier=np.array([1 << 30] * 2)),
        "multiplier.shape = (2,) does not match the expected (6,)",
    ),
    (lambda: fc(x=np.zeros((2, 4), np.int8)), "C must be equal (5 != 4)"),
    (lambda: fc(x=np.zeros((1, 2, 5), np.int8)), "x has rank 3"),
    (lambda: fc(input_zero_point=128), "input_zero_point = 128 is out of range [-128, 127]"),
    (lambda: golden.max_pool2d(X, 0), "filter_size[0] = 0 is out of range [1, "),
    (lambda: golden.max_pool2d(X, 2, stride=0), "stride[0] = 0 is out of range"),
    (lambda: golden.max_pool2d(X, 5), "output size = 0 is out of range"),
    (lambda: golden.avg_pool2d(X, 2, act_min=3, act_max=2), "act_min = 3 is greater than act_max = 2"),
    (lambda: golden.avg_pool2d(X, 1, 1, ((2, 0), (0, 0))), "no in-bounds tap"),
    (lambda: golden.avg_pool2d(X.astype(np.int32), 2), "x.dtype = int32"),
    (
        lambda: golden.matmul_int32(np.zeros((2, 3), np.int8), np.zeros((4, 2), np.int8)),
        "K must be equal (3 != 4)",
    ),
    (lambda: golden.matmul_int32(np.zeros(3, np.int16), np.zeros((3, 2), np.int8)), "a.dtype = int16"),
    (
        lambda: golden.tile_accumulate(np.zeros((3, 4), np.int8), np.zeros((2, 4), np.int8)),
        "T must be equal (3 != 2)",
    ),
    (lambda: golden.tile_accumulate(np.zeros(3, np.int8), np.zeros((3, 4), np.int8)), "a_seq has rank 1"),
    (lambda: quant.multiply_by_quantized_multiplier(1 << 31, 1 << 30, 0), "acc = 2147483648 is out of range"),
    (
        lambda: quant.multiply_by_quantized_multiplier(0, 1 << 30, -32),
        "shift = -32 is out of range [-31, 30]",
    ),
    (lambda: quant.multiply_by_quantized_multiplier(0, 1, 0), "multiplier = 1 is out of range: must be 0 or"),
    (lambda: quant.requantize(0, 1 << 30, 0, 200), "output_zero_point = 200 is out of range [-128, 127]"),
    (lambda: quant.requantize(0, 1 << 30, 0, 0, 10, -10), "act_min = 10 is greater than act_max = -10"),
    (lambda: quant.rounding_divide_by_pot(5, 32), "exponent = 32 is out of range [0, 31]"),
    (
        lambda: quant.saturating_rounding_doubling_high_mul(-(1 << 31) - 1, 1),
        "a = -2147483649 is out of range",
    ),
    (lambda: golden.conv_output_size(0, 3), "in_size = 0 is out of range [1, "),
]


@pytest.mark.parametrize("call, message", CASES, ids=[c[1][:40] for c in CASES])
def test_value_errors(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_valid_arguments_pass():
    assert conv().shape == (1, 2, 2, 2)
    assert dw().shape == (1, 2, 2, 6)
    assert fc().shape == (2, 3)
    assert conv(bias=None, multiplier=np.array([0, 1 << 30]), shift=np.array([-31, 30])).shape == (1, 2, 2, 2)

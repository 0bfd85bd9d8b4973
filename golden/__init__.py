"""golden/: the numeric contract of the accelerator -- TFLite int8 semantics in vectorised NumPy.

Bit-exact with TensorFlow Lite Micro's int8 kernels (golden.tflm.run_tflm) and with the LiteRT
interpreter's reference kernels (OpResolverType.BUILTIN_REF) wherever those are integer, checked by
tests/golden (against scalar reference loops) and tests/conformance (against TFLite Micro, LiteRT and
ONNX); golden/README.md states the contract and LiteRT's float FULLY_CONNECTED difference.

Loop-nest notation
------------------
N batch, M output channels (filters), C input channels, H/W input height/width, R/S filter
height/width, E/F output height/width, U stride (D dilation)::

    O[n][e][f][m] = act(requant(B[m] + sum_{r<R} sum_{s<S} sum_{c<C}
                              W[m][r][s][c] * (I[n][U*e + D*r - pad_top][U*f + D*s - pad_left][c] - zp_in)))

Tensor layout (fixed)
---------------------
- activations: int8, NHWC = [N][H][W][C] (like TFLite); asymmetric, one zero point per tensor
- conv weights: int8, OHWI = [M][R][S][C]; zero point 0
- depthwise weights: int8, [1][R][S][C * depth_multiplier]; output channel o = c * depth_multiplier + k
- fully connected weights: int8, [M][C]; input [N][C]
- bias: int32 [M] (scale = input_scale * weight_scale[m], zero point 0)
- multiplier: int32 [M], 0 or in [2^30, 2^31 - 1]; shift: int32 [M] in [-31, 30], TFLite
  convention: positive shift = left shift (real scale ~= multiplier * 2^(shift - 31))

Rounding: TFLite "double rounding" MultiplyByQuantizedMultiplier (not TFLITE_SINGLE_ROUNDING).
int32 overflow: golden/ WRAPS (two's complement) exactly where the compiled C++ reference wraps --
the accumulation, the left shift before the high multiply, and adding the output zero point.

Modules
-------
- golden.quant: quantize_multiplier, saturating_rounding_doubling_high_mul, rounding_divide_by_pot,
  multiply_by_quantized_multiplier, requantize, conv_multipliers, activation_range, wrap_int32
- golden.conv: conv2d / conv2d_accumulate, depthwise_conv2d / depthwise_conv2d_accumulate,
  fully_connected / fully_connected_accumulate, conv_output_size, same_padding
- golden.pool: max_pool2d, avg_pool2d
- golden.add: add_params, add_int8 (int8 ADD, TFLite's integer kernel)
- golden.softmax: softmax_params, softmax_int8 (int8 SOFTMAX, TFLite's fixed-point kernel)
- golden.matmul: matmul_int32, tile_accumulate
- golden.validate: the argument checks (ValueError naming parameter, value and allowed range)
- golden.network: Network / layer dataclasses (QuantParams, Conv2D, DepthwiseConv2D, FullyConnected,
  MaxPool2D, AvgPool2D, Reshape, Add, Softmax), graphs (``Network.sources``) and run_network
- golden.tflite_build: build_tflite(net) -> .tflite bytes, run_litert(model, x) (LiteRT BUILTIN_REF)
- golden.tflite_import: load_tflite(path_or_bytes) -> Network, UnsupportedModelError
- golden.tflm: run_tflm(model, x) (TensorFlow Lite Micro's interpreter)
- golden.conformance: random single-layer configurations and exact-multiplier scale search

(network / tflite_build / tflite_import / tflm / conformance are not imported by ``import golden``.)
See golden/README.md for the FULLY_CONNECTED and ONNX QLinearConv differences.

Every bad argument raises ValueError, e.g. ``input_zero_point = 300 is out of range [-128, 127]``.
"""

from .add import add_int8, add_params
from .conv import (
    conv2d,
    conv2d_accumulate,
    conv_output_size,
    depthwise_conv2d,
    depthwise_conv2d_accumulate,
    fully_connected,
    fully_connected_accumulate,
    same_padding,
)
from .matmul import matmul_int32, tile_accumulate
from .pool import avg_pool2d, max_pool2d
from .quant import (
    activation_range,
    conv_multipliers,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    requantize,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
)
from .softmax import softmax_int8, softmax_params

__all__ = [
    "conv2d",
    "conv2d_accumulate",
    "conv_output_size",
    "same_padding",
    "depthwise_conv2d",
    "depthwise_conv2d_accumulate",
    "fully_connected",
    "fully_connected_accumulate",
    "matmul_int32",
    "tile_accumulate",
    "max_pool2d",
    "avg_pool2d",
    "add_params",
    "add_int8",
    "softmax_params",
    "softmax_int8",
    "activation_range",
    "conv_multipliers",
    "multiply_by_quantized_multiplier",
    "quantize_multiplier",
    "requantize",
    "rounding_divide_by_pot",
    "saturating_rounding_doubling_high_mul",
]

"""Host-side finishing of raw accumulator output (AcceleratorConfig ``output = Output.RAW``).

An engine without its output stage (docs/up5k.md, the iCE40UP5K configuration) writes each output
element's raw accumulator acc[e][f][m] = sum_{r,s,c} x_padded * W (no bias; out-of-image taps read
the input zero point) as one int32 word at (e*F + f)*M + m. The host then does what the output stage
would have done, exactly as TFLite's int8 kernels (golden.quant, golden.pool):

    out[e][f][m] = clamp(MultiplyByQuantizedMultiplier(acc + B'[m], mult[m], shift[m]) + output_zp,
                         act_min, act_max)
    B'[m]        = bias[m] - input_zp * sum W[m]          (int32 wrap, driver.layer.folded_bias)

followed by the layer's 2x2 stride-2 VALID max / average pool. ``acc + B'`` wraps in int32 like the
reference's accumulation (the sums agree modulo 2^32). Vectorised NumPy: one call per pass.
"""

import numpy as np

from golden.pool import avg_pool2d, max_pool2d
from golden.quant import requantize, wrap_int32

from .layer import ConvLayer, folded_bias

__all__ = ["raw_accumulators", "finish_raw"]


def raw_accumulators(layer: ConvLayer, words):
    """Output memory words (as read over the port, unsigned) -> int32 accumulators [E][F][M]."""
    E, F = layer.output_hw()
    M = layer.w.shape[0]
    words = np.asarray(words, dtype=np.int64)
    if words.shape != (E * F * M,):
        raise ValueError(f"{words.shape[0] if words.ndim == 1 else words.shape} raw output words "
                         f"do not match E * F * M = {E} * {F} * {M} = {E * F * M}")
    return (words & 0xFFFFFFFF).astype(np.uint32).view(np.int32).reshape(E, F, M)


def finish_raw(layer: ConvLayer, acc):
    """Raw accumulators int32 [E][F][M] of ``layer`` -> its int8 output [E'][F'][M] (bias,
    requantisation, zero point, clamp, then the layer's pool), bit-exact with golden/ and LiteRT."""
    E, F = layer.output_hw()
    M = layer.w.shape[0]
    acc = np.asarray(acc)
    if acc.shape != (E, F, M) or not np.issubdtype(acc.dtype, np.integer):
        raise ValueError(f"acc must be integers of shape (E, F, M) = {(E, F, M)}, not {acc.dtype} "
                         f"{acc.shape}")
    total = wrap_int32(acc.astype(np.int64) + folded_bias(layer))
    out = requantize(total, np.asarray(layer.multiplier, np.int64), np.asarray(layer.shift, np.int64),
                     int(layer.output_zp), int(layer.act_min), int(layer.act_max))
    if layer.pool == "max":
        out = max_pool2d(out[None], (2, 2), (2, 2), "VALID", layer.act_min, layer.act_max)[0]
    elif layer.pool == "avg":
        out = avg_pool2d(out[None], (2, 2), (2, 2), "VALID", layer.act_min, layer.act_max)[0]
    elif layer.pool != "none":
        raise ValueError(f"pool = {layer.pool!r} is not supported: choose none, max or avg")
    return out

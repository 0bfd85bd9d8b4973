"""Plain integer matrix products: what the MAC tile computes before any requantisation.

No zero points, no bias: products of raw int8 operands summed in int32 (two's complement wrap).
"""

import numpy as np

from .quant import wrap_int32
from .validate import check_array

__all__ = ["matmul_int32", "tile_accumulate"]


def matmul_int32(a, b):
    """a: int8 (..., K), b: int8 (K, cols) -> int32 (..., cols) = sum_k a[..., k] * b[k, :], wrapped."""
    check_array("a", a, np.int8)
    check_array("b", b, np.int8, 2)
    if a.ndim < 1:
        raise ValueError(f"a has rank {a.ndim}; must have rank >= 1 (shape (..., K))")
    if a.shape[-1] != b.shape[0]:
        raise ValueError(
            f"a.shape = {a.shape} does not match b.shape = {b.shape}: K must be equal "
            f"({a.shape[-1]} != {b.shape[0]})"
        )
    return wrap_int32(a.astype(np.int64) @ b.astype(np.int64)).astype(np.int32)


def tile_accumulate(a_seq, w_seq):
    """a_seq: int8 (T, rows), w_seq: int8 (T, cols) -> int32 (rows, cols) = sum_t outer(a_seq[t], w_seq[t]).

    This is what a rows x cols output-stationary tile's accumulators hold after T beats (wrapped to int32).
    """
    check_array("a_seq", a_seq, np.int8, 2)
    check_array("w_seq", w_seq, np.int8, 2)
    if a_seq.shape[0] != w_seq.shape[0]:
        raise ValueError(
            f"a_seq.shape = {a_seq.shape} does not match w_seq.shape = {w_seq.shape}: "
            f"T must be equal ({a_seq.shape[0]} != {w_seq.shape[0]})"
        )
    return wrap_int32(a_seq.astype(np.int64).T @ w_seq.astype(np.int64)).astype(np.int32)

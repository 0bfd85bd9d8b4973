"""Geometry of a conv layer on the engine: padding, output size, the raster walk and block windows.

One definition of each rule, used by the driver (driver/conv_layer.py, driver/passes.py), the cycle
model (spec/cycle_model.py) and the tests; the gateware (hw/conv_sequencer.py) implements the same
rules incrementally. Pure Python, no imports of the project.

Loop nest (N = 1): output pixels are walked in raster order p = e * F + f, in blocks of ``rows``
consecutive pixels (a block may wrap from one output row to the next):

    for p0 in range(0, E * F, rows):             # block; lane i -> pixel p0 + i = (e_i, f_i)
        ... lanes with p0 + i >= E * F hold no pixel (lane_valid = 0)

Output coordinate e reads input rows U*e - pad_top .. U*e - pad_top + R - 1 (columns alike), so a
run of output coordinates first..last reads the input window :func:`input_window`.
"""

import operator
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["same_padding", "resolve_padding", "output_size", "pixel", "lane_step", "Block",
           "blocks", "input_window", "block_rows", "max_block_rows"]


def _check_positive(name, value):
    try:
        number = operator.index(value)
    except TypeError:
        number = None
    if number is None or isinstance(value, bool) or number < 1:
        raise ValueError(f"{name} = {value!r} is out of range: must be an integer >= 1")
    return number


def same_padding(size, kernel, stride):
    """(before, after) padding of TFLite's SAME along one axis: output ceil(size / stride), the
    total padding split with the extra element at the end."""
    size = _check_positive("size", size)
    kernel = _check_positive("kernel", kernel)
    stride = _check_positive("stride", stride)
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def resolve_padding(padding, H, W, R, S, stride):
    """(top, bottom, left, right) of ``padding`` = "SAME", "VALID" or explicit (top, bottom, left, right)
    for an H x W input, an R x S kernel and ``stride`` (the same along both axes)."""
    if isinstance(padding, str):
        if padding == "VALID":
            return (0, 0, 0, 0)
        if padding == "SAME":
            return same_padding(H, R, stride) + same_padding(W, S, stride)
        raise ValueError(f"padding = {padding!r} is not supported: use 'SAME', 'VALID' or "
                         f"(top, bottom, left, right)")
    if len(padding) != 4:
        raise ValueError(f"padding = {padding!r} must have 4 entries (top, bottom, left, right)")
    return tuple(int(p) for p in padding)


def output_size(size, kernel, stride, before, after):
    """Output coordinates along one axis: (size + before + after - kernel) // stride + 1 (< 1: no output)."""
    return (size + before + after - kernel) // stride + 1


def pixel(p, F):
    """Output pixel p of the raster walk -> (e, f)."""
    return divmod(p, F)


def lane_step(e, f, F):
    """The raster walk's next pixel after (e, f): f + 1, or the start of the next row after f = F - 1."""
    return (e + 1, 0) if f == F - 1 else (e, f + 1)


@dataclass(frozen=True)
class Block:
    """One block of ``rows`` lanes: pixels p0 .. p0 + rows - 1 of the raster walk."""
    p0: int
    lane_valid: tuple       # lane i holds a pixel (p0 + i < E * F)
    e_first: int            # output row of lane 0
    e_last: int             # output row of the last valid lane


def blocks(E, F, rows):
    """The blocks of the raster walk of an E x F output, in order."""
    out = []
    for p0 in range(0, E * F, rows):
        last = min(p0 + rows, E * F) - 1
        out.append(Block(p0=p0, lane_valid=tuple(p0 + i < E * F for i in range(rows)),
                         e_first=p0 // F, e_last=last // F))
    return out


def input_window(first, last, stride, pad, kernel, size):
    """(lo, hi, before, after): output coordinates first..last (inclusive) read input [lo, hi) of
    [0, size) and ``before`` / ``after`` padding positions outside it."""
    start = stride * first - pad
    end = stride * last - pad + kernel
    lo, hi = max(0, start), min(size, end)
    return lo, hi, lo - start, end - hi


def block_rows(block, U, pad_top, R, H):
    """(release, need) of a block: the input rows [release, need) its lanes read. The sequencer
    waits until rows_loaded >= need and lets the line buffer overwrite rows below release."""
    release, need, _, _ = input_window(block.e_first, block.e_last, U, pad_top, R, H)
    return release, need


@lru_cache(maxsize=4096)
def max_block_rows(H, pad_top, U, R, E, F, rows):
    """Line-buffer lines the widest block of ``rows`` output pixels needs (max of need - release
    over :func:`blocks`). Among the blocks that start in output row e the last one reaches
    furthest, so one block per output row is enough."""
    span = 0
    for e in range(E):
        p0 = ((e + 1) * F - 1) // rows * rows        # the last block that starts in row e
        if p0 < e * F:
            continue
        e_last = (min(p0 + rows, E * F) - 1) // F
        lo, hi, _, _ = input_window(e, e_last, U, pad_top, R, H)
        span = max(span, hi - lo)
    return span

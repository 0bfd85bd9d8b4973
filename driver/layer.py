"""A quantised conv layer as the driver takes it (:class:`ConvLayer`), and the input zero point folded
into its bias (:func:`folded_bias`): the description that planning (driver/conv_layer.py) and the
host-side finishing of raw output (driver/raw_output.py) share.
"""

from dataclasses import dataclass, field

import numpy as np

from spec.geometry import output_size, resolve_padding

__all__ = ["ConvLayer", "folded_bias"]


@dataclass
class ConvLayer:
    """One quantised conv layer in golden's layout (NHWC input with N = 1, OHWI weights).

    ``groups_of`` (internal) lets depthwise layers say which input channel each output channel
    reads: None for a dense conv.
    """
    x: np.ndarray                 # int8 [H][W][C]
    w: np.ndarray                 # int8 [M][R][S][C]
    bias: np.ndarray              # int32 [M]
    multiplier: np.ndarray        # int32 [M], 0 or [2^30, 2^31 - 1]
    shift: np.ndarray             # int32 [M], [-31, 30]
    input_zp: int
    output_zp: int
    stride: int = 1
    padding: tuple = (0, 0, 0, 0)  # (top, bottom, left, right) or "SAME" / "VALID"
    act_min: int = -128
    act_max: int = 127
    pool: str = "none"             # "none", "max" or "avg": 2x2 stride 2 VALID after the conv
    depth_multiplier: int = field(default=0)   # > 0: w is a depthwise conv expanded to dense

    def resolved_padding(self):
        """(top, bottom, left, right) (spec/geometry.py ``resolve_padding``)."""
        H, W = self.x.shape[:2]
        R, S = self.w.shape[1:3]
        return resolve_padding(self.padding, int(H), int(W), int(R), int(S), self.stride)

    def output_hw(self):
        H, W = self.x.shape[:2]
        R, S = self.w.shape[1:3]
        pt, pb, pl, pr = self.resolved_padding()
        return output_size(H, R, self.stride, pt, pb), output_size(W, S, self.stride, pl, pr)


def folded_bias(layer: ConvLayer):
    """B'[m] = B[m] - input_zp * sum_{r,s,c} W[m][r][s][c], wrapped to int32 (int64 array [M])."""
    M = layer.w.shape[0]
    wsum = layer.w.astype(np.int64).reshape(M, -1).sum(axis=1)
    folded = np.asarray(layer.bias, np.int64) - int(layer.input_zp) * wsum
    return ((folded + 2**31) % 2**32) - 2**31

"""Conv engine driver: a quantised layer -> the register values and memory images the engine needs.

``plan_conv(config, layer)`` validates the layer against the generator configuration (every bad
value raises ValueError naming the parameter, its value and the allowed range) and returns a
:class:`LayerProgram`: the host-bus writes (hw/registers.py spaces), the expected output shape and
how to unpack the output memory. It is pure Python, used by the cocotb tests, the benchmarks and
(later) the firmware generator alike.

What the driver does for the hardware:
  * folds the input zero point into the bias: B'[m] = B[m] - input_zp * sum_{r,s,c} W[m][r][s][c]
    (int32 wrap), because the tile multiplies raw int8 inputs (padding reads input_zp, so
    sum W * (x - zp) over in-image taps = sum W * x_padded - zp * sum W);
  * lays out weights in the sequencer's order: row (m0/cols, r, s, c) holds W[m0 + j][r][s][c]
    for j < cols (zero for m >= M);
  * maps depthwise conv onto channel groups: with depth multiplier k dividing cols, output group
    m0 visits only input channels m0/k .. m0/k + cols/k - 1 (CG = cols/k, C_STEP = cols/k); other
    k fall back to a dense conv with zero weights (CG = C);
  * fully connected = a 1x1 conv over a 1x1 "image" with C = the flattened input length.

With ``not config.raw_output = 0`` (raw output, docs/up5k.md) the engine writes each element's
int32 accumulator and the host finishes it: the plan has no BIAS/MULT/SHIFT writes, POOL = 0 and
no OUTPUT_ZP/ACT_MIN/ACT_MAX registers (the engine ignores them), ``out_words()`` = E*F*M, and
``LayerProgram.unpack_output`` requantises and pools the words (driver/raw_output.finish_raw), so
every caller gets the same int8 output in both modes.
"""

from dataclasses import dataclass, field

import numpy as np

from hw.registers import POOL_AVG, POOL_MAX, POOL_NONE, REG, Space
from spec.config import AcceleratorConfig

__all__ = ["ConvLayer", "LayerProgram", "plan_conv", "layer_shape", "validate_layer",
           "conv_from_depthwise", "conv_from_fc", "layer_blocks", "folded_bias", "POOL_MODES"]

POOL_MODES = {"none": POOL_NONE, "max": POOL_MAX, "avg": POOL_AVG}


def _check(name, value, lo, hi):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValueError(f"{name} = {value!r} is out of range: must be an integer in [{lo}, {hi}]")
    return int(value)


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
        H, W = self.x.shape[:2]
        R, S = self.w.shape[1:3]
        if isinstance(self.padding, str):
            if self.padding == "VALID":
                return (0, 0, 0, 0)
            if self.padding == "SAME":
                U = self.stride
                pads = []
                for size, k in ((H, R), (W, S)):
                    out = -(-size // U)
                    total = max((out - 1) * U + k - size, 0)
                    pads += [total // 2, total - total // 2]
                return tuple(pads)
            raise ValueError(f"padding = {self.padding!r} is not supported: use 'SAME', 'VALID' or "
                             f"(top, bottom, left, right)")
        if len(self.padding) != 4:
            raise ValueError(f"padding = {self.padding!r} must have 4 entries (top, bottom, left, right)")
        return tuple(int(p) for p in self.padding)

    def output_hw(self):
        H, W = self.x.shape[:2]
        R, S = self.w.shape[1:3]
        pt, pb, pl, pr = self.resolved_padding()
        return (H + pt + pb - R) // self.stride + 1, (W + pl + pr - S) // self.stride + 1


@dataclass
class LayerProgram:
    """Everything a host does to run one layer: ordered (space, addr, value) writes, then start."""
    registers: dict
    writes: list
    out_shape: tuple              # (E', F', M) after pooling
    out_bytes: int
    ideal_beats: int              # N*M*C*E*F*R*S / (rows*cols) (dense MACs, ideal)
    beats: int                    # beats the sequencer issues (blocks * R * S * CG)
    raw_layer: ConvLayer = None   # raw output (output = Output.RAW): the layer the host finishes

    def memory_writes(self):
        return [w for w in self.writes if w[0] != Space.REGS]

    def register_writes(self):
        return [w for w in self.writes if w[0] == Space.REGS]

    def out_words(self):
        return (self.out_bytes + 3) // 4

    def unpack_output(self, words):
        """Output memory words -> int8 array (E', F', M) (raw output: requantised and pooled here)."""
        if self.raw_layer is not None:
            from .raw_output import finish_raw, raw_accumulators
            return finish_raw(self.raw_layer, raw_accumulators(self.raw_layer, words))
        raw = np.array(words, dtype=np.uint32).view(np.uint8)[: self.out_bytes]
        return raw.view(np.int8).reshape(self.out_shape)


def _words(byte_array):
    raw = np.asarray(byte_array).astype(np.int8).view(np.uint8).reshape(-1)
    pad = (-len(raw)) % 4
    raw = np.concatenate([raw, np.zeros(pad, np.uint8)])
    return raw.view("<u4").astype(np.int64).tolist()


def layer_blocks(E, F, rows):
    """(release, need) input-row window of every block of ``rows`` output pixels (raster order),
    as the sequencer computes them, in units of output rows e (scaled by the caller)."""
    blocks = []
    for p0 in range(0, E * F, rows):
        last = min(p0 + rows, E * F) - 1
        blocks.append((p0 // F, last // F))
    return blocks


def layer_shape(layer: ConvLayer):
    """(H, W, C, M, R, S) of a layer after checking its tensors' types, ranks and C agreement."""
    x, w = layer.x, layer.w
    if not isinstance(x, np.ndarray) or x.dtype != np.int8 or x.ndim != 3:
        raise ValueError(f"x must be an int8 array [H][W][C], not {getattr(x, 'dtype', type(x))} "
                         f"with shape {getattr(x, 'shape', None)}")
    if not isinstance(w, np.ndarray) or w.dtype != np.int8 or w.ndim != 4:
        raise ValueError(f"w must be an int8 array [M][R][S][C], not {getattr(w, 'dtype', type(w))} "
                         f"with shape {getattr(w, 'shape', None)}")
    H, W, C = x.shape
    M, R, S, Cw = w.shape
    if Cw != C:
        raise ValueError(f"w.shape = {w.shape} does not match x.shape = {x.shape}: C must be equal")
    return H, W, C, M, R, S


def validate_layer(config: AcceleratorConfig, layer: ConvLayer):
    """Everything about ``layer`` that no split can fix; raises ValueError naming the value."""
    cfg = config
    x, w = layer.x, layer.w
    H, W, C, M, R, S = layer_shape(layer)
    if min(H, W, C, M) < 1:
        raise ValueError(f"empty tensors: x.shape = {x.shape}, w.shape = {w.shape}")
    _check("R", R, 1, cfg.max_kernel)
    _check("S", S, 1, cfg.max_kernel)
    _check("stride", layer.stride, 1, cfg.max_stride)
    pt, pb, pl, pr = layer.resolved_padding()
    _check("pad_top", pt, 0, R - 1)
    _check("pad_bottom", pb, 0, R - 1)
    _check("pad_left", pl, 0, S - 1)
    _check("pad_right", pr, 0, S - 1)
    E, F = layer.output_hw()
    if E < 1 or F < 1:
        raise ValueError(f"the layer has no output: E, F = {E}, {F} for H, W = {H}, {W}, R, S = {R}, {S}")
    _check("input_zp", layer.input_zp, -128, 127)
    _check("output_zp", layer.output_zp, -128, 127)
    _check("act_min", layer.act_min, -128, 127)
    _check("act_max", layer.act_max, layer.act_min, 127)
    if layer.pool not in POOL_MODES:
        raise ValueError(f"pool = {layer.pool!r} is not supported: choose one of {', '.join(POOL_MODES)}")
    if layer.pool != "none" and (E < 2 or F < 2):
        raise ValueError(f"2x2 pooling needs E, F >= 2, not {E}, {F}")
    for name, arr, lo, hi in (("bias", layer.bias, -2**31, 2**31 - 1),
                              ("multiplier", layer.multiplier, 0, 2**31 - 1),
                              ("shift", layer.shift, -31, 30)):
        arr = np.asarray(arr)
        if arr.shape != (M,):
            raise ValueError(f"{name}.shape = {arr.shape} must be ({M},) (one per output channel)")
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name} must be integers, not {arr.dtype}")
        bad = np.flatnonzero((arr < lo) | (arr > hi))
        if bad.size:
            raise ValueError(f"{name}[{bad[0]}] = {int(arr[bad[0]])} is out of range [{lo}, {hi}]")
    mult = np.asarray(layer.multiplier, np.int64)
    bad = np.flatnonzero((mult != 0) & (mult < 2**30))
    if bad.size:
        raise ValueError(f"multiplier[{bad[0]}] = {int(mult[bad[0]])} is not normalised: must be 0 or in "
                         f"[2^30, 2^31 - 1] (QuantizeMultiplier's range)")
    if layer.depth_multiplier:
        k = _check("depth_multiplier", layer.depth_multiplier, 1, M)
        if C * k != M:
            raise ValueError(f"depth_multiplier = {k} needs M = C * k = {C * k}, not {M}")
        diag = np.zeros(w.shape, bool)
        for mm in range(M):
            diag[mm, :, :, mm // k] = True
        if np.any(w[~diag]):
            raise ValueError("depth_multiplier is set but w has weights outside the depthwise diagonal")
    else:
        _check("C (input channels of a dense layer: cannot be split)", C, 1, cfg.max_channels)
    return E, F


def folded_bias(layer: ConvLayer):
    """B'[m] = B[m] - input_zp * sum_{r,s,c} W[m][r][s][c], wrapped to int32 (int64 array [M])."""
    M = layer.w.shape[0]
    wsum = layer.w.astype(np.int64).reshape(M, -1).sum(axis=1)
    folded = np.asarray(layer.bias, np.int64) - int(layer.input_zp) * wsum
    return ((folded + 2**31) % 2**32) - 2**31


def plan_conv(config: AcceleratorConfig, layer: ConvLayer) -> LayerProgram:
    cfg = config
    x, w = layer.x, layer.w
    H, W, C, M, R, S = layer_shape(layer)
    _check("H", H, 1, cfg.max_size)
    _check("W", W, 1, cfg.max_size)
    _check("C", C, 1, cfg.max_channels)
    _check("M", M, 1, cfg.max_channels)
    E, F = validate_layer(cfg, layer)
    U = layer.stride
    pt, pb, pl, pr = layer.resolved_padding()
    _check("E", E, 1, cfg.max_size)
    _check("F", F, 1, cfg.max_size)
    # Rows keep their word alignment in the line buffer: an unaligned row needs 3 spare bytes.
    _check("W * C (line buffer line)", W * C, 1, cfg.lb_line_bytes - (3 if (W * C) % 4 else 0))
    _check("H * W * C (input memory)", H * W * C, 1, cfg.act_mem_bytes)
    pooled = layer.pool != "none"
    raw = cfg.raw_output
    out_e, out_f = (E // 2, F // 2) if pooled else (E, F)
    if raw:
        _check("E * F * M (raw output words, output = Output.RAW)", E * F * M, 1, cfg.out_mem_bytes // 4)
    else:
        _check("E' * F' * M (output memory)", out_e * out_f * M, 1, cfg.out_mem_bytes)
    if pooled and not raw:
        _check("(F // 2) * M (pool row buffer)", (F // 2) * M, 1, cfg.pool_buf_words)
    # Line-buffer lines one block needs at once (the sequencer aborts with LINE_BUFFER_SPAN
    # otherwise): from the first lane's top row to the last lane's bottom row.
    span = max(min(U * e_last - pt + R, H) - max(U * e_first - pt, 0)
               for e_first, e_last in layer_blocks(E, F, cfg.rows))
    _check("input rows one block of output pixels needs (line buffer lines)", span, 1, cfg.lb_lines)

    # Channel groups (depthwise mapping) and the weight image.
    k = layer.depth_multiplier
    if k and cfg.cols % k == 0 and C * k == M:
        CG, c_step = cfg.cols // k, cfg.cols // k
    else:
        CG, c_step = C, 0
    groups = -(-M // cfg.cols)
    rows_needed = groups * R * S * CG
    _check("weight rows (ceil(M/cols) * R * S * CG)", rows_needed, 1, cfg.weight_mem_words)
    image = np.zeros((groups, R, S, CG, cfg.cols), np.int8)
    for g in range(groups):
        c0 = g * c_step
        for j in range(cfg.cols):
            mm = g * cfg.cols + j
            if mm >= M:
                continue
            cs = np.arange(c0, c0 + CG)
            ok = cs < C
            image[g, :, :, ok, j] = np.moveaxis(w[mm][:, :, cs[ok]], -1, 0)
    # Check that grouping did not drop a weight (depthwise weights outside the group must be 0).
    if CG < C:
        kept = np.zeros_like(w)
        for g in range(groups):
            for j in range(cfg.cols):
                mm = g * cfg.cols + j
                if mm < M:
                    kept[mm, :, :, g * c_step: g * c_step + CG] = w[mm, :, :, g * c_step: g * c_step + CG]
        if not np.array_equal(kept, w):
            raise ValueError("depth_multiplier is set but w has weights outside the depthwise diagonal")

    folded = folded_bias(layer)

    regs = {
        "H": H, "W": W, "C": C, "M": M, "R": R, "S": S, "U": U, "PAD_TOP": pt, "PAD_LEFT": pl,
        "E": E, "F": F, "CG": CG, "C_STEP": c_step,
        "INPUT_ZP": layer.input_zp & 0xFF, "OUTPUT_ZP": layer.output_zp & 0xFF,
        "ACT_MIN": layer.act_min & 0xFF, "ACT_MAX": layer.act_max & 0xFF, "POOL": POOL_MODES[layer.pool],
    }
    writes = []
    writes += [(Space.ACT_IN, a, v) for a, v in enumerate(_words(x))]
    writes += [(Space.WEIGHTS, a, v) for a, v in enumerate(_words(image))]
    if raw:
        # The host requantises and pools: no per-channel parameters, no output registers.
        for name in ("OUTPUT_ZP", "ACT_MIN", "ACT_MAX"):
            del regs[name]
        regs["POOL"] = POOL_NONE
    else:
        writes += [(Space.BIAS, a, int(v) & 0xFFFFFFFF) for a, v in enumerate(folded)]
        writes += [(Space.MULT, a, int(v)) for a, v in enumerate(np.asarray(layer.multiplier))]
        writes += [(Space.SHIFT, a, int(v) & 0x3F) for a, v in enumerate(np.asarray(layer.shift))]
    writes += [(Space.REGS, REG[name], int(v)) for name, v in regs.items()]
    blocks = -(-E * F // cfg.rows)
    ideal = M * C * E * F * R * S / cfg.macs if not k else M * E * F * R * S / cfg.macs
    return LayerProgram(registers=regs, writes=writes, out_shape=(out_e, out_f, M),
                        out_bytes=4 * E * F * M if raw else out_e * out_f * M, ideal_beats=ideal,
                        beats=blocks * groups * R * S * CG, raw_layer=layer if raw else None)


def conv_from_depthwise(x, w_dw, depth_multiplier, **kwargs):
    """A depthwise layer (weights [1][R][S][C*k]) as a ConvLayer with block-diagonal weights."""
    C = x.shape[-1]
    k = depth_multiplier
    _, R, S, MK = w_dw.shape
    if MK != C * k:
        raise ValueError(f"w_dw.shape = {w_dw.shape} does not match C * depth_multiplier = {C * k}")
    w = np.zeros((C * k, R, S, C), np.int8)
    for mm in range(C * k):
        w[mm, :, :, mm // k] = w_dw[0, :, :, mm]
    return ConvLayer(x=x, w=w, depth_multiplier=k, **kwargs)


def conv_from_fc(x, w_fc, **kwargs):
    """A fully connected layer (input flattened to K, weights [M][K]) as a 1x1 conv on a 1x1 image."""
    flat = np.asarray(x).reshape(1, 1, -1)
    M, K = w_fc.shape
    if flat.shape[-1] != K:
        raise ValueError(f"w_fc.shape = {w_fc.shape} does not match the flattened input length "
                         f"{flat.shape[-1]}")
    return ConvLayer(x=flat, w=w_fc.reshape(M, 1, 1, K), **kwargs)

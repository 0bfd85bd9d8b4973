"""Split a layer that does not fit the on-chip buffers into passes that do, with identical bits.

A pass is an ordinary layer for the engine (``plan_conv`` accepts it) that computes one rectangle of
the output: a band of output rows [e0, e1), a band of output columns [f0, f1) and a group of output
channels [m0, m1). Because each output element depends only on its own input window, its channel's
weights and per-channel parameters, the rectangles put together are the layer's output bit for bit.

Row band [e0, e1) (column bands alike) reads input rows U*e0 - pt .. U*(e1-1) - pt + R - 1; the
part inside the image becomes the pass's input, and the part outside becomes the pass's own padding:

    y0 = max(0, U*e0 - pt)          pad_top'    = y0 - (U*e0 - pt)      (only the first band keeps pt)
    y1 = min(H, U*(e1-1) - pt + R)  pad_bottom' = U*(e1-1) - pt + R - y1 (only the last band has any)

(spec/geometry.py ``input_window``), so the pass's output height is exactly e1 - e0 and its taps
land on the same input pixels.
With 2x2 pooling, bands start and end on even output rows/columns and the odd last row/column that
VALID pooling drops is not computed at all. Output channel groups [m0, m1) take weights W[m0:m1] and
all C input channels (dense), or only channels m0/k .. m1/k (depthwise, k = depth multiplier).

What can be split: H, W, E, F (any size), M (any number of channels), the input/output/weight
memories, the line-buffer line (W*C: column bands), the pool row buffer and the line-buffer span.
What cannot: C of a dense layer above max_channels or R*S*C above the weight memory for one
channel group, S*C above the line buffer line, R, S, stride and quantisation parameters beyond the
generator maxima. Those raise ValueError before anything is sent.

With raw output (``not config.raw_output = 0``) a pass's output is its E*F*M int32 accumulators
(before pooling, one word each), which the host finishes per pass (driver/raw_output.py); the
output-memory limit is then E*F*M words and there is no pool row buffer.
"""

from dataclasses import dataclass

import numpy as np

from spec.config import AcceleratorConfig
from spec.geometry import input_window, max_block_rows

from .conv_layer import ConvLayer, LayerProgram, plan_conv, validate_layer

__all__ = ["Pass", "LayerPlan", "split_layer", "validate_layer", "GATHER_COST"]

#: What a word of a pass window costs the host, relative to a word over the port, when the window is
#: not whole rows of all channels: the firmware (firmware/net/net.c) then gathers the input and
#: scatters the output byte by byte. Measured on the SoC: ~32 core cycles per gathered byte, ~19 per
#: word over the port (the MLPerf Tiny depthwise layers, bench/mlperf.py).
GATHER_COST = 7


@dataclass
class Pass:
    """One engine run: ``layer`` computes ``out[rows[0]:rows[1], cols[0]:cols[1], chans[0]:chans[1]]``
    of the whole layer's output (after pooling)."""
    layer: ConvLayer
    program: LayerProgram
    rows: tuple
    cols: tuple
    chans: tuple
    input_key: tuple        # identical keys = identical input memory image
    param_key: tuple        # identical keys = identical weights and per-channel parameters


@dataclass
class LayerPlan:
    layer: ConvLayer
    config: AcceleratorConfig
    passes: list
    out_shape: tuple        # (E', F', M) after pooling

    def assemble(self, pass_outputs):
        """Per-pass output arrays (from LayerProgram.unpack_output) -> the layer's output."""
        out = np.zeros(self.out_shape, np.int8)
        filled = np.zeros(self.out_shape, bool)
        for p, o in zip(self.passes, pass_outputs, strict=True):
            (e0, e1), (f0, f1), (m0, m1) = p.rows, p.cols, p.chans
            out[e0:e1, f0:f1, m0:m1] = o
            filled[e0:e1, f0:f1, m0:m1] = True
        assert filled.all(), "the passes do not cover the output"
        return out


def _is_depthwise(layer):
    k = layer.depth_multiplier
    return bool(k) and layer.x.shape[2] * k == layer.w.shape[0]


def _window(e0, e1, U, pad, K, size):
    """Input range [y0, y1) and (pad_before, pad_after) of output band [e0, e1)."""
    return input_window(e0, e1 - 1, U, pad, K, size)


def _bounds(total, n, align):
    """Split [0, total) into min(n, ceil(total/align)) balanced bands whose sizes are multiples of
    ``align`` (but the last, which ends at total)."""
    units = -(-total // align)
    n = max(1, min(n, units))
    q, r = divmod(units, n)
    bands, a = [], 0
    for i in range(n):
        b = min(total, a + (q + (i < r)) * align)
        bands.append((a, b))
        a = b
    return bands


class _Geometry:
    def __init__(self, cfg, layer):
        self.cfg = cfg
        self.layer = layer
        self.H, self.W, self.C = layer.x.shape
        self.M, self.R, self.S, _ = layer.w.shape
        self.U = int(layer.stride)
        self.pt, self.pb, self.pl, self.pr = layer.resolved_padding()
        self.E, self.F = layer.output_hw()
        self.pooled = layer.pool != "none"
        self.align = 2 if self.pooled else 1
        self.E_used = self.E // 2 * 2 if self.pooled else self.E
        self.F_used = self.F // 2 * 2 if self.pooled else self.F
        self.depthwise = _is_depthwise(layer)
        k = layer.depth_multiplier
        if self.depthwise:
            # channel groups of `cols` keep the engine's depthwise mapping (cols % k == 0); else any
            # multiple of k (the dense fallback) keeps whole input channels together
            self.k = k
            self.unit = cfg.cols if cfg.cols % k == 0 else k
        else:
            self.k = 0
            self.unit = cfg.cols

    def chan_bounds(self, n):
        return _bounds(self.M, n, self.unit)

    def in_channels(self, m0, m1):
        return (m0 // self.k, m1 // self.k) if self.depthwise else (0, self.C)

    def _dims(self, rows, cols, chans):
        e0, e1 = rows
        f0, f1 = cols
        y0, y1, pt, _ = _window(e0, e1, self.U, self.pt, self.R, self.H)
        x0, x1, _, _ = _window(f0, f1, self.U, self.pl, self.S, self.W)
        c0, c1 = self.in_channels(*chans)
        return y1 - y0, pt, x1 - x0, c1 - c0, chans[1] - chans[0], e1 - e0, f1 - f0

    def band_violations(self, cols, chans):
        """Limits that depend only on the column band and the channel group."""
        cfg = self.cfg
        _, _, Wp, Cp, Mp, _, Fp = self._dims((0, 1), cols, chans)
        CG = cfg.cols // self.k if self.depthwise and cfg.cols % self.k == 0 else Cp
        checks = [
            ("W (input columns of a pass)", Wp, cfg.max_size), ("F", Fp, cfg.max_size),
            ("C", Cp, cfg.max_channels), ("M", Mp, cfg.max_channels),
            ("W * C (line buffer line)", Wp * Cp, cfg.lb_line_bytes),
            ("weight rows (ceil(M/cols) * R * S * CG)", -(-Mp // cfg.cols) * self.R * self.S * CG,
             cfg.weight_mem_words),
        ]
        if self.pooled and not cfg.raw_output:
            checks.append(("(F // 2) * M (pool row buffer)", (Fp // 2) * Mp, cfg.pool_buf_words))
        return [f"{name} = {value} > {limit}" for name, value, limit in checks if value > limit]

    def row_violations(self, rows, cols, chans):
        """Limits that also depend on the row band."""
        cfg = self.cfg
        Hp, pt, Wp, Cp, Mp, Ep, Fp = self._dims(rows, cols, chans)
        out_e, out_f = (Ep // 2, Fp // 2) if self.pooled else (Ep, Fp)
        checks = [
            ("H (input rows of a pass)", Hp, cfg.max_size), ("E", Ep, cfg.max_size),
            ("H * W * C (input memory)", Hp * Wp * Cp, cfg.act_mem_bytes),
            ("E' * F' * M (output memory)", out_e * out_f * Mp, cfg.out_mem_bytes) if not cfg.raw_output
            else ("E * F * M (raw output words)", Ep * Fp * Mp, cfg.out_mem_bytes // 4),
        ]
        bad = [f"{name} = {value} > {limit}" for name, value, limit in checks if value > limit]
        span = max_block_rows(Hp, pt, self.U, self.R, Ep, Fp, cfg.rows)
        if span > cfg.lb_lines:
            bad.append(f"input rows one block of output pixels needs = {span} > lb_lines = {cfg.lb_lines}")
        return bad

    def violations(self, rows, cols, chans):
        """Why the pass (pre-pool output rows/cols, channels) does not fit (empty list: it fits)."""
        return self.band_violations(cols, chans) + self.row_violations(rows, cols, chans)

    def bands_fit(self, col_bands, chan_bands):
        return not any(self.band_violations(c, m) for c in col_bands for m in chan_bands)

    def rows_fit(self, row_bands, col_bands, chan_bands):
        # Distinct row/column band shapes are few: check each (row band, col band, chan band) once
        # per distinct shape signature.
        seen = set()
        for chans in chan_bands:
            for cols in col_bands:
                for rows in row_bands:
                    key = (self._band_sig(rows, self.U, self.pt, self.R, self.H),
                           self._band_sig(cols, self.U, self.pl, self.S, self.W), chans[1] - chans[0])
                    if key in seen:
                        continue
                    seen.add(key)
                    if self.row_violations(rows, cols, chans):
                        return False
        return True

    @staticmethod
    def _band_sig(band, U, pad, K, size):
        y0, y1, before, after = _window(band[0], band[1], U, pad, K, size)
        return (y1 - y0, before, after, band[1] - band[0])

    def cost(self, row_bands, col_bands, chan_bands):
        """Words over the port (inputs, weights and parameters, outputs, registers) for both pass
        orders, a window the host must gather or scatter (not whole rows of all channels) counted
        :data:`GATHER_COST` times; returns (cost, order)."""
        cfg = self.cfg
        R, S = self.R, self.S

        def in_words(rows, cols, chans):
            y0, y1, _, _ = _window(rows[0], rows[1], self.U, self.pt, R, self.H)
            x0, x1, _, _ = _window(cols[0], cols[1], self.U, self.pl, S, self.W)
            c0, c1 = self.in_channels(*chans)
            words = -(-(y1 - y0) * (x1 - x0) * (c1 - c0) // 4)
            return words * (1 if (x0, x1, c0, c1) == (0, self.W, 0, self.C) else GATHER_COST)

        def param_words(chans):
            c0, c1 = self.in_channels(*chans)
            cg = cfg.cols // self.k if self.depthwise and cfg.cols % self.k == 0 else c1 - c0
            mp = chans[1] - chans[0]
            return -(-mp // cfg.cols) * R * S * cg * cfg.cols // 4 + (3 * mp if not cfg.raw_output else 0)

        def out_words(rows, cols, chans):
            ep, fp = rows[1] - rows[0], cols[1] - cols[0]
            whole = cols == (0, self.F_used) and chans == (0, self.M)
            if cfg.raw_output:
                return ep * fp * (chans[1] - chans[0])
            if self.pooled:
                ep, fp = ep // 2, fp // 2
            return -(-ep * fp * (chans[1] - chans[0]) // 4) * (1 if whole else GATHER_COST)

        bands = [(r, c) for r in row_bands for c in col_bands]
        n = len(bands) * len(chan_bands)
        fixed = n * 30 + sum(out_words(r, c, m) for (r, c) in bands for m in chan_bands)
        ins = sum(in_words(r, c, m) for (r, c) in bands for m in chan_bands)
        params = sum(param_words(m) for m in chan_bands)
        dense_in = not self.depthwise
        # channel groups outer: parameters once per group, inputs every pass (unless one band)
        outer_m = fixed + params + (ins if len(bands) > 1 or not dense_in else
                                    sum(in_words(r, c, chan_bands[0]) for r, c in bands))
        # bands outer: inputs once per band (dense: all groups read the same input), parameters
        # every pass (unless one group)
        inner_ins = sum(in_words(r, c, chan_bands[0]) for r, c in bands) if dense_in else ins
        outer_b = fixed + inner_ins + (params * len(bands) if len(chan_bands) > 1 else params)
        return (outer_m, "channels") if outer_m <= outer_b else (outer_b, "bands")


def _sub_layer(geo, layer, rows, cols, chans):
    e0, e1 = rows
    f0, f1 = cols
    m0, m1 = chans
    y0, y1, pt, pb = _window(e0, e1, geo.U, geo.pt, geo.R, geo.H)
    x0, x1, pl, pr = _window(f0, f1, geo.U, geo.pl, geo.S, geo.W)
    c0, c1 = geo.in_channels(m0, m1)
    sub = ConvLayer(
        x=np.ascontiguousarray(layer.x[y0:y1, x0:x1, c0:c1]),
        w=np.ascontiguousarray(layer.w[m0:m1, :, :, c0:c1]),
        bias=np.asarray(layer.bias)[m0:m1], multiplier=np.asarray(layer.multiplier)[m0:m1],
        shift=np.asarray(layer.shift)[m0:m1], input_zp=int(layer.input_zp), output_zp=int(layer.output_zp),
        stride=geo.U, padding=(pt, pb, pl, pr), act_min=int(layer.act_min), act_max=int(layer.act_max),
        pool=layer.pool, depth_multiplier=geo.k if geo.depthwise else 0)
    return sub, (y0, y1, x0, x1, c0, c1), (m0, m1)


def split_layer(config: AcceleratorConfig, layer: ConvLayer, max_passes=4096) -> LayerPlan:
    """The passes that run ``layer`` on ``config``: one when plan_conv accepts it, else the split
    with the fewest words over the port (estimated: inputs, weights, outputs, registers).

    Raises ValueError (naming the value and the limit) when the layer is invalid or cannot be split
    to fit; nothing is planned half-way.
    """
    if not isinstance(config, AcceleratorConfig):
        raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
    E, F = validate_layer(config, layer)
    geo = _Geometry(config, layer)
    M = geo.M
    out_shape = (E // 2, F // 2, M) if geo.pooled else (E, F, M)

    # One pass whenever the layer fits: exactly what plan_conv alone runs.
    try:
        whole = plan_conv(config, layer)
    except ValueError:
        whole = None
    if whole is not None:
        C = layer.x.shape[2]
        return LayerPlan(layer=layer, config=config, out_shape=out_shape, passes=[Pass(
            layer=layer, program=whole, rows=(0, out_shape[0]), cols=(0, out_shape[1]), chans=(0, M),
            input_key=(0, geo.H, 0, geo.W, 0, C), param_key=(0, M))])

    n_chan_max = -(-M // geo.unit)
    n_col_max = geo.F_used // geo.align
    n_row_max = geo.E_used // geo.align
    # Every limit only gets easier with smaller bands, so the finest split decides feasibility.
    finest = geo.chan_bounds(n_chan_max)
    def probes(total):
        a = geo.align
        return {(0, a), (total // a // 2 * a, total // a // 2 * a + a), (total - a, total)}
    why = [v for m in finest[:1] + finest[-1:] for r in probes(geo.E_used) for c in probes(geo.F_used)
           for v in geo.violations(r, c, m)]
    if why:
        raise ValueError(f"the layer cannot be split to fit the accelerator, even one output "
                         f"{'2x2 window' if geo.pooled else 'pixel'} and {finest[0][1] - finest[0][0]} "
                         f"channel(s) per pass: {'; '.join(dict.fromkeys(why))}")

    best = None

    def distinct(n_max, make):
        seen = set()
        for n in range(1, n_max + 1):
            bands = make(n)
            if len(bands) not in seen:
                seen.add(len(bands))
                yield bands

    for chan_bands in distinct(n_chan_max, geo.chan_bounds):
        if best is not None and len(chan_bands) > len(best[4]) + 2:
            break
        fitted = 0
        for col_bands in distinct(n_col_max, lambda n: _bounds(geo.F_used, n, geo.align)):
            if fitted >= 2:
                break                      # more column bands only add overlap
            if not geo.bands_fit(col_bands, chan_bands):
                continue
            # fewest row bands that fit (every limit is monotone in the band height): bisect
            lo, hi = 1, n_row_max
            if not geo.rows_fit(_bounds(geo.E_used, hi, geo.align), col_bands, chan_bands):
                continue
            while lo < hi:
                mid = (lo + hi) // 2
                if geo.rows_fit(_bounds(geo.E_used, mid, geo.align), col_bands, chan_bands):
                    hi = mid
                else:
                    lo = mid + 1
            row_bands = _bounds(geo.E_used, lo, geo.align)
            fitted += 1
            if len(row_bands) * len(col_bands) * len(chan_bands) > max_passes:
                continue
            words, order = geo.cost(row_bands, col_bands, chan_bands)
            if best is None or words < best[0]:
                best = (words, order, row_bands, col_bands, chan_bands)
    if best is None:
        raise ValueError(f"the layer needs more than max_passes = {max_passes} passes")
    _, order, row_bands, col_bands, chan_bands = best
    if order == "channels":
        grid = [(r, c, m) for m in chan_bands for r in row_bands for c in col_bands]
    else:
        grid = [(r, c, m) for r in row_bands for c in col_bands for m in chan_bands]
    passes = []
    for rows, cols, chans in grid:
        sub, in_key, param_key = _sub_layer(geo, layer, rows, cols, chans)
        program = plan_conv(config, sub)
        div = 2 if geo.pooled else 1
        passes.append(Pass(layer=sub, program=program, rows=(rows[0] // div, rows[1] // div),
                           cols=(cols[0] // div, cols[1] // div), chans=chans,
                           input_key=in_key, param_key=param_key))
    return LayerPlan(layer=layer, config=config, passes=passes, out_shape=out_shape)

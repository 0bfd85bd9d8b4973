"""What both conv sequencers share: layouts, the port signature, the raster walk, the loop nest,
the line address and the pipeline registers.

A sequencer turns one conv layer into a stream of MAC tile beats, one per cycle (see
hw/conv_sequencer.py for the contract and the two variants, hw/lookahead_sequencer.py and
hw/compact_sequencer.py). The parts here are helpers that add logic to the variant's ``Module``;
each variant chooses the widths and flag encodings that suit its target.
"""

from types import SimpleNamespace

from amaranth.hdl import Const, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig

from .line_buffer import lane_read_signature, row_alignment, row_window_signature

__all__ = ["SequencerBase", "SequencerSignature", "LoopNest", "RasterWalk", "block_info_layout",
           "drive_block_info",
           "layer_shape_layout", "line_address", "line_bits", "out_offset_width", "pipeline_stage",
           "raster_lane_layout", "sequencer_widths"]


def sequencer_widths(cfg: AcceleratorConfig):
    """(size, chan, coord, line): widths of sizes (H, W, E, F up to max_size), channel counts
    (C, M), signed lane coordinates (-pad .. U * max_size + kernel, two bits of headroom) and full
    signed line-offset arithmetic (x * C + s * C + c, two bits of headroom)."""
    size = cfg.max_size.bit_length() + 1
    chan = cfg.max_channels.bit_length() + 1
    coord = (cfg.max_stride * cfg.max_size + cfg.max_kernel).bit_length() + 2
    line = (cfg.lb_line_bytes * cfg.max_stride + cfg.max_kernel * cfg.max_channels).bit_length() + 2
    return size, chan, coord, line


def line_bits(cfg: AcceleratorConfig):
    """Bits of a byte offset inside a line-buffer line (log2(lb_line_bytes)): the line address is
    ``slot << line_bits | offset``, so only these low bits of a line offset ever reach it."""
    return (cfg.lb_line_bytes - 1).bit_length()


def out_offset_width(cfg: AcceleratorConfig):
    """Width of output-memory byte offsets (p * M, pooled offsets) with one bit of headroom."""
    return (max(cfg.out_mem_bytes, cfg.pool_buf_words) - 1).bit_length() + 1


def layer_shape_layout(cfg: AcceleratorConfig):
    """Runtime layer registers the sequencer needs (N M C H W R S E F U, padding, channel groups)."""
    size, chan, _, _ = sequencer_widths(cfg)
    return data.StructLayout({
        "H": size, "W": size, "C": chan, "M": chan,
        "R": range(cfg.max_kernel + 1), "S": range(cfg.max_kernel + 1),
        "U": range(cfg.max_stride + 1),
        "pad_top": range(cfg.max_kernel), "pad_left": range(cfg.max_kernel),
        "E": size, "F": size,
        "CG": chan,          # input channels visited per output channel group
        "c_step": chan,      # c_base increment from one output channel group to the next
        "input_zp": signed(8),
    })


def block_info_layout(cfg: AcceleratorConfig):
    """What the output stage needs to know about each finished tile block.

    The per-lane output offsets are kept incrementally by the sequencer, so the output stage
    needs no multiplier: pm = p * M (NHWC offset of pixel p), and for 2x2 pooling
    qrm = (e // 2) * (F // 2) * M and qcm = (f // 2) * M (pooled offset = qrm + qcm, row buffer
    entry = qcm, each plus the channel)."""
    size, chan, _, _ = sequencer_widths(cfg)
    pixels = (cfg.max_size * cfg.max_size).bit_length() + 1
    out = out_offset_width(cfg)
    return data.StructLayout({
        "p0": pixels,                                  # flattened output pixel of lane 0
        "m0": chan,                                    # first output channel of the group
        "e": data.ArrayLayout(size, cfg.rows),         # output row of each lane
        "f": data.ArrayLayout(size, cfg.rows),         # output column of each lane
        "pm": data.ArrayLayout(out, cfg.rows),
        "qrm": data.ArrayLayout(out, cfg.rows),
        "qcm": data.ArrayLayout(out, cfg.rows),
        "lane_valid": cfg.rows,                        # lane i holds a real pixel (p0 + i < E*F)
    })


class SequencerSignature(wiring.Signature):
    """The ports of every conv sequencer (seen from the sequencer).

    Parameters
    ----------
    config : AcceleratorConfig
    lb_addr_width : int      width of a line-buffer lane address (``LineBuffer.addr_width``)

    Members
    -------
    start : In(1)            pulse: run the layer in ``shape`` (registers must be stable)
    shape : In(layer_shape_layout)
    busy : Out(1)            issuing beats
    error_span : Out(1)      the layer needs more line-buffer lines than exist (aborted, no hang)
    advance : In(1)          the tile accepts a beat this cycle (pipeline clock enable)
    beat_valid, beat_first, beat_last : Out(1)   beat_act : Out(array of rows signed bytes)
    row_align : In(2)        (W * C) mod 4: rows keep their word alignment in lines
    window : Out(row_window_signature)   to the line buffer: the lowest row still needed
                             (``release``) and ``release + lb_lines``; from it: the rows it holds
    lanes : Out(lane_read_signature)     the line-buffer lane reads: ``en`` = ``advance``,
                             ``addr`` per lane; ``word``, ``sel`` one cycle later
    w_addr : Out             weight memory address (its data goes to the tile directly)
    info : Out(stream of block_info_layout)   block info, valid with a group's last beat
    """

    def __init__(self, config: AcceleratorConfig, lb_addr_width: int):
        cfg = config
        size, _, _, _ = sequencer_widths(cfg)
        super().__init__({
            "start": In(1),
            "shape": In(layer_shape_layout(cfg)),
            "busy": Out(1),
            "error_span": Out(1),
            "advance": In(1),
            "beat_valid": Out(1),
            "beat_first": Out(1),
            "beat_last": Out(1),
            "beat_act": Out(data.ArrayLayout(signed(cfg.act_width), cfg.rows)),
            "row_align": In(2),
            "window": Out(row_window_signature(cfg)),
            "lanes": Out(lane_read_signature(cfg, lb_addr_width)),
            "w_addr": Out(max(1, (cfg.weight_mem_words - 1).bit_length())),
            "info": Out(stream.Signature(block_info_layout(cfg))),
        })


class SequencerBase(wiring.Component):
    """What both sequencers share: the :class:`SequencerSignature` ports and the check that the
    configuration asks for this variant (``KIND``, a :class:`spec.config.Sequencer`).

    Parameters
    ----------
    config : AcceleratorConfig     with ``sequencer = KIND``
    lb_addr_width : int            width of a line-buffer lane address

    Raises ValueError for a configuration asking for another sequencer.
    """

    KIND = None

    def __init__(self, config: AcceleratorConfig, lb_addr_width: int):
        if config.sequencer is not self.KIND:
            raise ValueError(f"{type(self).__name__} needs sequencer = {self.KIND}, "
                             f"not {config.sequencer!r}")
        self._config = config
        super().__init__(SequencerSignature(config, lb_addr_width))


def raster_lane_layout(cfg: AcceleratorConfig, coord_width, offset_width, **extra):
    """One lane of the raster walk: output pixel (e, f), input coordinates ye = U*e - pad_top and
    xf = U*f - pad_left, line offset xfc = xf * C, output offsets pm, qrm, qcm (see
    block_info_layout); ``extra`` fields are the variant's own."""
    size, _, _, _ = sequencer_widths(cfg)
    out = out_offset_width(cfg)
    return data.StructLayout({
        "e": signed(size + 1), "f": size,
        "ye": signed(coord_width), "xf": signed(coord_width), "xfc": signed(offset_width),
        "pm": out, "qrm": out, "qcm": out, **extra,
    })


class RasterWalk:
    """Output pixels in raster order, kept incrementally (no multiplier per pixel).

    Registers three per-layer constants from ``shape`` (stable while a layer runs, so they are
    ready one cycle after it is written): ``u_c = U * C`` and ``pl_c = pad_left * C``
    (``offset_width`` bits, formed by ``mul(a, b)``), ``half_f_m = (F // 2) * M``.
    """

    def __init__(self, m, cfg: AcceleratorConfig, shape, offset_width, mul):
        self._shape = shape
        self.u_c = Signal(offset_width)                 # xfc step from one output column to the next
        self.pl_c = Signal(offset_width)                # pad_left * C
        self.half_f_m = Signal(out_offset_width(cfg))   # qrm step from one pooled row to the next
        m.d.sync += [self.u_c.eq(mul(shape.U, shape.C)), self.pl_c.eq(mul(shape.pad_left, shape.C)),
                     self.half_f_m.eq((shape.F >> 1) * shape.M)]

    def seed(self, lane):
        """Statements setting ``lane`` to the pixel before (0, 0): one step later it is (0, 0)
        with every offset 0."""
        sh = self._shape
        return [lane.e.eq(-1), lane.f.eq(sh.F - 1), lane.ye.eq(-sh.U - sh.pad_top),
                lane.xf.eq(0), lane.xfc.eq(0),
                lane.pm.eq(-sh.M), lane.qrm.eq(-self.half_f_m), lane.qcm.eq(0)]

    def step(self, m, lane, wrap):
        """The lane one output pixel further (a new Signal, combinational); ``wrap``: ``lane`` is
        the last pixel of its output row (f = F - 1). Fields beyond raster_lane_layout's are left
        to the caller."""
        sh = self._shape
        nxt = Signal(lane.shape())
        m.d.comb += [
            nxt.e.eq(Mux(wrap, lane.e + 1, lane.e)),
            nxt.f.eq(Mux(wrap, 0, lane.f + 1)),
            nxt.ye.eq(Mux(wrap, lane.ye + sh.U, lane.ye)),
            nxt.xf.eq(Mux(wrap, -sh.pad_left, lane.xf + sh.U)),
            nxt.xfc.eq(Mux(wrap, -self.pl_c, lane.xfc + self.u_c)),
            nxt.pm.eq(lane.pm + sh.M),
            nxt.qcm.eq(Mux(wrap, 0, lane.qcm + Mux(lane.f[0], sh.M, 0))),
            nxt.qrm.eq(Mux(wrap, lane.qrm + Mux(lane.e[0], self.half_f_m, 0), lane.qrm)),
        ]
        return nxt


class LoopNest:
    """The loop counters of one layer, stepped once per issued beat (S0 of the pipeline).

    The loop nest (N = 1: the driver loops over N; the tile's ``rows`` lanes are the output
    pixels p0 .. p0 + rows - 1 in raster order, its ``cols`` columns output channels m0 .. m0 + cols - 1;
    E, F, H, W and U enter through the lanes, see RasterWalk)::

        for p0 in range(0, E * F, rows):            # p0       output pixel block
            for m0 in range(0, M, cols):            # m0       output channel group; c_base += c_step
                for r in range(R):                  # r        filter row
                    for s in range(S):              # s        filter column
                        for c in range(CG):         # c        input channel c_base + c
                            beat: lane i reads I[ye_i + r][xf_i + s][c_base + c]
                                  column j uses W[m0 + j][r][s][c_base + c] at w_addr

    For a normal conv CG = C and c_step = 0; grouped/depthwise conv uses CG < C. Alongside the
    counters: ``s_base = s * C + c_base``, ``col_off = s_base + c`` (the tap's line offset
    beyond the lane's xfc) and ``w_addr`` (+1 per beat, 0 at every block: weights stay on chip).

    The end flags ``at_c_end`` (c == CG - 1), ``at_s_end``, ``at_r_end`` and ``last_group``
    (m0 + cols >= M) are registers, set together with their counters from the counters' next
    values, so the sequencer's ``issue`` (which gates every counter and the tile's beat) starts
    from flip-flops instead of comparators against the shape registers. How the c and m0 flags
    are computed is a subclass's choice (``_c_restart``, ``_c_end_next``, ``_m_restart``,
    ``_group_last_next``); here by comparing the up-counting counters.
    """

    def __init__(self, cfg: AcceleratorConfig, shape, *, c_base_width, offset_width, w_addr_width):
        _, chan, _, _ = sequencer_widths(cfg)
        self._cfg = cfg
        self._shape = shape
        self.p0 = Signal(block_info_layout(cfg)["p0"].shape)
        self.m0 = Signal(chan)
        self.r = Signal(range(cfg.max_kernel + 1))
        self.s = Signal(range(cfg.max_kernel + 1))
        self.c = Signal(chan)
        self.c_base = Signal(c_base_width)
        self.s_base = Signal(offset_width)       # s * C + c_base
        self.col_off = Signal(offset_width)      # s * C + c_base + c
        self.w_addr = Signal(w_addr_width)
        self.at_c_end = Signal()
        self.at_s_end = Signal()
        self.at_r_end = Signal()
        self.last_group = Signal()
        self.at_group_end = self.at_c_end & self.at_s_end & self.at_r_end   # last beat of a group
        self.at_block_end = self.at_group_end & self.last_group              # last beat of a block

    # The flags' values for a counter back at 0, and for the counter's next step.
    def _c_restart(self):
        return [self.at_c_end.eq(self._shape.CG == 1)]

    def _c_end_next(self):
        return [self.at_c_end.eq(self.c + 2 == self._shape.CG)]

    def _m_restart(self):
        return [self.last_group.eq(self._shape.M <= self._cfg.cols)]

    def _group_last_next(self):
        return [self.last_group.eq(self.m0 + 2 * self._cfg.cols >= self._shape.M)]

    def _s_restart(self):
        return [self.at_s_end.eq(self._shape.S == 1)]

    def _r_restart(self):
        return [self.at_r_end.eq(self._shape.R == 1)]

    def restart(self):
        """Statements starting a layer at (p0, m0, r, s, c) = 0."""
        return [self.p0.eq(0), *self._block_restart()]

    def _block_restart(self):
        return [self.r.eq(0), self.s.eq(0), self.c.eq(0), self.m0.eq(0), self.c_base.eq(0),
                self.s_base.eq(0), self.col_off.eq(0), self.w_addr.eq(0),
                *self._c_restart(), *self._s_restart(), *self._r_restart(), *self._m_restart()]

    def advance(self, m, on_block_end):
        """Step the innermost loop that has not ended (use under the condition of an issued beat);
        at a block's last beat the counters restart at the next block and ``on_block_end()`` adds
        the variant's own statements."""
        cfg, sh = self._cfg, self._shape
        c, s, r, m0 = self.c, self.s, self.r, self.m0
        c_base, s_base, col_off, w_addr = self.c_base, self.s_base, self.col_off, self.w_addr
        next_c_base = c_base + sh.c_step
        with m.If(~self.at_c_end):
            m.d.sync += [c.eq(c + 1), col_off.eq(col_off + 1), w_addr.eq(w_addr + 1),
                         *self._c_end_next()]
        with m.Elif(~self.at_s_end):
            m.d.sync += [c.eq(0), s.eq(s + 1), s_base.eq(s_base + sh.C),
                         col_off.eq(s_base + sh.C), w_addr.eq(w_addr + 1),
                         *self._c_restart(), self.at_s_end.eq(s + 2 == sh.S)]
        with m.Elif(~self.at_r_end):
            m.d.sync += [c.eq(0), s.eq(0), r.eq(r + 1), s_base.eq(c_base),
                         col_off.eq(c_base), w_addr.eq(w_addr + 1),
                         *self._c_restart(), *self._s_restart(), self.at_r_end.eq(r + 2 == sh.R)]
        with m.Elif(~self.last_group):
            m.d.sync += [c.eq(0), s.eq(0), r.eq(0), m0.eq(m0 + cfg.cols),
                         c_base.eq(next_c_base), s_base.eq(next_c_base),
                         col_off.eq(next_c_base), w_addr.eq(w_addr + 1),
                         *self._c_restart(), *self._s_restart(), *self._r_restart(),
                         *self._group_last_next()]
        with m.Else():
            m.d.sync += [self.p0.eq(self.p0 + cfg.rows), *self._block_restart()]
            on_block_end()


def line_address(cfg: AcceleratorConfig, y, row_align, xfc, col_off):
    """Line-buffer address of a tap: ``slot(y) << line_bits | (xfc + col_off + a_y) mod line``,
    with slot(y) = y mod lb_lines and a_y = row_alignment(y, row_align) (hw/line_buffer.py).
    Only y's low bits are used."""
    shift = line_bits(cfg)
    slot = y[:max(1, (cfg.lb_lines - 1).bit_length())] if cfg.lb_lines > 1 else Const(0, 1)
    if not shift:
        return slot
    offset = (xfc + col_off + row_alignment(y, row_align))[:shift]
    return (slot << shift) | offset


def pipeline_stage(m, start, advance, prefix, valid, **fields):
    """One pipeline stage: registers ``<prefix>_valid`` (cleared by ``start``) and
    ``<prefix>_<name>`` for each of ``fields``; all take their inputs while ``advance`` is high.
    Returns them as a namespace (``.valid``, ``.<name>``)."""
    regs = SimpleNamespace(valid=Signal(name=f"{prefix}_valid"))
    for name, value in fields.items():
        setattr(regs, name, Signal(value.shape(), name=f"{prefix}_{name}"))
    with m.If(start):
        m.d.sync += regs.valid.eq(0)
    with m.Elif(advance):
        m.d.sync += [regs.valid.eq(valid),
                     *[getattr(regs, name).eq(value) for name, value in fields.items()]]
    return regs


def drive_block_info(m, seq, fire, p0, m0, lanes, lane_valid):
    """Drive ``seq.info`` / ``seq.info.valid``: the block info of the current (block, group),
    valid with its last beat (``fire``)."""
    m.d.comb += [seq.info.valid.eq(fire), seq.info.payload.p0.eq(p0), seq.info.payload.m0.eq(m0),
                 seq.info.payload.lane_valid.eq(lane_valid)]
    info = seq.info.payload
    for i, lane in enumerate(lanes):
        m.d.comb += [info.e[i].eq(lane.e), info.f[i].eq(lane.f), info.pm[i].eq(lane.pm),
                     info.qrm[i].eq(lane.qrm), info.qcm[i].eq(lane.qcm)]

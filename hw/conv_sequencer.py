"""ConvSequencer: turns the conv loop nest into a stream of MAC tile beats, one per cycle.

The tile is output stationary: its ``rows`` lanes are ``rows`` consecutive output pixels in raster
order (flattened p = e * F + f, so a block may wrap from one output row to the next and no lane is
wasted when F is not a multiple of rows), its ``cols`` columns are ``cols`` output channels. The loop
nest, per layer (N = 1; the driver loops over N):

    for p0 in range(0, E * F, rows):             # output pixel block; lane i -> p0 + i = (e_i, f_i)
        for m0 in range(0, M, cols):             # output channel group (weights stay on chip)
            for r in range(R):                   # filter row
                for s in range(S):               # filter column
                    for c in range(CG):          # input channel c_base(m0) + c
                        beat: act[i]  = I[U*e_i + r - pad_top][U*f_i + s - pad_left][c_base + c]
                              weight[j] = W[m0 + j][r][s][c_base + c]

For a normal conv CG = C and c_base = 0. Grouped/depthwise conv uses CG < C and c_base(m0) =
(m0 / cols) * c_step: only the input channels a channel group depends on are visited.
Out-of-image taps read the input zero point (equivalent to TFLite's "skip the tap" once the driver
folds -input_zp * sum(W) into the bias).

Everything per lane is kept incrementally (no multiplier in the loop): ye_i = U*e_i - pad_top,
xf_i = U*f_i - pad_left, xfc_i = xf_i * C, and the line address of a tap is
``slot(y) * lb_line_bytes + a_y + xfc_i + col_off`` with y = ye_i + r, col_off = s*C + c_base + c
and a_y the row's byte alignment (see hw/line_buffer.py).

Pipeline (advances as one, while ``advance`` is high = the tile accepts):
  S0 loop counters  ->  S1 lane addresses, in-bounds flags  ->  S2 line-buffer reads
  ->  S3 operand register (zero point substituted for out-of-image taps), weight read  ->  tile.

Two variants (``AcceleratorConfig.seq_lookahead``):

* 1 (default): while a block's beats are issued, a second set of ``rows`` lanes is stepped to
  the next block's pixels (the lookahead), so blocks follow each other without a gap; pipelined
  for 100 MHz on ECP5 (docs/timing.md).
* 0, the small sequencer (iCE40UP5K, docs/up5k.md): one lane register set. After a block's last
  beat a single full lane (the cursor) steps to the next block's pixels, one per cycle, and each
  pixel is shifted into the lanes in the form S1 needs: per lane the row's low bits (slot,
  alignment), the byte offset xfc_i (only log2(lb_line_bytes) bits: the line address is taken
  modulo the line) and two masks over the kernel counters, ymask[r] = (0 <= ye_i + r < H) and
  xmask[s] = (0 <= xf_i + s < W), so S1 selects a mask bit instead of adding and comparing
  coordinates. The next block's first beat comes ``rows + 3`` cycles after the last one
  (spec.cycle_model.SMALL_GAP). There is no S3: the tile's operand register takes the lane
  byte from the line buffer's word in S2 (byte select and zero point in front of it),
  the weight address is presented one stage earlier to match. Slower only by that gap per block
  (the digits CNN: +0.3 % engine cycles); about 540 logic cells smaller on the UP5K.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig

from .line_buffer import row_alignment

__all__ = ["ConvSequencer", "block_info_layout", "layer_shape_layout"]


def _widths(cfg):
    size = cfg.max_size.bit_length() + 1           # H, W, E, F, counts up to max_size
    chan = cfg.max_channels.bit_length() + 1       # C, M
    # Signed coordinates: -pad .. U*max_size + kernel, times C for byte offsets.
    coord = (cfg.max_stride * cfg.max_size + cfg.max_kernel).bit_length() + 2
    line = (cfg.lb_line_bytes * cfg.max_stride + cfg.max_kernel * cfg.max_channels).bit_length() + 2
    return size, chan, coord, line


def layer_shape_layout(cfg: AcceleratorConfig):
    """Runtime layer registers the sequencer needs (N M C H W R S E F U, padding, channel groups)."""
    size, chan, _, _ = _widths(cfg)
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


def _out_width(cfg):
    """Width of output-memory byte offsets (p * M, pooled offsets) with one bit of headroom."""
    return (max(cfg.out_mem_bytes, cfg.pool_buf_words) - 1).bit_length() + 1


def block_info_layout(cfg: AcceleratorConfig):
    """What the output stage needs to know about each finished tile block.

    The per-lane output offsets are kept incrementally by the sequencer, so the output stage
    needs no multiplier: pm = p * M (NHWC offset of pixel p), and for 2x2 pooling
    qrm = (e // 2) * (F // 2) * M and qcm = (f // 2) * M (pooled offset = qrm + qcm, row buffer
    entry = qcm, each plus the channel)."""
    size, chan, _, _ = _widths(cfg)
    pixels = (cfg.max_size * cfg.max_size).bit_length() + 1
    out = _out_width(cfg)
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


def _offset_width(cfg):
    """Width of the line-offset arithmetic (xfc, s * C + c_base + c, U * C, pad_left * C).

    The 4-lane lookahead (``Sequencer.LOOKAHEAD``) keeps them as full signed byte offsets. Only the
    low log2(lb_line_bytes) bits of their sum reach the line address, and sums modulo 2^k depend
    only on the operands' low k bits, so the small sequencer (``Sequencer.COMPACT``) keeps just
    those bits (7 instead of 12 for 128-byte lines)."""
    _, _, _, line = _widths(cfg)
    if cfg.lookahead:
        return line
    return max(1, (cfg.lb_line_bytes - 1).bit_length())


def _coord_width(cfg):
    """Width of the signed lane coordinates ye = U*e - pad_top, xf = U*f - pad_left.

    The small sequencer keeps one sign bit over the largest value a lane can reach (lanes past
    the layer's end go up to e = E + rows - 1) instead of two bits of headroom."""
    _, _, coord, _ = _widths(cfg)
    if cfg.lookahead:
        return coord
    return (cfg.max_stride * (cfg.max_size + cfg.rows) + cfg.max_kernel).bit_length() + 1


def _lane_layout(cfg):
    size, _, _, line = _widths(cfg)
    coord = _coord_width(cfg)
    out = _out_width(cfg)
    fields = {
        "e": signed(size + 1), "f": size,
        "ye": signed(coord), "xf": signed(coord), "xfc": signed(_offset_width(cfg)),
        "pm": out, "qrm": out, "qcm": out,
    }
    if not cfg.lookahead:
        fields["f_left"] = size        # F - f: the row ends where it is 1 (no adder, no comparator)
    return data.StructLayout(fields)


def _y_bits(cfg):
    """Low bits of an input row number the line address needs: its slot and its alignment."""
    return max(2, (cfg.lb_lines - 1).bit_length())


def _small_lane_layout(cfg):
    """A lane of the small sequencer, as its S1 stage reads it (derived from the full lane when it
    is stepped): the in-image test is ``ylo <= r < yhi and xlo <= s < xhi`` on the kernel
    counters (bounds clamped to 0..max_kernel, ``yhi = 0`` for a lane past the layer's end), the
    row's low bits ``yl`` give its slot and alignment; e, f, pm, qrm, qcm only feed the block
    info (unused, and dropped by Yosys, without the block-info FIFO)."""
    size, _, _, _ = _widths(cfg)
    out = _out_width(cfg)
    return data.StructLayout({
        "e": signed(size + 1), "f": size, "pm": out, "qrm": out, "qcm": out,
        "yl": _y_bits(cfg), "ymask": cfg.max_kernel, "xmask": cfg.max_kernel,
        "xfc": _offset_width(cfg),
    })


def _narrow_mul(a, b, width):
    """``(a * b) mod 2**width`` as shift-and-add of ``a``'s (few) bits: a small multiplier that
    Yosys maps to ``len(a) - 1`` adders ``width`` bits wide."""
    b = b[:width]
    terms = [Mux(a[k], (b << k)[:width], 0) for k in range(len(a))]
    if not terms:
        return Const(0, width)        # ``a`` has no bits (pad_left with max_kernel = 1)
    total = terms[0]
    for term in terms[1:]:
        total = (total + term)[:width]
    return total


class ConvSequencer(wiring.Component):
    """Loop-nest sequencer feeding the MAC tile from the line buffer and the weight memory.

    Members
    -------
    start : In(1)            pulse: run the layer in ``shape`` (registers must be stable)
    shape : In(layer_shape_layout)
    busy : Out(1)            issuing beats
    error_span : Out(1)      the layer needs more line-buffer lines than exist (aborted, no hang)
    advance : In(1)          the tile accepts a beat this cycle (pipeline clock enable)
    beat_valid, beat_first, beat_last : Out(1)   / beat_act : Out(array) / beat_weight : In via memory
    rows_loaded, row_done : In   from the line buffer (row_done: rows_loaded counts one more
                              row at the next clock edge); release, release_limit : Out  to the
                              line buffer (release_limit = release + lb_lines)
    lb_addr : Out(array), lb_word, lb_sel : In(array)   line buffer lanes: word and byte index
    w_addr : Out                                weight memory address (data goes to the tile directly)
    info, info_valid : Out    block info, pushed when the last beat of a block is issued
    info_ready : In(1)        room for block info (else the sequencer waits)
    """

    def __init__(self, config: AcceleratorConfig, lb_addr_width):
        self._config = config
        cfg = config
        size, chan, coord, line = _widths(cfg)
        self._lb_addr_width = lb_addr_width
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
            "rows_loaded": In(size),
            "row_done": In(1),           # rows_loaded + 1 at the next edge (0: unchanged)
            "row_align": In(2),          # (W * C) mod 4: rows keep their word alignment in lines
            "release": Out(size),
            "release_limit": Out(size + 1),      # release + lb_lines, from registers
            "lb_addr": Out(data.ArrayLayout(lb_addr_width, cfg.rows)),
            "lb_word": In(data.ArrayLayout(32, cfg.rows)),
            "lb_sel": In(data.ArrayLayout(2, cfg.rows)),
            "w_addr": Out(max(1, (cfg.weight_mem_words - 1).bit_length())),
            "info": Out(block_info_layout(cfg)),
            "info_valid": Out(1),
            "info_ready": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        sh = self.shape
        size, chan, coord, line = _widths(cfg)
        lane_layout = _lane_layout(cfg)
        line_shift = (cfg.lb_line_bytes - 1).bit_length()
        slot_mask = cfg.lb_lines - 1
        # sequencer = Sequencer.COMPACT: the small sequencer (its S0 lanes, S1 and S2 differ, see there).
        small = not cfg.lookahead
        off_w = _offset_width(cfg)

        # Per-layer constants computed once at start (these are the only multiplies).
        u_c = Signal(off_w)           # U * C: xfc step from one output column to the next
        pl_c = Signal(off_w)          # pad_left * C
        half_f_m = Signal(_out_width(cfg))    # (F // 2) * M: qrm step from one pooled row to the next
        if small:
            m.d.sync += [u_c.eq(_narrow_mul(sh.U, sh.C, off_w)),
                         pl_c.eq(_narrow_mul(sh.pad_left, sh.C, off_w)),
                         half_f_m.eq((sh.F >> 1) * sh.M)]
        else:
            m.d.sync += [u_c.eq(sh.U * sh.C), pl_c.eq(sh.pad_left * sh.C),
                         half_f_m.eq((sh.F >> 1) * sh.M)]

        # ---- S0: loop counters -------------------------------------------------------------
        running = Signal()
        small_layout = _small_lane_layout(cfg)
        lanes = Signal(data.ArrayLayout(small_layout if small else lane_layout, cfg.rows))
        lane_valid = Signal(cfg.rows)
        p0 = Signal(len(self.info.p0))
        need = Signal(size + 1)            # rows that must be loaded before this block's beats
        release = Signal(size)             # lowest row this block reads
        release_lim = Signal(size + 1)     # release + lb_lines
        block_ok = Signal()                # the block's lines fit in the buffer
        first_pending = Signal()           # start seen, first block not loaded yet
        r = Signal(range(cfg.max_kernel + 1))
        s = Signal(range(cfg.max_kernel + 1))
        c = Signal(chan)
        m0 = Signal(chan)
        c_base = Signal(off_w if small else chan + cfg.max_channels.bit_length())
        s_base = Signal(off_w)             # s * C + c_base
        col_off = Signal(off_w)            # s * C + c_base + c
        w_addr = Signal.like(self.w_addr)

        def step(lane):
            """The lane one output pixel further in raster order."""
            nxt = Signal(lane_layout)
            if small:
                wrap = lane.f_left == 1
                m.d.comb += nxt.f_left.eq(Mux(wrap, sh.F, lane.f_left - 1))
            else:
                wrap = lane.f + 1 == sh.F
            m.d.comb += [
                nxt.e.eq(Mux(wrap, lane.e + 1, lane.e)),
                nxt.f.eq(Mux(wrap, 0, lane.f + 1)),
                nxt.ye.eq(Mux(wrap, lane.ye + sh.U, lane.ye)),
                nxt.xf.eq(Mux(wrap, -sh.pad_left, lane.xf + sh.U)),
                nxt.xfc.eq(Mux(wrap, -pl_c, lane.xfc + u_c)),
                nxt.pm.eq(lane.pm + sh.M),
                nxt.qcm.eq(Mux(wrap, 0, lane.qcm + Mux(lane.f[0], sh.M, 0))),
                nxt.qrm.eq(Mux(wrap, lane.qrm + Mux(lane.e[0], half_f_m, 0), lane.qrm)),
            ]
            return nxt

        if not small:
            # Lookahead: the next block's lanes follow the current last lane (or the seed before
            # block 0), one lane per cycle so no clock period holds more than one step. Then the
            # rows the block needs, in three register stages, because together (lane valid flags ->
            # last valid lane's ye -> + R, min H -> span check) they were one of the longest paths:
            #   la_count == rows      lane valid flags, the last valid lane's ye, lane 0's ye
            #   la_count == rows + 1  rows needed (min(last ye + R, H)) and the lowest row read
            #   la_count == rows + 2  the span check (the lines must fit in the buffer); ready
            # Ready LOOKAHEAD = rows + 4 cycles after a block is loaded; a block shorter than that
            # waits for it at its last beat.
            next_lanes = Signal(data.ArrayLayout(lane_layout, cfg.rows))
            la_last = Signal(lane_layout)          # the lane the next step starts from
            la_count = Signal(range(cfg.rows + 4))
            la_ready = Signal()
            next_valid = Signal(cfg.rows)
            la_last_ye = Signal(signed(coord))     # ye of the next block's last valid lane
            la_first_ye = Signal(signed(coord))    # ye of its lane 0
            need_next = Signal(signed(coord + 1))
            release_next = Signal(size)
            block_ok_next = Signal()
            stepped = step(la_last)
            with m.If(la_count < cfg.rows):
                m.d.sync += [la_last.eq(stepped), la_count.eq(la_count + 1),
                             next_lanes.eq(Cat(next_lanes.as_value()[lane_layout.size:], stepped))]
            with m.Elif(la_count == cfg.rows):
                valid = Cat(*[next_lanes[i].e < sh.E for i in range(cfg.rows)])
                last_ye = Signal(signed(coord))
                for i in range(cfg.rows):
                    with m.If(valid[i]):
                        m.d.comb += last_ye.eq(next_lanes[i].ye)
                m.d.sync += [la_count.eq(la_count + 1), next_valid.eq(valid),
                             la_last_ye.eq(last_ye), la_first_ye.eq(next_lanes[0].ye)]
            with m.Elif(la_count == cfg.rows + 1):
                # Rows the next block needs: up to the last valid lane's ye + R, but at most H.
                m.d.sync += [
                    la_count.eq(la_count + 1),
                    need_next.eq(Mux(la_last_ye + sh.R > sh.H, sh.H, la_last_ye + sh.R)),
                    release_next.eq(Mux(la_first_ye < 0, 0, la_first_ye)),
                ]
            with m.Elif(la_count == cfg.rows + 2):
                # The lines from release to need - 1 must fit in the buffer at once.
                m.d.sync += [la_count.eq(la_count + 1), la_ready.eq(1),
                             block_ok_next.eq(need_next - release_next <= cfg.lb_lines)]
        else:
            # Small sequencer (sequencer = Sequencer.COMPACT): no second set of lanes. After a block's last
            # beat (and after start, from the seed) one full lane, the cursor, steps to the next
            # block's pixels, one per cycle; one cycle behind, each pixel it reaches is checked
            # (valid: e < E; rows it needs: min(ye + R, H), kept for the last valid one, since
            # valid lanes come first) and shifted into the lanes in the form S1 reads (see
            # _small_lane_layout), so after rows + 1 cycles lane i holds pixel p0 + i:
            #   la_count 0 .. rows-1   the cursor steps
            #   la_count 1 .. rows     its previous pixel is checked and shifted in; at 1 (lane 0)
            #                          also release = max(ye, 0), the lowest row the block reads
            #   la_count == rows + 1   span check; ready (or done: no valid lane left)
            # A block's first beat comes SMALL_GAP = rows + 3 cycles after the previous block's
            # last beat or the start pulse (spec/cycle_model.py). One ``step`` and one
            # ``derive`` instead of rows lanes of lookahead registers, and S1 compares 3-bit
            # kernel counters with per-lane bounds instead of adding and comparing coordinates.
            cursor = Signal(lane_layout)
            la_count = Signal(range(cfg.rows + 3), init=cfg.rows + 2)
            la_ready = Signal()
            kmax = cfg.max_kernel

            def clamp(v):
                return Mux(v < 0, 0, Mux(v > kmax, kmax, v))

            cursor_valid = cursor.e < sh.E
            ylo = Mux(cursor.ye < 0, -cursor.ye, 0)[:len(r)]
            yhi = Mux(cursor_valid, clamp(sh.H - cursor.ye), 0)[:len(r)]
            xlo = Mux(cursor.xf < 0, -cursor.xf, 0)[:len(r)]
            xhi = clamp(sh.W - cursor.xf)[:len(r)]
            derived = Signal(small_layout)
            m.d.comb += [
                derived.e.eq(cursor.e), derived.f.eq(cursor.f), derived.pm.eq(cursor.pm),
                derived.qrm.eq(cursor.qrm), derived.qcm.eq(cursor.qcm),
                derived.yl.eq(cursor.ye[:len(derived.yl)]),
                # -ye <= pad_top < max_kernel and -xf <= pad_left < max_kernel: no clamp needed.
                derived.ymask.eq(Cat(*[(k >= ylo) & (k < yhi) for k in range(kmax)])),
                derived.xmask.eq(Cat(*[(k >= xlo) & (k < xhi) for k in range(kmax)])),
                derived.xfc.eq(cursor.xfc),
            ]
            with m.If(la_count < cfg.rows):
                m.d.sync += cursor.eq(step(cursor))
            with m.If(la_count < cfg.rows + 2):
                m.d.sync += la_count.eq(la_count + 1)
            with m.If((la_count >= 1) & (la_count <= cfg.rows)):
                m.d.sync += [lanes.eq(Cat(lanes.as_value()[small_layout.size:], derived)),
                             lane_valid.eq(Cat(lane_valid[1:], cursor_valid))]
                with m.If(cursor_valid):
                    # Rows the block needs: up to the last valid lane's ye + R (but at most H:
                    # rows_ok below also accepts all H rows loaded, instead of a clamp here).
                    m.d.sync += need.eq(cursor.ye + sh.R)
            with m.If(la_count == 1):
                m.d.sync += release.eq(Mux(cursor.ye < 0, 0, cursor.ye))
            with m.If(la_count == cfg.rows + 1):
                m.d.sync += la_ready.eq(1)
                with m.If(lane_valid == 0):
                    m.d.sync += running.eq(0)       # past the last output pixel: layer done

        # Loop-end flags (c == CG - 1, s == S - 1, r == R - 1, m0 + cols >= M) are registers,
        # set together with their counters from the counters' next values: ``issue`` (which
        # gates every counter and the tile's beat) then starts from flip-flops instead of four
        # comparators against the shape registers.
        at_c_end = Signal()
        at_s_end = Signal()
        at_r_end = Signal()
        last_group = Signal()
        at_group_end = at_c_end & at_s_end & at_r_end
        c_restart = at_c_end.eq(sh.CG == 1)        # the flags' values for a counter back at 0
        c_end_next = at_c_end.eq(c + 2 == sh.CG)
        group_first = Signal()     # small: the next beat is its group's first
        if small:
            # CG - c counts down instead of c up: the end flag compares with a constant.
            c_left = Signal(chan)
            c_restart = [c_restart, c_left.eq(sh.CG)]
            c_end_next = [at_c_end.eq(c_left == 2), c_left.eq(c_left - 1)]
        s_restart = at_s_end.eq(sh.S == 1)
        r_restart = at_r_end.eq(sh.R == 1)
        m_restart = last_group.eq(sh.M <= cfg.cols)
        if small:
            # Output channels from the current group on: the last-group flag then compares with
            # a constant (m0 + 2 * cols >= M needs an adder and a comparator).
            m_left = Signal(chan)
            m_restart = [m_restart, m_left.eq(sh.M)]
            group_last_next = [m_left.eq(m_left - cfg.cols), last_group.eq(m_left <= 2 * cfg.cols)]
        else:
            group_last_next = last_group.eq(m0 + 2 * cfg.cols >= sh.M)

        # rows_ok = rows_loaded >= need, as a register computed one cycle early from the next
        # values of both (rows_loaded + row_done; need, or need_next when a block is loaded):
        # same value in the same cycle as the comparison it replaces (no cycle cost), but
        # ``issue`` now starts from flip-flops only. Stale during the start / first_pending
        # cycles, where issue is off anyway; the first load_block computes it afresh.
        rows_ok_r = Signal()
        rows_loaded_next = self.rows_loaded + self.row_done
        m.d.sync += rows_ok_r.eq(rows_loaded_next >= need)
        rows_ok = rows_ok_r & block_ok
        if small:
            # The same register (``need`` only changes while no beat can issue, rows_ok is
            # read from rows + 1 cycles later), but ``need`` is not clamped to H: all H rows
            # loaded is enough too. No span check per block: a block whose rows do not fit
            # waits with the filler stopped at release + lb_lines, which is the error (below).
            small_rows_ok = Signal()
            m.d.sync += small_rows_ok.eq((rows_loaded_next >= need) | (rows_loaded_next == sh.H))
            rows_ok = small_rows_ok
        at_block_end = at_group_end & last_group
        issue = Signal()
        if small:
            m.d.comb += issue.eq(running & la_ready & rows_ok & (~at_group_end | self.info_ready))
        else:
            m.d.comb += issue.eq(running & ~first_pending & rows_ok & (~at_group_end | self.info_ready)
                                 & (~at_block_end | la_ready))
        m.d.comb += self.busy.eq(running)
        block_first = Signal()     # small: the next beat is its block's first (weight address 0)

        def load_block():
            if small:
                # The cursor steps on: the next block is ready SMALL_GAP cycles later.
                m.d.sync += [la_count.eq(0), la_ready.eq(0), block_first.eq(1)]
                return
            m.d.sync += [
                lanes.eq(next_lanes),
                lane_valid.eq(next_valid),
                need.eq(need_next),
                rows_ok_r.eq(rows_loaded_next >= need_next[:len(need)]),
                release.eq(release_next),
                release_lim.eq(release_next + cfg.lb_lines),
                block_ok.eq(block_ok_next),
                # Start looking ahead from the new last lane.
                la_last.eq(next_lanes[cfg.rows - 1]), la_count.eq(0), la_ready.eq(0),
            ]
            with m.If(next_valid == 0):
                m.d.sync += running.eq(0)       # past the last output pixel: layer done

        with m.If(self.start):
            seed = cursor if small else la_last
            m.d.sync += [
                la_count.eq(0), la_ready.eq(0),
                running.eq(1), self.error_span.eq(0), p0.eq(0),
                r.eq(0), s.eq(0), c.eq(0), m0.eq(0), c_base.eq(0), s_base.eq(0), col_off.eq(0),
                w_addr.eq(0), first_pending.eq(1), release.eq(0), release_lim.eq(cfg.lb_lines),
                need.eq(0), block_ok.eq(0), c_restart, s_restart, r_restart, m_restart,
                # Seed: the pixel before (0, 0); block 0 is loaded when the lookahead is ready.
                seed.e.eq(-1), seed.f.eq(sh.F - 1), seed.ye.eq(-sh.U - sh.pad_top),
                seed.xf.eq(0), seed.xfc.eq(0),
                # Offsets of the pixel before (0, 0): one step later they are all 0.
                seed.pm.eq(-sh.M), seed.qrm.eq(-half_f_m), seed.qcm.eq(0),
            ]
            if small:
                m.d.sync += [block_first.eq(1), group_first.eq(1), seed.f_left.eq(1)]
        if not small:
            with m.Elif(running & first_pending):
                with m.If(la_ready):
                    m.d.sync += first_pending.eq(0)
                    load_block()        # first block of the layer
            with m.Elif(running & ~block_ok):
                m.d.sync += [running.eq(0), self.error_span.eq(1)]
        with m.Elif(issue & self.advance):
            if small:
                m.d.sync += [block_first.eq(0), group_first.eq(at_group_end)]
            with m.If(~at_c_end):
                m.d.sync += [c.eq(c + 1), col_off.eq(col_off + 1), w_addr.eq(w_addr + 1),
                             c_end_next]
            with m.Elif(~at_s_end):
                m.d.sync += [c.eq(0), s.eq(s + 1), s_base.eq(s_base + sh.C),
                             col_off.eq(s_base + sh.C), w_addr.eq(w_addr + 1),
                             c_restart, at_s_end.eq(s + 2 == sh.S)]
            with m.Elif(~at_r_end):
                m.d.sync += [c.eq(0), s.eq(0), r.eq(r + 1), s_base.eq(c_base),
                             col_off.eq(c_base), w_addr.eq(w_addr + 1),
                             c_restart, s_restart, at_r_end.eq(r + 2 == sh.R)]
            with m.Elif(~last_group):
                m.d.sync += [c.eq(0), s.eq(0), r.eq(0), m0.eq(m0 + cfg.cols),
                             c_base.eq(c_base + sh.c_step), s_base.eq(c_base + sh.c_step),
                             col_off.eq(c_base + sh.c_step), w_addr.eq(w_addr + 1),
                             c_restart, s_restart, r_restart,
                             group_last_next]
            with m.Else():
                m.d.sync += [c.eq(0), s.eq(0), r.eq(0), m0.eq(0), c_base.eq(0), s_base.eq(0),
                             col_off.eq(0), w_addr.eq(0), p0.eq(p0 + cfg.rows),
                             c_restart, s_restart, r_restart, m_restart]
                load_block()

        if small:
            # The block needs a row the buffer has no line for (need > release + lb_lines): the
            # filler stopped there. Exclusive with a beat (that needs rows_ok), so it is kept
            # out of the If chain above, whose conditions enable every loop counter.
            with m.If(~self.start & running & la_ready & ~rows_ok
                      & (self.rows_loaded == release + cfg.lb_lines)):
                m.d.sync += [running.eq(0), self.error_span.eq(1)]

        # Block info for the output stage, pushed with the last beat of every (block, group).
        m.d.comb += [
            self.info_valid.eq(issue & self.advance & at_group_end),
            self.info.p0.eq(p0),
            self.info.m0.eq(m0),
            self.info.lane_valid.eq(lane_valid),
        ]
        for i in range(cfg.rows):
            m.d.comb += [self.info.e[i].eq(lanes[i].e), self.info.f[i].eq(lanes[i].f),
                         self.info.pm[i].eq(lanes[i].pm), self.info.qrm[i].eq(lanes[i].qrm),
                         self.info.qcm[i].eq(lanes[i].qcm)]

        # ---- S1: lane addresses and in-bounds flags ------------------------------------------
        s1_valid = Signal()
        s1_first = Signal()
        s1_last = Signal()
        s1_release = Signal(size)
        s1_release_lim = Signal(size + 1)
        s1_inb = Signal(cfg.rows)
        s1_addr = Signal(data.ArrayLayout(self._lb_addr_width, cfg.rows))
        s1_w_addr = Signal.like(w_addr)
        with m.If(self.start):
            m.d.sync += s1_valid.eq(0)
        with m.Elif(self.advance):
            m.d.sync += [
                s1_valid.eq(issue),
                s1_first.eq(group_first if small else (r == 0) & (s == 0) & (c == 0)),
                s1_last.eq(at_group_end),
                s1_release.eq(release),
                s1_release_lim.eq(release_lim),
            ]
            if small:
                # The weight address is counted here rather than carried from S0: +1 per beat,
                # 0 at a block's first beat (weight rows restart with every block).
                with m.If(issue):
                    m.d.sync += s1_w_addr.eq(Mux(block_first, 0, s1_w_addr + 1))
            else:
                m.d.sync += s1_w_addr.eq(w_addr)
            for i in range(cfg.rows):
                if small:
                    # In the image: ylo <= r < yhi and xlo <= s < xhi (yhi = 0: no pixel).
                    lane = lanes[i]
                    y = (lane.yl + r)[:len(lane.yl)]        # the row's low bits
                    inb = lane.ymask.bit_select(r, 1) & lane.xmask.bit_select(s, 1)
                    slot = y[:max(1, slot_mask.bit_length())] if cfg.lb_lines > 1 else Const(0, 1)
                    align = row_alignment(y, self.row_align)
                    offset = (lane.xfc + col_off + align)[:line_shift] if line_shift else Const(0, 1)
                    m.d.sync += [
                        s1_inb[i].eq(inb),
                        s1_addr[i].eq((slot << line_shift) | offset if line_shift else slot),
                    ]
                    continue
                y = lanes[i].ye + r
                x = lanes[i].xf + s
                inb = lane_valid[i] & (y >= 0) & (y < sh.H) & (x >= 0) & (x < sh.W)
                slot = y[:max(1, slot_mask.bit_length())] if cfg.lb_lines > 1 else Const(0, 1)
                align = row_alignment(y, self.row_align)
                offset = (lanes[i].xfc + col_off + align)[:line_shift] if line_shift else Const(0, 1)
                m.d.sync += [
                    s1_inb[i].eq(inb),
                    s1_addr[i].eq((slot << line_shift) | offset if line_shift else slot),
                ]
        # The line buffer may reuse the slots below the oldest row a not-yet-read beat needs.
        if small:
            # No release + lb_lines registers: the line buffer's limit is one adder later.
            release_out = Mux(s1_valid, s1_release, release)
            m.d.comb += [self.release.eq(release_out),
                         self.release_limit.eq(release_out + cfg.lb_lines)]
        else:
            m.d.comb += [self.release.eq(Mux(s1_valid, s1_release, release)),
                         self.release_limit.eq(Mux(s1_valid, s1_release_lim, release_lim))]

        # ---- S2: line-buffer lane reads (the weight memory is read in S3, see there) ----------
        m.d.comb += self.lb_addr.eq(s1_addr)
        s2_valid = Signal()
        s2_first = Signal()
        s2_last = Signal()
        s2_inb = Signal(cfg.rows)
        s2_w_addr = Signal.like(w_addr)
        with m.If(self.start):
            m.d.sync += s2_valid.eq(0)
        with m.Elif(self.advance):
            m.d.sync += [s2_valid.eq(s1_valid), s2_first.eq(s1_first), s2_last.eq(s1_last),
                         s2_inb.eq(s1_inb), s2_w_addr.eq(s1_w_addr)]
        if small:
            # No S3 stage: the weight word must arrive with the line-buffer bytes, in S2.
            m.d.comb += self.w_addr.eq(s1_w_addr)
            # The tile's operand register takes the lane bytes straight from the line buffer's
            # word (at the UP5K's clock there is time for the byte select behind its EBRs):
            # that register is the only one, where an S3 register would be a second copy of
            # every operand bit (one logic cell each). The zero point for an out-of-image tap
            # is folded into the 4:1 byte select (written per half; ABC maps it as it likes).
            m.d.comb += [
                self.beat_valid.eq(s2_valid),
                self.beat_first.eq(s2_first),
                self.beat_last.eq(s2_last),
            ]
            for i in range(cfg.rows):
                word, sel, inb = self.lb_word[i], self.lb_sel[i], s2_inb[i]
                low = Mux(inb, Mux(sel[0], word[8:16], word[0:8]), sh.input_zp)
                high = Mux(inb, Mux(sel[0], word[24:32], word[16:24]), sh.input_zp)
                m.d.comb += self.beat_act[i].eq(Mux(sel[1], high, low))
            return m
        m.d.comb += self.w_addr.eq(s2_w_addr)
        # ---- S3: operand register --------------------------------------------------------------
        # The lane bytes leave the line-buffer BRAMs late in the cycle (clock-to-out ~6 ns on
        # ECP5); S3 registers each lane's whole line word and the byte index straight from
        # them, so the tile's operand register is fed from flip-flops. The weight memory is
        # read one stage later (address from S2) so its word arrives together with S3.
        s3_valid = Signal()
        s3_first = Signal()
        s3_last = Signal()
        if small:
            # The small sequencer registers the selected byte (rows x 8 flip-flops instead of
            # rows x 34): at the UP5K's clock the byte select fits behind its block RAMs.
            s3_byte = Signal(data.ArrayLayout(8, cfg.rows))
        else:
            s3_word = Signal.like(self.lb_word)
            s3_sel = Signal.like(self.lb_sel)
        s3_inb = Signal(cfg.rows)
        with m.If(self.start):
            m.d.sync += s3_valid.eq(0)
        with m.Elif(self.advance):
            if small:
                m.d.sync += [s3_valid.eq(s2_valid), s3_first.eq(s2_first), s3_last.eq(s2_last),
                             s3_inb.eq(s2_inb)]
                m.d.sync += [s3_byte[i].eq(self.lb_word[i].word_select(self.lb_sel[i], 8))
                             for i in range(cfg.rows)]
            else:
                m.d.sync += [s3_valid.eq(s2_valid), s3_first.eq(s2_first), s3_last.eq(s2_last),
                             s3_word.eq(self.lb_word), s3_sel.eq(self.lb_sel), s3_inb.eq(s2_inb)]
        m.d.comb += [
            self.beat_valid.eq(s3_valid),
            self.beat_first.eq(s3_first),
            self.beat_last.eq(s3_last),
        ]
        # The byte select and the zero point for out-of-image taps come behind the register
        # (flip-flops to the tile's operand register): nothing but routing follows the BRAMs.
        for i in range(cfg.rows):
            byte = s3_byte[i] if small else s3_word[i].word_select(s3_sel[i], 8)
            m.d.comb += self.beat_act[i].eq(Mux(s3_inb[i], byte, sh.input_zp))
        return m

"""CompactSequencer: the small conv sequencer for the iCE40UP5K (``Sequencer.COMPACT``).

One lane register set. After a block's last beat (or the start pulse) a single full lane, the
cursor, steps to the next block's pixels, one per cycle, and each pixel is shifted into the lanes
in the form S1 needs: per lane the row's low bits (slot, alignment), the line offset xfc (only
line_bits bits: the line address is taken modulo the line) and two masks over the kernel
counters, ymask[r] = (0 <= ye + r < H) and xmask[s] = (0 <= xf + s < W), so S1 selects a mask
bit instead of adding and comparing coordinates. The next block's first beat comes
spec.latency.SMALL_GAP(rows) = rows + 3 cycles after the previous block's last one.

  S0 loop counters (hw/sequencer_parts.py LoopNest, c and m0 end flags from down counters)
  ->  S1 lane addresses, in-bounds flags, weight address  ->  S2 line-buffer reads  ->  tile

There is no S3: the tile's operand register takes the lane byte from the line buffer's word in S2
(byte select and zero point in front of it), and the weight address leaves from S1 to match.
Latency: a beat issued in S0 reaches ``beat_*`` two ``advance`` cycles later.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data

from spec.config import AcceleratorConfig, Sequencer
from spec.latency import SMALL_GAP

from .sequencer_parts import (
    LoopNest,
    RasterWalk,
    SequencerBase,
    drive_block_info,
    line_address,
    line_bits,
    out_offset_width,
    pipeline_stage,
    raster_lane_layout,
    sequencer_widths,
)

__all__ = ["CompactSequencer"]


def narrow_mul(a, b, width):
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


def offset_width(cfg: AcceleratorConfig):
    """Width of the line-offset arithmetic (xfc, s * C + c_base + c, U * C, pad_left * C): only
    the low line_bits of their sum reach the line address, and sums modulo 2^k depend only on
    the operands' low k bits, so these are all that is kept."""
    return max(1, line_bits(cfg))


def cursor_layout(cfg: AcceleratorConfig):
    """The cursor: a raster lane with one sign bit over the largest coordinate a lane reaches
    (lanes past the layer's end go up to e = E + rows - 1), offsets modulo the line, and
    ``f_left`` = F - f (the row ends where it is 1: no adder, no comparator)."""
    size, _, _, _ = sequencer_widths(cfg)
    coord = (cfg.max_stride * (cfg.max_size + cfg.rows) + cfg.max_kernel).bit_length() + 1
    return raster_lane_layout(cfg, coord, offset_width(cfg), f_left=size)


def lane_layout(cfg: AcceleratorConfig):
    """A lane as S1 reads it (derived from the cursor): the in-image test is a bit of ``ymask``
    (indexed by r) and of ``xmask`` (by s), ``yl`` (the row's low bits) gives its slot and
    alignment; e, f, pm, qrm, qcm only feed the block info."""
    size, _, _, _ = sequencer_widths(cfg)
    out = out_offset_width(cfg)
    return data.StructLayout({
        "e": signed(size + 1), "f": size, "pm": out, "qrm": out, "qcm": out,
        "yl": max(2, (cfg.lb_lines - 1).bit_length()),
        "ymask": cfg.max_kernel, "xmask": cfg.max_kernel,
        "xfc": offset_width(cfg),
    })


class _CountDownNest(LoopNest):
    """LoopNest whose c and m0 end flags come from down counters (CG - c, M - m0), so their
    tests compare with a constant instead of an adder and a comparator against the shape."""

    def __init__(self, cfg, shape, **kwargs):
        super().__init__(cfg, shape, **kwargs)
        _, chan, _, _ = sequencer_widths(cfg)
        self.c_left = Signal(chan)
        self.m_left = Signal(chan)       # output channels from the current group on

    def _c_restart(self):
        return [*super()._c_restart(), self.c_left.eq(self._shape.CG)]

    def _c_end_next(self):
        return [self.at_c_end.eq(self.c_left == 2), self.c_left.eq(self.c_left - 1)]

    def _m_restart(self):
        return [*super()._m_restart(), self.m_left.eq(self._shape.M)]

    def _group_last_next(self):
        return [self.m_left.eq(self.m_left - self._cfg.cols),
                self.last_group.eq(self.m_left <= 2 * self._cfg.cols)]


class CompactSequencer(SequencerBase):
    """Conv sequencer with one lane set and a stepping cursor (``Sequencer.COMPACT``).

    Ports and parameters: :class:`hw.sequencer_parts.SequencerBase`."""

    KIND = Sequencer.COMPACT

    def _derive(self, m, cursor, kernel_width):
        """The cursor's pixel as a lane (lane_layout) and whether it is in the layer (e < E)."""
        cfg, sh = self._config, self.shape
        kmax = cfg.max_kernel

        def clamp(v):
            return Mux(v < 0, 0, Mux(v > kmax, kmax, v))

        # In the image: ylo <= r < yhi and xlo <= s < xhi, bounds clamped to 0 .. max_kernel
        # (-ye <= pad_top < max_kernel and -xf <= pad_left < max_kernel: no clamp needed below),
        # yhi = 0 for a pixel past the layer's end.
        valid = cursor.e < sh.E
        ylo = Mux(cursor.ye < 0, -cursor.ye, 0)[:kernel_width]
        yhi = Mux(valid, clamp(sh.H - cursor.ye), 0)[:kernel_width]
        xlo = Mux(cursor.xf < 0, -cursor.xf, 0)[:kernel_width]
        xhi = clamp(sh.W - cursor.xf)[:kernel_width]
        lane = Signal(lane_layout(cfg))
        m.d.comb += [
            lane.e.eq(cursor.e), lane.f.eq(cursor.f), lane.pm.eq(cursor.pm),
            lane.qrm.eq(cursor.qrm), lane.qcm.eq(cursor.qcm),
            lane.yl.eq(cursor.ye[:len(lane.yl)]),
            lane.ymask.eq(Cat(*[(k >= ylo) & (k < yhi) for k in range(kmax)])),
            lane.xmask.eq(Cat(*[(k >= xlo) & (k < xhi) for k in range(kmax)])),
            lane.xfc.eq(cursor.xfc),
        ]
        return lane, valid

    def elaborate(self, platform):
        m = Module()
        cfg, sh = self._config, self.shape
        size, chan, _, _ = sequencer_widths(cfg)
        off_w = offset_width(cfg)
        walk = RasterWalk(m, cfg, sh, off_w, lambda a, b: narrow_mul(a, b, off_w))
        nest = _CountDownNest(cfg, sh, c_base_width=off_w, offset_width=off_w,
                              w_addr_width=len(self.w_addr))

        # ---- S0: the cursor fills the lanes, then the loop counters run ---------------------
        # After a block's last beat (and after start, from the seed) the cursor steps to the next
        # block's pixels, one per cycle; one cycle behind, each pixel it reaches is checked
        # (valid: e < E; rows it needs: ye + R, kept for the last valid one, since valid lanes
        # come first) and shifted into the lanes, so after rows + 1 cycles lane i holds p0 + i:
        #   count 0 .. rows-1   the cursor steps
        #   count 1 .. rows     its previous pixel is checked and shifted in; at 1 (lane 0) also
        #                       release = max(ye, 0), the lowest row the block reads
        #   count == rows + 1   ready (or done: no valid lane left)
        # The first beat comes SMALL_GAP(rows) = rows + 3 cycles after the previous block's
        # last beat or the start pulse (count 0 one cycle after it, ready one cycle after rows + 1).
        assert 1 + (cfg.rows + 1) + 1 == SMALL_GAP(cfg.rows), "spec/latency.py SMALL_GAP"
        running = Signal()
        lanes = Signal(data.ArrayLayout(lane_layout(cfg), cfg.rows))
        lane_valid = Signal(cfg.rows)
        need = Signal(size + 1)            # rows that must be loaded before this block's beats
        release = Signal(size)             # lowest row this block reads
        cursor = Signal(cursor_layout(cfg))
        count = Signal(range(cfg.rows + 3), init=cfg.rows + 2)
        ready = Signal()                   # the lanes hold the block
        block_first = Signal()             # the next beat is its block's first (weight address 0)
        group_first = Signal()             # the next beat is its group's first

        wrap = cursor.f_left == 1
        stepped = walk.step(m, cursor, wrap)
        m.d.comb += stepped.f_left.eq(Mux(wrap, sh.F, cursor.f_left - 1))
        derived, cursor_valid = self._derive(m, cursor, len(nest.r))
        with m.If(count < cfg.rows):
            m.d.sync += cursor.eq(stepped)
        with m.If(count < cfg.rows + 2):
            m.d.sync += count.eq(count + 1)
        with m.If((count >= 1) & (count <= cfg.rows)):
            m.d.sync += [lanes.eq(Cat(lanes.as_value()[len(derived.as_value()):], derived)),
                         lane_valid.eq(Cat(lane_valid[1:], cursor_valid))]
            with m.If(cursor_valid):
                # Rows the block needs: up to the last valid lane's ye + R (not clamped to H:
                # rows_ok below also accepts all H rows loaded).
                m.d.sync += need.eq(cursor.ye + sh.R)
        with m.If(count == 1):
            m.d.sync += release.eq(Mux(cursor.ye < 0, 0, cursor.ye))
        with m.If(count == cfg.rows + 1):
            m.d.sync += ready.eq(1)
            with m.If(lane_valid == 0):
                m.d.sync += running.eq(0)       # past the last output pixel: layer done

        # rows_ok = the block's rows are loaded (or all H rows), a register computed one cycle
        # early from rows_loaded's next value (``need`` is stable from rows + 1 cycles before).
        rows_ok = Signal()
        rows_loaded_next = self.window.rows_loaded + self.window.row_done
        m.d.sync += rows_ok.eq((rows_loaded_next >= need) | (rows_loaded_next == sh.H))
        issue = Signal()
        m.d.comb += [issue.eq(running & ready & rows_ok & (~nest.at_group_end | self.info.ready)),
                     self.busy.eq(running)]

        def load_block():
            # The cursor steps on: the next block is ready SMALL_GAP cycles later.
            m.d.sync += [count.eq(0), ready.eq(0), block_first.eq(1)]

        with m.If(self.start):
            m.d.sync += [
                count.eq(0), ready.eq(0), *walk.seed(cursor), cursor.f_left.eq(1),
                running.eq(1), self.error_span.eq(0), *nest.restart(),
                release.eq(0), need.eq(0), block_first.eq(1), group_first.eq(1),
            ]
        with m.Elif(issue & self.advance):
            m.d.sync += [block_first.eq(0), group_first.eq(nest.at_group_end)]
            nest.advance(m, on_block_end=load_block)
        # No span check per block: a block whose rows do not fit waits with the filler stopped
        # at release + lb_lines, which is the error. Exclusive with a beat (that needs rows_ok).
        with m.If(~self.start & running & ready & ~rows_ok
                  & (self.window.rows_loaded == release + cfg.lb_lines)):
            m.d.sync += [running.eq(0), self.error_span.eq(1)]

        drive_block_info(m, self, issue & self.advance & nest.at_group_end, nest.p0, nest.m0,
                         [lanes[i] for i in range(cfg.rows)], lane_valid)

        # ---- S1: lane addresses, in-bounds flags, weight address -----------------------------
        inb = []
        addr = Signal(self.lanes.addr.shape())
        for i in range(cfg.rows):
            lane = lanes[i]
            y = (lane.yl + nest.r)[:len(lane.yl)]        # the row's low bits
            inb.append(lane.ymask.bit_select(nest.r, 1) & lane.xmask.bit_select(nest.s, 1))
            m.d.comb += addr[i].eq(line_address(cfg, y, self.row_align, lane.xfc, nest.col_off))
        s1 = pipeline_stage(m, self.start, self.advance, "s1", issue, first=group_first,
                            last=nest.at_group_end, release=release, inb=Cat(*inb), addr=addr)
        # The weight address is counted here rather than carried from S0: +1 per beat, 0 at a
        # block's first beat (weight rows restart with every block). No S3 stage: the weight
        # word must arrive with the line-buffer bytes, in S2.
        s1_w_addr = Signal.like(self.w_addr)
        with m.If(self.start):
            pass                # enabled like the stage registers: start first, then advance
        with m.Elif(self.advance):
            with m.If(issue):
                m.d.sync += s1_w_addr.eq(Mux(block_first, 0, s1_w_addr + 1))
        m.d.comb += self.w_addr.eq(s1_w_addr)
        # The line buffer may reuse the slots below the oldest row a not-yet-read beat needs.
        release_out = Mux(s1.valid, s1.release, release)
        m.d.comb += [self.window.release.eq(release_out),
                     self.window.limit.eq(release_out + cfg.lb_lines)]

        # ---- S2: line-buffer lane reads, straight into the tile's operand register -------------
        # At the UP5K's clock there is time for the byte select behind the EBRs, and that
        # register is the only one, where an S3 register would be a second copy of every operand
        # bit. The zero point for an out-of-image tap is folded into the 4:1 byte select.
        m.d.comb += [self.lanes.addr.eq(s1.addr), self.lanes.en.eq(self.advance)]
        s2 = pipeline_stage(m, self.start, self.advance, "s2", s1.valid,
                            first=s1.first, last=s1.last, inb=s1.inb)
        m.d.comb += [self.beat_valid.eq(s2.valid), self.beat_first.eq(s2.first),
                     self.beat_last.eq(s2.last)]
        for i in range(cfg.rows):
            word, sel, inb_i = self.lanes.word[i], self.lanes.sel[i], s2.inb[i]
            low = Mux(inb_i, Mux(sel[0], word[8:16], word[0:8]), sh.input_zp)
            high = Mux(inb_i, Mux(sel[0], word[24:32], word[16:24]), sh.input_zp)
            m.d.comb += self.beat_act[i].eq(Mux(sel[1], high, low))
        return m

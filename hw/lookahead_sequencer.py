"""LookaheadSequencer: the conv sequencer that issues blocks back to back (``Sequencer.LOOKAHEAD``).

While a block's beats are issued, a second set of ``rows`` lanes steps to the next block's pixels
(the lookahead), so blocks follow each other without a gap as long as a block has at least
spec.latency.LOOKAHEAD(rows) beats. Lanes hold full signed coordinates and line offsets; S1
adds and compares them. Pipelined for 100 MHz on ECP5 (docs/timing.md):

  S0 loop counters (hw/sequencer_parts.py LoopNest)  ->  S1 lane addresses, in-bounds flags
  ->  S2 line-buffer reads  ->  S3 operand register (byte select, zero point behind it)  ->  tile

Latency: a beat issued in S0 reaches ``beat_*`` three ``advance`` cycles later; the weight
address leaves from S2, so the weight word arrives with S3.
"""

import operator
from types import SimpleNamespace

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data

from spec.config import Sequencer
from spec.latency import LOOKAHEAD

from .sequencer_parts import (
    LoopNest,
    RasterWalk,
    SequencerBase,
    drive_block_info,
    line_address,
    pipeline_stage,
    raster_lane_layout,
    sequencer_widths,
)

__all__ = ["LookaheadSequencer"]


class LookaheadSequencer(SequencerBase):
    """Conv sequencer with a lookahead lane set (``Sequencer.LOOKAHEAD``).

    Ports and parameters: :class:`hw.sequencer_parts.SequencerBase`."""

    KIND = Sequencer.LOOKAHEAD

    def _look_ahead(self, m, walk, lane_layout):
        """The next block's lanes, following ``la.last`` (the current block's last lane, or the
        seed before block 0) one lane per cycle, so no clock period holds more than one step.
        Then the rows the block needs, in three register stages, because together (lane valid
        flags -> last valid lane's ye -> + R, min H -> span check) they were one long path:
          count == rows      lane valid flags, the last valid lane's ye, lane 0's ye
          count == rows + 1  rows needed (min(last ye + R, H)) and the lowest row read
          count == rows + 2  the span check (the lines must fit in the buffer); ready
        Ready LOOKAHEAD(rows) = rows + 4 cycles after a block is loaded (count and ready are
        cleared by the caller); a block shorter than that waits for it at its last beat."""
        cfg, sh = self._config, self.shape
        size, _, coord, _ = sequencer_widths(cfg)
        # count is 0 one cycle after a block's load, ready one cycle after count == rows + 2.
        assert 1 + (cfg.rows + 2) + 1 == LOOKAHEAD(cfg.rows), "spec/latency.py LOOKAHEAD"
        la = SimpleNamespace(
            lanes=Signal(data.ArrayLayout(lane_layout, cfg.rows)),
            last=Signal(lane_layout),               # the lane the next step starts from
            count=Signal(range(cfg.rows + 4)),
            ready=Signal(),
            valid=Signal(cfg.rows),
            need=Signal(signed(coord + 1)),
            release=Signal(size),
            block_ok=Signal(),
        )
        last_ye = Signal(signed(coord))              # ye of the next block's last valid lane
        first_ye = Signal(signed(coord))             # ye of its lane 0
        stepped = walk.step(m, la.last, wrap=la.last.f + 1 == sh.F)
        with m.If(la.count < cfg.rows):
            m.d.sync += [la.last.eq(stepped), la.count.eq(la.count + 1),
                         la.lanes.eq(Cat(la.lanes.as_value()[lane_layout.size:], stepped))]
        with m.Elif(la.count == cfg.rows):
            valid = Cat(*[la.lanes[i].e < sh.E for i in range(cfg.rows)])
            last_valid_ye = Signal(signed(coord))
            for i in range(cfg.rows):
                with m.If(valid[i]):
                    m.d.comb += last_valid_ye.eq(la.lanes[i].ye)
            m.d.sync += [la.count.eq(la.count + 1), la.valid.eq(valid),
                         last_ye.eq(last_valid_ye), first_ye.eq(la.lanes[0].ye)]
        with m.Elif(la.count == cfg.rows + 1):
            # Rows the next block needs: up to the last valid lane's ye + R, but at most H.
            m.d.sync += [la.count.eq(la.count + 1),
                         la.need.eq(Mux(last_ye + sh.R > sh.H, sh.H, last_ye + sh.R)),
                         la.release.eq(Mux(first_ye < 0, 0, first_ye))]
        with m.Elif(la.count == cfg.rows + 2):
            # The lines from release to need - 1 must fit in the buffer at once.
            m.d.sync += [la.count.eq(la.count + 1), la.ready.eq(1),
                         la.block_ok.eq(la.need - la.release <= cfg.lb_lines)]
        return la

    def elaborate(self, platform):
        m = Module()
        cfg, sh = self._config, self.shape
        size, chan, coord, line = sequencer_widths(cfg)
        lane_layout = raster_lane_layout(cfg, coord, line)
        walk = RasterWalk(m, cfg, sh, line, operator.mul)
        nest = LoopNest(cfg, sh, c_base_width=chan + cfg.max_channels.bit_length(),
                        offset_width=line, w_addr_width=len(self.w_addr))

        # ---- S0: the current block's lanes, its row window, the loop counters ------------------
        running = Signal()
        lanes = Signal(data.ArrayLayout(lane_layout, cfg.rows))
        lane_valid = Signal(cfg.rows)
        need = Signal(size + 1)            # rows that must be loaded before this block's beats
        release = Signal(size)             # lowest row this block reads
        release_lim = Signal(size + 1)     # release + lb_lines
        block_ok = Signal()                # the block's lines fit in the buffer
        first_pending = Signal()           # start seen, first block not loaded yet
        la = self._look_ahead(m, walk, lane_layout)

        # rows_ok = rows_loaded >= need, as a register computed one cycle early from the next
        # values of both (rows_loaded + row_done; need, or la.need when a block is loaded):
        # same value in the same cycle as the comparison it replaces (no cycle cost), but
        # ``issue`` starts from flip-flops only. Stale during the start / first_pending
        # cycles, where issue is off anyway; the first block's load computes it afresh.
        rows_ok_r = Signal()
        rows_loaded_next = self.window.rows_loaded + self.window.row_done
        m.d.sync += rows_ok_r.eq(rows_loaded_next >= need)
        issue = Signal()
        m.d.comb += [
            issue.eq(running & ~first_pending & rows_ok_r & block_ok
                     & (~nest.at_group_end | self.info.ready) & (~nest.at_block_end | la.ready)),
            self.busy.eq(running),
        ]

        def load_block():
            m.d.sync += [
                lanes.eq(la.lanes),
                lane_valid.eq(la.valid),
                need.eq(la.need),
                rows_ok_r.eq(rows_loaded_next >= la.need[:len(need)]),
                release.eq(la.release),
                release_lim.eq(la.release + cfg.lb_lines),
                block_ok.eq(la.block_ok),
                # Start looking ahead from the new last lane.
                la.last.eq(la.lanes[cfg.rows - 1]), la.count.eq(0), la.ready.eq(0),
            ]
            with m.If(la.valid == 0):
                m.d.sync += running.eq(0)       # past the last output pixel: layer done

        with m.If(self.start):
            m.d.sync += [
                la.count.eq(0), la.ready.eq(0), *walk.seed(la.last),
                running.eq(1), self.error_span.eq(0), first_pending.eq(1), *nest.restart(),
                release.eq(0), release_lim.eq(cfg.lb_lines), need.eq(0), block_ok.eq(0),
            ]
        with m.Elif(running & first_pending):
            with m.If(la.ready):
                m.d.sync += first_pending.eq(0)
                load_block()        # first block of the layer
        with m.Elif(running & ~block_ok):
            m.d.sync += [running.eq(0), self.error_span.eq(1)]
        with m.Elif(issue & self.advance):
            nest.advance(m, on_block_end=load_block)

        drive_block_info(m, self, issue & self.advance & nest.at_group_end, nest.p0, nest.m0,
                         [lanes[i] for i in range(cfg.rows)], lane_valid)

        # ---- S1: lane addresses and in-bounds flags ------------------------------------------
        inb = []
        addr = Signal(self.lanes.addr.shape())
        for i in range(cfg.rows):
            y = lanes[i].ye + nest.r
            x = lanes[i].xf + nest.s
            inb.append(lane_valid[i] & (y >= 0) & (y < sh.H) & (x >= 0) & (x < sh.W))
            m.d.comb += addr[i].eq(line_address(cfg, y, self.row_align, lanes[i].xfc, nest.col_off))
        s1 = pipeline_stage(m, self.start, self.advance, "s1", issue,
                            first=(nest.r == 0) & (nest.s == 0) & (nest.c == 0),
                            last=nest.at_group_end, release=release, release_lim=release_lim,
                            inb=Cat(*inb), addr=addr, w_addr=nest.w_addr)
        # The line buffer may reuse the slots below the oldest row a not-yet-read beat needs.
        m.d.comb += [self.window.release.eq(Mux(s1.valid, s1.release, release)),
                     self.window.limit.eq(Mux(s1.valid, s1.release_lim, release_lim))]

        # ---- S2: line-buffer lane reads; the weight memory is read one stage later -------------
        m.d.comb += [self.lanes.addr.eq(s1.addr), self.lanes.en.eq(self.advance)]
        s2 = pipeline_stage(m, self.start, self.advance, "s2", s1.valid,
                            first=s1.first, last=s1.last, inb=s1.inb, w_addr=s1.w_addr)
        m.d.comb += self.w_addr.eq(s2.w_addr)

        # ---- S3: operand register ------------------------------------------------------------
        # The lane bytes leave the line-buffer BRAMs late in the cycle (clock-to-out ~6 ns on
        # ECP5): S3 registers each lane's whole line word and byte index straight from them, and
        # the byte select and the zero point for out-of-image taps come behind the register, so
        # the tile's operand register is fed from flip-flops.
        s3 = pipeline_stage(m, self.start, self.advance, "s3", s2.valid,
                            first=s2.first, last=s2.last, inb=s2.inb,
                            word=self.lanes.word, sel=self.lanes.sel)
        m.d.comb += [self.beat_valid.eq(s3.valid), self.beat_first.eq(s3.first),
                     self.beat_last.eq(s3.last)]
        for i in range(cfg.rows):
            byte = s3.word[i].word_select(s3.sel[i], 8)
            m.d.comb += self.beat_act[i].eq(Mux(s3.inb[i], byte, sh.input_zp))
        return m

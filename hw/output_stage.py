"""OutputStage: finished tile blocks -> requantised int8 outputs (optionally 2x2 pooled) in memory.

A block holds rows x cols int32 accumulators: lane i = output pixel p0 + i = (e_i, f_i), column j =
output channel m0 + j. The stage serialises it, one element per cycle (pixel-major, channel-minor),
skipping nothing in time so its timing is fixed: rows * cols cycles per block. Each element gets
its channel's bias, multiplier and shift from the per-channel memories, goes through the
TFLite requantizer (bias, MultiplyByQuantizedMultiplier, output zero point, activation clamp), and
is written to the output memory in NHWC order at ``(e * F + f) * M + m``. The per-pixel offsets
come with the block (kept incrementally by the sequencer), so there is no multiplier here.

With pooling (2x2 window, stride 2, VALID, as TFLite MAX_POOL_2D / AVERAGE_POOL_2D), element
(e, f, m) is combined into a row buffer entry ``(f // 2) * M + m``: the window's first element
((e, f) both even, which comes first in raster order) starts it, the others update it with max or
add, and the last ((e, f) both odd) writes the pooled value to ``((e//2) * (F//2) + f//2) * M + m``.
Average pooling rounds sum / 4 half away from zero, as the TFLite reference does. Pixels of an
odd last row or column are dropped (VALID).

Pipeline: serializer -> O1 (per-channel parameter read) -> O2 (output address) -> requantizer ->
P0 (row-buffer read) -> P1 .. P5 (``POOL_STAGES``: row-buffer word, combine and write back, average,
clamp) -> output memory write from registers. With the default
requantizer it never stalls: only the serializer waits for blocks, and it accepts a new one in the
cycle it issues the last element. With the digit-serial requantizer (``requant_mul_cycles`` > 1)
the serializer, O1 and O2 advance only when the requantizer takes O2's element (elements outside
the layer or the pooled region skip it), so a block then takes longer than rows * cols cycles.

The per-lane offsets come with each block from the sequencer (``info``), or, with
``block_info_fifo = False``, the stage walks the same raster order itself from ``start`` (one lane step
per serialised lane, the next block's lane 0 after the last channel group) and ``info`` is unused.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig

from .conv_sequencer import block_info_layout
from .mac_tile import tile_result_layout
from .requantizer import Requantizer

__all__ = ["OutputStage", "POOL_NONE", "POOL_MAX", "POOL_AVG", "POOL_STAGES"]

POOL_NONE, POOL_MAX, POOL_AVG = 0, 1, 2

# Register stages after the requantizer (P1..P5): cycles from its output to the output-memory write.
POOL_STAGES = 5


class OutputStage(wiring.Component):
    """Serializer, requantizer, 2x2 pooling and output-memory writer.

    Members
    -------
    blocks : In(stream)        finished tile blocks
    info : In(stream)          block_info_layout, one per block, in the same order
    start : In(1)              pulse: a layer starts (resets the block walk without ``info``)
    M, E, F, pool, output_zp, act_min, act_max : In   layer registers (constant while a layer runs)
    param_addr, param_en : Out / bias, multiplier, shift : In   per-channel memories (1-cycle read,
                               enabled by ``param_en``; the data must hold while it is low)
    out_addr, out_data, out_en : Out                  output memory byte write
    idle : Out(1)                                     nothing held or in flight
    blocks_done : Out(1)                              pulse: a block's last element was issued
    """

    def __init__(self, config: AcceleratorConfig):
        if config.cols < 3:
            raise ValueError(f"cols = {config.cols} is too small for the output stage: the pooling "
                             f"row buffer's read-modify-write needs elements of one window at least "
                             f"3 cycles apart, i.e. cols >= 3")
        self._config = config
        cfg = config
        size = cfg.max_size.bit_length() + 1
        chan = cfg.max_channels.bit_length() + 1
        self._out_addr_width = max(1, (cfg.out_mem_bytes - 1).bit_length())
        self._track = not cfg.block_info_fifo
        self._off_width = block_info_layout(cfg)["pm"].shape.elem_shape   # offsets pm, qrm, qcm
        super().__init__({
            "start": In(1),
            "param_en": Out(1),
            "blocks": In(stream.Signature(tile_result_layout(cfg))),
            "info": In(stream.Signature(block_info_layout(cfg))),
            "M": In(chan), "E": In(size), "F": In(size), "pool": In(2),
            "output_zp": In(signed(8)), "act_min": In(signed(8)), "act_max": In(signed(8)),
            "param_addr": Out(max(1, (cfg.max_channels - 1).bit_length())),
            "bias": In(signed(32)), "multiplier": In(31), "shift": In(signed(6)),
            "out_addr": Out(self._out_addr_width),
            "out_data": Out(signed(8)),
            "out_en": Out(1),
            "idle": Out(1),
            "block_done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        pool_idx_width = max(1, (cfg.pool_buf_words - 1).bit_length())
        addr_width = self._out_addr_width
        tag = data.StructLayout({
            "addr": addr_width,        # output memory address (pooled address when pooling)
            "idx": pool_idx_width,     # row buffer entry (pooling)
            "first": 1, "final": 1,    # first / last element of its 2x2 window
            "keep": 1,                 # inside the pooled region (or no pooling)
        })
        m.submodules.requant = rq = Requantizer(cfg, tag_width=tag.size,
                                                mul_cycles=cfg.requant_mul_cycles, constant_clamps=True)
        m.d.comb += [rq.output_zero_point.eq(self.output_zp), rq.act_min.eq(self.act_min),
                     rq.act_max.eq(self.act_max)]

        # ``advance`` moves the serializer, O1 and O2 together: always, with the one-element-per-cycle
        # requantizer; with the digit-serial one (requant_mul_cycles > 1) only while the requantizer
        # takes O2's element (or O2 holds nothing it needs). The parameter memories are read only
        # while advancing (``param_en``), so a stalled O1 keeps its element's parameters.
        advance = Signal()
        o2_valid = Signal()
        o2_tag = Signal(tag)
        if rq.serial:
            m.d.comb += advance.eq(~(o2_valid & o2_tag.keep) | rq.i.ready)
        else:
            m.d.comb += advance.eq(1)
        m.d.comb += self.param_en.eq(advance)

        # ---- serializer ----------------------------------------------------------------------
        # With ``output_block_copy`` the stage copies each block (so the tile can finish the next
        # one meanwhile); without, it reads the tile's output register, acknowledged at the end.
        copy = cfg.output_block_copy
        held = Signal()
        block = Signal(tile_result_layout(cfg)) if copy else self.blocks.payload
        i = Signal(range(cfg.rows))
        j = Signal(range(cfg.cols))
        at_end = (i == cfg.rows - 1) & (j == cfg.cols - 1)
        take = Signal()
        last_out = held & at_end & advance       # the block's last element moves to O1
        if self._track:
            # No block info: follow the sequencer's block order (pixel blocks of ``rows`` lanes in
            # raster order, channel groups of ``cols`` inside each) from the layer start. ``base``
            # is lane 0 of the block held (or next), ``lane`` the lane being serialised.
            info_valid = 1
            lane_l = data.StructLayout({"e": len(self.E), "f": len(self.F), "pm": self._off_width,
                                        "qrm": self._off_width, "qcm": self._off_width})
            base = Signal(lane_l)
            lane = Signal(lane_l)
            m0 = Signal(len(self.M))

            def step(cur):
                """The lane one output pixel further in raster order (as the sequencer steps).
                At a row end f = F - 1, so (F // 2) * M = qcm + (M if F is even)."""
                nxt = Signal(lane_l)
                wrap = cur.f + 1 == self.F
                half_f_m = cur.qcm + Mux(self.F[0], 0, self.M)
                m.d.comb += [
                    nxt.e.eq(Mux(wrap, cur.e + 1, cur.e)),
                    nxt.f.eq(Mux(wrap, 0, cur.f + 1)),
                    nxt.pm.eq(cur.pm + self.M),
                    nxt.qcm.eq(Mux(wrap, 0, cur.qcm + Mux(cur.f[0], self.M, 0))),
                    nxt.qrm.eq(Mux(wrap, cur.qrm + Mux(cur.e[0], half_f_m, 0), cur.qrm)),
                ]
                return nxt

            stepped = step(lane)
            with m.If(self.start):
                m.d.sync += [base.eq(0), lane.eq(0), m0.eq(0)]
            with m.Elif(last_out):
                with m.If(m0 + cfg.cols >= self.M):
                    m.d.sync += [base.eq(stepped), lane.eq(stepped), m0.eq(0)]
                with m.Else():
                    m.d.sync += [lane.eq(base), m0.eq(m0 + cfg.cols)]
            with m.Elif(held & advance & (j == cfg.cols - 1)):
                m.d.sync += lane.eq(stepped)
            cur_e, cur_f, cur_pm, cur_qrm, cur_qcm = lane.e, lane.f, lane.pm, lane.qrm, lane.qcm
            cur_valid = lane.e < self.E
            cur_m0 = m0
        else:
            info_valid = self.info.valid
            if copy:
                info = Signal(block_info_layout(cfg))
                with m.If(take):
                    m.d.sync += info.eq(self.info.payload)
            else:
                info = self.info.payload

            def lane_field(field):
                return field.as_value().word_select(i, len(field[0]))

            cur_e, cur_f, cur_pm = lane_field(info.e), lane_field(info.f), lane_field(info.pm)
            cur_qrm, cur_qcm = lane_field(info.qrm), lane_field(info.qcm)
            cur_valid = info.lane_valid.bit_select(i, 1)
            cur_m0 = info.m0
        step_ij = held & advance
        if copy:
            # ``room`` = ~held | at_end, kept as a register (from the next values of held, i and
            # j): ``take`` is the tile's ``o.ready`` and so gates the whole sequencer/tile
            # pipeline and the memories' read enables; from a register it is one AND away.
            room = Signal(init=1)
            before_end = (i == cfg.rows - 1) & (j == cfg.cols - 2)    # cols >= 3 (see __init__)
            m.d.comb += take.eq(self.blocks.valid & info_valid & room & (~held | advance))
            with m.If(take):
                m.d.sync += [held.eq(1), block.eq(self.blocks.payload), i.eq(0), j.eq(0),
                             room.eq(0)]
            with m.Elif(step_ij & at_end):
                m.d.sync += [held.eq(0), room.eq(1)]
            with m.Elif(step_ij):
                m.d.sync += room.eq(before_end)
            step_ij = step_ij & ~take
        else:
            m.d.comb += [held.eq(self.blocks.valid & info_valid), take.eq(last_out)]
            with m.If(step_ij & at_end):
                m.d.sync += [i.eq(0), j.eq(0)]
        m.d.comb += [
            self.blocks.ready.eq(take),
            self.info.ready.eq(take),
            self.block_done.eq(last_out),
        ]
        with m.If(step_ij & ~at_end):
            with m.If(j == cfg.cols - 1):
                m.d.sync += [j.eq(0), i.eq(i + 1)]
            with m.Else():
                m.d.sync += j.eq(j + 1)

        channel = cur_m0 + j
        m.d.comb += self.param_addr.eq(channel)

        # ---- O1: element, its pixel and channel; parameters are being read -------------------
        o1_valid = Signal()
        o1_acc = Signal(signed(cfg.acc_width))
        o1_m = Signal.like(cur_m0)
        o1_e = Signal(len(cur_e))
        o1_f = Signal(len(cur_f))
        o1_pm = Signal(len(cur_pm))
        o1_qrm = Signal(len(cur_qrm))
        o1_qcm = Signal(len(cur_qcm))
        with m.If(advance):
            m.d.sync += [
                o1_valid.eq(held & cur_valid & (channel < self.M)),
                o1_acc.eq(block[i].as_value().word_select(j, cfg.acc_width)),
                o1_m.eq(channel),
                o1_e.eq(cur_e),
                o1_f.eq(cur_f),
                o1_pm.eq(cur_pm),
                o1_qrm.eq(cur_qrm),
                o1_qcm.eq(cur_qcm),
            ]

        # ---- O2: parameters captured, output / row-buffer addresses --------------------------
        o2 = Signal(rq.i.payload.shape())
        pooling = self.pool != POOL_NONE
        with m.If(advance):
            m.d.sync += [
                o2_valid.eq(o1_valid),
                o2.acc.eq(o1_acc),
                o2.bias.eq(self.bias),
                o2.multiplier.eq(self.multiplier),
                o2.shift.eq(self.shift),
                o2_tag.idx.eq(o1_qcm + o1_m),
                o2_tag.first.eq(~o1_e[0] & ~o1_f[0]),
                o2_tag.final.eq(o1_e[0] & o1_f[0]),
            ]
            with m.If(pooling):
                m.d.sync += [
                    o2_tag.addr.eq(o1_qrm + o1_qcm + o1_m),
                    o2_tag.keep.eq(((o1_e >> 1) < (self.E >> 1)) & ((o1_f >> 1) < (self.F >> 1))),
                ]
            with m.Else():
                m.d.sync += [o2_tag.addr.eq(o1_pm + o1_m), o2_tag.keep.eq(1)]
        m.d.comb += [
            rq.i.valid.eq(o2_valid & o2_tag.keep),
            rq.i.payload.eq(o2),
            rq.i.payload.tag.eq(o2_tag),
            rq.o.ready.eq(1),
        ]

        # ---- pooling row buffer: P0 reads, P1..P5 (POOL_STAGES) combine, write, round -------
        # The row buffer is a read-modify-write loop. Doing it in one cycle (BRAM data -> max / add
        # -> average -> clamp -> output memory) was the engine's critical path, so it is split:
        #   P0  the requantizer's output: row-buffer read address
        #   P1  value and tag registered; the row-buffer word arrives (BRAM clock-to-out only)
        #   P2  the row-buffer word registered (no logic behind the BRAM output)
        #   P3  combined = first ? value : max(value, word) or value + word; written back
        #   P4  average (round half away from zero)
        #   P5  clamp of the average, output-memory write registers
        # Two elements of one 2x2 window that share a row-buffer entry (same channel, adjacent
        # columns) leave the serializer at least ``cols`` cycles apart (a whole lane in between),
        # and the requantizer keeps their spacing, so an element's write-back (P3) is at the
        # latest in the cycle its partner reads (P0, transparent read) when cols >= 3.
        row_buf = memory.Memory(shape=signed(10), depth=cfg.pool_buf_words, init=[])
        m.submodules.row_buf = row_buf
        buf_w = row_buf.write_port()
        buf_r = row_buf.read_port(transparent_for=(buf_w,))
        out_tag = data.View(tag, rq.o.payload.tag)
        m.d.comb += [buf_r.addr.eq(out_tag.idx), buf_r.en.eq(1)]

        p1_valid = Signal()
        p1_value = Signal(signed(8))
        p1_tag = Signal(tag)
        m.d.sync += [p1_valid.eq(rq.o.valid), p1_value.eq(rq.o.payload.value), p1_tag.eq(out_tag)]

        p2_valid = Signal()
        p2_value = Signal(signed(8))
        p2_tag = Signal(tag)
        p2_word = Signal(signed(10))
        m.d.sync += [p2_valid.eq(p1_valid), p2_value.eq(p1_value), p2_tag.eq(p1_tag),
                     p2_word.eq(buf_r.data)]

        p3_valid = Signal()
        p3_value = Signal(signed(8))
        p3_tag = Signal(tag)
        p3_combined = Signal(signed(10))
        m.d.sync += [p3_valid.eq(p2_valid), p3_value.eq(p2_value), p3_tag.eq(p2_tag)]
        with m.If(p2_tag.first):
            m.d.sync += p3_combined.eq(p2_value)
        with m.Elif(self.pool == POOL_MAX):
            m.d.sync += p3_combined.eq(Mux(p2_value > p2_word, p2_value, p2_word))
        with m.Else():
            m.d.sync += p3_combined.eq(p2_word + p2_value)
        m.d.comb += [
            buf_w.addr.eq(p3_tag.idx),
            buf_w.data.eq(p3_combined),
            buf_w.en.eq(p3_valid & pooling),
        ]

        # P4: average of 4: (sum +- 2) / 4 truncated toward zero = round half away from zero.
        p4_valid = Signal()
        p4_tag = Signal(tag)
        p4_value = Signal(signed(10))       # the element (no pooling), max, or average
        m.d.sync += [p4_valid.eq(p3_valid), p4_tag.eq(p3_tag)]
        with m.If(~pooling):
            m.d.sync += p4_value.eq(p3_value)
        with m.Elif(self.pool == POOL_AVG):
            m.d.sync += p4_value.eq(Mux(p3_combined >= 0, (p3_combined + 2) >> 2,
                                        -((2 - p3_combined) >> 2)))
        with m.Else():
            m.d.sync += p4_value.eq(p3_combined)

        # P5: the average clamped (max and plain elements are already in range), output write.
        p5_valid = Signal()
        m.d.sync += [
            p5_valid.eq(p4_valid),
            self.out_addr.eq(p4_tag.addr),
            self.out_en.eq(p4_valid & (~pooling | p4_tag.final)),
            self.out_data.eq(Mux(self.pool == POOL_AVG,
                                 Mux(p4_value < self.act_min, self.act_min,
                                     Mux(p4_value > self.act_max, self.act_max, p4_value)),
                                 p4_value)),
        ]

        # ---- idle: nothing held, nothing in the pipeline --------------------------------------
        in_flight = Signal(range(rq.latency + 2))
        accepted = rq.i.valid & rq.i.ready
        delivered = rq.o.valid
        m.d.sync += in_flight.eq(in_flight + accepted - delivered)
        m.d.comb += self.idle.eq(~held & ~o1_valid & ~o2_valid & (in_flight == 0) & ~rq.o.valid
                                 & ~p1_valid & ~p2_valid & ~p3_valid & ~p4_valid
                                 & ~p5_valid)
        return m

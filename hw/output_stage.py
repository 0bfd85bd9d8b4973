"""OutputStage: finished tile blocks -> requantised int8 outputs (optionally 2x2 pooled) in memory.

A block holds rows x cols int32 accumulators: lane i = output pixel p0 + i = (e_i, f_i), column j =
output channel m0 + j. The stage serialises it (hw/block_serializer.py), one element per cycle,
pixel-major, channel-minor, skipping nothing in time so its timing is fixed: rows * cols cycles per
block. Each element gets its channel's bias, multiplier and shift from the per-channel memories,
goes through the TFLite requantizer (bias, MultiplyByQuantizedMultiplier, output zero point,
activation clamp), and is written to the output memory in NHWC order at ``(e * F + f) * M + m``,
or 2x2 max / average pooled (hw/pool_writer.py) at ``((e//2) * (F//2) + f//2) * M + m``; pixels of
an odd last row or column are then dropped (VALID). The per-pixel offsets come from the block order
source (hw/block_order.py), so there is no multiplier here:

* ``block_info_fifo = True``: ``BlockInfoOrder``, the sequencer's lane offsets on ``info``, one per
  block in the block order (they travel with the block through the serializer);
* ``block_info_fifo = False``: ``RasterOrder``, the stage walks the same raster order itself from
  ``start``; ``info`` is unused.

The block is copied (``output_block_copy``) or read in place from the tile (see BlockSerializer).

Pipeline: serializer -> O1 (per-channel parameter read) -> O2 (output address) -> requantizer ->
PoolWriter P0 .. P5 (``POOL_STAGES``) -> output memory write from registers. With the default
requantizer it never stalls: only the serializer waits for blocks, and it accepts a new one in the
cycle it issues the last element. With the digit-serial requantizer (``requant_mul_cycles`` > 1)
the serializer, O1 and O2 advance only when the requantizer takes O2's element (elements outside
the layer or the pooled region skip it), so a block then takes longer than rows * cols cycles.
"""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig
from spec.latency import REQUANT_LATENCY, requant_cycles_per_element
from spec.registers import POOL_NONE

from .block_info_order import BlockInfoOrder
from .block_serializer import BlockSerializer
from .conv_sequencer import block_info_layout
from .mac_tile import tile_result_layout
from .pool_writer import POOL_STAGES, PoolWriter, pool_tag_layout
from .raster_order import RasterOrder
from .requantizer import Requantizer

__all__ = ["OutputStage", "POOL_STAGES"]


class OutputStage(wiring.Component):
    """Serializer, requantizer, 2x2 pooling and output-memory writer.

    Members
    -------
    blocks : In(stream)        finished tile blocks
    info : In(stream)          block_info_layout, one per block, in the same order
                               (unused with ``block_info_fifo = False``)
    start : In(1)              pulse: a layer starts (resets the block walk without ``info``)
    M, E, F, pool, output_zp, act_min, act_max : In   layer registers (constant while a layer runs)
    param_addr, param_en : Out / bias, multiplier, shift : In   per-channel memories (1-cycle read,
                               enabled by ``param_en``; the data must hold while it is low)
    out_addr, out_data, out_en : Out                  output memory byte write
    idle : Out(1)                                     nothing held or in flight
    block_done : Out(1)                               pulse: a block's last element was issued
    """

    def __init__(self, config: AcceleratorConfig):
        if config.cols < 3:
            raise ValueError(f"cols = {config.cols} is too small for the output stage: the pooling "
                             f"row buffer's read-modify-write needs elements of one window at least "
                             f"3 cycles apart, i.e. cols >= 3")
        self._config = cfg = config
        size = cfg.max_size.bit_length() + 1
        chan = cfg.max_channels.bit_length() + 1
        super().__init__({
            "start": In(1),
            "param_en": Out(1),
            "blocks": In(stream.Signature(tile_result_layout(cfg))),
            "info": In(stream.Signature(block_info_layout(cfg))),
            "M": In(chan), "E": In(size), "F": In(size), "pool": In(2),
            "output_zp": In(signed(8)), "act_min": In(signed(8)), "act_max": In(signed(8)),
            "param_addr": Out(max(1, (cfg.max_channels - 1).bit_length())),
            "bias": In(signed(32)), "multiplier": In(31), "shift": In(signed(6)),
            "out_addr": Out(pool_tag_layout(cfg)["addr"].shape),
            "out_data": Out(signed(8)),
            "out_en": Out(1),
            "idle": Out(1),
            "block_done": Out(1),
        })

    def _block_order(self):
        """The block order source of this configuration (hw/block_order.py)."""
        cfg = self._config
        if cfg.block_info_fifo:
            return BlockInfoOrder(cfg)
        info = block_info_layout(cfg)
        return RasterOrder(cfg, size_width=len(self.E), offset_width=info["pm"].shape.elem_shape)

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        tag = pool_tag_layout(cfg)
        m.submodules.order = order = self._block_order()
        m.submodules.serializer = ser = BlockSerializer(cfg, order.info_layout, cfg.output_block_copy)
        m.submodules.requant = rq = Requantizer(cfg, tag_width=tag.size,
                                                mul_cycles=cfg.requant_mul_cycles, constant_clamps=True)
        m.submodules.pool = pw = PoolWriter(cfg)
        # The cycle model counts with spec/latency.py: the parallel requantizer must have exactly
        # REQUANT_LATENCY registers, the serial one one element per requant_cycles_per_element.
        if rq.serial:
            assert rq.cycles_per_element == requant_cycles_per_element(cfg.requant_mul_cycles)
        else:
            assert rq.latency == REQUANT_LATENCY, "spec/latency.py REQUANT_LATENCY"

        # ---- serializer and block order ----------------------------------------------------
        # The block info (if the order source uses it) travels with the block: the serializer
        # takes both together, and holds both as it holds the block.
        info_valid = self.info.valid if order.info_layout.size else 1
        elem = ser.o.payload
        m.d.comb += [
            ser.i.valid.eq(self.blocks.valid & info_valid),
            ser.i.payload.block.eq(self.blocks.payload),
            ser.i.payload.info.eq(self.info.payload),
            self.blocks.ready.eq(ser.i.ready),
            self.info.ready.eq(ser.i.ready),
            order.start.eq(self.start), order.M.eq(self.M), order.E.eq(self.E), order.F.eq(self.F),
            order.info.eq(ser.info),
            order.index.eq(elem.lane),
            order.lane_next.eq(ser.o.valid & ser.o.ready & elem.lane_last),
            order.block_next.eq(ser.o.valid & ser.o.ready & elem.block_last),
            self.block_done.eq(order.block_next),
        ]

        # ``advance`` (the serializer's ``o.ready``) moves the serializer, O1 and O2 together:
        # while the requantizer takes O2's element or O2 holds nothing it needs. With the
        # one-element-per-cycle requantizer ``rq.i.ready`` is always high, so it always advances.
        # The parameter memories are read only while advancing (``param_en``), so a stalled O1
        # keeps its element's parameters.
        advance = ser.o.ready
        o2_valid = Signal()
        o2_tag = Signal(tag)
        m.d.comb += [advance.eq(~(o2_valid & o2_tag.keep) | rq.i.ready), self.param_en.eq(advance)]
        lane = order.lane
        channel = order.m0 + elem.col
        m.d.comb += self.param_addr.eq(channel)

        # ---- O1: element, its pixel and channel; parameters are being read -------------------
        o1_valid = Signal()
        o1_acc = Signal(signed(cfg.acc_width))
        o1_m = Signal.like(order.m0)
        o1 = Signal(lane.shape())
        with m.If(advance):
            m.d.sync += [
                o1_valid.eq(ser.o.valid & lane.valid & (channel < self.M)),
                o1_acc.eq(elem.acc),
                o1_m.eq(channel),
                o1.eq(lane),
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
                o2_tag.idx.eq(o1.qcm + o1_m),
                o2_tag.first.eq(~o1.e[0] & ~o1.f[0]),
                o2_tag.final.eq(o1.e[0] & o1.f[0]),
            ]
            with m.If(pooling):
                m.d.sync += [
                    o2_tag.addr.eq(o1.qrm + o1.qcm + o1_m),
                    o2_tag.keep.eq(((o1.e >> 1) < (self.E >> 1)) & ((o1.f >> 1) < (self.F >> 1))),
                ]
            with m.Else():
                m.d.sync += [o2_tag.addr.eq(o1.pm + o1_m), o2_tag.keep.eq(1)]

        # ---- requantizer and pooling writer ------------------------------------------------
        m.d.comb += [
            rq.output_zero_point.eq(self.output_zp), rq.act_min.eq(self.act_min),
            rq.act_max.eq(self.act_max),
            rq.i.valid.eq(o2_valid & o2_tag.keep),
            rq.i.payload.eq(o2),
            rq.i.payload.tag.eq(o2_tag),
            rq.o.ready.eq(1),
            pw.valid.eq(rq.o.valid),
            pw.value.eq(rq.o.payload.value),
            pw.tag.eq(data.View(tag, rq.o.payload.tag)),
            pw.pool.eq(self.pool), pw.act_min.eq(self.act_min), pw.act_max.eq(self.act_max),
            self.out_addr.eq(pw.out_addr), self.out_data.eq(pw.out_data), self.out_en.eq(pw.out_en),
        ]

        # ---- idle: nothing held, nothing in the pipeline --------------------------------------
        in_flight = Signal(range(rq.latency + 2))
        accepted = rq.i.valid & rq.i.ready
        delivered = rq.o.valid
        m.d.sync += in_flight.eq(in_flight + accepted - delivered)
        m.d.comb += self.idle.eq(~ser.o.valid & ~o1_valid & ~o2_valid & (in_flight == 0)
                                 & ~rq.o.valid & ~pw.busy)
        return m

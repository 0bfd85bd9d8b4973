"""RawWriter: finished tile blocks -> raw int32 accumulators in the output memory (output = Output.RAW).

The output path of the engine when the host requantises and pools (AcceleratorConfig
``output = Output.RAW``, docs/up5k.md step S1): no bias, multiplier, shift, requantizer or pooling
row buffer. Each finished block (rows x cols accumulators: lane i = output pixel p0 + i = (e_i, f_i),
column j = output channel m0 + j) is serialised one element per cycle, pixel-major, channel-minor,
and every element that lies inside the layer is written, sign-extended, as one 32-bit word at

    word (e * F + f) * M + m        (NHWC, one int32 per element)

so rows * cols cycles per block, whatever the layer (the cycle model relies on this fixed rate).
The loop nest the writer walks is the sequencer's block order:

    for p0 in range(0, E * F, rows):                 # pixel blocks, raster order
        for m0 in range(0, M, cols):                 # channel groups
            for i in range(rows):                    # lane = output pixel p0 + i
                for j in range(cols):                # channel m0 + j
                    if p0 + i < E * F and m0 + j < M:
                        out[(p0 + i) * M + m0 + j] = acc[i][j]

It follows that order itself (hw/raster_order.py ``RasterOrder``, from ``start``, one lane step
per serialised lane), so it needs neither the sequencer's block info nor a multiplier; the lane's
pm = p * M wraps at 2^pm_width with pm_width = out_words.bit_length(). An element whose address is
beyond the output memory (E * F * M > out_mem_bytes / 4) is not written and sets ``overflow``
until the next ``start``; the engine reports it as OUTPUT_TOO_BIG when the layer stops (the output
memory's contents are then undefined: addresses wrap at the next power of two).

The blocks are serialised by hw/block_serializer.py: with ``output_block_copy`` the writer copies
the block (the tile goes on with the next one); without, it reads the tile's accumulators and
acknowledges the block with its last element (the tile waits meanwhile). The writer never stalls
the serializer. Pipeline: select (cycle t) -> one register stage (address, data, enable) -> memory
write (t + 1).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

import spec.latency as spec_latency
from spec.config import AcceleratorConfig

from .block_serializer import BlockSerializer
from .mac_tile import tile_result_layout
from .raster_order import RasterOrder

__all__ = ["RawWriter", "WRITE_LATENCY"]

# Cycles from an element's select to its memory write (the register stage).
WRITE_LATENCY = spec_latency.RAW_WRITE_LATENCY   # the write register (spec/latency.py)


class RawWriter(wiring.Component):
    """Serialises finished tile blocks into the output memory as raw int32 words.

    Members
    -------
    start : In(1)                 pulse: a layer starts (resets the block walk and ``overflow``)
    blocks : In(stream)           finished tile blocks (the tile's accumulators)
    M, E, F : In                  layer registers (constant while a layer runs)
    out_addr, out_data, out_en : Out   output memory word write (registered)
    overflow : Out(1)             an element's address was beyond the output memory
    idle : Out(1)                 nothing held or in flight
    block_done : Out(1)           pulse: a block's last element was selected
    """

    def __init__(self, config: AcceleratorConfig):
        self._config = cfg = config
        chan = cfg.max_channels.bit_length() + 1
        self._words = cfg.out_mem_bytes // 4
        # Addresses wrap at 2^pm_width > out_words: every address 0 .. E*F*M - 1 is produced once,
        # so if E*F*M > out_words, address out_words itself is (it is below 2^pm_width) and sets
        # ``overflow``; the wrapped addresses after it do not need to be told apart.
        self._pm_width = self._words.bit_length()
        super().__init__({
            "start": In(1),
            "blocks": In(stream.Signature(tile_result_layout(cfg))),
            "M": In(chan), "E": In(cfg.max_size.bit_length() + 1), "F": In(cfg.max_size.bit_length() + 1),
            "out_addr": Out(max(1, (self._words - 1).bit_length())),
            "out_data": Out(32),
            "out_en": Out(1),
            "overflow": Out(1),
            "idle": Out(1),
            "block_done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        # Lanes past the layer's end reach e = E + rows - 1.
        size = (cfg.max_size + cfg.rows).bit_length()
        m.submodules.order = order = RasterOrder(cfg, size_width=size, offset_width=self._pm_width)
        m.submodules.serializer = ser = BlockSerializer(cfg, data.StructLayout({}), cfg.output_block_copy)
        elem = ser.o.payload
        step = ser.o.valid & ser.o.ready
        m.d.comb += [
            ser.i.valid.eq(self.blocks.valid),
            ser.i.payload.block.eq(self.blocks.payload),
            self.blocks.ready.eq(ser.i.ready),
            ser.o.ready.eq(1),
            order.start.eq(self.start), order.M.eq(self.M), order.E.eq(self.E), order.F.eq(self.F),
            order.index.eq(elem.lane),
            order.lane_next.eq(step & elem.lane_last),
            order.block_next.eq(step & elem.block_last),
            self.block_done.eq(order.block_next),
        ]

        # ---- select and register stage ----------------------------------------------------------
        channel = order.m0 + elem.col
        addr = Signal(self._pm_width)
        valid = Signal()
        m.d.comb += [
            addr.eq(order.lane.pm + channel),
            valid.eq(ser.o.valid & order.lane.valid & (channel < self.M)),
        ]
        in_range = addr < self._words
        pending = Signal()
        m.d.sync += [
            pending.eq(valid),
            self.out_en.eq(valid & in_range),
            self.out_addr.eq(addr),
            self.out_data.eq(elem.acc),
        ]
        with m.If(self.start):
            m.d.sync += self.overflow.eq(0)
        with m.Elif(valid & ~in_range):
            m.d.sync += self.overflow.eq(1)
        m.d.comb += self.idle.eq(~ser.o.valid & ~pending)
        return m

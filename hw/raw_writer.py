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

It follows that order itself from ``start`` (``lane``: e, f and p * M of the lane being written,
``base``: the same for lane 0 of the block), one lane step per serialised lane, so it needs neither
the sequencer's block info nor a multiplier. An element whose address is beyond the output memory
(E * F * M > out_mem_bytes / 4) is not written and sets ``overflow`` until the next ``start``; the
engine reports it as OUTPUT_TOO_BIG when the layer stops (the output memory's contents are then
undefined: addresses wrap at the next power of two).

With ``output_block_copy`` the writer copies the block (the tile goes on with the next one);
without, it reads the tile's accumulators and acknowledges the block with its last element (the
tile waits meanwhile). The element select is a rows*cols : 1 multiplexer of ``acc_width`` bits.
Pipeline: select (cycle t) -> one register stage (address, data, enable) -> memory write (t + 1).
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig

from .mac_tile import tile_result_layout

__all__ = ["RawWriter", "WRITE_LATENCY"]

# Cycles from an element's select to its memory write (the register stage).
WRITE_LATENCY = 1


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
        size = (cfg.max_size + cfg.rows).bit_length()
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
        self._lane = data.StructLayout({"e": size, "f": size, "pm": self._pm_width})

    def elaborate(self, platform):
        m = Module()
        cfg = self._config

        # ---- serializer: (i, j) over the block held ---------------------------------------------
        copy = cfg.output_block_copy
        held = Signal()
        block = Signal(tile_result_layout(cfg)) if copy else self.blocks.payload
        i = Signal(range(cfg.rows))
        j = Signal(range(cfg.cols))
        at_end = (i == cfg.rows - 1) & (j == cfg.cols - 1)
        last = held & at_end                      # the block's last element is selected
        take = Signal()
        if copy:
            m.d.comb += take.eq(self.blocks.valid & (~held | at_end))
            with m.If(take):
                m.d.sync += [held.eq(1), block.eq(self.blocks.payload)]
            with m.Elif(last):
                m.d.sync += held.eq(0)
        else:
            m.d.comb += [held.eq(self.blocks.valid), take.eq(last)]
        with m.If(take | last):
            m.d.sync += [i.eq(0), j.eq(0)]
        with m.Elif(held):
            with m.If(j == cfg.cols - 1):
                m.d.sync += [j.eq(0), i.eq(i + 1)]
            with m.Else():
                m.d.sync += j.eq(j + 1)
        m.d.comb += [self.blocks.ready.eq(take), self.block_done.eq(last)]

        # ---- block walk: the pixel of the lane being written and lane 0 of the block -----------
        base = Signal(self._lane)
        lane = Signal(self._lane)
        m0 = Signal(len(self.M))
        stepped = Signal(self._lane)              # ``lane`` one output pixel further (raster)
        wrap = lane.f + 1 == self.F
        m.d.comb += [
            stepped.e.eq(Mux(wrap, lane.e + 1, lane.e)),
            stepped.f.eq(Mux(wrap, 0, lane.f + 1)),
            stepped.pm.eq(lane.pm + self.M),
        ]
        with m.If(self.start):
            m.d.sync += [base.eq(0), lane.eq(0), m0.eq(0)]
        with m.Elif(last):
            with m.If(m0 + cfg.cols >= self.M):       # next pixel block, first channel group
                m.d.sync += [base.eq(stepped), lane.eq(stepped), m0.eq(0)]
            with m.Else():                            # same pixels, next channel group
                m.d.sync += [lane.eq(base), m0.eq(m0 + cfg.cols)]
        with m.Elif(held & (j == cfg.cols - 1)):
            m.d.sync += lane.eq(stepped)

        # ---- select and register stage ----------------------------------------------------------
        channel = m0 + j
        addr = Signal(self._pm_width)
        valid = Signal()
        m.d.comb += [
            addr.eq(lane.pm + channel),
            valid.eq(held & (lane.e < self.E) & (channel < self.M)),
        ]
        in_range = addr < self._words
        pending = Signal()
        m.d.sync += [
            pending.eq(valid),
            self.out_en.eq(valid & in_range),
            self.out_addr.eq(addr),
            ]
        # The rows*cols : 1 select as a case statement: 302 instead of 338 LUTs for 16 x 26 bits
        # on iCE40 (Yosys + ABC9, against word_select's shift network).
        with m.Switch(i * cfg.cols + j):
            for k in range(cfg.rows * cfg.cols):
                with m.Case(k):
                    m.d.sync += self.out_data.eq(block[k // cfg.cols][k % cfg.cols])
        with m.If(self.start):
            m.d.sync += self.overflow.eq(0)
        with m.Elif(valid & ~in_range):
            m.d.sync += self.overflow.eq(1)
        m.d.comb += self.idle.eq(~held & ~pending)
        return m

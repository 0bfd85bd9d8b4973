"""LayerControl: the engine's layer state (busy, done, error) from START to completion.

* START: ``request`` (a CTRL.start write) while ``busy`` sets error BUSY and changes nothing else;
  a request the START check refuses (``bad``) sets ``error`` to its ``code`` and done; else it is
  accepted (``accept``, combinational): busy, not done, no error. ``start`` (the datapath's start)
  follows ``accept`` one cycle later, from a flip-flop (``START_LATENCY`` = 1 cycle), so that the
  decode does not share a cycle with the resets and loads ``start`` fans out to.
* Completion (while busy, not in the ``start`` cycle): the sequencer's ``error_span`` stops the
  layer with LINE_BUFFER_SPAN; otherwise the layer is done when the sequencer is idle, every block
  it issued (``block_issued`` pulses) has been written (``block_done`` pulses), the writer is
  ``writer_idle``, the tile holds no result (``tile_busy``) and no block info is ``info_pending``;
  ``overflow`` (a raw writer's) then reports OUTPUT_TOO_BIG.

``status`` is the STATUS register (busy, done, error; STATUS_LAYOUT of hw/registers.py).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

import spec.latency as spec_latency
from spec.registers import ERROR_CODE

from .registers import STATUS_LAYOUT

__all__ = ["LayerControl", "START_LATENCY"]

# Cycles from the accepted CTRL.start write to the ``start`` pulse of the datapath (a register).
START_LATENCY = spec_latency.START_LATENCY   # the start register (spec/latency.py)


class LayerControl(wiring.Component):
    request: In(1)
    bad: In(1)
    code: In(8)
    accept: Out(1)
    start: Out(1)
    busy: Out(1)
    done: Out(1)
    status: Out(STATUS_LAYOUT)
    seq_busy: In(1)
    error_span: In(1)
    block_issued: In(1)
    block_done: In(1)
    writer_idle: In(1)
    tile_busy: In(1)
    info_pending: In(1)
    overflow: In(1)

    def elaborate(self, platform):
        m = Module()
        busy, done, error = Signal(), Signal(), Signal(8)
        m.d.sync += self.start.eq(self.accept)
        with m.If(self.request):
            with m.If(busy):
                m.d.sync += error.eq(ERROR_CODE["BUSY"])
            with m.Elif(self.bad):
                m.d.sync += [error.eq(self.code), done.eq(1)]
            with m.Else():
                m.d.comb += self.accept.eq(1)
                m.d.sync += [busy.eq(1), done.eq(0), error.eq(0)]

        # Compared for equality only and at most ~6 groups are in flight: 8-bit counters suffice.
        blocks_issued = Signal(8)
        blocks_done = Signal(8)
        with m.If(self.start):
            m.d.sync += [blocks_issued.eq(0), blocks_done.eq(0)]
        with m.Else():
            m.d.sync += [blocks_issued.eq(blocks_issued + self.block_issued),
                         blocks_done.eq(blocks_done + self.block_done)]
        with m.If(busy):
            with m.If(self.start):
                pass    # the datapath starts now: its status flags are still the last layer's
            with m.Elif(self.error_span):
                m.d.sync += [busy.eq(0), done.eq(1), error.eq(ERROR_CODE["LINE_BUFFER_SPAN"])]
            with m.Elif(~self.seq_busy & (blocks_issued == blocks_done) & self.writer_idle
                        & ~self.tile_busy & ~self.info_pending):
                m.d.sync += [busy.eq(0), done.eq(1)]
                with m.If(self.overflow):
                    m.d.sync += error.eq(ERROR_CODE["OUTPUT_TOO_BIG"])
        m.d.comb += [self.busy.eq(busy), self.done.eq(done),
                     self.status.busy.eq(busy), self.status.done.eq(done), self.status.error.eq(error)]
        return m

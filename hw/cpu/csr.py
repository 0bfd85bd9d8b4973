"""CSR unit: the cycle and instret counters (Zicntr subset) and their read multiplexer.

``cycle`` counts every clock cycle since reset, ``instret`` every retired instruction (trapping
instructions do not retire). Both are ``counter_width`` bits (64 by default; with 32 the high
halves read 0). All CSRs are read only:

    0xC00 cycle    0xC01 time (= cycle)   0xC02 instret    (0xB00 mcycle, 0xB02 minstret alias them)
    0xC80 cycleh   0xC81 timeh            0xC82 instreth   (0xB80 mcycleh, 0xB82 minstreth)

The decoder has already rejected other CSR numbers and writes, so the multiplexer only looks at
address bit 1 (instret vs cycle) and bit 7 (high vs low half).
A csr instruction reads the counters as they are in its execute cycle: ``instret`` does not yet
count the reading instruction itself. ``instret`` counts a retire one cycle late (the retire strobe
is registered, keeping the branch decision off the counter's enable); no instruction can read it
in between, since every instruction takes at least two cycles.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["CsrUnit"]


class CsrUnit(wiring.Component):
    """Members
    -------
    addr : In(12)
        CSR number.
    retire : In(1)
        An instruction retires this cycle.
    rdata : Out(32)
    """

    addr: In(12)
    retire: In(1)
    rdata: Out(32)

    def __init__(self, counter_width=64):
        if counter_width not in (32, 64):
            raise ValueError(f"counter_width must be 32 or 64, not {counter_width!r}")
        self._counter_width = counter_width
        super().__init__()

    @property
    def counter_width(self):
        return self._counter_width

    def elaborate(self, platform):
        m = Module()
        cycle = Signal(64)
        instret = Signal(64)
        width = self._counter_width
        retired = Signal()
        m.d.sync += [cycle[0:width].eq(cycle[0:width] + 1), retired.eq(self.retire)]
        with m.If(retired):
            m.d.sync += instret[0:width].eq(instret[0:width] + 1)

        counter = Signal(64)
        m.d.comb += [
            counter.eq(Mux(self.addr[1], instret, cycle)),
            self.rdata.eq(Mux(self.addr[7], counter[32:64], counter[0:32])),
        ]
        return m

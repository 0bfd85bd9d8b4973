"""Load/store unit: byte lanes, sign extension and the alignment check for the data bus.

Combinational. ``funct3`` is the LOAD/STORE funct3: bits 1:0 give the size (0 byte, 1 halfword,
2 word), bit 2 marks an unsigned load (lbu, lhu).

* store: ``wdata`` replicates the low byte (sb) or halfword (sh) of ``store_data`` into every lane,
  ``wmask`` selects the lane(s) at ``addr[1:0]``;
* load: ``load_data`` picks the byte/halfword at ``addr[1:0]`` out of the bus word ``rdata`` and
  sign- or zero-extends it;
* ``misaligned``: a halfword at an odd address or a word at an address that is not a multiple of
  4 (the core halts with cause 4 for loads, 6 for stores and does not touch the bus).
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["LoadStore"]


class LoadStore(wiring.Component):
    """Members
    -------
    addr : In(32)
        Byte address (rs1 + imm).
    funct3 : In(3)
    store_data : In(32)
        rs2.
    rdata : In(32)
        Word read from the data bus.
    wdata : Out(32)
    wmask : Out(4)
        Byte lanes of a store (the core gates it with "store in progress").
    load_data : Out(32)
    misaligned : Out(1)
    """

    addr: In(32)
    funct3: In(3)
    store_data: In(32)
    rdata: In(32)
    wdata: Out(32)
    wmask: Out(4)
    load_data: Out(32)
    misaligned: Out(1)

    def elaborate(self, platform):
        m = Module()
        size = self.funct3[0:2]
        unsigned = self.funct3[2]
        offset = self.addr[0:2]

        with m.Switch(size):
            with m.Case(0):
                m.d.comb += [
                    self.misaligned.eq(0),
                    self.wdata.eq(self.store_data[0:8].replicate(4)),
                    self.wmask.eq(1 << offset),
                ]
            with m.Case(1):
                m.d.comb += [
                    self.misaligned.eq(offset[0]),
                    self.wdata.eq(self.store_data[0:16].replicate(2)),
                    self.wmask.eq(Mux(offset[1], 0b1100, 0b0011)),
                ]
            with m.Default():
                m.d.comb += [
                    self.misaligned.eq(offset != 0),
                    self.wdata.eq(self.store_data),
                    self.wmask.eq(0b1111),
                ]

        shifted = Signal(32)
        m.d.comb += shifted.eq(self.rdata >> Cat(0, 0, 0, offset))
        with m.Switch(size):
            with m.Case(0):
                m.d.comb += self.load_data.eq(Mux(unsigned, shifted[0:8], shifted[0:8].as_signed()))
            with m.Case(1):
                m.d.comb += self.load_data.eq(Mux(unsigned, shifted[0:16], shifted[0:16].as_signed()))
            with m.Default():
                m.d.comb += self.load_data.eq(self.rdata)
        return m

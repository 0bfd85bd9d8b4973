"""Register file x0..x31 in a block RAM (``amaranth.lib.memory``), two read ports and one write port.

Reads are synchronous (addresses in cycle n, data in n + 1) and hold their data while ``ren`` is
low, which the core relies on: operands read in DECODE stay valid through EXECUTE, MEM and a CFU
wait. Writes to x0 are dropped, and x0 starts (and stays) 0. The core never reads and writes in the
same cycle, so the read-during-write behaviour of the RAM does not matter; the memory carries
Yosys's ``no_rw_check`` attribute to say so. (Without it Yosys must prove that by SAT, which it
manages in a flattened synthesis; a hierarchical one adds ~150 LCs of write delay and bypass
logic that emulates "read old data" on collisions that never happen.)

On an iCE40 each read port becomes its own copy of the 32x32 RAM (two 256x16 EBRs each, 4 EBRs).
"""

from amaranth.hdl import Module
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RegisterFile"]


class RegisterFile(wiring.Component):
    """Members
    -------
    ren : In(1)
        Read enable for both read ports.
    raddr1, raddr2 : In(5)
    rdata1, rdata2 : Out(32)
    we : In(1)
    waddr : In(5)
    wdata : In(32)
    """

    ren: In(1)
    raddr1: In(5)
    raddr2: In(5)
    rdata1: Out(32)
    rdata2: Out(32)
    we: In(1)
    waddr: In(5)
    wdata: In(32)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=32, depth=32, init=[], attrs={"no_rw_check": 1})
        wr = mem.write_port()
        rd1 = mem.read_port()
        rd2 = mem.read_port()
        m.d.comb += [
            wr.addr.eq(self.waddr),
            wr.data.eq(self.wdata),
            wr.en.eq(self.we & (self.waddr != 0)),
            rd1.en.eq(self.ren),
            rd1.addr.eq(self.raddr1),
            self.rdata1.eq(rd1.data),
            rd2.en.eq(self.ren),
            rd2.addr.eq(self.raddr2),
            self.rdata2.eq(rd2.data),
        ]
        return m

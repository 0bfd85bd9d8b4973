"""The output memory (space ACT_OUT): written by the engine's writer, read by the host bus.

Two variants behind one interface, chosen by ``Implementation.split_output_memory``:

* :class:`OutputMemory`: one 32-bit memory with byte enables (``memories = {"act_out": ...}``, so
  it can be placed in SPRAM).
* :class:`NibbleOutputMemory`: eight 4-bit-wide memories, memory k holding nibble k of every word
  (``act_out_0`` .. ``act_out_7``). Each is a block RAM in its native depth x 4 mode (4096 x 4 per
  DP16KD on ECP5) with no byte enables: a 32-bit memory with byte enables is built from wider,
  shallower blocks stacked in depth, with a write-enable decode and a read multiplexer in front of
  and behind the block RAMs, on the host read path and the writer's write path.

Members (both)
-------
w_addr : In       word address;  w_data : In(32);  w_en : In(4)  byte enables
bus : In(HostBusSignature)   host reads of space ACT_OUT (``rdata`` one cycle after ``re``, 0 after
                             a read of another space); never written from the bus
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In

from .host_bus import HostBusSignature
from .registers import Space

__all__ = ["OutputMemory", "NibbleOutputMemory"]


def _ports(words, addr_width):
    return {"w_addr": In(max(1, (words - 1).bit_length())), "w_data": In(32), "w_en": In(4),
            "bus": In(HostBusSignature(addr_width))}


def _host_read(m, bus, read_ports):
    """The host read of ACT_OUT: the source is decoded when the read is issued, so behind the
    block RAMs ``rdata`` is one AND per bit (ORed with the other targets' by the bus)."""
    read_out = Signal()
    m.d.sync += read_out.eq(bus.space == Space.ACT_OUT)
    for rp in read_ports:
        m.d.comb += [rp.addr.eq(bus.addr), rp.en.eq(bus.re)]
    m.d.comb += bus.rdata.eq(Cat(*[rp.data for rp in read_ports]) & read_out.replicate(32))


class OutputMemory(wiring.Component):
    """One 32-bit output memory with byte enables (see the module docstring)."""

    def __init__(self, words, addr_width):
        self.memories = {"act_out": memory.Memory(shape=32, depth=words, init=[])}
        super().__init__(_ports(words, addr_width))

    def elaborate(self, platform):
        m = Module()
        mem = m.submodules.act_out = self.memories["act_out"]
        wp = mem.write_port(granularity=8)
        m.d.comb += [wp.addr.eq(self.w_addr), wp.data.eq(self.w_data), wp.en.eq(self.w_en)]
        _host_read(m, self.bus, [mem.read_port()])
        return m


class NibbleOutputMemory(wiring.Component):
    """Eight 4-bit output memories, one per nibble of the word (see the module docstring)."""

    def __init__(self, words, addr_width):
        self.memories = {f"act_out_{k}": memory.Memory(shape=4, depth=words, init=[]) for k in range(8)}
        super().__init__(_ports(words, addr_width))

    def elaborate(self, platform):
        m = Module()
        read_ports = []
        for k, (name, mem) in enumerate(self.memories.items()):
            m.submodules[name] = mem
            wp = mem.write_port()
            m.d.comb += [wp.addr.eq(self.w_addr), wp.data.eq(self.w_data[4 * k:4 * k + 4]),
                         wp.en.eq(self.w_en[k // 2])]
            read_ports.append(mem.read_port())
        _host_read(m, self.bus, read_ports)
        return m

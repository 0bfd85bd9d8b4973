"""iCE40UP5K single-port RAM (SB_SPRAM256KA) behind the ``amaranth.lib.memory.Memory`` interface.

The UP5K has 30 EBR (4 kbit each, 15 KB in all) and 4 SPRAM blocks of 16K x 16 bits (32 KB each,
128 KB in all). Yosys infers SPRAM only for a memory whose read and write share one address port
(``synth_ice40 -spram``); the conv engine's big memories have a write port and a read port at
different addresses, used at different times (the host writes input activations and weights while
the engine is idle and reads the outputs after it is done; the engine reads its inputs and writes
its outputs only while busy). :class:`Ice40SpramMemory` maps such a memory onto SPRAM with one
address multiplexer:

    ADDRESS    = write ? write_port.addr : read_port.addr        (write = any write enable)
    WREN       = write;  MASKWREN = the write port's byte/word enables, one bit per nibble
    CHIPSELECT = write | read_port.en  (per bank);  STANDBY = SLEEP = 0, POWEROFF = 1
    read data  = DATAOUT of the bank that was read (SPRAM output register: one cycle latency)

Word width 16 * lanes (lanes side by side), depth 16384 * banks (address bits above 14 pick the
bank). Read port semantics match a lib.memory synchronous, non-transparent read port (data held
while ``en`` is low) with the two differences of a single-port RAM: **a read in a cycle with a
write returns undefined data, and after a write the read data stays undefined until the next
read** (the SPRAM's output register is loaded with x on a write, cells_sim.v; the model here loads
the poison word 0xBAD5 per lane, so a simulation that relies on either fails loudly).

How a memory gets here: Amaranth's ``Memory.elaborate(platform)`` asks ``platform.get_memory``
when the platform has one. :class:`Ice40MemoryMapping` is a platform mixin that implements it: a
memory that a design registered with ``platform.request_spram(memory)`` (see
``Implementation.spram``, hw/conv_engine.py) becomes an :class:`Ice40SpramMemory`, every other
memory is built exactly as without the mixin (EBR inference). :class:`SpramSimPlatform` is the
mixin alone, for simulation builds with the behavioural model.
"""

from amaranth.hdl import Cat, ClockSignal, Const, Elaboratable, Instance, Module, Mux, Shape, Signal
from amaranth.lib import memory as lib_memory
from amaranth.lib import wiring

from .ice40_products import PRIMITIVES, ice40_primitive

__all__ = ["SPRAM_DEPTH", "SPRAM_WIDTH", "SPRAM_POISON", "SbSpram256kaModel", "Ice40SpramMemory",
           "Ice40MemoryMapping", "SpramSimPlatform"]

SPRAM_DEPTH = 16384
SPRAM_WIDTH = 16
SPRAM_POISON = 0xBAD5


class SbSpram256kaModel(wiring.Component):
    """Behavioural model of one SB_SPRAM256KA with STANDBY = SLEEP = 0 and POWEROFF = 1.

    On a clock edge with ``cs``: ``we`` writes the nibbles of ``din`` selected by ``mask`` and
    loads ``dout`` with the poison word :data:`SPRAM_POISON` (cells_sim.v: x); otherwise
    ``dout <= mem[addr]``. Without ``cs`` ``dout`` holds.
    """

    def __init__(self):
        super().__init__({"addr": wiring.In(14), "din": wiring.In(16), "mask": wiring.In(4),
                          "we": wiring.In(1), "cs": wiring.In(1), "dout": wiring.Out(16)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = lib_memory.Memory(shape=16, depth=SPRAM_DEPTH, init=[])
        wp = mem.write_port(granularity=4)
        rp = mem.read_port()
        poisoned = Signal()
        m.d.comb += [
            wp.addr.eq(self.addr), wp.data.eq(self.din),
            wp.en.eq(Mux(self.cs & self.we, self.mask, 0)),
            rp.addr.eq(self.addr), rp.en.eq(self.cs & ~self.we),
            self.dout.eq(Mux(poisoned, SPRAM_POISON, rp.data)),
        ]
        with m.If(self.cs):
            m.d.sync += poisoned.eq(self.we)
        return m


class Ice40SpramMemory(Elaboratable):
    """``memory`` (one write port, at most one read port, same domain) built from SB_SPRAM256KA.

    Parameters
    ----------
    memory : amaranth.lib.memory.Memory
        Its ports are already created (it is handed over by ``get_memory`` at elaboration). Its
        initial contents must be all zero (SPRAM has no initialisation).
    primitive : str
        ``"instance"`` (SB_SPRAM256KA), ``"model"`` (:class:`SbSpram256kaModel`) or ``"auto"``
        (see :func:`ice40_primitive`).
    """

    def __init__(self, memory, *, primitive="auto"):
        if not isinstance(memory, lib_memory.Memory):
            raise TypeError(f"memory must be an amaranth.lib.memory.Memory, not {memory!r}")
        if primitive not in PRIMITIVES:
            raise ValueError(f"primitive = {primitive!r} is not supported: must be one of "
                             f"{', '.join(PRIMITIVES)}")
        self.memory = memory
        self.primitive = primitive
        self.width = Shape.cast(memory.shape).width
        self.lanes = -(-self.width // SPRAM_WIDTH)
        self.banks = -(-memory.depth // SPRAM_DEPTH)

    @property
    def blocks(self):
        """SB_SPRAM256KA blocks used."""
        return self.lanes * self.banks

    def _check(self):
        mem = self.memory
        if len(mem.write_ports) != 1 or len(mem.read_ports) > 1:
            raise ValueError(f"SPRAM is single-port: the memory needs exactly one write port and at "
                             f"most one read port, not {len(mem.write_ports)} and {len(mem.read_ports)}")
        wp = mem.write_ports[0]
        granularity = wp.signature.granularity or self.width
        if granularity % 4:
            raise ValueError(f"write granularity = {granularity}: SPRAM writes whole nibbles, so it "
                             f"must be a multiple of 4")
        for rp in mem.read_ports:
            if rp.domain == "comb":
                raise ValueError("SPRAM has no asynchronous read: the read port must be synchronous")
            if rp.domain != wp.domain:
                raise ValueError(f"read domain {rp.domain!r} differs from write domain {wp.domain!r}")
            if rp.transparent_for:
                raise ValueError("SPRAM cannot read and write in one cycle: no transparent read port")
        if any(mem.init):
            raise ValueError("SPRAM has no initial contents: the memory's init must be all zero")
        return wp, granularity

    def elaborate(self, platform):
        m = Module()
        wp, granularity = self._check()
        rp = self.memory.read_ports[0] if self.memory.read_ports else None
        primitive = ice40_primitive(self.primitive, platform, "Ice40SpramMemory")
        domain = wp.domain

        write = Signal()
        m.d.comb += write.eq(wp.en.any())
        addr = Signal(max(len(wp.addr), len(rp.addr) if rp is not None else 0, 14))
        read_en = rp.en if rp is not None else Const(0)
        m.d.comb += addr.eq(Mux(write, wp.addr, rp.addr if rp is not None else 0))
        bank_of = addr[14:] if self.banks > 1 else Const(0)
        data = Cat(wp.data, Const(0, self.lanes * SPRAM_WIDTH - self.width))
        # Nibble n of the whole word is written when its write-enable chunk is.
        nibble_en = Cat(*[wp.en[(4 * n) // granularity] if len(wp.en) > 1 else wp.en[0]
                          for n in range(self.width // 4)],
                        Const(0, (self.lanes * SPRAM_WIDTH - self.width) // 4))
        bank_out = []
        for bank in range(self.banks):
            cs = Signal(name=f"bank{bank}_cs")
            m.d.comb += cs.eq((write | read_en) & (bank_of == bank))
            lanes_out = []
            for lane in range(self.lanes):
                name = f"spram_b{bank}_l{lane}"
                din = data[lane * SPRAM_WIDTH:(lane + 1) * SPRAM_WIDTH]
                mask = nibble_en[lane * 4:(lane + 1) * 4]
                dout = Signal(SPRAM_WIDTH, name=f"{name}_dout")
                if primitive == "model":
                    m.submodules[name] = cell = SbSpram256kaModel()
                    m.d.comb += [cell.addr.eq(addr[:14]), cell.din.eq(din), cell.mask.eq(mask),
                                 cell.we.eq(write), cell.cs.eq(cs), dout.eq(cell.dout)]
                    if domain != "sync":
                        raise ValueError("the SPRAM model runs in the sync domain only")
                else:
                    m.submodules[name] = Instance(
                        "SB_SPRAM256KA",
                        i_ADDRESS=addr[:14], i_DATAIN=din, i_MASKWREN=mask, i_WREN=write,
                        i_CHIPSELECT=cs, i_CLOCK=ClockSignal(domain), i_STANDBY=Const(0, 1),
                        i_SLEEP=Const(0, 1), i_POWEROFF=Const(1, 1), o_DATAOUT=dout)
                lanes_out.append(dout)
            bank_out.append(Cat(*lanes_out)[:self.width])
        if rp is not None:
            if self.banks > 1:
                read_bank = Signal(range(self.banks))
                with m.If(read_en & ~write):
                    m.d[domain] += read_bank.eq(bank_of)
                with m.Switch(read_bank):
                    for bank, out in enumerate(bank_out):
                        with m.Case(bank):
                            m.d.comb += rp.data.eq(out)
            else:
                m.d.comb += rp.data.eq(bank_out[0])
        return m


class Ice40MemoryMapping:
    """Platform mixin: ``get_memory`` puts the memories registered with :meth:`request_spram` into
    SPRAM (:class:`Ice40SpramMemory`); all others are elaborated as without a mapping."""

    #: "instance" or "model" for SPRAM (and for Ice40ProductArray with primitive "auto");
    #: None: decide from the platform's device.
    ice40_primitive = None

    def request_spram(self, memory):
        if not hasattr(self, "_spram_requests"):
            self._spram_requests = []
        if not any(memory is other for other in self._spram_requests):
            self._spram_requests.append(memory)

    @property
    def spram_memories(self):
        """The memories mapped to SPRAM so far (as :class:`Ice40SpramMemory`, in request order)."""
        return list(getattr(self, "_spram_mapped", []))

    def get_memory(self, memory):
        if any(memory is other for other in getattr(self, "_spram_requests", [])):
            mapped = Ice40SpramMemory(memory, primitive=self.ice40_primitive or "auto")
            if not hasattr(self, "_spram_mapped"):
                self._spram_mapped = []
            self._spram_mapped.append(mapped)
            return mapped
        # Exactly what Memory.elaborate builds without a platform hook.
        return lib_memory.Memory.elaborate(memory, None)


class SpramSimPlatform(Ice40MemoryMapping):
    """Not a board: just the memory mapping with the behavioural models, for simulation builds
    (``verilog.convert(design, platform=SpramSimPlatform())``)."""

    ice40_primitive = "model"

    def __init__(self, primitive="model"):
        self.ice40_primitive = primitive

"""SocRam: the core with an instruction RAM, a data RAM, a print/finish register and the CFU port
at the top. The harness every CPU test runs; the later SoC follows the same memory map.

Memory map (byte addresses; :class:`MemoryMap`)::

    0x0000_0000  IMEM  instruction RAM, ``imem_words`` words (instruction bus only)
    0x1000_0000  DMEM  data RAM, ``dmem_words`` words (data bus; .data, .rodata, .bss, stack)
    0x2000_0000  PRINT write: byte lane 0 is one character (``print_valid``/``print_char``)
    0x2000_0004  FINISH write: a 32-bit exit code (``finish_valid``/``finish_code``), 0 = pass

Data bus reads outside DMEM return 0, writes outside DMEM and the two registers are ignored.
Both RAMs are initialised from lists of words at elaboration (``imem_init``, ``dmem_init``); with
``loader=True`` a testbench can also write either RAM through the ``load_*`` ports (while the
core is held in reset), so one simulator build runs any number of programs.

``print_*`` and ``finish_*`` are registered: they pulse for one cycle, the cycle after the store.
"""

from dataclasses import dataclass

from amaranth.hdl import Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from .bus import trace_signature
from .cfu_port import cfu_signature
from .core import Core
from .serial_core import SerialCore

__all__ = ["MemoryMap", "SocRam", "CORES", "make_core"]

#: The cores a SocRam (and hw.soc.Soc) can be built with: the multi-cycle core
#: (:data:`hw.cpu.core.CYCLES_PER_INSTRUCTION`) and the bit-serial one (less logic,
#: :func:`hw.cpu.serial_core.serial_cycles`; the UP5K board SoC uses it).
CORES = ("multicycle", "serial")


def make_core(core="multicycle", *, reset_vector=0, trace=False, instret=True):
    """The core named ``core`` (one of :data:`CORES`). ``instret=False`` (serial core only)
    leaves out the instret counter (it then reads 0)."""
    _check_core(core, instret)
    if core == "serial":
        return SerialCore(reset_vector=reset_vector, trace=trace, instret=instret)
    return Core(reset_vector=reset_vector, trace=trace)


def _check_core(core, instret):
    if core not in CORES:
        raise ValueError(f"core = {core!r} is not a core: must be one of {', '.join(CORES)}")
    if not isinstance(instret, bool) or (core == "multicycle" and not instret):
        raise ValueError(f"instret = {instret!r} is not allowed for core = {core!r}: must be True "
                         f"(or False with the serial core)")


@dataclass(frozen=True)
class MemoryMap:
    """Addresses of the harness; the firmware linker script and the tests read them from here."""
    imem_base: int = 0x0000_0000
    dmem_base: int = 0x1000_0000
    io_base: int = 0x2000_0000

    @property
    def print_addr(self):
        return self.io_base + 0

    @property
    def finish_addr(self):
        return self.io_base + 4


MEMORY_MAP = MemoryMap()


def _check_init(name, init, words):
    init = list(init or [])
    if len(init) > words:
        raise ValueError(f"{name} has {len(init)} words but the RAM holds only {words}")
    for word in init:
        if not isinstance(word, int) or not 0 <= word < 2**32:
            raise ValueError(f"{name} must hold 32-bit unsigned words, found {word!r}")
    return init


class SocRam(wiring.Component):
    """Core + IMEM + DMEM + print/finish registers; CFU port and status at the top.

    Parameters
    ----------
    imem_init, dmem_init : list of int
        Initial RAM contents (32-bit words, little endian byte order within a word).
    imem_words, dmem_words : int
        RAM sizes in words (powers of two).
    loader : bool
        Add the ``load_valid``/``load_addr``/``load_data`` write port (byte address, word aligned).
    trace : bool
        Bring the core's retire trace to the top.
    core : str
        ``"multicycle"`` (:class:`hw.cpu.core.Core`, default) or ``"serial"``
        (:class:`hw.cpu.serial_core.SerialCore`).
    instret : bool
        With ``core="serial"``: implement the instret counter (else it reads 0).

    Members
    -------
    cfu : Out(cfu_signature())
    trace : Out(trace_signature())   (with ``trace=True``)
    halted, halt_cause, halt_pc : Out
    print_valid : Out(1), print_char : Out(8)
    finish_valid : Out(1), finish_code : Out(32)
    load_valid : In(1), load_addr : In(32), load_data : In(32)   (with ``loader=True``)
    """

    def __init__(self, imem_init=(), dmem_init=(), *, imem_words=4096, dmem_words=4096,
                 loader=False, trace=False, memory_map=MEMORY_MAP, core="multicycle", instret=True):
        for name, words in (("imem_words", imem_words), ("dmem_words", dmem_words)):
            if not isinstance(words, int) or words < 1 or words & (words - 1) or words > 1 << 26:
                raise ValueError(f"{name} must be a power of two in [1, 2**26], not {words!r}")
        self._imem_init = _check_init("imem_init", imem_init, imem_words)
        self._dmem_init = _check_init("dmem_init", dmem_init, dmem_words)
        self._imem_words = imem_words
        self._dmem_words = dmem_words
        self._loader = bool(loader)
        self._trace = bool(trace)
        self._map = memory_map
        _check_core(core, instret)
        self.core_name = core
        self._instret = instret
        members = {
            "cfu": Out(cfu_signature()),
            "halted": Out(1),
            "halt_cause": Out(4),
            "halt_pc": Out(32),
            "print_valid": Out(1),
            "print_char": Out(8),
            "finish_valid": Out(1),
            "finish_code": Out(32),
        }
        if self._trace:
            members["trace"] = Out(trace_signature())
        if self._loader:
            members.update(load_valid=In(1), load_addr=In(32), load_data=In(32))
        super().__init__(members)

    @property
    def memory_map(self):
        return self._map

    @property
    def imem_init(self):
        """The instruction memory's initial words (a list of at most ``imem_words`` ints; the rest is 0)."""
        return self._imem_init

    @property
    def dmem_init(self):
        """The data memory's initial words (a list of at most ``dmem_words`` ints; the rest is 0)."""
        return self._dmem_init

    def elaborate(self, platform):
        m = Module()
        mm = self._map
        m.submodules.core = core = make_core(self.core_name, reset_vector=mm.imem_base,
                                             trace=self._trace, instret=self._instret)

        m.submodules.imem = imem = memory.Memory(shape=32, depth=self._imem_words, init=self._imem_init)
        # The data RAM is never read and written in the same cycle (``re`` and ``wmask`` are
        # exclusive; the loader writes while the core is in reset): ``no_rw_check``, with the read
        # register outside the memory so that Yosys honours it (see hw/cpu/serial_core.py
        # RegisterRam; otherwise it emulates read-old-data with ~70 flip-flops on the iCE40).
        m.submodules.dmem = dmem = memory.Memory(shape=32, depth=self._dmem_words, init=self._dmem_init,
                                                 attrs={"no_rw_check": 1})
        imem_rd = imem.read_port()
        dmem_rd = dmem.read_port(domain="comb")
        dmem_data = Signal(32, reset_less=True)     # the read register (the EBR's; no reset)
        dmem_wr = dmem.write_port(granularity=8)

        # Instruction bus: IMEM only (the address wraps inside it).
        m.d.comb += [
            imem_rd.addr.eq(core.ibus.addr),
            imem_rd.en.eq(core.ibus.en),
            core.ibus.data.eq(imem_rd.data),
        ]

        # Data bus: region = byte address bits 31:28.
        region = core.dbus.addr[26:30]
        dmem_region = mm.dmem_base >> 28
        io_region = mm.io_base >> 28
        read_dmem = Signal()   # the word on dmem_rd.data belongs to the last read (else read 0)
        m.d.comb += [
            dmem_rd.addr.eq(core.dbus.addr),
            core.dbus.rdata.eq(read_dmem.replicate(32) & dmem_data),
            dmem_wr.addr.eq(core.dbus.addr),
            dmem_wr.data.eq(core.dbus.wdata),
        ]
        with m.If(core.dbus.re):
            m.d.sync += [read_dmem.eq(region == dmem_region), dmem_data.eq(dmem_rd.data)]
        with m.If(region == dmem_region):
            m.d.comb += dmem_wr.en.eq(core.dbus.wmask)

        io_write = (region == io_region) & (core.dbus.wmask != 0)
        io_word = core.dbus.addr[0:26]
        m.d.sync += [
            self.print_valid.eq(io_write & (io_word == (mm.print_addr - mm.io_base) // 4)
                                & core.dbus.wmask[0]),
            self.print_char.eq(core.dbus.wdata[0:8]),
            self.finish_valid.eq(io_write & (io_word == (mm.finish_addr - mm.io_base) // 4)),
            self.finish_code.eq(core.dbus.wdata),
        ]

        if self._loader:
            imem_wr = imem.write_port()
            load_region = self.load_addr[28:32]
            m.d.comb += [
                imem_wr.addr.eq(self.load_addr[2:32]),
                imem_wr.data.eq(self.load_data),
                imem_wr.en.eq(self.load_valid & (load_region == mm.imem_base >> 28)),
            ]
            with m.If(self.load_valid):
                m.d.comb += [
                    dmem_wr.addr.eq(self.load_addr[2:32]),
                    dmem_wr.data.eq(self.load_data),
                    dmem_wr.en.eq(((load_region == dmem_region).replicate(4))),
                ]

        wiring.connect(m, wiring.flipped(self.cfu), core.cfu)
        m.d.comb += [
            self.halted.eq(core.halted),
            self.halt_cause.eq(core.halt_cause),
            self.halt_pc.eq(core.halt_pc),
        ]
        if self._trace:
            wiring.connect(m, wiring.flipped(self.trace), core.trace)
        return m

"""Soc: the RV32I core with its RAMs (hw/cpu/soc_ram.py SocRam), the CNN accelerator (hw/cfu.py
CnnCfu) on the core's CFU port, and an 8N1 UART transmitter.

    firmware image --> IMEM / DMEM (initialised at elaboration, or written through the load port)
    Core --dbus--> DMEM, PRINT, FINISH (SocRam's memory map, hw/cpu/soc_ram.py)
    Core --custom-0 / CFU port--> CnnCfu(config)
    PRINT (0x2000_0000, one byte per store) --> UART TX (uart_tx pin), also on print_valid/print_char

The UART sends every byte stored to the PRINT register: a start bit, 8 data bits LSB first and a
stop bit, each ``clocks_per_bit`` clock cycles long (10 * clocks_per_bit per byte). It has no
FIFO and the core cannot read its state (SocRam's data bus reads only DMEM), so the firmware paces
its output: ``firmware/soc/uart.c`` waits ``UART_CHAR_CYCLES`` (rdcycle) between two stores. A
store while a byte is still being sent is dropped and sets the sticky ``uart_overflow`` flag, which
tests check.

Top-level ports are flat plain signals (cocotb, Icarus): ``uart_tx``, ``uart_busy``,
``uart_overflow``, ``halted``, ``halt_cause``, ``halt_pc``, ``finish_valid``, ``finish_code``,
``print_valid``, ``print_char`` and, with ``loader=True``, ``load_valid``/``load_addr``/``load_data``
(write either RAM while the core is held in reset, so one simulator build runs many programs).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spec.config import SIM_SOC, SocConfig

from .cfu import CnnCfu
from .cpu.soc_ram import MEMORY_MAP, SocRam

__all__ = ["Soc", "UartTx", "DEFAULT_CLOCKS_PER_BIT"]

DEFAULT_CLOCKS_PER_BIT = SIM_SOC.clocks_per_bit


class UartTx(wiring.Component):
    """8N1 transmitter: ``valid``/``data`` starts a byte when not ``busy`` (else ``overflow`` pulses)."""

    valid: In(1)
    data: In(8)
    tx: Out(1, init=1)
    busy: Out(1)
    overflow: Out(1)

    def __init__(self, clocks_per_bit=DEFAULT_CLOCKS_PER_BIT):
        if not isinstance(clocks_per_bit, int) or clocks_per_bit < 1:
            raise ValueError(f"clocks_per_bit must be a positive integer, not {clocks_per_bit!r}")
        self._cpb = clocks_per_bit
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        shift = Signal(10, init=0x3FF)       # stop, data[7:0], start; sent LSB first
        bits = Signal(range(11))             # bits still to send (incl. the current one)
        timer = Signal(range(self._cpb))
        m.d.comb += [self.tx.eq(shift[0]), self.busy.eq(bits != 0),
                     self.overflow.eq(self.valid & (bits != 0))]
        with m.If(bits == 0):
            with m.If(self.valid):
                m.d.sync += [shift.eq((1 << 9) | (self.data << 1)), bits.eq(10), timer.eq(self._cpb - 1)]
        with m.Elif(timer == 0):
            m.d.sync += [shift.eq((shift >> 1) | (1 << 9)), bits.eq(bits - 1), timer.eq(self._cpb - 1)]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
        return m


class Soc(wiring.Component):
    """Core + IMEM + DMEM + PRINT/FINISH + UART TX + CnnCfu(config).

    Parameters
    ----------
    config : SocConfig
        The whole build: engine configuration and implementation, core, CnnCfu counters, RAM
        sizes (powers of two, words) and the UART bit time (clock cycles).
    firmware : a ``firmware.build.FirmwareImage``, an ``(imem_words, dmem_words)`` pair, or None
    loader : add the load port (see hw/cpu/soc_ram.py)
    memory_map : hw.cpu.soc_ram.MemoryMap
    """

    def __init__(self, config: SocConfig = SIM_SOC, firmware=None, *, loader=False, memory_map=MEMORY_MAP):
        if not isinstance(config, SocConfig):
            raise TypeError(f"config must be a SocConfig, not {config!r}")
        self._soc_config = config
        self._config = config.engine
        clocks_per_bit = config.clocks_per_bit
        imem_words, dmem_words = config.imem_words, config.dmem_words
        if firmware is None:
            imem, dmem = (), ()
        elif hasattr(firmware, "imem") and hasattr(firmware, "dmem"):
            imem, dmem = firmware.imem, firmware.dmem
        else:
            imem, dmem = firmware
        self._ram = SocRam(imem, dmem, imem_words=imem_words, dmem_words=dmem_words, loader=loader,
                           memory_map=memory_map, core=config.core.kind.value,
                           instret=config.core.instret)
        self._cfu = CnnCfu(config.engine, config.impl, counters=config.cfu_counters)
        self._uart = UartTx(clocks_per_bit)
        self._loader = bool(loader)
        self.clocks_per_bit = clocks_per_bit
        self.imem_words = imem_words
        self.dmem_words = dmem_words
        self.core_name = config.core.kind.value
        members = {
            "uart_tx": Out(1, init=1),
            "uart_busy": Out(1),
            "uart_overflow": Out(1),
            "halted": Out(1),
            "halt_cause": Out(4),
            "halt_pc": Out(32),
            "finish_valid": Out(1),
            "finish_code": Out(32),
            "print_valid": Out(1),
            "print_char": Out(8),
        }
        if self._loader:
            members.update(load_valid=In(1), load_addr=In(32), load_data=In(32))
        super().__init__(members)

    @property
    def config(self):
        return self._config

    @property
    def soc_config(self):
        return self._soc_config

    @property
    def memory_map(self):
        return self._ram.memory_map

    @property
    def ram(self):
        """The core with its memories (hw.cpu.soc_ram.SocRam)."""
        return self._ram

    def elaborate(self, platform):
        m = Module()
        m.submodules.ram = ram = self._ram
        m.submodules.cfu = cfu = self._cfu
        m.submodules.uart = uart = self._uart
        wiring.connect(m, ram.cfu, cfu)
        overflow = Signal()
        with m.If(uart.overflow):
            m.d.sync += overflow.eq(1)
        m.d.comb += [
            uart.valid.eq(ram.print_valid),
            uart.data.eq(ram.print_char),
            self.uart_tx.eq(uart.tx),
            self.uart_busy.eq(uart.busy),
            self.uart_overflow.eq(overflow),
            self.halted.eq(ram.halted),
            self.halt_cause.eq(ram.halt_cause),
            self.halt_pc.eq(ram.halt_pc),
            self.finish_valid.eq(ram.finish_valid),
            self.finish_code.eq(ram.finish_code),
            self.print_valid.eq(ram.print_valid),
            self.print_char.eq(ram.print_char),
        ]
        if self._loader:
            m.d.comb += [ram.load_valid.eq(self.load_valid), ram.load_addr.eq(self.load_addr),
                         ram.load_data.eq(self.load_data)]
        return m

"""Two small RV32I cores (machine mode, Zicntr counters, custom-0 -> CFU port) and their test harness.

See :mod:`hw.cpu.core` for the multi-cycle core (2-3 cycles per instruction, the default) and
:mod:`hw.cpu.serial_core` for the bit-serial one (less logic and 2 instead of 4 EBR, cycles per
instruction from :func:`hw.cpu.serial_core.serial_cycles`; the iCE40UP5K board SoC uses it),
:mod:`hw.cpu.register_ram` for its one-read-port register file, :mod:`hw.cpu.cfu_port`
for the CFU port, :mod:`hw.cpu.bus` for the buses and the retire trace, :mod:`hw.cpu.soc_ram` for
the RAM harness and its memory map, :mod:`hw.cpu.asm` for the Python assembler the tests use and
:mod:`boards.cpu_synth` (``python -m boards.cpu_synth``) for the iCE40UP5K size and Fmax report.
Firmware is built with ``python -m firmware.build`` (firmware/README.md).
"""

from .cfu_port import cfu_signature
from .core import CYCLES_PER_INSTRUCTION, Core
from .serial_core import SERIAL_CYCLES, SerialCore, serial_cycles
from .soc_ram import CORES, MEMORY_MAP, MemoryMap, SocRam, make_core

__all__ = ["Core", "CYCLES_PER_INSTRUCTION", "SerialCore", "SERIAL_CYCLES", "serial_cycles", "CORES",
           "make_core", "SocRam", "MemoryMap", "MEMORY_MAP", "cfu_signature"]

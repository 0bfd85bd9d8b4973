"""A small RV32I core (machine mode, Zicntr counters, custom-0 -> CFU port) and its test harness.

See :mod:`hw.cpu.core` for the architecture and cycles per instruction, :mod:`hw.cpu.cfu_port`
for the CFU port, :mod:`hw.cpu.bus` for the buses and the retire trace, :mod:`hw.cpu.soc_ram` for
the RAM harness and its memory map, :mod:`hw.cpu.asm` for the Python assembler the tests use and
:mod:`hw.cpu.synth` (``python -m hw.cpu.synth``) for the iCE40UP5K size and Fmax report.
Firmware is built with ``python -m firmware.build`` (firmware/README.md).
"""

from .cfu_port import cfu_signature
from .core import CYCLES_PER_INSTRUCTION, Core
from .soc_ram import MEMORY_MAP, MemoryMap, SocRam

__all__ = ["Core", "CYCLES_PER_INSTRUCTION", "SocRam", "MemoryMap", "MEMORY_MAP", "cfu_signature"]

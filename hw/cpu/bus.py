"""The core's memory buses and its retire trace port (signatures, seen from the core).

Both buses are synchronous with a fixed read latency of one cycle, the behaviour of an FPGA block
RAM read port, so a RAM (or a register file that answers in one cycle) connects without glue:

* instruction bus (``ibus_signature``): ``addr`` is a word address (byte address bits 31:2); when
  ``en`` is high in cycle n, ``data`` must hold that word in cycle n + 1. Read only.
* data bus (``dbus_signature``): word address ``addr``; ``re`` reads (``rdata`` valid in the next
  cycle; the core extracts and sign-extends bytes/halfwords itself); a non-zero ``wmask`` writes
  the bytes of ``wdata`` whose mask bit is set in that same cycle (bit k = byte lane k = bits
  8k+7..8k, little endian). ``re`` and ``wmask`` are never active together. There is no wait
  state: a device that needs more time belongs behind the CFU port or a polled status register.

The retire trace (``trace_signature``) reports every instruction in the cycle it retires
(``valid``): its ``pc`` and ``insn``, the register write (``rd``, ``rd_data``; ``rd`` is 0 when no
register is written) and, for stores, the memory write (byte ``mem_addr`` as computed, word lane
mask ``mem_wmask`` and the lane-replicated ``mem_wdata`` exactly as on the data bus). Trapping
instructions never retire. Testbenches compare it with an instruction-set simulator; a synthesis
without the trace port leaves none of it behind.
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["ibus_signature", "dbus_signature", "trace_signature"]


def ibus_signature():
    return wiring.Signature({
        "addr": Out(30),
        "en": Out(1),
        "data": In(32),
    })


def dbus_signature():
    return wiring.Signature({
        "addr": Out(30),
        "re": Out(1),
        "wmask": Out(4),
        "wdata": Out(32),
        "rdata": In(32),
    })


def trace_signature():
    return wiring.Signature({
        "valid": Out(1),
        "pc": Out(32),
        "insn": Out(32),
        "rd": Out(5),
        "rd_data": Out(32),
        "mem_addr": Out(32),
        "mem_wmask": Out(4),
        "mem_wdata": Out(32),
    })

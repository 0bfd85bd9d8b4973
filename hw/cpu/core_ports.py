"""CorePorts: what both RV32I cores (hw/cpu/core.py ``Core``, hw/cpu/serial_core.py ``SerialCore``)
share -- their ports and the reset vector -- so the SoC can take either one unchanged."""

from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from .bus import dbus_signature, ibus_signature, trace_signature
from .cfu_port import cfu_signature

__all__ = ["CorePorts"]


class CorePorts(wiring.Component):
    """Base of the cores: instruction and data bus, CFU port, halt state and, with ``trace=True``,
    the retire trace port (hw/cpu/bus.py); ``reset_vector`` is the first instruction's address.

    Members
    -------
    ibus : Out(ibus_signature())
    dbus : Out(dbus_signature())
    cfu : Out(cfu_signature())
    trace : Out(trace_signature())
        Only with ``trace=True``.
    halted : Out(1)
    halt_cause : Out(4)
    halt_pc : Out(32)
    """

    def __init__(self, *, reset_vector=0, trace=False):
        if not isinstance(reset_vector, int) or not 0 <= reset_vector < 2**32 or reset_vector % 4:
            raise ValueError(f"reset_vector must be a multiple of 4 in [0, 2**32), not {reset_vector!r}")
        self._reset_vector = reset_vector
        self._trace = bool(trace)
        members = {
            "ibus": Out(ibus_signature()),
            "dbus": Out(dbus_signature()),
            "cfu": Out(cfu_signature()),
            "halted": Out(1),
            "halt_cause": Out(4),
            "halt_pc": Out(32),
        }
        if self._trace:
            members["trace"] = Out(trace_signature())
        super().__init__(members)

    @property
    def reset_vector(self):
        return self._reset_vector

    @property
    def has_trace(self):
        return self._trace

"""The CnnCfu's port counters (the COUNTERS of spec/registers.py without an engine register), in
two variants behind one interface, chosen by ``CnnCfu(counters=...)``:

* :class:`PortCounters`: four 32-bit counters (wrapping), zeroed by ``clear`` (CLEAR_COUNTERS):
  COMMANDS += ``accept``; PORT_CYCLES += ``port_cycle`` (a cycle from accepting a command to its
  response handshake); WAIT_CYCLES += ``wait_cycle`` (WAIT held by a running layer);
  RSP_STALL_CYCLES += ``stall_cycle`` (a response waiting for ``rsp_ready``).
* :class:`NoPortCounters`: none (small FPGAs): ``value`` is 0, ``clear`` does nothing.

Members (both): the pulses above and ``index`` (a counter index, PERF's rs1 low bits) : In;
``value`` : Out(32), the counter at ``index`` (0 for an engine counter or an unknown index).
"""

from amaranth.hdl import Array, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spec.registers import COUNTERS

__all__ = ["PortCounters", "NoPortCounters", "port_counters_signature"]

_PULSES = {"COMMANDS": "accept", "PORT_CYCLES": "port_cycle", "WAIT_CYCLES": "wait_cycle",
           "RSP_STALL_CYCLES": "stall_cycle"}


def port_counters_signature(index_width):
    return wiring.Signature({
        "accept": In(1), "clear": In(1), "port_cycle": In(1), "wait_cycle": In(1), "stall_cycle": In(1),
        "index": In(index_width), "value": Out(32),
    })


class PortCounters(wiring.Component):
    """The four port counters (see the module docstring)."""

    def __init__(self, index_width):
        port = [c.name for c in COUNTERS if c.register is None]
        if sorted(port) != sorted(_PULSES):
            raise AssertionError(f"port counters {port} do not match the pulses {sorted(_PULSES)}")
        super().__init__(port_counters_signature(index_width))

    def elaborate(self, platform):
        m = Module()
        counters = {c.name: Signal(32, name=f"count_{c.name.lower()}")
                    for c in COUNTERS if c.register is None}
        with m.If(self.clear):
            m.d.sync += [c.eq(0) for c in counters.values()]
        with m.Else():
            m.d.sync += [c.eq(c + getattr(self, _PULSES[name])) for name, c in counters.items()]
        by_index = {c.index: c.name for c in COUNTERS}
        m.d.comb += self.value.eq(Array(counters.get(by_index.get(i), Const(0, 32))
                                        for i in range(2 ** len(self.index)))[self.index])
        return m


class NoPortCounters(wiring.Component):
    """No port counters: PERF of one reads 0 (see the module docstring)."""

    def __init__(self, index_width):
        super().__init__(port_counters_signature(index_width))

    def elaborate(self, platform):
        return Module()

"""PerfCounters: the engine's performance counters (registers CYCLES, MAC_CYCLES, STALL_CYCLES).

    CYCLES       cycles with ``busy`` of the last layer (from its START to done)
    MAC_CYCLES   of those, cycles in which the tile accepted a beat (``beat``)
    STALL_CYCLES CYCLES - MAC_CYCLES (combinational)

``perf_counters = False`` builds CYCLES only: :func:`counters_layout` then has no MAC_CYCLES and
STALL_CYCLES fields, and the register file reads those registers as 0.

Restart (driven by the START check, see hw/start_check.py): ``clear`` zeroes the counters (in the
accept cycle, when ``busy`` is still low); ``load`` (only while ``busy``) sets them to the values
of a layer's first cycle: CYCLES = 1, MAC_CYCLES = ``beat``. 32-bit counters wrap.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig

__all__ = ["PerfCounters", "counters_layout"]


def counters_layout(cfg: AcceleratorConfig):
    """The counter registers ``cfg`` builds, by register name in lower case (32 bits each)."""
    names = ["cycles", "mac_cycles", "stall_cycles"] if cfg.perf_counters else ["cycles"]
    return data.StructLayout({name: 32 for name in names})


class PerfCounters(wiring.Component):
    """Members: ``busy``, ``beat``, ``clear``, ``load`` : In(1); ``counters`` : Out(counters_layout)."""

    def __init__(self, config: AcceleratorConfig):
        self._config = config
        super().__init__({
            "busy": In(1),
            "beat": In(1),
            "clear": In(1),
            "load": In(1),
            "counters": Out(counters_layout(config)),
        })

    def elaborate(self, platform):
        m = Module()
        mac = self._config.perf_counters
        cycles = Signal(32)
        mac_cycles = Signal(32)
        with m.If(self.clear):
            m.d.sync += cycles.eq(0)
            if mac:
                m.d.sync += mac_cycles.eq(0)
        with m.If(self.busy):
            m.d.sync += cycles.eq(cycles + 1)
            if mac:
                m.d.sync += mac_cycles.eq(mac_cycles + self.beat)
            with m.If(self.load):
                m.d.sync += cycles.eq(1)
                if mac:
                    m.d.sync += mac_cycles.eq(self.beat)
        m.d.comb += self.counters.cycles.eq(cycles)
        if mac:
            m.d.comb += [self.counters.mac_cycles.eq(mac_cycles),
                         self.counters.stall_cycles.eq(cycles - mac_cycles)]
        return m

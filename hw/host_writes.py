"""The host bus's write path into the engine's memories, in two variants behind one interface.

Every written memory (a space of spec/registers.py with access "w" that the configuration builds)
gets the same word address and data and its own write enable: one bit, or for a memory word wider
than 32 bits (the weights: ``cols`` bytes) one bit per 32-bit part, part ``addr mod parts`` of word
``addr // parts`` (:func:`host_write_layout`).

* :class:`DirectHostWrites`: address, data and enables straight from the bus (same cycle).
* :class:`RegisteredHostWrites`: the same through one register stage (``Implementation.
  registered_host_writes``): a write lands in its memory one cycle after the bus write.

Members (both): ``bus`` : In(HostBusSignature) (never drives ``rdata``); ``mem`` : Out(host_write_layout).
"""

from amaranth.hdl import Cat, Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig
from spec.registers import SPACES, space_depth

from .host_bus import HostBusSignature
from .registers import Space

__all__ = ["host_write_layout", "memory_shapes", "DirectHostWrites", "RegisteredHostWrites"]


def memory_shapes(cfg: AcceleratorConfig):
    """Written memory name (the space's name, lower case) -> (word width, depth), for the spaces
    with access "w" that ``cfg`` builds."""
    widths = {"ACT_IN": 32, "WEIGHTS": 8 * cfg.cols, "BIAS": 32, "MULT": 31, "SHIFT": 6}
    shapes = {}
    for s in SPACES:
        depth = space_depth(cfg, s.index)
        if s.access == "w" and depth:
            parts = max(1, widths[s.name] // 32)
            shapes[s.name.lower()] = (widths[s.name], depth // parts)
    return shapes


def _parts(width):
    return max(1, width // 32)


def host_write_layout(cfg: AcceleratorConfig, addr_width):
    """addr (host word address), data (32 bits), en (per memory: one bit per 32-bit part)."""
    return data.StructLayout({
        "addr": addr_width, "data": 32,
        "en": data.StructLayout({name: _parts(w) for name, (w, _) in memory_shapes(cfg).items()}),
    })


def _enables(bus, cfg):
    """Per memory: ``we`` in its space (and, for a wide word, in its part)."""
    enables = {}
    for name, (width, _) in memory_shapes(cfg).items():
        hit = bus.we & (bus.space == Space[name.upper()])
        parts = _parts(width)
        bits = (parts - 1).bit_length()
        enables[name] = Cat(*[hit & ((bus.addr[:bits] == k) if bits else 1) for k in range(parts)])
    return enables


class _HostWrites(wiring.Component):
    """The bus's writes to the memories, in the clock domain ``DOMAIN`` of the variant."""

    DOMAIN = None

    def __init__(self, config: AcceleratorConfig, addr_width):
        self._config = config
        super().__init__({"bus": In(HostBusSignature(addr_width)),
                          "mem": Out(host_write_layout(config, addr_width))})

    def elaborate(self, platform):
        m = Module()
        m.d[self.DOMAIN] += [self.mem.addr.eq(self.bus.addr), self.mem.data.eq(self.bus.wdata)]
        for name, en in _enables(self.bus, self._config).items():
            m.d[self.DOMAIN] += getattr(self.mem.en, name).eq(en)
        return m


class DirectHostWrites(_HostWrites):
    """The bus's writes straight to the memories (see the module docstring)."""

    DOMAIN = "comb"


class RegisteredHostWrites(_HostWrites):
    """The bus's writes to the memories through one register stage (see the module docstring)."""

    DOMAIN = "sync"

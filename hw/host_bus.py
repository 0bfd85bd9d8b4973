"""The accelerator's host bus: a 32-bit word bus into the register file and the memories.

Seen from the initiator (:class:`HostBusSignature`; the engine and its host-side blocks take it
flipped, ``In(HostBusSignature(...))``):

    space : Out(Space)     address space (hw.registers.Space, from spec/registers.py)
    addr  : Out(addr_width) word address inside the space
    wdata : Out(32)        write data, taken in the cycle of ``we``
    we    : Out(1)         write strobe
    re    : Out(1)         read strobe
    rdata : In(32)         read data, valid in the cycle after ``re``

:func:`fan_out` connects one bus to several targets: each target sees the whole request and drives
``rdata`` with 0 unless the read was its own; the bus's ``rdata`` is the OR of the targets'.
"""

from functools import reduce
from operator import or_

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig

from .registers import Space

__all__ = ["HostBusSignature", "host_addr_width", "fan_out"]


def host_addr_width(cfg: AcceleratorConfig):
    """Word address bits of the host bus: enough for the deepest space and the register file."""
    depths = [cfg.act_mem_bytes // 4, cfg.out_mem_bytes // 4, cfg.weight_mem_words * cfg.cols // 4,
              cfg.max_channels, 32]
    return max(depths).bit_length()


class HostBusSignature(wiring.Signature):
    """The host bus from the initiator's side (see the module docstring for the members).

    Parameters
    ----------
    addr_width : int
        Width of ``addr`` (:func:`host_addr_width` of the engine's configuration).
    """

    def __init__(self, addr_width):
        if not isinstance(addr_width, int) or addr_width < 1:
            raise ValueError(f"addr_width must be a positive integer, not {addr_width!r}")
        self._addr_width = addr_width
        super().__init__({
            "space": Out(Space),
            "addr": Out(addr_width),
            "wdata": Out(32),
            "we": Out(1),
            "re": Out(1),
            "rdata": In(32),
        })

    @property
    def addr_width(self):
        return self._addr_width

    def __eq__(self, other):
        return isinstance(other, HostBusSignature) and other.addr_width == self.addr_width

    def __repr__(self):
        return f"HostBusSignature({self._addr_width})"


REQUEST = ("space", "addr", "wdata", "we", "re")


def fan_out(m, bus, targets):
    """Drive every target's request from ``bus`` (a flipped host bus, e.g. a component's ``In``
    port) and ``bus.rdata`` from the OR of the targets' ``rdata``."""
    for target in targets:
        m.d.comb += [getattr(target, name).eq(getattr(bus, name)) for name in REQUEST]
    m.d.comb += bus.rdata.eq(reduce(or_, [target.rdata for target in targets]))

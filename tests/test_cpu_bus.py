"""hw/cpu/bus.py: the bus and trace signatures as documented (widths, directions seen from the core),
and a device built on the flipped signatures connects to a core's ports."""

import gc

import pytest
from amaranth.hdl import Fragment, Module, Shape
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.cpu import Core
from hw.cpu.bus import dbus_signature, ibus_signature, trace_signature


def _layout(signature):
    return {name: (member.flow, Shape.cast(member.shape).width) for name, member in signature.members.items()}


def test_signatures_as_documented():
    assert _layout(ibus_signature()) == {"addr": (Out, 30), "en": (Out, 1), "data": (In, 32)}
    assert _layout(dbus_signature()) == {"addr": (Out, 30), "re": (Out, 1), "wmask": (Out, 4),
                                         "wdata": (Out, 32), "rdata": (In, 32)}
    assert _layout(trace_signature()) == {"valid": (Out, 1), "pc": (Out, 32), "insn": (Out, 32),
                                          "rd": (Out, 5), "rd_data": (Out, 32), "mem_addr": (Out, 32),
                                          "mem_wmask": (Out, 4), "mem_wdata": (Out, 32)}


class _Memories(wiring.Component):
    """A device side: both buses flipped, answering nothing (only the connection is checked)."""

    def __init__(self):
        super().__init__({"ibus": In(ibus_signature()), "dbus": In(dbus_signature()),
                          "trace": In(trace_signature())})

    def elaborate(self, platform):
        return Module()


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_flipped_signatures_connect_to_a_core():
    core, device = Core(trace=True), _Memories()
    m = Module()
    m.submodules.core = core
    m.submodules.device = device
    wiring.connect(m, core.ibus, device.ibus)
    wiring.connect(m, core.dbus, device.dbus)
    wiring.connect(m, core.trace, device.trace)
    Fragment.get(m, None)
    del m, core, device
    gc.collect()

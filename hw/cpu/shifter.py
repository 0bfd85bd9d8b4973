"""Shifter: a single 32-bit right barrel shifter that also shifts left.

Left shifts reverse the bits before and after the right shift, so sll, srl and sra share five
mux levels instead of needing two shifters. The fill bit is ``value[31]`` for arithmetic shifts,
else 0.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Shifter"]


def _reverse(value):
    return Cat(*(value[i] for i in reversed(range(len(value)))))


class Shifter(wiring.Component):
    """Combinational shifter: ``result = value << amount`` or ``>>`` (logical/arithmetic).

    Members
    -------
    value : In(32)
    amount : In(5)
    left : In(1)
        Shift left (``arithmetic`` is ignored then).
    arithmetic : In(1)
        Right shift fills with ``value[31]``.
    result : Out(32)
    """

    value: In(32)
    amount: In(5)
    left: In(1)
    arithmetic: In(1)
    result: Out(32)

    def elaborate(self, platform):
        m = Module()
        src = Signal(32)
        fill = Signal()
        shifted = Signal(33)
        m.d.comb += [
            src.eq(Mux(self.left, _reverse(self.value), self.value)),
            fill.eq(self.arithmetic & ~self.left & self.value[31]),
            shifted.eq(Cat(src, fill).as_signed() >> self.amount),
            self.result.eq(Mux(self.left, _reverse(shifted[0:32]), shifted[0:32])),
        ]
        return m

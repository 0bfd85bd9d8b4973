"""Shifter: a single 32-bit right barrel shifter that also serves left shifts.

For a left shift the input is bit-reversed, shifted right and the result read bit-reversed
(``left_result``), so sll, srl and sra share five mux levels instead of needing two shifters.
The output reversal is only wiring: the ALU's result select picks ``left_result`` or
``right_result``. The fill bit is ``value[31]`` for arithmetic right shifts, else 0.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Shifter"]


def _reverse(value):
    return Cat(*(value[i] for i in reversed(range(len(value)))))


class Shifter(wiring.Component):
    """Combinational shifter.

    Members
    -------
    value : In(32)
    amount : In(5)
    left : In(1)
        Shift left: ``left_result = value << amount``.
    arithmetic : In(1)
        Right shift fills with ``value[31]`` (ignored for left shifts).
    right_result : Out(32)
        ``value >> amount`` (logical or arithmetic); meaningless when ``left``.
    left_result : Out(32)
        ``value << amount``; meaningless unless ``left``.
    """

    value: In(32)
    amount: In(5)
    left: In(1)
    arithmetic: In(1)
    right_result: Out(32)
    left_result: Out(32)

    def elaborate(self, platform):
        m = Module()
        src = Signal(32)
        fill = Signal()
        shifted = Signal(33)
        m.d.comb += [
            src.eq(Mux(self.left, _reverse(self.value), self.value)),
            fill.eq(self.arithmetic & ~self.left & self.value[31]),
            shifted.eq(Cat(src, fill).as_signed() >> self.amount),
            self.right_result.eq(shifted[0:32]),
            self.left_result.eq(_reverse(shifted[0:32])),
        ]
        return m

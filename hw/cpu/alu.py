"""ALU: one 32-bit adder/subtractor, the logic operations, set-less-than and a barrel shifter.

The subtractor also yields the branch conditions (``eq``, ``lt``, ``ltu`` of ``a - b``), so
branches, slt/sltu and sub share one carry chain; ``sum`` (a + b) is also the load/store and jalr
address.

``result`` is an AND-OR of the results whose one-hot select bits (registered by the decoder) are
set, and 0 when none is: the core ORs it with its other register write sources, so no priority
multiplexer sits between the ALU and the register file. Select bits:

    sel_sum (add, sub)   sel_sll   sel_sr (srl, sra)   sel_slt (slt, sltu by ``slt_unsigned``)
    logic_op: 0 none, 1 xor, 2 or, 3 and    (one LUT per bit: a, b and the two op bits)

``sub`` selects a - b (needed for SUB, SLT, SLTU and the branch conditions), ``sra`` an arithmetic
right shift. The shift amount is ``b[4:0]``.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .shifter import Shifter

__all__ = ["Alu", "LogicOp"]


class LogicOp:
    NONE, XOR, OR, AND = range(4)


class Alu(wiring.Component):
    """Combinational RV32I ALU.

    Members
    -------
    a, b : In(32)
        Operands.
    sub : In(1)
        The adder computes a - b.
    sra : In(1)
        Right shifts fill with a[31].
    sel_sum, sel_sll, sel_sr, sel_slt, slt_unsigned : In(1)
    logic_op : In(2)
    sum : Out(32)
        a + b (or a - b).
    result : Out(32)
        OR of the selected results (0 if none).
    eq, lt, ltu : Out(1)
        a == b (any time), a < b signed, a < b unsigned (valid when ``sub`` is set).
    """

    a: In(32)
    b: In(32)
    sub: In(1)
    sra: In(1)
    sel_sum: In(1)
    sel_sll: In(1)
    sel_sr: In(1)
    sel_slt: In(1)
    slt_unsigned: In(1)
    logic_op: In(2)
    sum: Out(32)
    result: Out(32)
    eq: Out(1)
    lt: Out(1)
    ltu: Out(1)

    def elaborate(self, platform):
        m = Module()
        a, b = self.a, self.b

        # a + (b ^ sub) + sub, 33 bits: bit 32 is the carry out (no borrow) of a - b.
        total = Signal(33)
        m.d.comb += [
            total.eq(a + (b ^ self.sub.replicate(32)) + self.sub),
            self.sum.eq(total[0:32]),
            self.eq.eq(a == b),                # in parallel with the carry chain, not after it
            self.ltu.eq(~total[32]),
            self.lt.eq(Mux(a[31] ^ b[31], a[31], total[31])),
        ]

        m.submodules.shifter = shifter = Shifter()
        m.d.comb += [
            shifter.value.eq(a),
            shifter.amount.eq(b[0:5]),
            shifter.left.eq(self.sel_sll),
            shifter.arithmetic.eq(self.sra),
        ]

        logic = Signal(32)
        with m.Switch(self.logic_op):
            with m.Case(LogicOp.XOR):
                m.d.comb += logic.eq(a ^ b)
            with m.Case(LogicOp.OR):
                m.d.comb += logic.eq(a | b)
            with m.Case(LogicOp.AND):
                m.d.comb += logic.eq(a & b)

        less = Mux(self.slt_unsigned, self.ltu, self.lt) & self.sel_slt
        m.d.comb += self.result.eq(
            (total[0:32] & self.sel_sum.replicate(32))
            | (shifter.left_result & self.sel_sll.replicate(32))
            | (shifter.right_result & self.sel_sr.replicate(32))
            | logic
            | less)
        return m

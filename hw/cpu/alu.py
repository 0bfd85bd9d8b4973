"""ALU: one 32-bit adder/subtractor, the logic operations, set-less-than and a barrel shifter.

The subtractor also yields the branch conditions (``eq``, ``lt``, ``ltu`` of ``a - b``), so
branches, slt/sltu and sub share one carry chain. ``fn`` uses the funct3 encoding of OP/OP_IMM:

    fn    0 ADD/SUB  1 SLL  2 SLT  3 SLTU  4 XOR  5 SRL/SRA  6 OR  7 AND

``sub`` selects a - b (needed for SUB, SLT, SLTU and the branch conditions), ``sra`` an arithmetic
right shift. The shift amount is ``b[4:0]``.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .isa import Funct3
from .shifter import Shifter

__all__ = ["Alu"]


class Alu(wiring.Component):
    """Combinational RV32I ALU.

    Members
    -------
    a, b : In(32)
        Operands.
    fn : In(3)
        Function (funct3 encoding).
    sub : In(1)
        Adder computes a - b.
    sra : In(1)
        Right shifts fill with a[31].
    result : Out(32)
    eq, lt, ltu : Out(1)
        a == b, a < b signed, a < b unsigned; valid when ``sub`` is set.
    """

    a: In(32)
    b: In(32)
    fn: In(3)
    sub: In(1)
    sra: In(1)
    result: Out(32)
    eq: Out(1)
    lt: Out(1)
    ltu: Out(1)

    def elaborate(self, platform):
        m = Module()
        a, b = self.a, self.b

        # a + (b ^ sub) + sub, 33 bits: bit 32 is the carry out (no borrow) of a - b.
        total = Signal(33)
        m.d.comb += total.eq(a + (b ^ self.sub.replicate(32)) + self.sub)
        m.d.comb += [
            self.eq.eq(total[0:32] == 0),
            self.ltu.eq(~total[32]),
            self.lt.eq(Mux(a[31] ^ b[31], a[31], total[31])),
        ]

        m.submodules.shifter = shifter = Shifter()
        m.d.comb += [
            shifter.value.eq(a),
            shifter.amount.eq(b[0:5]),
            shifter.left.eq(self.fn == Funct3.SLL),
            shifter.arithmetic.eq(self.sra),
        ]

        with m.Switch(self.fn):
            with m.Case(Funct3.ADD):
                m.d.comb += self.result.eq(total[0:32])
            with m.Case(Funct3.SLL, Funct3.SR):
                m.d.comb += self.result.eq(shifter.result)
            with m.Case(Funct3.SLT):
                m.d.comb += self.result.eq(Cat(self.lt))
            with m.Case(Funct3.SLTU):
                m.d.comb += self.result.eq(Cat(self.ltu))
            with m.Case(Funct3.XOR):
                m.d.comb += self.result.eq(a ^ b)
            with m.Case(Funct3.OR):
                m.d.comb += self.result.eq(a | b)
            with m.Case(Funct3.AND):
                m.d.comb += self.result.eq(a & b)
        return m

"""Decoder: one RV32I (+ custom-0) instruction word -> the control fields the core registers.

Purely combinational; the core registers its output (``x_dec``) at the end of the DECODE cycle, so
the execute cycle starts from flip-flops. Immediates are sign extended here, per format:

    I (OP_IMM, LOAD, JALR, SYSTEM, and OP/CUSTOM0 whose funct7 then sits in imm[11:5]),
    S (STORE), B (BRANCH), U (LUI, AUIPC), J (JAL).

The value written to rd comes from exactly one source, given as one-hot select bits (``sel_*``,
``logic_op``, ``csr``, ``load``, ``cfu``) so that the core combines the sources with an AND-OR
instead of a priority multiplexer.

The CSR number of a SYSTEM instruction is ``imm[11:0]``; the CFU ``function_id`` is
``{imm[11:5], funct3}`` (= {funct7, funct3}).

Illegal instructions (-> ``illegal``, the core halts with cause 2): a 16-bit encoding
(``insn[1:0] != 0b11``), an opcode outside RV32I and custom-0, reserved funct3/funct7 values of
LOAD, STORE, BRANCH, JALR, OP, OP_IMM shifts and MISC_MEM, SYSTEM words other than ecall, ebreak
and the six Zicsr instructions, and Zicsr instructions that name a CSR the core does not have
(:class:`hw.cpu.isa.Csr`) or would write one (all implemented CSRs are read only): csrrw/csrrwi
always write, csrrs/csrrc/csrrsi/csrrci write unless rs1/uimm is 0.
"""

from amaranth.hdl import C, Cat, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .alu import LogicOp
from .isa import Csr, Funct3, Opcode

__all__ = ["Decoder", "decoded_layout"]

decoded_layout = data.StructLayout({
    "rd": 5,
    "funct3": 3,
    "imm": 32,
    "rd_we": 1,        # writes rd (never for rd = x0)
    "use_imm": 1,      # ALU operand b is imm (else rs2)
    "alu_sub": 1,      # adder subtracts (sub, slt, sltu, branches)
    "alu_sra": 1,      # right shifts are arithmetic
    # one-hot source of the rd value (all 0 for instructions without rd)
    "sel_sum": 1,      # ALU adder: add, addi, sub
    "sel_sll": 1,      # shifter, left: sll, slli
    "sel_sr": 1,       # shifter, right: srl, sra, srli, srai
    "sel_slt": 1,      # slt, sltu, slti, sltiu (slt_unsigned = funct3[0])
    "logic_op": 2,     # alu.LogicOp: xor, or, and (+ immediate forms)
    "sel_imm": 1,      # lui: the U immediate
    "sel_target": 1,   # auipc: pc + imm
    "sel_link": 1,     # jal, jalr: pc + 4
    "jal": 1,
    "jalr": 1,
    "branch": 1,
    "load": 1,
    "store": 1,
    "csr": 1,
    "cfu": 1,
    "ecall": 1,
    "ebreak": 1,
    "illegal": 1,
})


class Decoder(wiring.Component):
    """Combinational RV32I decoder.

    Members
    -------
    insn : In(32)
        The instruction word.
    rs1, rs2 : Out(5)
        Source register numbers (for the register file read ports).
    dec : Out(decoded_layout)
        Control fields for the execute stage.
    """

    insn: In(32)
    rs1: Out(5)
    rs2: Out(5)
    dec: Out(decoded_layout)

    def elaborate(self, platform):
        m = Module()
        insn = self.insn
        dec = self.dec

        opcode = insn[2:7]
        rd = insn[7:12]
        funct3 = insn[12:15]
        rs1 = insn[15:20]
        funct7 = insn[25:32]

        imm_i = Signal(32)
        imm_s = Signal(32)
        imm_b = Signal(32)
        imm_u = Signal(32)
        imm_j = Signal(32)
        m.d.comb += [
            imm_i.eq(insn[20:32].as_signed()),
            imm_s.eq(Cat(insn[7:12], insn[25:32]).as_signed()),
            imm_b.eq(Cat(C(0, 1), insn[8:12], insn[25:31], insn[7], insn[31]).as_signed()),
            imm_u.eq(Cat(C(0, 12), insn[12:32])),
            imm_j.eq(Cat(C(0, 1), insn[21:31], insn[20], insn[12:20], insn[31]).as_signed()),
        ]

        m.d.comb += [
            self.rs1.eq(rs1),
            self.rs2.eq(insn[20:25]),
            dec.rd.eq(rd),
            dec.funct3.eq(funct3),
            dec.imm.eq(imm_i),
            dec.alu_sra.eq(insn[30]),
        ]

        def alu_selects():
            """One-hot rd source of OP/OP_IMM from funct3."""
            with m.Switch(funct3):
                with m.Case(Funct3.ADD):
                    m.d.comb += dec.sel_sum.eq(1)
                with m.Case(Funct3.SLL):
                    m.d.comb += dec.sel_sll.eq(1)
                with m.Case(Funct3.SR):
                    m.d.comb += dec.sel_sr.eq(1)
                with m.Case(Funct3.SLT, Funct3.SLTU):
                    m.d.comb += [dec.sel_slt.eq(1), dec.alu_sub.eq(1)]
                with m.Case(Funct3.XOR):
                    m.d.comb += dec.logic_op.eq(LogicOp.XOR)
                with m.Case(Funct3.OR):
                    m.d.comb += dec.logic_op.eq(LogicOp.OR)
                with m.Case(Funct3.AND):
                    m.d.comb += dec.logic_op.eq(LogicOp.AND)

        legal = Signal()
        writes_rd = Signal()
        csr_known = Signal()
        csr_writes = Signal()
        m.d.comb += [
            csr_known.eq(Cat(*(insn[20:32] == int(csr) for csr in Csr)).any()),
            # csrrw/csrrwi (funct3[1:0] == 01) always write; set/clear forms unless rs1/uimm is 0.
            csr_writes.eq((funct3[0:2] == 0b01) | (rs1 != 0)),
        ]

        with m.Switch(opcode):
            with m.Case(Opcode.LUI):
                m.d.comb += [legal.eq(1), writes_rd.eq(1), dec.sel_imm.eq(1), dec.imm.eq(imm_u)]
            with m.Case(Opcode.AUIPC):
                m.d.comb += [legal.eq(1), writes_rd.eq(1), dec.sel_target.eq(1), dec.imm.eq(imm_u)]
            with m.Case(Opcode.JAL):
                m.d.comb += [legal.eq(1), writes_rd.eq(1), dec.jal.eq(1), dec.sel_link.eq(1),
                             dec.imm.eq(imm_j)]
            with m.Case(Opcode.JALR):
                m.d.comb += [legal.eq(funct3 == 0), writes_rd.eq(1), dec.jalr.eq(1), dec.sel_link.eq(1),
                             dec.use_imm.eq(1)]
            with m.Case(Opcode.BRANCH):
                m.d.comb += [legal.eq(funct3[1:3] != 0b01), dec.branch.eq(1), dec.alu_sub.eq(1),
                             dec.imm.eq(imm_b)]
            with m.Case(Opcode.LOAD):
                m.d.comb += [legal.eq((funct3 != 3) & (funct3 < 6)), writes_rd.eq(1), dec.load.eq(1),
                             dec.use_imm.eq(1)]
            with m.Case(Opcode.STORE):
                m.d.comb += [legal.eq(funct3 < 3), dec.store.eq(1), dec.use_imm.eq(1),
                             dec.imm.eq(imm_s)]
            with m.Case(Opcode.OP_IMM):
                with m.Switch(funct3):
                    with m.Case(Funct3.SLL):
                        m.d.comb += legal.eq(funct7 == 0)
                    with m.Case(Funct3.SR):
                        m.d.comb += legal.eq((funct7 == 0) | (funct7 == 0b0100000))
                    with m.Default():
                        m.d.comb += legal.eq(1)
                m.d.comb += [writes_rd.eq(1), dec.use_imm.eq(1)]
                alu_selects()
            with m.Case(Opcode.OP):
                m.d.comb += [
                    legal.eq((funct7 == 0) | ((funct7 == 0b0100000)
                                              & ((funct3 == Funct3.ADD) | (funct3 == Funct3.SR)))),
                    writes_rd.eq(1),
                ]
                alu_selects()
                with m.If((funct3 == Funct3.ADD) & insn[30]):
                    m.d.comb += dec.alu_sub.eq(1)
            with m.Case(Opcode.MISC_MEM):
                # fence / fence.i: nothing to order or flush in this core -> no-op (writes no rd).
                m.d.comb += legal.eq(funct3[1:3] == 0)
            with m.Case(Opcode.SYSTEM):
                with m.If(funct3 == Funct3.PRIV):
                    # only the exact ecall / ebreak words (rd, rs1 = 0)
                    m.d.comb += [
                        dec.ecall.eq(insn[7:32] == 0),
                        dec.ebreak.eq(insn[7:32] == (1 << 13)),
                        legal.eq(dec.ecall | dec.ebreak),
                    ]
                with m.Elif(funct3 != 0b100):
                    m.d.comb += [legal.eq(csr_known & ~csr_writes), writes_rd.eq(1), dec.csr.eq(1)]
            with m.Case(Opcode.CUSTOM0):
                m.d.comb += [legal.eq(1), writes_rd.eq(1), dec.cfu.eq(1)]

        m.d.comb += [
            dec.illegal.eq(~legal | (insn[0:2] != 0b11)),
            dec.rd_we.eq(writes_rd & (rd != 0)),
        ]
        return m

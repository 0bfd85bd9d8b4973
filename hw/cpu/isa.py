"""RV32I encodings shared by the decoder, the Python assembler and the tests (defined once here).

Instruction formats (bit ranges inclusive, as in the RISC-V unprivileged spec):

    R: funct7[31:25] rs2[24:20] rs1[19:15] funct3[14:12] rd[11:7] opcode[6:0]
    I: imm[11:0][31:20]         rs1        funct3        rd       opcode
    S: imm[11:5]   rs2          rs1        funct3   imm[4:0]      opcode
    B: imm[12|10:5] rs2         rs1        funct3   imm[4:1|11]   opcode
    U: imm[31:12]                                       rd       opcode
    J: imm[20|10:1|11|19:12]                            rd       opcode
"""

import enum

__all__ = ["Opcode", "Funct3", "Csr", "Cause", "CUSTOM0"]


class Opcode(enum.IntEnum):
    """``insn[6:2]`` (bits 1:0 are always 0b11 in a 32-bit instruction)."""
    LOAD = 0b00000
    CUSTOM0 = 0b00010     # 0x0B: CFU instructions (R-type)
    MISC_MEM = 0b00011    # fence, fence.i: no-ops here
    OP_IMM = 0b00100
    AUIPC = 0b00101
    STORE = 0b01000
    OP = 0b01100
    LUI = 0b01101
    BRANCH = 0b11000
    JALR = 0b11001
    JAL = 0b11011
    SYSTEM = 0b11100


CUSTOM0 = (Opcode.CUSTOM0 << 2) | 0b11   # the full 7-bit opcode, 0x0B


class Funct3:
    """funct3 values per instruction group."""
    # OP / OP_IMM
    ADD, SLL, SLT, SLTU, XOR, SR, OR, AND = range(8)     # ADD also SUB, SR is SRL/SRA (by insn[30])
    # BRANCH
    BEQ, BNE, BLT, BGE, BLTU, BGEU = 0, 1, 4, 5, 6, 7
    # LOAD / STORE (bit 2 = unsigned for loads, bits 1:0 = log2 of the size)
    LB, LH, LW, LBU, LHU = 0, 1, 2, 4, 5
    SB, SH, SW = 0, 1, 2
    # SYSTEM
    PRIV, CSRRW, CSRRS, CSRRC, CSRRWI, CSRRSI, CSRRCI = 0, 1, 2, 3, 5, 6, 7
    # MISC_MEM
    FENCE, FENCE_I = 0, 1


class Csr(enum.IntEnum):
    """CSRs the core implements: the read-only counters of Zicntr (``time`` aliases ``cycle``) and
    their machine-mode names (also read-only here, see :class:`hw.cpu.csr.CsrUnit`)."""
    CYCLE = 0xC00
    TIME = 0xC01
    INSTRET = 0xC02
    CYCLEH = 0xC80
    TIMEH = 0xC81
    INSTRETH = 0xC82
    MCYCLE = 0xB00
    MINSTRET = 0xB02
    MCYCLEH = 0xB80
    MINSTRETH = 0xB82


class Cause(enum.IntEnum):
    """Halt causes (the values of RISC-V ``mcause`` for the same exceptions)."""
    MISALIGNED_FETCH = 0      # jump/branch target not a multiple of 4 (reported on the jump)
    ILLEGAL_INSTRUCTION = 2
    BREAKPOINT = 3            # ebreak
    MISALIGNED_LOAD = 4
    MISALIGNED_STORE = 6
    ECALL = 11                # ecall from machine mode

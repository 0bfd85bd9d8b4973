"""A tiny RV32I (+ custom-0) assembler in Python, for test programs and random instruction streams.

``encode(mnemonic, *operands)`` returns one 32-bit instruction word. Operands follow the assembly
order, with ``imm(base)`` written as ``imm, base``::

    encode("add", "a0", "a1", "a2")       add   a0, a1, a2
    encode("addi", 5, 6, -1)               addi  x5, x6, -1
    encode("lw", "a0", 8, "sp")            lw    a0, 8(sp)
    encode("sw", "a1", -4, "sp")           sw    a1, -4(sp)
    encode("jalr", "ra", 0, "t0")          jalr  ra, 0(t0)
    encode("beq", "a0", "zero", 16)        beq   a0, zero, .+16   (byte offset)
    encode("jal", "ra", -8)                jal   ra, .-8
    encode("lui", "a0", 0x12345)           lui   a0, 0x12345      (the 20-bit field)
    encode("csrrs", "a0", 0xC00, "zero")   csrrs a0, cycle, zero  (csrr a0, cycle)
    encode("csrrsi", "a0", 0xC00, 0)       csrrsi a0, cycle, 0
    encode("cfu", 3, 1, "a0", "a1", "a2")  .insn r 0x0b, 3, 1, a0, a1, a2  (funct3, funct7, ...)

:class:`Program` adds labels (branch/jump targets given as label names) and a few pseudo
instructions (``li``, ``mv``, ``nop``, ``j``). Values out of range raise ValueError naming them.
"""

from .isa import CUSTOM0, Funct3, Opcode

__all__ = ["REGISTER_NAMES", "reg", "encode", "split_constant", "Program", "MNEMONICS", "disassemble"]

REGISTER_NAMES = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2",
                  "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9",
                  "s10", "s11", "t3", "t4", "t5", "t6"]
_REGS = {name: i for i, name in enumerate(REGISTER_NAMES)} | {f"x{i}": i for i in range(32)} | {"fp": 8}


def reg(value):
    """Register number from 0..31, ``"x5"`` or an ABI name (``"a0"``)."""
    if isinstance(value, str):
        if value not in _REGS:
            raise ValueError(f"register = {value!r} is not a register name")
        return _REGS[value]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 32:
        raise ValueError(f"register = {value!r} is out of range: must be 0..31 or a name")
    return value


def _imm(name, value, bits, signed=True, align=1):
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi or value % align:
        raise ValueError(f"{name} = {value!r} is out of range: must be an integer in [{lo}, {hi}]"
                         + (f", a multiple of {align}" if align > 1 else ""))
    return value & ((1 << bits) - 1)


def _op(opcode):
    return (int(opcode) << 2) | 0b11


def _r(opcode, funct3, funct7, rd, rs1, rs2):
    return (funct7 << 25) | (reg(rs2) << 20) | (reg(rs1) << 15) | (funct3 << 12) | (reg(rd) << 7) | opcode


def _i(opcode, funct3, rd, rs1, imm):
    return (_imm("imm", imm, 12) << 20) | (reg(rs1) << 15) | (funct3 << 12) | (reg(rd) << 7) | opcode


def _s(opcode, funct3, rs2, rs1, imm):
    v = _imm("imm", imm, 12)
    return ((v >> 5) << 25) | (reg(rs2) << 20) | (reg(rs1) << 15) | (funct3 << 12) | ((v & 31) << 7) | opcode


def _b(funct3, rs1, rs2, offset):
    v = _imm("branch offset", offset, 13, align=2)
    return (((v >> 12) & 1) << 31 | ((v >> 5) & 0x3F) << 25 | reg(rs2) << 20 | reg(rs1) << 15
            | funct3 << 12 | ((v >> 1) & 0xF) << 8 | ((v >> 11) & 1) << 7 | _op(Opcode.BRANCH))


def _u(opcode, rd, imm20):
    return (_imm("upper immediate", imm20, 20, signed=False) << 12) | (reg(rd) << 7) | opcode


def _j(rd, offset):
    v = _imm("jump offset", offset, 21, align=2)
    return (((v >> 20) & 1) << 31 | ((v >> 1) & 0x3FF) << 21 | ((v >> 11) & 1) << 20
            | ((v >> 12) & 0xFF) << 12 | reg(rd) << 7 | _op(Opcode.JAL))


_ALU = {"add": (Funct3.ADD, 0), "sub": (Funct3.ADD, 0x20), "sll": (Funct3.SLL, 0),
        "slt": (Funct3.SLT, 0), "sltu": (Funct3.SLTU, 0), "xor": (Funct3.XOR, 0),
        "srl": (Funct3.SR, 0), "sra": (Funct3.SR, 0x20), "or": (Funct3.OR, 0), "and": (Funct3.AND, 0)}
_ALU_IMM = {"addi": Funct3.ADD, "slti": Funct3.SLT, "sltiu": Funct3.SLTU, "xori": Funct3.XOR,
            "ori": Funct3.OR, "andi": Funct3.AND}
_SHIFT_IMM = {"slli": (Funct3.SLL, 0), "srli": (Funct3.SR, 0), "srai": (Funct3.SR, 0x20)}
_LOADS = {"lb": Funct3.LB, "lh": Funct3.LH, "lw": Funct3.LW, "lbu": Funct3.LBU, "lhu": Funct3.LHU}
_STORES = {"sb": Funct3.SB, "sh": Funct3.SH, "sw": Funct3.SW}
_BRANCHES = {"beq": Funct3.BEQ, "bne": Funct3.BNE, "blt": Funct3.BLT, "bge": Funct3.BGE,
             "bltu": Funct3.BLTU, "bgeu": Funct3.BGEU}
_CSR = {"csrrw": Funct3.CSRRW, "csrrs": Funct3.CSRRS, "csrrc": Funct3.CSRRC}
_CSR_IMM = {"csrrwi": Funct3.CSRRWI, "csrrsi": Funct3.CSRRSI, "csrrci": Funct3.CSRRCI}

MNEMONICS = (set(_ALU) | set(_ALU_IMM) | set(_SHIFT_IMM) | set(_LOADS) | set(_STORES) | set(_BRANCHES)
             | set(_CSR) | set(_CSR_IMM) | {"lui", "auipc", "jal", "jalr", "ecall", "ebreak", "fence",
                                            "fence.i", "cfu"})


def encode(mnemonic, *ops):
    """One instruction word; see the module docstring for the operand order."""
    def n(count):
        if len(ops) != count:
            raise ValueError(f"{mnemonic} takes {count} operands, got {len(ops)}: {ops!r}")
    if mnemonic in _ALU:
        n(3)
        funct3, funct7 = _ALU[mnemonic]
        return _r(_op(Opcode.OP), funct3, funct7, *ops)
    if mnemonic in _ALU_IMM:
        n(3)
        return _i(_op(Opcode.OP_IMM), _ALU_IMM[mnemonic], *ops)
    if mnemonic in _SHIFT_IMM:
        n(3)
        funct3, funct7 = _SHIFT_IMM[mnemonic]
        rd, rs1, shamt = ops
        return _r(_op(Opcode.OP_IMM), funct3, funct7, rd, rs1, _imm("shamt", shamt, 5, signed=False))
    if mnemonic in _LOADS:
        n(3)
        rd, imm, rs1 = ops
        return _i(_op(Opcode.LOAD), _LOADS[mnemonic], rd, rs1, imm)
    if mnemonic in _STORES:
        n(3)
        rs2, imm, rs1 = ops
        return _s(_op(Opcode.STORE), _STORES[mnemonic], rs2, rs1, imm)
    if mnemonic in _BRANCHES:
        n(3)
        return _b(_BRANCHES[mnemonic], *ops)
    if mnemonic == "jal":
        n(2)
        return _j(*ops)
    if mnemonic == "jalr":
        n(3)
        rd, imm, rs1 = ops
        return _i(_op(Opcode.JALR), 0, rd, rs1, imm)
    if mnemonic == "lui":
        n(2)
        return _u(_op(Opcode.LUI), *ops)
    if mnemonic == "auipc":
        n(2)
        return _u(_op(Opcode.AUIPC), *ops)
    if mnemonic in _CSR:
        n(3)
        rd, csr, rs1 = ops
        return ((_imm("csr", csr, 12, signed=False) << 20) | (reg(rs1) << 15) | (_CSR[mnemonic] << 12)
                | (reg(rd) << 7) | _op(Opcode.SYSTEM))
    if mnemonic in _CSR_IMM:
        n(3)
        rd, csr, uimm = ops
        return ((_imm("csr", csr, 12, signed=False) << 20) | (_imm("uimm", uimm, 5, signed=False) << 15)
                | (_CSR_IMM[mnemonic] << 12) | (reg(rd) << 7) | _op(Opcode.SYSTEM))
    if mnemonic == "ecall":
        n(0)
        return _op(Opcode.SYSTEM)
    if mnemonic == "ebreak":
        n(0)
        return (1 << 20) | _op(Opcode.SYSTEM)
    if mnemonic == "fence":
        n(0)
        return 0x0FF00000 | _op(Opcode.MISC_MEM)     # fence iorw, iorw
    if mnemonic == "fence.i":
        n(0)
        return (Funct3.FENCE_I << 12) | _op(Opcode.MISC_MEM)
    if mnemonic == "cfu":
        n(5)
        funct3, funct7, rd, rs1, rs2 = ops
        return _r(CUSTOM0, _imm("funct3", funct3, 3, signed=False), _imm("funct7", funct7, 7, signed=False),
                  rd, rs1, rs2)
    raise ValueError(f"mnemonic = {mnemonic!r} is not an RV32I instruction this assembler knows")


def split_constant(value):
    """(upper20, lower12) with ``(upper20 << 12) + sext(lower12) == value`` mod 2**32 (for ``li``)."""
    value &= 0xFFFFFFFF
    lower = value & 0xFFF
    if lower >= 0x800:
        lower -= 0x1000
    upper = ((value - lower) >> 12) & 0xFFFFF
    return upper, lower


class Program:
    """Instruction list with labels; ``words()`` resolves branch/jump targets given as label names.

        p = Program(base=0)
        p.label("loop")
        p.addi("a0", "a0", -1)
        p.bne("a0", "zero", "loop")
        words = p.words()
    """

    def __init__(self, base=0):
        self.base = base
        self._items = []     # (mnemonic, ops)
        self._labels = {}

    @property
    def pc(self):
        """Address of the next instruction."""
        return self.base + 4 * len(self._items)

    def label(self, name):
        if name in self._labels:
            raise ValueError(f"label = {name!r} is defined twice")
        self._labels[name] = self.pc
        return self.pc

    def address(self, name):
        return self._labels[name]

    def emit(self, mnemonic, *ops):
        if mnemonic not in MNEMONICS:
            raise ValueError(f"mnemonic = {mnemonic!r} is not an RV32I instruction this assembler knows")
        self._items.append((mnemonic, ops))

    def word(self, value):
        """A raw 32-bit word (data, or an encoding the assembler refuses, e.g. an illegal one)."""
        self._items.append((".word", (value & 0xFFFFFFFF,)))

    def __getattr__(self, name):
        mnemonic = name.rstrip("_").replace("_", ".")   # and_, or_, fence_i
        if mnemonic not in MNEMONICS:
            raise AttributeError(name)
        return lambda *ops: self.emit(mnemonic, *ops)

    # pseudo instructions
    def li(self, rd, value):
        """Load a 32-bit constant: addi alone when it fits 12 bits, else lui (+ addi)."""
        value &= 0xFFFFFFFF
        signed = value - (1 << 32) if value >= 1 << 31 else value
        if -2048 <= signed < 2048:
            self.emit("addi", rd, "zero", signed)
            return
        upper, lower = split_constant(value)
        self.emit("lui", rd, upper)
        if lower:
            self.emit("addi", rd, rd, lower)

    def mv(self, rd, rs):
        self.emit("addi", rd, rs, 0)

    def nop(self):
        self.emit("addi", "zero", "zero", 0)

    def j(self, target):
        self.emit("jal", "zero", target)

    def words(self):
        out = []
        for index, (mnemonic, ops) in enumerate(self._items):
            pc = self.base + 4 * index
            if mnemonic == ".word":
                out.append(ops[0])
                continue
            ops = list(ops)
            if mnemonic in _BRANCHES or mnemonic == "jal":
                if isinstance(ops[-1], str) and ops[-1] in self._labels:
                    ops[-1] = self._labels[ops[-1]] - pc
                elif isinstance(ops[-1], str):
                    raise ValueError(f"label = {ops[-1]!r} is not defined")
            out.append(encode(mnemonic, *ops))
        return out


def disassemble(word, pc=0):
    """Readable text for one instruction word (capstone when installed; custom-0 decoded here)."""
    word &= 0xFFFFFFFF
    if word & 0x7F == CUSTOM0:
        return (f"cfu {(word >> 12) & 7}, {word >> 25}, {REGISTER_NAMES[(word >> 7) & 31]}, "
                f"{REGISTER_NAMES[(word >> 15) & 31]}, {REGISTER_NAMES[(word >> 20) & 31]}")
    try:
        import capstone
    except ImportError:  # pragma: no cover - capstone is a test dependency only
        return f".word 0x{word:08x}"
    global _CAPSTONE
    if _CAPSTONE is None:
        _CAPSTONE = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV32)
    for insn in _CAPSTONE.disasm(word.to_bytes(4, "little"), pc):
        return f"{insn.mnemonic} {insn.op_str}".strip()
    return f".word 0x{word:08x}"


_CAPSTONE = None

"""Random RV32I instruction streams and the unicorn reference they are checked against.

``random_program`` builds a self-contained program that cannot run away:

* prologue: x1..x30 get random values (edge values often: 0, -1, INT_MIN, INT_MAX, 1), x31 the
  base of the data window (DMEM + 0x800); x31 is never written afterwards;
* body: random instructions of every RV32I class. Loads and stores use x31 as base with an
  offset aligned to the access size, so every access lands in DMEM [0x1000_0000, 0x1000_1000).
  Branches and jal only jump forward, 1..8 instructions, never past the end; jalr comes as the pair
  ``auipc x30, 0; jalr rd, off(x30)`` with a forward target and a random low bit (jalr clears it).
  rd is x0 in a few percent of the instructions (the write must be dropped). Counter reads
  (rdcycle/rdinstret/rdtime and their high halves) are included: their values cannot come from
  unicorn (which has no ``time`` CSR at all), so the checker steps over them in unicorn, gives it the
  core's value and checks that value against the retire trace instead (instret = number of
  instructions retired before; cycle - trace cycle constant; high halves 0);
* epilogue: ebreak (the core halts with cause 3 there).

``UnicornReference`` steps unicorn (UC_ARCH_RISCV, UC_MODE_RISCV32) one instruction at a time and
records pc, all 32 registers after the instruction and its memory writes; ``compare`` checks the
core's retire trace against that, entry by entry.
"""

from dataclasses import dataclass

from hw.cpu.asm import Program, disassemble
from hw.cpu.isa import Csr, Opcode

__all__ = ["DMEM_BASE", "WINDOW_WORDS", "random_program", "UnicornReference", "compare", "classify",
           "instruction_cycles", "cpi_table", "check_serial_cycles"]

DMEM_BASE = 0x1000_0000
WINDOW_WORDS = 1024                 # the data window: DMEM_BASE .. DMEM_BASE + 4 KiB
BASE_REG = 31                       # window base register, constant after the prologue
BASE_VALUE = DMEM_BASE + 0x800
SCRATCH = 30                        # auipc target register of auipc/jalr pairs
EDGES = [0, 1, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0xFFFFFFFE, 0x80000001]
ALU = ["add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and"]
ALU_IMM = ["addi", "slti", "sltiu", "xori", "ori", "andi"]
SHIFT_IMM = ["slli", "srli", "srai"]
LOADS = {"lb": 1, "lh": 2, "lw": 4, "lbu": 1, "lhu": 2}
STORES = {"sb": 1, "sh": 2, "sw": 4}
BRANCHES = ["beq", "bne", "blt", "bge", "bltu", "bgeu"]
COUNTERS = [Csr.CYCLE, Csr.INSTRET, Csr.CYCLEH, Csr.INSTRETH, Csr.TIME, Csr.MCYCLE, Csr.MINSTRET]


@dataclass(frozen=True)
class RandomProgram:
    words: list
    data: list          # initial contents of the data window (WINDOW_WORDS words at DMEM_BASE)
    end_pc: int         # address of the final ebreak


def _imm12(rng):
    if rng.random() < 0.25:
        return rng.choice([0, 1, -1, 2047, -2048, 4, -4])
    return rng.randint(-2048, 2047)


def _value(rng):
    return rng.choice(EDGES) if rng.random() < 0.3 else rng.getrandbits(32)


def random_program(rng, body_length):
    """A RandomProgram with ``body_length`` random items (an auipc/jalr pair is one item).

    Control transfers target the start of an item 1..8 items ahead (or the final ebreak), so no
    branch can land between an auipc and its jalr.
    """
    p = Program()
    for r in range(1, 31):
        p.li(r, _value(rng))
    p.li(BASE_REG, BASE_VALUE)
    prologue = len(p.words())

    def rd():
        return 0 if rng.random() < 0.04 else rng.randint(1, 30)

    def rs():
        return rng.randint(0, 31)

    kinds = (["alu"] * 22 + ["alu_imm"] * 16 + ["shift_imm"] * 6 + ["lui"] * 3 + ["auipc"] * 3
             + ["load"] * 12 + ["store"] * 10 + ["branch"] * 14 + ["jal"] * 3 + ["jalr"] * 3
             + ["fence"] + ["csr"] * 2)
    items = []      # each: list of (mnemonic, ops); ops may end in ("skip", k) for a forward target
    for _ in range(body_length):
        kind = rng.choice(kinds)
        skip = ("skip", rng.randint(1, 8))
        if kind == "alu":
            item = [(rng.choice(ALU), (rd(), rs(), rs()))]
        elif kind == "alu_imm":
            item = [(rng.choice(ALU_IMM), (rd(), rs(), _imm12(rng)))]
        elif kind == "shift_imm":
            item = [(rng.choice(SHIFT_IMM), (rd(), rs(), rng.choice([0, 31, rng.randint(0, 31)])))]
        elif kind in ("lui", "auipc"):
            item = [(kind, (rd(), rng.choice([0, 0x80000, 0xFFFFF, rng.getrandbits(20)])))]
        elif kind == "load":
            name = rng.choice(list(LOADS))
            item = [(name, (rd(), _imm12(rng) // LOADS[name] * LOADS[name], BASE_REG))]
        elif kind == "store":
            name = rng.choice(list(STORES))
            item = [(name, (rs(), _imm12(rng) // STORES[name] * STORES[name], BASE_REG))]
        elif kind == "branch":
            a = rs()
            b = a if rng.random() < 0.2 else rs()
            item = [(rng.choice(BRANCHES), (a, b, skip))]
        elif kind == "jal":
            item = [("jal", (rd(), skip))]
        elif kind == "jalr":
            # the low bit of the offset is set at random: jalr must clear it
            item = [("auipc", (SCRATCH, 0)),
                    ("jalr", (rng.choice([rd(), SCRATCH]), ("skip", skip[1], rng.randint(0, 1)), SCRATCH))]
        elif kind == "fence":
            item = [(rng.choice(["fence", "fence.i"]), ())]
        else:
            csr = int(rng.choice(COUNTERS))
            if rng.random() < 0.5:
                item = [("csrrs", (rd(), csr, 0))]
            else:
                item = [(rng.choice(["csrrsi", "csrrci"]), (rd(), csr, 0))]
        items.append(item)

    starts = []
    address = 4 * prologue
    for item in items:
        starts.append(address)
        address += 4 * len(item)
    end_pc = address
    starts.append(end_pc)
    for index, item in enumerate(items):
        for mnemonic, ops in item:
            resolved = []
            for op in ops:
                if isinstance(op, tuple) and op[0] == "skip":
                    target = starts[min(index + op[1], len(items))]
                    origin = starts[index]          # the branch/jal itself, or the auipc of a pair
                    resolved.append(target - origin + (op[2] if len(op) > 2 else 0))
                else:
                    resolved.append(op)
            p.emit(mnemonic, *resolved)
    p.ebreak()
    words = p.words()
    assert 4 * (len(words) - 1) == end_pc
    data = [rng.getrandbits(32) if rng.random() < 0.8 else rng.choice(EDGES) for _ in range(WINDOW_WORDS)]
    return RandomProgram(words, data, end_pc)


@dataclass(frozen=True)
class Step:
    pc: int
    regs: tuple         # x0..x31 after the instruction
    writes: tuple       # (byte address, size, value) of its memory writes


class UnicornReference:
    """unicorn as an RV32I instruction-set reference, stepped one instruction at a time."""

    def __init__(self, imem_words, dmem_base, dmem_words, imem_size=0x4000, dmem_size=0x4000):
        from unicorn import UC_ARCH_RISCV, UC_HOOK_MEM_WRITE, UC_MODE_RISCV32, Uc
        from unicorn import riscv_const as rc
        self.rc = rc
        self.uc = uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV32)
        uc.mem_map(0, imem_size)
        uc.mem_map(dmem_base, dmem_size)
        uc.mem_write(0, b"".join(w.to_bytes(4, "little") for w in imem_words))
        uc.mem_write(dmem_base, b"".join(w.to_bytes(4, "little") for w in dmem_words))
        self._writes = []
        uc.hook_add(UC_HOOK_MEM_WRITE,
                    lambda _uc, _access, addr, size, value, _user: self._writes.append((addr, size, value)))
        self._xregs = [rc.UC_RISCV_REG_X0 + i for i in range(32)]

    def regs(self):
        return tuple([0] + [self.uc.reg_read(r) & 0xFFFFFFFF for r in self._xregs[1:]])

    def set_reg(self, index, value):
        if index:
            self.uc.reg_write(self._xregs[index], value)

    def step(self, pc):
        self._writes = []
        self.uc.emu_start(pc, 0xFFFFFFFF, count=1)
        return self.uc.reg_read(self.rc.UC_RISCV_REG_PC) & 0xFFFFFFFF, tuple(self._writes)


def _is_counter_read(insn):
    return (insn & 0x7F) == ((Opcode.SYSTEM << 2) | 3) and (insn >> 12) & 3 != 0


def compare(trace, reference, start_pc, end_pc, context=8):
    """Check ``trace`` (Retired entries) against unicorn from ``start_pc`` up to ``end_pc``.

    Returns (steps, counter_checks); raises AssertionError with the recent history on a mismatch.
    """
    shadow = [0] * 32
    pc = start_pc
    history = []
    counter_checks = 0
    cycle_offset = None
    for index, entry in enumerate(trace):
        if pc == end_pc:
            raise AssertionError(f"the core retired more instructions than unicorn: entry {index} "
                                 f"at 0x{entry.pc:08x} after the end")
        text = disassemble(entry.insn, entry.pc)
        history.append(f"  #{index} cycle {entry.cycle} 0x{entry.pc:08x}: {entry.insn:08x} {text}"
                       f"  rd=x{entry.rd} <- 0x{entry.rd_data:08x}"
                       + (f"  mem[0x{entry.mem_addr:08x}] mask {entry.mem_wmask:04b} "
                          f"data 0x{entry.mem_wdata:08x}" if entry.mem_wmask else ""))
        del history[:-context]

        def fail(message, index=index):
            raise AssertionError(f"retired instruction #{index} differs: {message}\nlast retired:\n"
                                 + "\n".join(history))

        if entry.pc != pc:
            fail(f"pc 0x{entry.pc:08x}, unicorn expects 0x{pc:08x}")
        if entry.rd:
            shadow[entry.rd] = entry.rd_data
        if not _is_counter_read(entry.insn):
            next_pc, writes = reference.step(pc)
        else:
            # unicorn's counters are not the core's (and it has no ``time``): step over the read in
            # unicorn, give it the core's value and check that value against the trace itself
            next_pc, writes = pc + 4, ()
            csr = entry.insn >> 20
            value = entry.rd_data
            if entry.rd:
                if csr in (Csr.INSTRET, Csr.MINSTRET):
                    if value != index:
                        fail(f"instret read {value}, {index} instructions retired before it")
                elif csr in (Csr.CYCLE, Csr.MCYCLE, Csr.TIME):
                    offset = value - entry.cycle
                    cycle_offset = offset if cycle_offset is None else cycle_offset
                    if offset != cycle_offset:
                        fail(f"cycle read {value} at trace cycle {entry.cycle}: offset {offset}, "
                             f"earlier reads had {cycle_offset}")
                elif value != 0:
                    fail(f"high counter half 0x{value:08x}, expected 0 this early")
                counter_checks += 1
            reference.set_reg((entry.insn >> 7) & 31, value)
        expected = reference.regs()
        if tuple(shadow) != expected:
            diffs = ", ".join(f"x{i}: core 0x{shadow[i]:08x} unicorn 0x{expected[i]:08x}"
                              for i in range(32) if shadow[i] != expected[i])
            fail(f"registers differ after it: {diffs}")
        if writes:
            (addr, size, value), = writes
            mask = ((1 << size) - 1) << (addr & 3)
            data = (value << 8 * (addr & 3)) & 0xFFFFFFFF
            lanes = sum(0xFF << 8 * k for k in range(4) if mask >> k & 1)
            if (entry.mem_wmask != mask or entry.mem_addr & ~3 != addr & ~3
                    or entry.mem_wdata & lanes != data & lanes):
                fail(f"store: core mem[0x{entry.mem_addr:08x}] mask {entry.mem_wmask:04b} "
                     f"data 0x{entry.mem_wdata:08x}; unicorn writes {size} bytes 0x{value:x} at 0x{addr:08x}")
        elif entry.mem_wmask:
            fail(f"core wrote memory (mask {entry.mem_wmask:04b}), unicorn did not")
        pc = next_pc
    if pc != end_pc:
        raise AssertionError(f"the core stopped after {len(trace)} instructions at 0x{pc:08x}, "
                             f"before the end 0x{end_pc:08x}")
    return len(trace), counter_checks


def classify(insn, taken):
    """Instruction class for the CPI table (``taken``: a branch whose condition held)."""
    opcode = (insn >> 2) & 0x1F
    names = {Opcode.OP: "alu reg-reg", Opcode.OP_IMM: "alu reg-imm", Opcode.LUI: "lui/auipc",
             Opcode.AUIPC: "lui/auipc", Opcode.LOAD: "load", Opcode.STORE: "store", Opcode.JAL: "jal",
             Opcode.JALR: "jalr", Opcode.MISC_MEM: "fence", Opcode.SYSTEM: "csr read",
             Opcode.CUSTOM0: "custom-0 (CFU)"}
    if opcode == Opcode.BRANCH:
        return "branch taken" if taken else "branch not taken"
    return names.get(opcode, "other")


def _signed(value):
    return value - (1 << 32) if value & 0x80000000 else value


def branch_taken(insn, regs):
    a, b = regs[(insn >> 15) & 31], regs[(insn >> 20) & 31]
    funct3 = (insn >> 12) & 7
    return {0: a == b, 1: a != b, 4: _signed(a) < _signed(b), 5: _signed(a) >= _signed(b),
            6: a < b, 7: a >= b}[funct3]


def instruction_cycles(trace, redirect_refetch=True):
    """[(entry, cycles, taken)] for the entries of one trace that have a predecessor and a successor.

    An instruction's cycles run from the retire of the one before it to its own retire, except that
    (``redirect_refetch``, the multi-cycle core) the refetch after a taken branch, jal or jalr is
    charged to that instruction, not to its target. Branch conditions are evaluated on a register
    file replayed from the trace (the programs set every register they branch on before).
    """
    regs = [0] * 32
    redirect = []
    taken = []
    for entry in trace:
        opcode = (entry.insn >> 2) & 0x1F
        is_taken = opcode == Opcode.BRANCH and branch_taken(entry.insn, regs)
        taken.append(is_taken)
        redirect.append(is_taken or opcode in (Opcode.JAL, Opcode.JALR))
        if entry.rd:
            regs[entry.rd] = entry.rd_data
    cycles = [None] + [b.cycle - a.cycle for a, b in zip(trace, trace[1:], strict=False)]
    for i in range(1, len(trace) - 1):
        if redirect[i] and redirect_refetch:
            cycles[i] += 1
            cycles[i + 1] -= 1
    return [(trace[i], cycles[i], taken[i]) for i in range(1, len(trace) - 1)]


def cpi_table(traces, redirect_refetch=True):
    """{class: {"count", "cycles", "cpi", "min", "max"}} over retire traces (lists of Retired)."""
    table = {}
    for trace in traces:
        for entry, cycles, taken in instruction_cycles(trace, redirect_refetch):
            cls = classify(entry.insn, taken)
            row = table.setdefault(cls, {"count": 0, "cycles": 0, "min": cycles, "max": cycles})
            row["count"] += 1
            row["cycles"] += cycles
            row["min"] = min(row["min"], cycles)
            row["max"] = max(row["max"], cycles)
    for row in table.values():
        row["cpi"] = round(row["cycles"] / row["count"], 3)
    return dict(sorted(table.items()))


def check_serial_cycles(trace):
    """Every instruction of ``trace`` (but the first) took exactly ``serial_cycles`` of its word and
    operands on SerialCore (retire to retire); operands come from a register file replayed from
    the trace. Returns the number of instructions checked."""
    from hw.cpu.serial_core import serial_cycles
    regs = [0] * 32
    checked = 0
    for before, entry in zip(trace, trace[1:], strict=False):
        if before.rd:
            regs[before.rd] = before.rd_data
        insn = entry.insn
        rs1, rs2 = regs[(insn >> 15) & 31], regs[(insn >> 20) & 31]
        taken = (insn >> 2) & 0x1F == Opcode.BRANCH and branch_taken(insn, regs)
        want = serial_cycles(insn, rs1, rs2, taken)
        got = entry.cycle - before.cycle
        if (insn & 0x7F) != ((Opcode.CUSTOM0 << 2) | 3) and got != want:
            raise AssertionError(f"0x{entry.pc:08x} {disassemble(insn, entry.pc)} (rs1 0x{rs1:08x}, "
                                 f"rs2 0x{rs2:08x}): {got} cycles, serial_cycles says {want}")
        checked += 1
    return checked


def run_unicorn(imem_words, dmem_words, dmem_base=DMEM_BASE, io_base=0x2000_0000, max_steps=1_000_000):
    """Run a whole program on unicorn until it writes FINISH (io_base + 4): (finish code, text, steps).

    Used to check the self-checking test programs themselves against an independent ISA model.
    """
    from unicorn import UC_ARCH_RISCV, UC_HOOK_CODE, UC_HOOK_MEM_WRITE, UC_MODE_RISCV32, Uc
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV32)
    uc.mem_map(0, 0x4000)
    uc.mem_map(dmem_base, 0x4000)
    uc.mem_map(io_base, 0x1000)
    uc.mem_write(0, b"".join(w.to_bytes(4, "little") for w in imem_words))
    uc.mem_write(dmem_base, b"".join(w.to_bytes(4, "little") for w in dmem_words))
    state = {"finish": None, "text": [], "steps": 0}

    def on_write(uc_, _access, addr, _size, value, _user):
        if addr == io_base:
            state["text"].append(chr(value & 0xFF))
        elif addr == io_base + 4:
            state["finish"] = value & 0xFFFFFFFF
            uc_.emu_stop()

    def on_code(_uc, _addr, _size, _user):
        state["steps"] += 1

    uc.hook_add(UC_HOOK_MEM_WRITE, on_write)
    uc.hook_add(UC_HOOK_CODE, on_code)
    uc.emu_start(0, 0xFFFFFFFF, count=max_steps)
    return state["finish"], "".join(state["text"]), state["steps"]

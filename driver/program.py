"""The CPU's side of the command port: a layer -> the exact custom-0 instruction stream that loads,
runs and reads it, and the checks a firmware makes on every response.

``program_for_layer(config, layer)`` splits the layer into passes when it does not fit
(driver/passes.py), plans each pass (driver/conv_layer.plan_conv) and emits, per pass:

    REG_WRITE x (layer registers that changed)          rd = 0 expected
    SET_ADDR 0, WRITE_<space> x words                   for each memory image that changed
    START                                               rd = 0 expected (else the engine's error code)
    WAIT                                                status word: done, no error
    PERF CYCLES, PERF MAC_CYCLES                        (counters=True) compute cycles of the pass
    SET_ADDR 0, READ_ACT_OUT x words                    the pass's output
and once at the end STATUS (no command failed).

Every instruction is a real 32-bit RISC-V R-type word (opcode custom-0 = 0x0B, ``funct7[31:25]
rs2[24:20] rs1[19:15] funct3[14:12] rd[11:7]``) with the values its source registers hold when it
executes (``setup``: what ``li`` put there). Registers: rs1 = a0 (x10), rs2 = a1 (x11), rd = a2 (x12);
an operand that is absent or 0 is read from x0. The command table is spec/registers.py.
"""

from collections import Counter as _Counter
from dataclasses import dataclass, field

from spec.config import AcceleratorConfig
from spec.registers import (
    COMMAND,
    COMMAND_BY_ID,
    COUNTER,
    ERRORS,
    OPCODE_CUSTOM0,
    REG,
    Space,
    StatusWord,
    function_id,
    register_limit,
)

from .conv_layer import ConvLayer
from .passes import LayerPlan, split_layer

__all__ = ["encode", "decode", "Instruction", "Program", "CommandError", "program_for_layer",
           "program_stats", "command_overhead", "REG_RS1", "REG_RS2", "REG_RD", "ABI_NAMES"]

REG_RS1, REG_RS2, REG_RD = 10, 11, 12        # a0, a1, a2
ABI_NAMES = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
             "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
             "t5", "t6"]


def encode(funct7, funct3, rd, rs1, rs2, opcode=OPCODE_CUSTOM0):
    """R-type instruction word: funct7[31:25] rs2[24:20] rs1[19:15] funct3[14:12] rd[11:7] opcode."""
    for name, value, bits in (("funct7", funct7, 7), ("funct3", funct3, 3), ("rd", rd, 5), ("rs1", rs1, 5),
                              ("rs2", rs2, 5), ("opcode", opcode, 7)):
        if not 0 <= value < (1 << bits):
            raise ValueError(f"{name} = {value!r} does not fit in {bits} bits")
    return (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode


def decode(word):
    """Fields of an R-type word (what a core's decoder extracts)."""
    return {"opcode": word & 0x7F, "rd": (word >> 7) & 0x1F, "funct3": (word >> 12) & 0x7,
            "rs1": (word >> 15) & 0x1F, "rs2": (word >> 20) & 0x1F, "funct7": (word >> 25) & 0x7F}


@dataclass(frozen=True)
class Instruction:
    """One custom-0 instruction, the register values it reads, and what its response means.

    check: "ok" (rd must be 0), "data" (a value), "done" (status: done, no error, not busy),
    "clean" (status: no command failed). tag: ("out", pass, word) / ("cycles", pass) /
    ("mac_cycles", pass) / ().
    """
    word: int
    setup: tuple = ()           # ((register, value), ...) loaded before the instruction
    check: str = "ok"
    tag: tuple = ()

    @property
    def fields(self):
        return decode(self.word)

    @property
    def command(self):
        f = self.fields
        return COMMAND_BY_ID.get(function_id(f["funct7"], f["funct3"]))

    def value(self, register):
        return dict(self.setup).get(register, 0) if register else 0

    def asm(self):
        f = self.fields
        lines = [f"li {ABI_NAMES[r]}, {v:#x}" for r, v in self.setup]
        name = self.command.name if self.command else "?"
        lines.append(f".insn r 0x0b, {f['funct3']}, {f['funct7']}, {ABI_NAMES[f['rd']]}, "
                     f"{ABI_NAMES[f['rs1']]}, {ABI_NAMES[f['rs2']]}   # {self.word:#010x} {name}")
        return "\n".join(lines)


def instruction(name, rs1=None, rs2=None, check=None, tag=()):
    """The instruction for command ``name`` with operand values rs1 / rs2 (None: no operand)."""
    cmd = COMMAND[name]
    setup = []
    r1 = r2 = 0
    # A zero operand is read from x0, as a compiler would; anything else is loaded by `li`.
    if rs1 is not None and int(rs1) & 0xFFFFFFFF:
        r1 = REG_RS1
        setup.append((REG_RS1, int(rs1) & 0xFFFFFFFF))
    if rs2 is not None and int(rs2) & 0xFFFFFFFF:
        r2 = REG_RS2
        setup.append((REG_RS2, int(rs2) & 0xFFFFFFFF))
    if check is None:
        check = {"result": "ok", "data": "data", "status": "clean"}[cmd.response]
    return Instruction(encode(cmd.funct7, cmd.funct3, REG_RD, r1, r2), tuple(setup), check, tag)


class CommandError(RuntimeError):
    """A response that a firmware would treat as a failure."""

    def __init__(self, index, insn, response, message):
        self.index = index
        self.instruction = insn
        self.response = response
        super().__init__(f"instruction {index} ({insn.command.name if insn.command else hex(insn.word)}): "
                         f"{message}")


def check_response(insn, rd):
    """None if ``rd`` is what ``insn`` expects, else a message."""
    if insn.check == "ok":
        if rd != 0:
            return f"answered error {rd} ({ERRORS.get(rd, ('?',))[0]})"
    elif insn.check in ("done", "clean"):
        st = StatusWord(rd)
        if st.cmd_error or st.error or st.busy or (insn.check == "done" and not st.done):
            return f"status {st}"
    return None


@dataclass
class Program:
    """The instruction stream of one layer, and how to turn its responses into the output."""
    config: AcceleratorConfig
    plan: LayerPlan
    instructions: list = field(default_factory=list)

    def __len__(self):
        return len(self.instructions)

    def check(self, responses):
        """Raise CommandError at the first response a firmware would reject."""
        for i, (insn, rd) in enumerate(zip(self.instructions, responses, strict=True)):
            msg = check_response(insn, rd)
            if msg:
                raise CommandError(i, insn, rd, msg)

    def collect(self, responses):
        """Check every response, then return (output int8 array, per-pass counters)."""
        self.check(responses)
        words = [dict() for _ in self.plan.passes]
        counters = [dict() for _ in self.plan.passes]
        for insn, rd in zip(self.instructions, responses, strict=True):
            if insn.tag and insn.tag[0] == "out":
                words[insn.tag[1]][insn.tag[2]] = rd
            elif insn.tag:
                counters[insn.tag[1]][insn.tag[0]] = rd
        outs = []
        for p, w in zip(self.plan.passes, words, strict=True):
            outs.append(p.program.unpack_output([w[i] for i in range(p.program.out_words())]))
        return self.plan.assemble(outs), counters

    def listing(self):
        """The program as RISC-V assembly (one ``.insn`` per command, ``li`` for its operands)."""
        return "\n".join(insn.asm() for insn in self.instructions) + "\n"

    def stats(self):
        return program_stats(self)


def _pass_images(p):
    images = {}
    for space, addr, value in p.program.memory_writes():
        images.setdefault(space, []).append((addr, value))
    out = {}
    for space, items in images.items():
        items.sort()
        assert [a for a, _ in items] == list(range(len(items))), "memory images must be contiguous"
        out[space] = tuple(v for _, v in items)
    return out


def program_for_layer(config: AcceleratorConfig, layer: ConvLayer, counters=True, known_state=None):
    """The instruction stream that runs ``layer`` (split into passes as needed) on ``config``.

    ``known_state``: a dict from a previous program_for_layer on the same engine (memory images and
    register values it left behind) to skip reloading what is already there; it is updated.
    Raises ValueError for a layer the accelerator cannot run, before any instruction exists.
    """
    plan = split_layer(config, layer)
    prog = Program(config=config, plan=plan)
    emit = prog.instructions.append
    state = known_state if known_state is not None else {}
    regs_known = state.setdefault("registers", {})
    mems_known = state.setdefault("memories", {})
    for index, p in enumerate(plan.passes):
        for name, value in p.program.registers.items():
            value = int(value)
            if not 0 <= value <= register_limit(config, name):
                raise ValueError(f"register {name} = {value} is beyond its limit "
                                 f"{register_limit(config, name)} (driver bug)")
            if regs_known.get(name) != value:
                emit(instruction("REG_WRITE", REG[name], value))
                regs_known[name] = value
        for space, image in _pass_images(p).items():
            if mems_known.get(space) == image:
                continue
            emit(instruction("SET_ADDR", 0))
            name = f"WRITE_{Space.NAMES[space]}"
            for value in image:
                emit(instruction(name, value))
            mems_known[space] = image
        emit(instruction("START"))
        emit(instruction("WAIT", check="done"))
        if counters:
            emit(instruction("PERF", COUNTER["CYCLES"], tag=("cycles", index)))
            emit(instruction("PERF", COUNTER["MAC_CYCLES"], tag=("mac_cycles", index)))
        emit(instruction("SET_ADDR", 0))
        for w in range(p.program.out_words()):
            emit(instruction("READ_ACT_OUT", tag=("out", index, w)))
    emit(instruction("STATUS", check="clean"))
    return prog


def program_stats(program: Program):
    """Static numbers of a program: instructions (per command), the port cycles it occupies when
    the CPU takes every response at once (not counting WAIT's wait for the layer), words moved."""
    by_name = _Counter(insn.command.name for insn in program.instructions)
    port_cycles = sum(insn.command.cycles for insn in program.instructions)
    writes = sum(n for name, n in by_name.items() if name.startswith("WRITE_"))
    reads = sum(n for name, n in by_name.items() if name.startswith("READ_"))
    return {"instructions": len(program.instructions), "port_cycles": port_cycles,
            "passes": len(program.plan.passes), "words_written": writes, "words_read": reads,
            "li": sum(len(insn.setup) for insn in program.instructions),
            "by_command": dict(sorted(by_name.items()))}


def command_overhead(config: AcceleratorConfig, layer: ConvLayer, counters=False):
    """Command-port overhead of one layer, for the benchmark (pure Python, no simulation):

    instructions, port_cycles (CPU always ready; WAIT counted without the layer's run time), passes,
    words_written / words_read, and compute_cycles = the engine's CYCLES summed over the passes
    (spec.cycle_model, exact), mac_cycles, and the ratios port_cycles / compute_cycles.
    """
    from spec.cycle_model import conv_engine_cycles

    prog = program_for_layer(config, layer, counters=counters)
    stats = program_stats(prog)
    compute = mac = 0
    for p in prog.plan.passes:
        r = p.program.registers
        model = conv_engine_cycles(config, r["H"], r["W"], r["C"], r["M"], r["R"], r["S"], r["U"],
                                   r["PAD_TOP"], r["E"], r["F"], r["CG"], r["POOL"])
        compute += model.cycles
        mac += model.mac_cycles
    stats.update(compute_cycles=compute, mac_cycles=mac,
                 port_per_compute=stats["port_cycles"] / compute if compute else float("inf"),
                 total_cycles=stats["port_cycles"] + compute)
    return stats


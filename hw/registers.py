"""The accelerator's host-visible map, defined once: address spaces, layer registers, error codes,
the CPU command port's commands (RISC-V custom-0 function ids), the status word and the counters.

Everything that needs one of these numbers reads it from here:
  * hw/conv_engine.py  (host-bus decoder: spaces, register indices, engine error codes)
  * hw/cfu.py          (command decoder: function ids, register ranges, space depths, status word)
  * driver/            (instruction words, register values, memory images)
  * driver/c_header.py (the generated C header and the Markdown command table)
  * tb/                (the CPU bus-functional model and the checks)

Host bus (32-bit words, inside the accelerator): ``space`` selects a memory or the register file,
``addr`` a word in it. Reads return data one cycle after ``re``.

Command port (the CFU port of CFU Playground / NEORV32 Zxcfu): one custom-0 R-type instruction
``funct7[31:25] rs2[24:20] rs1[19:15] funct3[14:12] rd[11:7] opcode[6:0] = 0001011`` is one command;
``function_id = {funct7, funct3}`` (10 bits), ``inputs_0 = rs1``, ``inputs_1 = rs2``,
``outputs_0 -> rd``. Every command gets exactly one response; see ``COMMANDS``.
"""

from dataclasses import dataclass

__all__ = [
    "Space", "SPACES", "space_depth", "Register", "REGISTERS", "REG", "register_limit",
    "STATUS_BITS", "ERRORS", "ERROR_CODE", "Command", "COMMANDS", "COMMAND", "function_id",
    "OPCODE_CUSTOM0", "Counter", "COUNTERS", "COUNTER", "StatusWord", "STATUS_FIELDS",
    "RESULT_OK", "COMMAND_BY_ID", "SpaceInfo", "StatusField", "POOL_NONE", "POOL_MAX", "POOL_AVG",
]


class Space:
    """Address spaces of the host bus (value of ``host_space``, and ``funct7`` of WRITE/READ)."""
    REGS = 0      # layer registers, control/status, performance counters
    ACT_IN = 1    # input activations, NHWC int8, 4 per word (byte k at bits 8k..8k+7)
    WEIGHTS = 2   # weights: word w*(cols/4) + k holds weights 4k..4k+3 of weight row w
    BIAS = 3      # per output channel int32 bias (with -input_zp * sum(W) folded in)
    MULT = 4      # per output channel quantized multiplier (31 bits)
    SHIFT = 5     # per output channel shift, signed, in bits 5:0
    ACT_OUT = 6   # output activations, NHWC int8, 4 per word (read only)

    NAMES = {0: "REGS", 1: "ACT_IN", 2: "WEIGHTS", 3: "BIAS", 4: "MULT", 5: "SHIFT", 6: "ACT_OUT"}


@dataclass(frozen=True)
class SpaceInfo:
    name: str
    index: int
    access: str          # "w" written by the host, "r" read by the host
    depth: tuple         # (config attribute, divisor, multiplier attribute): depth in 32-bit words
    description: str
    requant: bool = False  # exists only with the engine's requantizer (not config.raw_output = 1)


SPACES = [
    SpaceInfo("ACT_IN", Space.ACT_IN, "w", ("act_mem_bytes", 4, None),
              "input activations, NHWC int8, byte k of a word = element 4*addr + k"),
    SpaceInfo("WEIGHTS", Space.WEIGHTS, "w", ("weight_mem_words", 4, "cols"),
              "weight rows of `cols` int8; word w*(cols/4)+k = weights 4k..4k+3 of row w"),
    SpaceInfo("BIAS", Space.BIAS, "w", ("max_channels", 1, None),
              "int32 bias per output channel, -input_zp*sum(W) folded in", requant=True),
    SpaceInfo("MULT", Space.MULT, "w", ("max_channels", 1, None),
              "quantized multiplier per output channel (0 or [2^30, 2^31-1])", requant=True),
    SpaceInfo("SHIFT", Space.SHIFT, "w", ("max_channels", 1, None),
              "shift per output channel, signed 6 bits [-31, 30]", requant=True),
    SpaceInfo("ACT_OUT", Space.ACT_OUT, "r", ("out_mem_bytes", 4, None),
              "output activations, NHWC int8 (after pooling), 4 per word; with output = Output.RAW "
              "one int32 raw accumulator per element, word (e*F + f)*M + m"),
]


def space_depth(config, space):
    """Depth in 32-bit words of address space ``space`` (an index or name) for ``config``.

    0 for BIAS, MULT and SHIFT without the engine's requantizer (``output = Output.RAW``): the host
    requantises, so every WRITE there is refused (BAD_ADDRESS) instead of silently dropped."""
    info = next(s for s in SPACES if space in (s.index, s.name))
    if info.requant and config.raw_output:
        return 0
    attr, divisor, times = info.depth
    value = getattr(config, attr) * (getattr(config, times) if times else 1)
    return value // divisor


@dataclass(frozen=True)
class Register:
    name: str
    index: int
    access: str        # "rw" layer register, "w" command, "r" status / counter
    description: str
    limit: tuple = ()  # "rw": (config attribute or int, offset) -> the largest value REG_WRITE accepts


REGISTERS = [
    Register("CTRL", 0, "w", "write 1: start the layer in the registers below (host bus only; "
                             "the command port uses START)"),
    Register("STATUS", 1, "r", "bit 0 busy, bit 1 done, bits 15:8 error code (ERRORS)"),
    Register("H", 2, "rw", "input height", ("max_size", 0)),
    Register("W", 3, "rw", "input width", ("max_size", 0)),
    Register("C", 4, "rw", "input channels", ("max_channels", 0)),
    Register("M", 5, "rw", "output channels (filters)", ("max_channels", 0)),
    Register("R", 6, "rw", "filter height", ("max_kernel", 0)),
    Register("S", 7, "rw", "filter width", ("max_kernel", 0)),
    Register("U", 8, "rw", "stride (both directions)", ("max_stride", 0)),
    Register("PAD_TOP", 9, "rw", "zero-point rows above the input", ("max_kernel", -1)),
    Register("PAD_LEFT", 10, "rw", "zero-point columns left of the input", ("max_kernel", -1)),
    Register("E", 11, "rw", "output height", ("max_size", 0)),
    Register("F", 12, "rw", "output width", ("max_size", 0)),
    Register("CG", 13, "rw", "input channels per output channel group (C, or fewer for depthwise)",
             ("max_channels", 0)),
    Register("C_STEP", 14, "rw", "first input channel step between output channel groups (0 for conv)",
             ("max_channels", 0)),
    Register("INPUT_ZP", 15, "rw", "input zero point (int8 as its byte 0..255), the padding value", (255, 0)),
    Register("OUTPUT_ZP", 16, "rw", "output zero point (int8 as its byte 0..255); with output = Output.RAW "
                                   "accepted and ignored (reads 0)", (255, 0)),
    Register("ACT_MIN", 17, "rw", "activation clamp minimum (int8 as its byte 0..255); ignored like "
                                 "OUTPUT_ZP with output = Output.RAW", (255, 0)),
    Register("ACT_MAX", 18, "rw", "activation clamp maximum (int8 as its byte 0..255); ignored like "
                                 "OUTPUT_ZP with output = Output.RAW", (255, 0)),
    Register("POOL", 19, "rw", "0 none, 1 max 2x2/2, 2 average 2x2/2; must be 0 with output = Output.RAW "
                              "(START answers POOL_UNSUPPORTED)", (2, 0)),
    Register("CYCLES", 20, "r", "cycles from start to done of the last layer"),
    Register("MAC_CYCLES", 21, "r", "cycles in which the tile accepted a beat (rows*cols MACs); "
                                    "0 with perf_counters = False"),
    Register("STALL_CYCLES", 22, "r", "cycles in which the sequencer had no beat for the tile; "
                                      "0 with perf_counters = False"),
]

REG = {r.name: r.index for r in REGISTERS}

# Values of the POOL register: no pooling, 2x2/2 max pooling, 2x2/2 average pooling.
POOL_NONE, POOL_MAX, POOL_AVG = 0, 1, 2


def register_limit(config, register):
    """Largest value REG_WRITE accepts for a layer register (by name or Register) under ``config``."""
    reg = register if isinstance(register, Register) else REGISTERS[REG[register]]
    base, offset = reg.limit
    return (getattr(config, base) if isinstance(base, str) else base) + offset


STATUS_BITS = {"busy": 0, "done": 1}

# Error codes. 1..15: the layer (reported by the engine at START or when it stops);
# 16..: the command port (the failing command answers the code, and STATUS shows it once).
ERRORS = {
    0: ("OK", "no error"),
    1: ("BAD_SHAPE", "a layer register is zero or above the generator maximum (at START)"),
    2: ("LINE_BUFFER_SPAN", "a block of output pixels needs more input rows than the line buffer holds"),
    3: ("ROW_TOO_WIDE", "W * C exceeds the line buffer line (at START)"),
    4: ("BUSY", "START, a register or a memory write while a layer is running"),
    5: ("POOL_UNSUPPORTED", "POOL != 0 without the engine's output stage (output = Output.RAW: the "
                            "host pools; at START)"),
    6: ("OUTPUT_TOO_BIG", "E * F * M raw output words exceed out_mem_bytes / 4 (output = Output.RAW; "
                          "reported when the layer stops, nothing beyond the memory is written)"),
    16: ("UNKNOWN_FUNCTION", "the function id {funct7, funct3} is not in the command table"),
    17: ("BAD_REGISTER", "register or counter index unknown, or not writable / readable"),
    18: ("BAD_VALUE", "REG_WRITE value above the register's limit (register unchanged)"),
    19: ("BAD_ADDRESS", "word address beyond the address space (nothing written or read)"),
    20: ("NOT_DONE", "output read while a layer runs or before a layer has completed"),
}
ERROR_CODE = {name: code for code, (name, _) in ERRORS.items()}

RESULT_OK = 0


# ---- the status word (STATUS and WAIT answer it) ------------------------------------------------
@dataclass(frozen=True)
class StatusField:
    name: str
    lsb: int
    width: int
    description: str


STATUS_FIELDS = [
    StatusField("BUSY", 0, 1, "a layer is running"),
    StatusField("DONE", 1, 1, "the last started layer has finished (successfully or with an error)"),
    StatusField("CMD_ERROR", 2, 1, "a command failed since the last STATUS/WAIT (cleared by reading)"),
    StatusField("ERROR", 8, 8, "error code: the layer's if it failed, else the first failed command's"),
    StatusField("CYCLES", 16, 16, "cycles of the last layer, saturating at 65535 (PERF CYCLES: all 32 bits)"),
]


class StatusWord:
    """Decode a status word (STATUS / WAIT response)."""

    def __init__(self, word):
        self.word = word
        for f in STATUS_FIELDS:
            setattr(self, f.name.lower(), (word >> f.lsb) & ((1 << f.width) - 1))

    @property
    def error_name(self):
        return ERRORS.get(self.error, ("UNKNOWN",))[0]

    def __repr__(self):
        return (f"StatusWord(busy={self.busy}, done={self.done}, cmd_error={self.cmd_error}, "
                f"error={self.error_name}, cycles={self.cycles})")


# ---- performance counters (PERF rs1 = index) -------------------------------------------------------
@dataclass(frozen=True)
class Counter:
    name: str
    index: int
    description: str
    register: str = None     # engine register it reads (else a counter of the command port)


COUNTERS = [
    Counter("CYCLES", 0, "engine: cycles from START to done of the last layer", "CYCLES"),
    Counter("MAC_CYCLES", 1, "engine: cycles in which the tile accepted a beat", "MAC_CYCLES"),
    Counter("STALL_CYCLES", 2, "engine: cycles of the last layer without a beat", "STALL_CYCLES"),
    Counter("COMMANDS", 3, "port: commands accepted"),
    Counter("PORT_CYCLES", 4, "port: cycles from accepting a command to its response handshake, summed"),
    Counter("WAIT_CYCLES", 5, "port: cycles WAIT held its response because the layer was running"),
    Counter("RSP_STALL_CYCLES", 6, "port: cycles a response waited for rsp_ready"),
]
COUNTER = {c.name: c.index for c in COUNTERS}


# ---- the command port --------------------------------------------------------------------------
OPCODE_CUSTOM0 = 0b0001011


def function_id(funct7, funct3):
    """The CFU port's 10-bit function id {funct7, funct3}."""
    return (funct7 << 3) | funct3


@dataclass(frozen=True)
class Command:
    """One command of the CPU port = one function id.

    ``cycles``: port cycles from accepting the command to its response handshake when the CPU takes
    the response at once (WAIT: plus the cycles the layer still runs); the port accepts the next
    command in the cycle after the handshake.
    ``response``: "result" (0 = OK, else an error code), "data" (the value; on failure the error
    code, and STATUS reports CMD_ERROR) or "status" (a status word, STATUS_FIELDS).
    """
    name: str
    funct3: int
    funct7: int
    rs1: str
    rs2: str
    response: str
    cycles: int
    description: str

    @property
    def function_id(self):
        return function_id(self.funct7, self.funct3)


def _space_commands():
    cmds = []
    for s in SPACES:
        if s.access == "w":
            cmds.append(Command(f"WRITE_{s.name}", 3, s.index, "data word", "-", "result", 2,
                                f"write the word at the address pointer into {s.name}, then "
                                f"pointer += 1 ({s.description})"))
    for s in SPACES:
        if s.access == "r":
            cmds.append(Command(f"READ_{s.name}", 4, s.index, "-", "-", "data", 3,
                                f"read the word of {s.name} at the address pointer, then pointer += 1 "
                                f"(only when the layer is done: else NOT_DONE)"))
    return cmds


COMMANDS = [
    Command("REG_WRITE", 0, 0, "register index", "value", "result", 2,
            "write a layer register (access rw); value checked against its limit; not while busy"),
    Command("REG_READ", 1, 0, "register index", "-", "data", 3,
            "read a register (layer, STATUS or engine counter)"),
    Command("SET_ADDR", 2, 0, "word address", "-", "result", 2,
            "set the address pointer used by WRITE_* / READ_* (one pointer for all spaces)"),
    *_space_commands(),
    Command("START", 5, 0, "-", "-", "result", 4,
            "start the layer in the registers; answers the engine's verdict (0 = running)"),
    Command("ABORT", 5, 1, "-", "-", "result", 2,
            "soft reset of the engine: stops a running layer, registers to their reset values "
            "(memories keep their contents)"),
    Command("CLEAR_COUNTERS", 5, 2, "-", "-", "result", 2,
            "zero the port counters (COMMANDS, PORT_CYCLES, WAIT_CYCLES, RSP_STALL_CYCLES); "
            "a port built without them (the iCE40 SoC) answers OK and does nothing"),
    Command("STATUS", 6, 0, "-", "-", "status", 4, "the status word, at once"),
    Command("WAIT", 6, 1, "-", "-", "status", 5,
            "the status word once no layer is running (answers at once when idle: never hangs)"),
    Command("PERF", 7, 0, "counter index", "-", "data", 3,
            "read a performance counter (COUNTERS); a port counter answers in 2 cycles, and reads 0 on a "
            "port built without them (the iCE40 SoC)"),
]
COMMAND = {c.name: c for c in COMMANDS}
COMMAND_BY_ID = {c.function_id: c for c in COMMANDS}

assert len(COMMAND_BY_ID) == len(COMMANDS), "two commands share a function id"

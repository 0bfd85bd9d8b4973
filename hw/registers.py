"""The conv engine's host-visible map: address spaces and layer registers, defined once.

The hardware decoder (hw/conv_engine.py), the Python driver and the documentation all read this
table; nothing else lists register indices.

Host bus (32-bit words): ``space`` selects a memory or the register file, ``addr`` a word in it.
Reads return data one cycle after ``re``.
"""

from dataclasses import dataclass

__all__ = ["Space", "Register", "REGISTERS", "REG", "ERRORS", "STATUS_BITS"]


class Space:
    """Address spaces of the host bus (value of ``host_space``)."""
    REGS = 0      # layer registers, control/status, performance counters
    ACT_IN = 1    # input activations, NHWC int8, 4 per word (byte k at bits 8k..8k+7)
    WEIGHTS = 2   # weights: word w*(cols/4) + k holds weights 4k..4k+3 of weight row w
    BIAS = 3      # per output channel int32 bias (with -input_zp * sum(W) folded in)
    MULT = 4      # per output channel quantized multiplier (31 bits)
    SHIFT = 5     # per output channel shift, signed, in bits 5:0
    ACT_OUT = 6   # output activations, NHWC int8, 4 per word (read only)

    NAMES = {0: "REGS", 1: "ACT_IN", 2: "WEIGHTS", 3: "BIAS", 4: "MULT", 5: "SHIFT", 6: "ACT_OUT"}


@dataclass(frozen=True)
class Register:
    name: str
    index: int
    access: str        # "rw" layer register, "w" command, "r" status / counter
    description: str


REGISTERS = [
    Register("CTRL", 0, "w", "write 1: start the layer in the registers below"),
    Register("STATUS", 1, "r", "bit 0 busy, bit 1 done, bits 15:8 error code (ERRORS)"),
    Register("H", 2, "rw", "input height"),
    Register("W", 3, "rw", "input width"),
    Register("C", 4, "rw", "input channels"),
    Register("M", 5, "rw", "output channels (filters)"),
    Register("R", 6, "rw", "filter height"),
    Register("S", 7, "rw", "filter width"),
    Register("U", 8, "rw", "stride (both directions)"),
    Register("PAD_TOP", 9, "rw", "zero-point rows above the input"),
    Register("PAD_LEFT", 10, "rw", "zero-point columns left of the input"),
    Register("E", 11, "rw", "output height"),
    Register("F", 12, "rw", "output width"),
    Register("CG", 13, "rw", "input channels per output channel group (C, or fewer for depthwise)"),
    Register("C_STEP", 14, "rw", "first input channel step between output channel groups (0 for conv)"),
    Register("INPUT_ZP", 15, "rw", "input zero point (int8), the padding value"),
    Register("OUTPUT_ZP", 16, "rw", "output zero point (int8)"),
    Register("ACT_MIN", 17, "rw", "activation clamp minimum (int8)"),
    Register("ACT_MAX", 18, "rw", "activation clamp maximum (int8)"),
    Register("POOL", 19, "rw", "0 none, 1 max 2x2/2, 2 average 2x2/2"),
    Register("CYCLES", 20, "r", "cycles from start to done of the last layer"),
    Register("MAC_CYCLES", 21, "r", "cycles in which the tile accepted a beat (rows*cols MACs)"),
    Register("STALL_CYCLES", 22, "r", "cycles in which the sequencer had no beat for the tile"),
]

REG = {r.name: r.index for r in REGISTERS}

STATUS_BITS = {"busy": 0, "done": 1}

ERRORS = {
    0: ("OK", "no error"),
    1: ("BAD_SHAPE", "a layer register is zero or above the generator maximum"),
    2: ("LINE_BUFFER_SPAN", "a block of output pixels needs more input rows than the line buffer holds"),
    3: ("ROW_TOO_WIDE", "W * C exceeds the line buffer line"),
    4: ("BUSY", "start while a layer is running"),
}
ERROR_CODE = {name: code for code, (name, _) in ERRORS.items()}

"""Configuration: the objects that say what gets built, validated on construction.

* :class:`AcceleratorConfig`: the accelerator's architecture (tile geometry, operand widths, layer
  limits, memory sizes) and its variants (:class:`Sequencer`, :class:`Output`, and three bools).
* :class:`Implementation`: how the engine is mapped onto an FPGA family (primitives, SPRAM
  placement, extra register stages), without changing what it computes.
* :class:`CoreConfig`: the SoC's RV32I core.
* :class:`SocConfig`: one whole build, the three above plus the SoC's memories and UART.
  :data:`SIM_SOC` is the SoC that the simulations, compiler, bench and demo run.

A bad value fails with a message naming the parameter, its value and the allowed range before any
gateware is built.
"""

import enum
import hashlib
from dataclasses import asdict, dataclass, field

__all__ = ["AcceleratorConfig", "Sequencer", "Output", "Primitives", "Implementation", "CoreKind",
           "CoreConfig", "SocConfig", "SIM_SOC", "SPRAM_SAFE_MEMORIES",
           "check_int", "check_pow2", "check_multiple", "check_bool", "check_enum"]


def check_int(name, value, lo, hi):
    """Raise ValueError unless ``value`` is an int in [lo, hi]; the message names the parameter."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} = {value!r} is out of range: must be an integer in [{lo}, {hi}]")


def check_pow2(name, value, lo, hi):
    check_int(name, value, lo, hi)
    if value & (value - 1):
        raise ValueError(f"{name} = {value!r} is not a power of two (allowed: powers of two in [{lo}, {hi}])")


def check_multiple(name, value, step, lo, hi):
    check_int(name, value, lo, hi)
    if value % step:
        raise ValueError(f"{name} = {value!r} is not a multiple of {step} (allowed: multiples of {step} "
                         f"in [{lo}, {hi}])")


def check_bool(name, value):
    """Raise ValueError unless ``value`` is True or False."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} = {value!r} is not allowed: must be True or False")


def check_enum(name, value, enum_cls):
    """Raise ValueError unless ``value`` is a member of ``enum_cls``."""
    if not isinstance(value, enum_cls):
        choices = ", ".join(f"{enum_cls.__name__}.{m.name}" for m in enum_cls)
        raise ValueError(f"{name} = {value!r} is not allowed: must be one of {choices}")


class Sequencer(enum.Enum):
    """Which conv sequencer the engine has (both issue the same beats in the same order)."""
    #: Computes the next block's ``rows`` lanes while the current block's beats are issued, so
    #: blocks follow each other without a gap.
    LOOKAHEAD = "lookahead"
    #: One lane register set, stepped one lane per cycle after a block's last beat (``rows + 2``
    #: cycles without a beat between blocks): smaller, for the iCE40UP5K.
    COMPACT = "compact"


class Output(enum.Enum):
    """What the engine writes to its output memory."""
    #: int8 outputs: bias, multiplier, shift, zero point, clamp and pooling in the output stage.
    REQUANT = "requant"
    #: Each element's int32 accumulator (no bias) at word (e*F + f)*M + m; the host finishes it
    #: (driver/raw_output.py). For FPGAs without room for the requantizer (iCE40UP5K).
    RAW = "raw"


@dataclass(frozen=True)
class AcceleratorConfig:
    """Parameters of the generated accelerator.

    Parameters
    ----------
    rows : int
        MAC tile rows: output pixels (along the F loop) computed at once. Default 4.
    cols : int
        MAC tile columns: output channels (along the M loop) computed at once. Default 4.
    act_width : int
        Activation operand width in bits (signed). TFLite int8 semantics need 8.
    weight_width : int
        Weight operand width in bits (signed). TFLite int8 semantics need 8.
    acc_width : int
        Accumulator width in bits (signed, wraps like the int32 TFLite reference when 32).
    max_size : int
        Largest input height/width H, W (and so output E, F) the layer registers accept.
    max_channels : int
        Largest C and M.
    max_kernel : int
        Largest filter height/width R, S.
    max_stride : int
        Largest stride U.
    lb_lines : int
        Lines (input rows) the line buffer holds; a power of two. A layer needs
        U * ceil((rows - 1) / F) + R of them at once (more lets filling overlap compute).
    lb_line_bytes : int
        Bytes of one line-buffer line; a power of two >= W * C of every layer.
    act_mem_bytes, out_mem_bytes : int
        Input and output activation memories (bytes, multiples of 4) >= H*W*C and E*F*M.
    weight_mem_words : int
        Weight memory depth in words of ``cols`` int8 weights.
    pool_buf_words : int
        Pooling row buffer entries, >= (F // 2) * M for layers with pooling.
    requant_mul_cycles : int
        1 (default): the output stage's requantizer multiplies with four pipelined 16x16
        multipliers (DSPs on ECP5) and takes one element per cycle. 2..31: the digit-serial
        multiplier (hw/requantizer.py, ``mul_cycles``), for FPGAs whose DSPs are all in the MAC
        tile: one element per ``ceil(31 / ceil(31 / k))`` cycles, the output stage waits for it.
    block_info_fifo : bool
        True: the sequencer's per-block lane offsets reach the output stage through a 16-entry
        FIFO. False: the output stage follows the block order itself (the same raster walk, one
        lane step per serialised lane) and there is no FIFO. Same timing either way.
    output_block_copy : bool
        True: the output stage copies each finished tile block, so the tile computes the next
        block while this one is serialised. False: it serialises straight from the tile's output
        register, which holds the tile (and the sequencer) until the block's last element is out.
    output : Output
        ``REQUANT``: the engine requantises and pools and writes int8 outputs. ``RAW``: it writes
        every output element's accumulator (the sum of its R*S*CG products, no bias) as one
        int32 word at (e*F + f)*M + m and the host finishes it (driver/raw_output.py): no
        BIAS/MULT/SHIFT memories (depth 0), POOL must be 0, E*F*M <= out_mem_bytes / 4;
        ``requant_mul_cycles``, ``block_info_fifo`` and ``pool_buf_words`` do not apply.
    perf_counters : bool
        True: the MAC_CYCLES and STALL_CYCLES counters exist. False: only CYCLES is counted
        (MAC_CYCLES and STALL_CYCLES read 0).
    sequencer : Sequencer
        ``LOOKAHEAD`` or ``COMPACT`` (see :class:`Sequencer`); spec/cycle_model.py models both.
    """

    rows: int = 4
    cols: int = 4
    act_width: int = 8
    weight_width: int = 8
    acc_width: int = 32
    max_size: int = 128
    max_channels: int = 256
    max_kernel: int = 5
    max_stride: int = 2
    lb_lines: int = 8
    lb_line_bytes: int = 1024
    act_mem_bytes: int = 16384
    out_mem_bytes: int = 16384
    weight_mem_words: int = 4096
    pool_buf_words: int = 1024
    requant_mul_cycles: int = 1
    block_info_fifo: bool = True
    output_block_copy: bool = True
    output: Output = Output.REQUANT
    perf_counters: bool = True
    sequencer: Sequencer = Sequencer.LOOKAHEAD

    def __post_init__(self):
        check_int("rows", self.rows, 1, 64)
        check_int("cols", self.cols, 1, 64)
        check_int("act_width", self.act_width, 2, 18)
        check_int("weight_width", self.weight_width, 2, 18)
        product_width = self.act_width + self.weight_width
        check_int("acc_width", self.acc_width, product_width, 64)
        check_int("max_size", self.max_size, 1, 4096)
        check_int("max_channels", self.max_channels, 1, 4096)
        check_int("max_kernel", self.max_kernel, 1, 15)
        check_int("max_stride", self.max_stride, 1, 8)
        check_pow2("lb_lines", self.lb_lines, 1, 256)
        check_pow2("lb_line_bytes", self.lb_line_bytes, 4, 1 << 20)
        check_multiple("act_mem_bytes", self.act_mem_bytes, 4, 4, 1 << 24)
        check_multiple("out_mem_bytes", self.out_mem_bytes, 4, 4, 1 << 24)
        check_int("weight_mem_words", self.weight_mem_words, 1, 1 << 22)
        check_int("pool_buf_words", self.pool_buf_words, 1, 1 << 22)
        check_int("requant_mul_cycles", self.requant_mul_cycles, 1, 31)
        check_bool("block_info_fifo", self.block_info_fifo)
        check_bool("output_block_copy", self.output_block_copy)
        check_enum("output", self.output, Output)
        check_bool("perf_counters", self.perf_counters)
        check_enum("sequencer", self.sequencer, Sequencer)
        if self.output is Output.RAW and self.requant_mul_cycles != 1:
            raise ValueError(f"requant_mul_cycles = {self.requant_mul_cycles} has no effect with "
                             f"output = Output.RAW (there is no requantizer): must be 1")

    @property
    def macs(self):
        """MACs the tile performs every cycle (rows * cols)."""
        return self.rows * self.cols

    @property
    def product_width(self):
        """Width of one signed product act * weight."""
        return self.act_width + self.weight_width

    @property
    def raw_output(self):
        """True when the engine writes raw accumulators (``output is Output.RAW``)."""
        return self.output is Output.RAW

    @property
    def lookahead(self):
        """True when the engine has the lookahead sequencer."""
        return self.sequencer is Sequencer.LOOKAHEAD

    @property
    def name(self):
        """Short, filesystem-safe tag for build directories and reports: the tile shape and a hash
        of every field, so two configurations never share a build."""
        return f"r{self.rows}c{self.cols}_{_digest(self)}"

    def as_dict(self):
        """The fields as plain JSON values (enums by their value)."""
        return {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values):
        """Inverse of :meth:`as_dict`."""
        values = dict(values)
        for key, enum_cls in (("output", Output), ("sequencer", Sequencer)):
            if key in values and not isinstance(values[key], enum.Enum):
                try:
                    values[key] = enum_cls(values[key])
                except ValueError:
                    choices = ", ".join(repr(m.value) for m in enum_cls)
                    raise ValueError(f"{key} = {values[key]!r} is not allowed: must be one of "
                                     f"{choices}") from None
        return cls(**values)


def _digest(obj):
    return hashlib.sha1(repr(obj).encode()).hexdigest()[:6]


#: Engine memories whose two ports are never active in the same cycle, so a single-port SPRAM can
#: hold them: the host writes ``act_in`` / ``weights`` only while the engine is idle and reads
#: ``act_out`` after ``done``.
SPRAM_SAFE_MEMORIES = ("act_in", "act_out", "weights")


class Primitives(enum.Enum):
    """Which FPGA primitives the engine instantiates itself."""
    #: Plain Amaranth: the synthesis tool picks multipliers and memories.
    GENERIC = "generic"
    #: iCE40UP5K: the tile's products on SB_MAC16 in dual 8x8 mode, SPRAM memories.
    ICE40 = "ice40"


@dataclass(frozen=True)
class Implementation:
    """How the engine is mapped onto an FPGA. None of it changes what the engine computes; only
    ``registered_start_check`` and ``registered_host_writes`` change the host-port timing.

    Parameters
    ----------
    primitives : Primitives
        ``GENERIC`` or ``ICE40`` (SB_MAC16 products, SPRAM for the memories in ``spram``).
    spram : tuple of str
        Engine memories placed in SB_SPRAM256KA, a subset of :data:`SPRAM_SAFE_MEMORIES`; needs
        ``ICE40``.
    byte_lanes : bool
        True: the line buffer's lanes are byte-wide memories (one write enable each). False: one
        32-bit memory per lane (each byte-wide one would take a whole 4 kbit EBR on iCE40).
    registered_host_writes : bool
        Host memory writes pass through one register before the engine's memories.
    registered_start_check : bool
        START's register range checks are computed into flip-flops while the layer registers are
        written, so the CTRL write decode and the compares do not share a cycle.
    """

    primitives: Primitives = Primitives.GENERIC
    spram: tuple = ()
    byte_lanes: bool = True
    registered_host_writes: bool = False
    registered_start_check: bool = False

    def __post_init__(self):
        check_enum("primitives", self.primitives, Primitives)
        if not isinstance(self.spram, tuple):
            raise ValueError(f"spram = {self.spram!r} is not allowed: must be a tuple of memory names")
        for name in self.spram:
            if name not in SPRAM_SAFE_MEMORIES:
                raise ValueError(f"spram = {self.spram!r}: {name!r} cannot be single-port; choose from "
                                 f"{', '.join(SPRAM_SAFE_MEMORIES)}")
        if self.spram and self.primitives is not Primitives.ICE40:
            raise ValueError(f"spram = {self.spram!r} needs primitives = Primitives.ICE40, not "
                             f"{self.primitives}")
        check_bool("byte_lanes", self.byte_lanes)
        check_bool("registered_host_writes", self.registered_host_writes)
        check_bool("registered_start_check", self.registered_start_check)

    @property
    def split_output_memory(self):
        """The output memory is four byte-wide memories unless it is in SPRAM (one 32-bit one)."""
        return "act_out" not in self.spram


class CoreKind(enum.Enum):
    """The SoC's RV32I core (hw/cpu/)."""
    MULTICYCLE = "multicycle"
    SERIAL = "serial"        #: bit-serial: a third of the logic, many cycles per instruction


@dataclass(frozen=True)
class CoreConfig:
    """The SoC's core: which one, and whether it counts retired instructions (``instret``)."""

    kind: CoreKind = CoreKind.MULTICYCLE
    instret: bool = True

    def __post_init__(self):
        check_enum("kind", self.kind, CoreKind)
        check_bool("instret", self.instret)


@dataclass(frozen=True)
class SocConfig:
    """One SoC build: core + RAM + UART + CnnCfu + conv engine.

    Parameters
    ----------
    engine : AcceleratorConfig
    impl : Implementation
    core : CoreConfig
    cfu_counters : bool
        The CnnCfu's four port counters (False: those PERF reads answer 0).
    imem_words, dmem_words : int
        Instruction and data RAM in 32-bit words (powers of two).
    clocks_per_bit : int
        UART bit time in clock cycles.
    """

    engine: AcceleratorConfig = field(default_factory=AcceleratorConfig)
    impl: Implementation = field(default_factory=Implementation)
    core: CoreConfig = field(default_factory=CoreConfig)
    cfu_counters: bool = True
    imem_words: int = 4096
    dmem_words: int = 8192
    clocks_per_bit: int = 8

    def __post_init__(self):
        for name, cls in (("engine", AcceleratorConfig), ("impl", Implementation), ("core", CoreConfig)):
            if not isinstance(getattr(self, name), cls):
                raise ValueError(f"{name} = {getattr(self, name)!r} is not allowed: must be a {cls.__name__}")
        check_bool("cfu_counters", self.cfu_counters)
        check_pow2("imem_words", self.imem_words, 16, 1 << 20)
        check_pow2("dmem_words", self.dmem_words, 16, 1 << 20)
        check_int("clocks_per_bit", self.clocks_per_bit, 2, 65535)

    @property
    def name(self):
        """Build tag: the engine's tile shape and a hash of the whole SoC configuration."""
        return f"soc_r{self.engine.rows}c{self.engine.cols}_{_digest(self)}"


#: The SoC the RTL simulations, the compiler's size checks, the bench and the demo run.
SIM_SOC = SocConfig()

"""Generator configuration: one object that drives elaboration, golden/, the tests and the reports.

Every generator parameter lives here and is validated on construction, so a bad value fails with a
message naming the parameter, its value and the allowed range before any gateware is built.
"""

from dataclasses import asdict, dataclass

__all__ = ["AcceleratorConfig", "check_int", "check_pow2", "check_multiple"]


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


# Fields added after configuration names were first published, with their defaults (see ``name``).
_LATER_FIELDS = {"requant_mul_cycles": 1, "block_info_fifo": 1, "output_block_copy": 1,
                 "output_requant": 1, "perf_counters": 1, "seq_lookahead": 1}


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
        tile (iCE40UP5K): ~2200 LCs smaller, one element per ``ceil(31 / ceil(31 / k))`` cycles;
        the output stage then waits for it and golden/cycle_model.py models the slower rate.
    block_info_fifo : int
        1 (default): the sequencer's per-block lane offsets reach the output stage through a
        16-entry FIFO (rows x 5 offsets per entry). False: the output stage follows the block
        order itself (the same raster walk, one lane step per serialised lane) and there is no
        FIFO, which saves its memory (19 EBR on iCE40) and registers. Same timing either way.
    output_block_copy : int
        1 (default): the output stage copies each finished tile block (rows * cols * acc_width
        flip-flops), so the tile can compute the next block while this one is serialised. 0: it
        serialises straight from the tile's output register, which then holds the tile (and the
        sequencer) until the block's last element is out: fewer registers, but a block with fewer
        beats than its serialisation takes waits (golden/cycle_model.py models both).
    output_requant : int
        1 (default): the engine requantises (bias, multiplier, shift, zero point, clamp) and pools
        in its output stage and writes int8 outputs. 0: raw accumulator output for FPGAs too small
        for that stage (iCE40UP5K): the engine writes every output element's accumulator (the sum
        of its R*S*CG products, no bias) as one sign-extended int32 word at (e*F + f)*M + m and the
        host requantises and pools (driver/raw_output.py). No requantizer, pooling row buffer or
        BIAS/MULT/SHIFT memories (those spaces have depth 0); POOL must be 0; E*F*M <=
        out_mem_bytes / 4. ``requant_mul_cycles``, ``block_info_fifo`` and ``pool_buf_words`` have
        no effect then (the writer follows the block order itself, like ``block_info_fifo=0``).
    perf_counters : int
        1 (default): the MAC_CYCLES and STALL_CYCLES counters exist. 0: only CYCLES is counted
        (MAC_CYCLES and STALL_CYCLES read 0), which saves a 32-bit counter and its read logic.
    seq_lookahead : int
        1 (default): the conv sequencer computes the next block's ``rows`` lanes while the current
        block's beats are issued (a second set of lane registers), so blocks follow each other
        without a gap. 0: the small sequencer for FPGAs without room for that (iCE40UP5K, ~540
        LCs less): it steps the next block's lanes one per cycle after a block's last beat
        (``rows + 2`` cycles without a beat between blocks), keeps the lanes in the form its
        address stage needs, line-address arithmetic only as wide as a line, and no S3 operand
        register (hw/conv_sequencer.py; golden/cycle_model.py models the gap and the shorter
        pipeline).
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
    block_info_fifo: int = 1
    output_block_copy: int = 1
    output_requant: int = 1
    perf_counters: int = 1
    seq_lookahead: int = 1

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
        check_int("block_info_fifo", self.block_info_fifo, 0, 1)
        check_int("output_block_copy", self.output_block_copy, 0, 1)
        check_int("output_requant", self.output_requant, 0, 1)
        check_int("perf_counters", self.perf_counters, 0, 1)
        if not self.output_requant and self.requant_mul_cycles != 1:
            raise ValueError(f"requant_mul_cycles = {self.requant_mul_cycles} has no effect with "
                             f"output_requant = 0 (there is no requantizer): must be 1")
        check_int("seq_lookahead", self.seq_lookahead, 0, 1)

    @property
    def macs(self):
        """MACs the tile performs every cycle (rows * cols)."""
        return self.rows * self.cols

    @property
    def product_width(self):
        """Width of one signed product act * weight."""
        return self.act_width + self.weight_width

    @property
    def name(self):
        """Short, filesystem-safe tag used for build directories and reports (tile shape + a hash
        of the other parameters, so two configurations never share a build)."""
        import hashlib
        # Fields added later count only when they differ from their default, so configurations
        # that do not use them keep the names (build directories, docs) they always had.
        values = {k: v for k, v in self.as_dict().items()
                  if not (k in _LATER_FIELDS and v == _LATER_FIELDS[k])}
        digest = hashlib.sha1(repr(sorted(values.items())).encode()).hexdigest()[:6]
        return f"r{self.rows}c{self.cols}_{digest}"

    def as_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, values):
        return cls(**values)

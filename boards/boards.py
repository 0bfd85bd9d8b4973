"""The FPGA boards the synthesis flow knows: platform, Fmax target and how to read their reports.

Everything that differs between iCE40 and ECP5 lives in one :class:`Board` record, so the flow in
:mod:`boards.synth` and the report parser in :mod:`boards.report` stay family-agnostic.

The Fmax targets are the project's goals (iCE40UP5K: 30 MHz, ECP5-85F: 100 MHz), not the board
oscillators (12 MHz on iCEBreaker, 25 MHz on ULX3S). :func:`constrained_platform` re-declares the
board clock at the target frequency so nextpnr optimises for, and reports against, the goal; the
bitstream still runs from the board's own oscillator (a design that meets the target meets the
slower board clock too).

Each board also says how the accelerator is built for it: ``product_array`` (the MAC tile's
multipliers: SB_MAC16 in dual 8x8 mode on iCE40, the synthesis tool's choice on ECP5),
``engine`` (the conv engine class) and ``engine_config`` (an :class:`AcceleratorConfig` that fits
the device; see ICE40_ENGINE_CONFIG for the UP5K's memory budget). iCE40 platforms get the
:class:`hw.ice40_spram.Ice40MemoryMapping` mixin, which places the memories the engine asks for in
SPRAM.
"""

import copy
from dataclasses import dataclass, field

from amaranth.build import Clock
from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from hw.ice40_spram import Ice40MemoryMapping
from spec.config import (
    AcceleratorConfig,
    CoreConfig,
    CoreKind,
    Implementation,
    Output,
    Primitives,
    Sequencer,
    SocConfig,
)

__all__ = ["BOARDS", "Board", "get_board", "constrained_platform", "ICE40_ENGINE_CONFIG",
           "ECP5_ENGINE_CONFIG", "ICE40_SOC", "ECP5_SOC"]

# The iCE40UP5K engine (docs/up5k.md has the measured fit and what each reduction saved). The
# whole SoC must fit: RV32I core + its RAM (one SPRAM pair) + UART + this engine, in 5280 LCs,
# 30 EBR (4 kbit each), 4 SPRAM (16K x 16 each), 8 SB_MAC16.
#   Raw output (output=Output.RAW, docs/up5k.md): the engine writes each output element's
#          int32 accumulator and the host (firmware / driver.raw_output) adds the bias,
#          requantises and pools, so there is no requantizer, no pooling row buffer and no
#          bias / multiplier / shift memory; perf_counters=False keeps only the CYCLES counter.
#   SPRAM (2/4): output memory 64 KB = 16K int32 words (2 blocks side by side for 32-bit words);
#                the other pair is left for the CPU's RAM.
#   EBR: input activations 4 KB (8 EBR); line buffer 4 lanes x 8 lines x 128 B (8 EBR); weights
#        512 words x 32 bit (4 EBR): 20 EBR (no bias / mult / shift / row-buffer EBR any more).
#   Logic: the tile's 16 products on the 8 SB_MAC16 (dual 8x8); exact 26-bit accumulators; the
#          output writer serialises straight from the tile (output_block_copy=False); the compact
#          sequencer (Sequencer.COMPACT: no 4-lane lookahead, rows + 2 idle cycles between blocks).
# Layer limits that follow: H, W, E, F <= 32; C, M <= 64; R, S <= 5; U <= 2; W * C <= 128 bytes per
# input row; H * W * C <= 4 KB; E * F * M <= 16K (raw words, before pooling; POOL must be 0: the
# host pools); R * S * CG <= 512 weight words per channel group (the driver splits bigger layers
# into passes).
ICE40_ENGINE_CONFIG = AcceleratorConfig(
    max_size=32, max_channels=64, max_kernel=5, max_stride=2, lb_lines=8, lb_line_bytes=128,
    act_mem_bytes=4096, out_mem_bytes=65536, weight_mem_words=512,
    acc_width=26, output_block_copy=False, output=Output.RAW, perf_counters=False,
    sequencer=Sequencer.COMPACT)
# The ECP5-85F has room for the generator's defaults (sized for it).
ECP5_ENGINE_CONFIG = AcceleratorConfig()

# The whole SoCs. RAM: the demo firmware needs ~3.6 KB of code and ~3.5 KB of data + .bss; the
# iCE40 keeps its EBR for the engine. UART: 115200 baud from the board oscillator (12 MHz: 104
# cycles per bit, 25 MHz: 217; boards.soc_top checks the divisor against the oscillator).
#   iCE40: SB_MAC16 products, act_in and act_out in SPRAM (the CPU RAM stays in EBR, which the
#   bitstream initialises), 32-bit line-buffer lanes (a byte-wide one would take a whole EBR),
#   registered host writes and START checks (the UP5K's timing), the bit-serial core without
#   instret, the CnnCfu without port counters.
ICE40_SOC = SocConfig(
    engine=ICE40_ENGINE_CONFIG,
    impl=Implementation(primitives=Primitives.ICE40, spram=("act_in", "act_out"), byte_lanes=False,
                        registered_host_writes=True, registered_start_check=True),
    core=CoreConfig(kind=CoreKind.SERIAL, instret=False), cfu_counters=False,
    imem_words=1024, dmem_words=1024, clocks_per_bit=104)
ECP5_SOC = SocConfig(engine=ECP5_ENGINE_CONFIG, imem_words=4096, dmem_words=4096, clocks_per_bit=217)


@dataclass(frozen=True)
class Board:
    """One supported board.

    ``*_cell`` are nextpnr cell types as named in the ``utilization`` section of its JSON report;
    ``ff_netlist_prefix`` names the flip-flop primitives counted in the Yosys netlist when nextpnr
    does not report flip-flops separately (iCE40 packs LUT and FF into one ICESTORM_LC).
    """

    name: str
    platform: type
    target_mhz: float
    family: str
    synth_opts: tuple = ()        # extra synth_ice40 / synth_ecp5 options
    nodsp_opts: tuple = ()        # the same with multipliers kept out of DSP blocks (--no-dsp)
    lut_cell: str = ""
    ff_cell: str | None = None
    ff_netlist_prefix: str = ""
    dsp_cell: str = ""
    dsp_netlist_cell: str = ""    # the DSP primitive Yosys instantiates for a multiplier
    dsp_available: int = 0        # DSP blocks on the device (for --dsp auto)
    ram_cell: str = ""
    spram_cell: str | None = None
    bitstream: str = ""           # file name of the bitstream in the build directory
    pnr_output_flag: str = ""     # nextpnr option naming its placed-and-routed output file
    soc: SocConfig = field(default_factory=SocConfig)   # the SoC built for this board
    # The SoC top (boards/soc_top.py): LED per role, reset button, platform resources to add first.
    soc_leds: tuple = (("pass", ("led", 0)), ("fail", ("led", 1)), ("halted", ("led", 2)),
                       ("heartbeat", ("led", 3)))
    soc_button: tuple = ("button", 0)
    soc_extra_resources: str | None = None

    @property
    def engine_config(self):
        """The board's engine configuration (``soc.engine``)."""
        return self.soc.engine

    @property
    def device(self):
        return f"{self.platform.device}-{self.platform.package}"

    @property
    def board_clock_mhz(self):
        """Frequency of the board's own oscillator (the unconstrained default clock)."""
        return _resource_clock(self.platform).frequency / 1e6


def _resource_clock(platform_cls):
    for res in platform_cls.resources:
        if res.name == platform_cls.default_clk and res.number == 0:
            return res.clock
    raise LookupError(f"{platform_cls.__name__} has no default clock resource")


BOARDS = {
    "icebreaker": Board(
        name="icebreaker",
        platform=ICEBreakerPlatform,
        target_mhz=30.0,
        family="ice40",
        # -dsp lets Yosys map multipliers to SB_MAC16, but only in 16x16 mode: one DSP per product,
        # never the dual 8x8 mode (hw/ice40_products.py instantiates that itself).
        synth_opts=("-dsp",),
        lut_cell="ICESTORM_LC",
        ff_netlist_prefix="SB_DFF",
        dsp_cell="ICESTORM_DSP",
        dsp_netlist_cell="SB_MAC16",
        dsp_available=8,
        ram_cell="ICESTORM_RAM",
        spram_cell="ICESTORM_SPRAM",
        bitstream="top.bin",
        pnr_output_flag="--asc",
        soc=ICE40_SOC,
        # Green (pass) / red (fail) LEDs on the main board; halted and heartbeat on two green LEDs of
        # the snap-off PMOD (amaranth-boards led 3 and 4).
        soc_leds=(("pass", ("led", 1)), ("fail", ("led", 0)), ("halted", ("led", 3)),
                  ("heartbeat", ("led", 4))),
        soc_button=("button", 0),          # UBUTTON (pin 10)
        soc_extra_resources="break_off_pmod",
    ),
    "ulx3s-85f": Board(
        name="ulx3s-85f",
        platform=ULX3S_85F_Platform,
        target_mhz=100.0,
        family="ecp5",
        synth_opts=(),  # synth_ecp5 maps multipliers to MULT18X18D by default
        nodsp_opts=("-nodsp",),
        lut_cell="TRELLIS_COMB",
        ff_cell="TRELLIS_FF",
        ff_netlist_prefix="TRELLIS_FF",
        dsp_cell="MULT18X18D",
        dsp_netlist_cell="MULT18X18D",
        dsp_available=156,
        ram_cell="DP16KD",
        bitstream="top.bit",
        pnr_output_flag="--textcfg",
        soc=ECP5_SOC,
    ),
}


def get_board(name: str) -> Board:
    """The :class:`Board` called ``name``; unknown names raise ValueError listing the choices."""
    if name not in BOARDS:
        raise ValueError(f"board = {name!r} is not supported: must be one of {', '.join(BOARDS)}")
    return BOARDS[name]


def constrained_platform(board: Board, clock_mhz: float | None = None):
    """An instance of ``board``'s platform whose default clock is declared at ``clock_mhz``.

    Defaults to the board's Fmax target. Only the timing constraint changes (the ``Clock`` of the
    default clock resource, which amaranth writes into the PCF / LPF); pins and everything else are
    the board's own. iCE40 platforms also get the SPRAM memory mapping (``Ice40MemoryMapping``).
    """
    mhz = board.target_mhz if clock_mhz is None else clock_mhz
    if not isinstance(mhz, (int, float)) or isinstance(mhz, bool) or not 0.001 <= mhz <= 1000:
        raise ValueError(f"clock_mhz = {mhz!r} is out of range: must be a number in [0.001, 1000]")
    base = board.platform
    resources = []
    for res in base.resources:
        if res.name == base.default_clk and res.number == 0:
            res = copy.copy(res)
            res.clock = Clock(mhz * 1e6)
        resources.append(res)
    bases = (Ice40MemoryMapping, base) if board.family == "ice40" else (base,)
    cls = type(f"{base.__name__}At{mhz:g}MHz".replace(".", "_"), bases, {"resources": resources})
    return cls()

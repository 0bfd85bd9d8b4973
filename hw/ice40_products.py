"""Ice40ProductArray: the tile's products from iCE40 SB_MAC16 DSPs in dual 8x8 signed mode.

Yosys (``synth_ice40 -dsp``) maps a multiplier to a whole SB_MAC16 in 16x16 mode and never uses its
dual 8x8 mode, so a 4x4 int8 tile would want 16 of the UP5K's 8 DSPs. Here each
SB_MAC16 is instantiated directly with MODE_8x8 = 1 and computes two products per cycle:

    O[31:16] = A[15:8] * B[15:8]      (top half, product p[2k])
    O[15:0]  = A[7:0]  * B[7:0]       (bottom half, product p[2k + 1])

The rows x cols products are numbered row-major, p = i * cols + j, and paired in that order:
DSP k computes products 2k (top) and 2k + 1 (bottom). For the default 4x4 tile DSP k holds
act[k // 2] x weight[2 (k % 2)] and act[k // 2] x weight[2 (k % 2) + 1]: 16 products, 8 DSPs. An
odd product count leaves the last DSP's bottom half unused (operands tied to 0).

SB_MAC16 configuration (parameter names and meaning as in Yosys techlibs/ice40/cells_sim.v and
the Lattice iCE40 DSP Function Usage Guide):

    MODE_8x8 = 1                      dual 8x8 multiplier (also switches off the 16x16 logic)
    A_SIGNED = B_SIGNED = 1           both bytes of A and B are two's complement
    A_REG = B_REG = C_REG = D_REG = 0 operands straight from the tile's stage-1 registers
    TOP_8x8_MULT_REG = 1              register F: the top product, clock enable CE
    BOT_8x8_MULT_REG = 1              register G: the bottom product, clock enable CE
    TOPOUTPUT_SELECT = 2              O[31:16] = F (the 8x8 product, not the adder/accumulator)
    BOTOUTPUT_SELECT = 2              O[15:0] = G
    PIPELINE_16x16_MULT_REG1/2 = 0, adder/accumulator inputs unused, IRST*/ORST* tied low

so ``product`` is registered once inside the DSP (LATENCY = 1) and ``en`` is the DSP's CE: exactly
the :class:`hw.products.ProductArray` contract. Operands narrower than 8 bits are sign-extended
into their byte; the product is the low ``act_width + weight_width`` bits of the 16-bit result
(exact, since a signed a x w product fits in a + w bits).

Simulation: an ``Instance`` is a black box to Amaranth's simulator and to a plain Verilog build, so
``primitive="model"`` (the default without a platform) builds the same DSP pairing from a
behavioural model, :class:`SbMac16Dual8x8Model`, that reproduces the configuration above bit for
bit as Yosys's ``cells_sim.v`` defines it: 16-bit results of the sign-extended bytes, registered
with CE, never reset (IRSTTOP/IRSTBOT are tied low, so the real F/G registers ignore ``rst`` too).
tests/test_ice40_products.py checks the model against the generic multiplier on all 65536 int8
pairs in every product position, and the real ``SB_MAC16`` (``primitive="instance"`` simulated with
cells_sim.v in Icarus) against the same vectors.
"""

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, Signal
from amaranth.lib import wiring

from spec.config import AcceleratorConfig

from .products import product_array_signature

__all__ = ["Ice40ProductArray", "SbMac16Dual8x8Model", "SB_MAC16_DUAL_8X8_PARAMS", "dsp_pairs",
           "PRIMITIVES", "ice40_primitive"]

PRIMITIVES = ("auto", "instance", "model")

# Parameters of every SB_MAC16 of the array: (value, width in bits) as declared in cells_sim.v.
SB_MAC16_DUAL_8X8_PARAMS = {
    "NEG_TRIGGER": (0, 1),
    "C_REG": (0, 1),
    "A_REG": (0, 1),
    "B_REG": (0, 1),
    "D_REG": (0, 1),
    "TOP_8x8_MULT_REG": (1, 1),
    "BOT_8x8_MULT_REG": (1, 1),
    "PIPELINE_16x16_MULT_REG1": (0, 1),
    "PIPELINE_16x16_MULT_REG2": (0, 1),
    "TOPOUTPUT_SELECT": (2, 2),      # 8x8 multiplier output (register F)
    "TOPADDSUB_LOWERINPUT": (0, 2),
    "TOPADDSUB_UPPERINPUT": (0, 1),
    "TOPADDSUB_CARRYSELECT": (0, 2),
    "BOTOUTPUT_SELECT": (2, 2),      # 8x8 multiplier output (register G)
    "BOTADDSUB_LOWERINPUT": (0, 2),
    "BOTADDSUB_UPPERINPUT": (0, 1),
    "BOTADDSUB_CARRYSELECT": (0, 2),
    "MODE_8x8": (1, 1),
    "A_SIGNED": (1, 1),
    "B_SIGNED": (1, 1),
}

# Control inputs of SB_MAC16 that this configuration ties low.
_TIED_LOW = ("AHOLD", "BHOLD", "CHOLD", "DHOLD", "IRSTTOP", "IRSTBOT", "ORSTTOP", "ORSTBOT",
             "OLOADTOP", "OLOADBOT", "ADDSUBTOP", "ADDSUBBOT", "OHOLDTOP", "OHOLDBOT", "CI",
             "ACCUMCI", "SIGNEXTIN")


def dsp_pairs(rows, cols):
    """``[(top, bottom), ...]`` per DSP: (i, j) product indices, bottom None when unused."""
    products = [(i, j) for i in range(rows) for j in range(cols)]
    return [(products[k], products[k + 1] if k + 1 < len(products) else None)
            for k in range(0, len(products), 2)]


def ice40_primitive(requested, platform, what):
    """Resolve ``"auto"`` for an iCE40 primitive wrapper: the platform's ``ice40_primitive``
    attribute when it has one (hw/ice40_spram.py's simulation platform says ``"model"``), else
    ``"instance"`` on an iCE40 platform and ``"model"`` without a platform; other platforms have
    no such primitive and are refused."""
    if requested != "auto":
        return requested
    if platform is None:
        return "model"
    explicit = getattr(platform, "ice40_primitive", None)
    if explicit is not None:
        return explicit
    if str(getattr(platform, "device", "")).lower().startswith("ice40"):
        return "instance"
    raise ValueError(f"{what} needs an iCE40 platform, not {type(platform).__name__} "
                     f"(device {getattr(platform, 'device', '?')!r})")


class SbMac16Dual8x8Model(wiring.Component):
    """Behavioural model of one SB_MAC16 as :data:`SB_MAC16_DUAL_8X8_PARAMS` configures it.

    ``o[31:16] <= (sext(a[15:8]) * sext(b[15:8]))[15:0]`` and
    ``o[15:0] <= (sext(a[7:0]) * sext(b[7:0]))[15:0]`` on every clock with ``ce`` high; the
    registers have no reset (the DSP's IRSTTOP/IRSTBOT are tied low).
    """

    def __init__(self):
        super().__init__({"ce": wiring.In(1), "a": wiring.In(16), "b": wiring.In(16),
                          "o": wiring.Out(32)})

    def elaborate(self, platform):
        m = Module()
        # cells_sim.v: Ah = {8{A[15]}, A[15:8]}, Al = {8{A[7]}, A[7:0]} (A_SIGNED && MODE_8x8),
        # p = Ah * Bh truncated to 16 bits; same for B.
        top = Signal(16, reset_less=True)      # register F
        bottom = Signal(16, reset_less=True)   # register G
        with m.If(self.ce):
            m.d.sync += [
                top.eq((self.a[8:16].as_signed() * self.b[8:16].as_signed())[:16]),
                bottom.eq((self.a[0:8].as_signed() * self.b[0:8].as_signed())[:16]),
            ]
        m.d.comb += self.o.eq(Cat(bottom, top))
        return m


class Ice40ProductArray(wiring.Component):
    """rows x cols registered signed products from SB_MAC16 DSPs in dual 8x8 mode (LATENCY = 1).

    Same signature and timing as :class:`hw.products.ProductArray`: ``product[i][j] <=
    act[i] * weight[j]`` on every cycle with ``en`` high (``en`` drives the DSPs' CE).

    Parameters
    ----------
    config : AcceleratorConfig
        Tile shape; ``act_width`` and ``weight_width`` must be at most 8.
    primitive : str
        ``"instance"``: instantiate ``SB_MAC16`` (for iCE40 synthesis, or simulation with Yosys's
        cells_sim.v). ``"model"``: :class:`SbMac16Dual8x8Model` per DSP (plain Amaranth, for
        simulation). ``"auto"`` (default): see :func:`ice40_primitive` -- the instance when
        elaborated for an iCE40 platform, the model without a platform; other platforms are
        refused (they have no SB_MAC16).

    Attributes
    ----------
    dsp_count : int
        SB_MAC16 blocks used: ceil(rows * cols / 2).
    """

    LATENCY = 1

    def __init__(self, config: AcceleratorConfig, *, primitive="auto"):
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        if config.act_width > 8 or config.weight_width > 8:
            raise ValueError(f"act_width = {config.act_width}, weight_width = {config.weight_width}: "
                             f"SB_MAC16 8x8 mode multiplies operands of at most 8 bits")
        if primitive not in PRIMITIVES:
            raise ValueError(f"primitive = {primitive!r} is not supported: must be one of "
                             f"{', '.join(PRIMITIVES)}")
        self._config = config
        self._primitive = primitive
        self._pairs = dsp_pairs(config.rows, config.cols)
        super().__init__(product_array_signature(config))

    @property
    def config(self):
        return self._config

    @property
    def primitive(self):
        return self._primitive

    @property
    def dsp_count(self):
        return len(self._pairs)

    def primitive_for(self, platform):
        """The primitive ``elaborate(platform)`` uses (``primitive`` with "auto" resolved)."""
        return ice40_primitive(self._primitive, platform, "Ice40ProductArray")

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        primitive = self.primitive_for(platform)
        width = cfg.product_width

        for k, (top, bottom) in enumerate(self._pairs):
            a = Signal(16, name=f"dsp{k}_a")
            b = Signal(16, name=f"dsp{k}_b")
            o = Signal(32, name=f"dsp{k}_o")
            (ti, tj) = top
            m.d.comb += [a[8:16].eq(_sext8(self.act[ti])), b[8:16].eq(_sext8(self.weight[tj]))]
            if bottom is not None:
                bi, bj = bottom
                m.d.comb += [a[0:8].eq(_sext8(self.act[bi])), b[0:8].eq(_sext8(self.weight[bj]))]
            if primitive == "model":
                m.submodules[f"dsp{k}"] = dsp = SbMac16Dual8x8Model()
                m.d.comb += [dsp.ce.eq(self.en), dsp.a.eq(a), dsp.b.eq(b), o.eq(dsp.o)]
            else:
                params = {f"p_{name}": Const(value, bits)
                          for name, (value, bits) in SB_MAC16_DUAL_8X8_PARAMS.items()}
                ports = {f"i_{name}": Const(0, 1) for name in _TIED_LOW}
                m.submodules[f"dsp{k}"] = Instance(
                    "SB_MAC16", **params, **ports,
                    i_CLK=ClockSignal(), i_CE=self.en, i_A=a, i_B=b,
                    i_C=Const(0, 16), i_D=Const(0, 16), o_O=o)
            m.d.comb += self.product[ti][tj].eq(o[16:16 + width].as_signed())
            if bottom is not None:
                m.d.comb += self.product[bi][bj].eq(o[0:width].as_signed())
        return m


def _sext8(value):
    """An operand of at most 8 bits sign-extended to one byte."""
    value = value.as_value() if hasattr(value, "as_value") else value
    if len(value) == 8:
        return value
    return Cat(value, value[-1].replicate(8 - len(value)))

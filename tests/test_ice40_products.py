"""Ice40ProductArray (SB_MAC16 dual 8x8): its behavioural model and the real cell, both checked.

* amaranth.sim: the model against Python products on edge and random operands with ``en`` stalls
  (fast, no simulator needed), parameter checks, the DSP pairing.
* cocotb, ProductCheck harness (below): all 65536 int8 pairs through every product position of the
  array and of the generic ProductArray, compared in gateware every cycle (SIM=icarus: 4096 pairs
  per position, see _pairs):
    - the behavioural model,
    - the ``SB_MAC16`` instance simulated with Yosys's own ``cells_sim.v``: this proves the
      Instance parameters (MODE_8x8, signedness, output selects, registers and CE), not only the
      model.
* cocotb, the whole MacTile with Ice40ProductArray, reusing tb/mac_tile_tb.py unchanged (the tile
  factory is the only difference): with the model, and with the real cell.

Both simulators accept cells_sim.v (built with NO_ICE40_DEFAULT_ASSIGNMENTS, since Icarus 11 rejects
its default port values).
"""

import random

import pytest
from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import Out
from amaranth.sim import Simulator

from hw.ice40_products import SB_MAC16_DUAL_8X8_PARAMS, Ice40ProductArray, dsp_pairs
from hw.mac_tile import MacTile
from hw.products import ProductArray
from hw.verilog import to_verilog
from sim.netlist import cells_sim_path
from sim.runner import build, run_cocotb, simulator_name
from spec.config import AcceleratorConfig

CONFIG = AcceleratorConfig()  # 4x4: 16 products, 8 DSPs
EDGE = [-128, -127, -1, 0, 1, 126, 127, 64, -64]


def _pairs():
    """All 65536 pairs per position on Verilator (~1 s); on Icarus, whose event-driven run of
    cells_sim.v's SB_MAC16 costs ~3 ms a cycle, 4096 (every act value x 16 weight values)."""
    return 65536 if simulator_name() == "verilator" else 4096


def _array(*args, **kwargs):
    """An Ice40ProductArray that is only inspected, never elaborated (no UnusedElaboratable)."""
    array = Ice40ProductArray(*args, **kwargs)
    array._MustUse__silence = True
    return array


# -- parameters and structure --------------------------------------------------------------------

def test_dsp_pairs_cover_every_product_once():
    for rows, cols in [(4, 4), (2, 8), (3, 3), (1, 1), (8, 8)]:
        pairs = dsp_pairs(rows, cols)
        assert len(pairs) == (rows * cols + 1) // 2
        used = [p for pair in pairs for p in pair if p is not None]
        assert sorted(used) == [(i, j) for i in range(rows) for j in range(cols)]
    assert _array(CONFIG).dsp_count == 8


def test_parameters_rejected():
    with pytest.raises(ValueError, match=r"primitive = 'dsp' is not supported: must be one of auto"):
        Ice40ProductArray(CONFIG, primitive="dsp")
    with pytest.raises(ValueError, match=r"act_width = 9, weight_width = 8: SB_MAC16 8x8 mode"):
        Ice40ProductArray(AcceleratorConfig(act_width=9))
    with pytest.raises(TypeError, match="config must be an AcceleratorConfig"):
        Ice40ProductArray({"rows": 4})


def test_auto_refuses_a_non_ice40_platform():
    from amaranth_boards.ulx3s import ULX3S_85F_Platform
    with pytest.raises(ValueError, match=r"needs an iCE40 platform, not ULX3S_85F_Platform"):
        _array(CONFIG).primitive_for(ULX3S_85F_Platform())


def test_instance_parameters_in_verilog():
    text = to_verilog(Ice40ProductArray(CONFIG, primitive="instance"), "pa")
    assert text.count("SB_MAC16 #(") == 8
    for name, (value, bits) in SB_MAC16_DUAL_8X8_PARAMS.items():
        assert text.count(f".{name}({bits}'h{value:x})") == 8, name


def test_auto_is_the_instance_on_ice40_and_the_model_without_platform():
    from amaranth_boards.icebreaker import ICEBreakerPlatform
    assert _array(CONFIG).primitive_for(ICEBreakerPlatform()) == "instance"
    assert _array(CONFIG).primitive_for(None) == "model"
    assert _array(CONFIG, primitive="model").primitive_for(ICEBreakerPlatform()) == "model"


# -- amaranth.sim: the model against Python products ---------------------------------------------

def test_model_products_and_clock_enable():
    """Edge x edge values and random operands; ``en`` low must hold the previous products."""
    config = AcceleratorConfig(rows=3, cols=3)  # odd: the last DSP's bottom half is unused
    dut = Ice40ProductArray(config)
    rng = random.Random(1)
    vectors = [([a] * 3, [w] * 3) for a in EDGE for w in EDGE]
    vectors += [([rng.randrange(-128, 128) for _ in range(3)],
                 [rng.randrange(-128, 128) for _ in range(3)]) for _ in range(300)]
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        expected = None
        for n, (act, weight) in enumerate(vectors):
            en = n % 5 != 3
            for i, a in enumerate(act):
                ctx.set(dut.act[i], a)
            for j, w in enumerate(weight):
                ctx.set(dut.weight[j], w)
            ctx.set(dut.en, en)
            await ctx.tick()
            if en:
                expected = [[a * w for w in weight] for a in act]
            got = [[ctx.get(dut.product[i][j]) for j in range(3)] for i in range(3)]
            assert got == expected, f"vector {n} (en={en}): {got} != {expected}"

    sim.add_testbench(bench)
    sim.run()


# -- the self-checking harness -------------------------------------------------------------------

class ProductCheck(wiring.Component):
    """Every int8 pair through every position of ``dut`` and of the generic ProductArray.

    Pair counter t (16 bits) advances on enabled cycles; position (i, j) gets act = t[0:8] + 37 i,
    weight = t[8:16] + 91 j (mod 256), so each position sees all 65536 pairs once. ``en`` is high 3
    cycles in 4 (from an LFSR); while it is low the operands are LFSR garbage, which must not reach
    the products. Both arrays' products are compared on every cycle after the first enabled one.
    """

    done: Out(1)
    checked: Out(32)       # enabled cycles whose products were compared
    hold_cycles: Out(32)   # cycles with en low whose held products were compared
    errors: Out(32)        # cycles with any mismatch
    first_error: Out(17)   # pair counter at the first mismatch

    def __init__(self, config, dut_factory, pairs=65536):
        self._config = config
        self._dut_factory = dut_factory
        self._pairs = pairs
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        m.submodules.dut = dut = self._dut_factory(cfg)
        m.submodules.ref = ref = ProductArray(cfg)

        t = Signal(17)
        lfsr = Signal(32, init=0xACE1_2468)
        m.d.sync += lfsr.eq(Cat(lfsr[1:], lfsr[0] ^ lfsr[10] ^ lfsr[30] ^ lfsr[31]))
        running = t < self._pairs
        en = Signal()
        m.d.comb += en.eq(running & (lfsr[0] | lfsr[1]))
        for arr in (dut, ref):
            m.d.comb += arr.en.eq(en)
            for i in range(cfg.rows):
                m.d.comb += arr.act[i].eq(Mux(en, t[0:8] + 37 * i, lfsr[8:16] ^ i))
            for j in range(cfg.cols):
                m.d.comb += arr.weight[j].eq(Mux(en, t[8:16] + 91 * j, lfsr[16:24] ^ j))
        with m.If(en):
            m.d.sync += t.eq(t + 1)

        valid = Signal()       # products hold the result of at least one enabled cycle
        was_en = Signal()
        m.d.sync += was_en.eq(en)
        with m.If(en):
            m.d.sync += valid.eq(1)
        mismatch = Signal()
        m.d.comb += mismatch.eq(dut.product.as_value() != ref.product.as_value())
        with m.If(valid):
            with m.If(was_en):
                m.d.sync += self.checked.eq(self.checked + 1)
            with m.Else():
                m.d.sync += self.hold_cycles.eq(self.hold_cycles + 1)
            with m.If(mismatch):
                m.d.sync += self.errors.eq(self.errors + 1)
                with m.If(self.errors == 0):
                    m.d.sync += self.first_error.eq(t)
        m.d.sync += self.done.eq(~running & ~was_en & valid)
        return m


def build_with_sources(component, top, tag, extra_sources, sim, platform=None):
    """sim.runner.build with the cell library in ``extra_sources``: cells_sim.v's default port values
    (`input X = 1'b0`) are SystemVerilog Icarus 11 rejects (the cells here tie every port), and it
    trips Verilator's lint warnings."""
    lint = ["-Wno-lint", "-Wno-style", "-Wno-MULTIDRIVEN"] if sim == "verilator" else []
    return build(component, top, tag, sim, extra_sources=extra_sources, platform=platform,
                 defines={"NO_ICE40_DEFAULT_ASSIGNMENTS": 1}, build_args=lint)


def _positions(config):
    return config.rows * config.cols


@pytest.mark.cocotb
@pytest.mark.parametrize("rows,cols", [(4, 4), (3, 3)], ids=["4x4", "3x3"])
def test_model_all_int8_pairs(rows, cols):
    """The behavioural model (default simulator) = generic multiplier on all pairs, all positions."""
    config = AcceleratorConfig(rows=rows, cols=cols)
    design = build(ProductCheck(config, lambda c: Ice40ProductArray(c, primitive="model"), pairs=_pairs()),
                   top="ice40_product_check", tag=config.name)
    run_cocotb(design, "tb.ice40_products_tb", run_name="model",
               params={"pairs": _pairs(), "positions": _positions(config)})


@pytest.mark.cocotb
def test_sb_mac16_cell_all_int8_pairs():
    """The real SB_MAC16 (Yosys's cells_sim.v) with our parameters = generic multiplier."""
    design = build_with_sources(
        ProductCheck(CONFIG, lambda c: Ice40ProductArray(c, primitive="instance"), pairs=_pairs()),
        "ice40_product_check_cell", CONFIG.name, [cells_sim_path()], simulator_name())
    run_cocotb(design, "tb.ice40_products_tb", run_name="cell",
               params={"pairs": _pairs(), "positions": _positions(CONFIG)})


# -- the whole tile, reusing tb/mac_tile_tb.py -------------------------------------------------

TILE_SHAPES = [(4, 4), (3, 3)]


@pytest.mark.cocotb
@pytest.mark.parametrize("rows,cols", TILE_SHAPES, ids=[f"{r}x{c}" for r, c in TILE_SHAPES])
def test_mac_tile_with_ice40_model(rows, cols, seed):
    config = AcceleratorConfig(rows=rows, cols=cols)
    design = build(MacTile(config, lambda c: Ice40ProductArray(c, primitive="model")),
                   top="mac_tile_ice40", tag=config.name)
    run_cocotb(design, "tb.mac_tile_tb", run_name=f"seed{seed}",
               params={"config": config.as_dict(), "seed": seed, "long": (rows, cols) == (4, 4)},
               seed=seed)


@pytest.mark.cocotb
def test_mac_tile_with_sb_mac16_cell(seed):
    """The 4x4 tile on eight real SB_MAC16 cells (cells_sim.v) against golden; the 140k-beat int32
    wrap test is left to the model run (it adds nothing DSP-specific)."""
    design = build_with_sources(MacTile(CONFIG, lambda c: Ice40ProductArray(c, primitive="instance")),
                                 "mac_tile_ice40_cell", CONFIG.name, [cells_sim_path()], simulator_name())
    run_cocotb(design, "tb.mac_tile_tb", run_name=f"seed{seed}",
               params={"config": CONFIG.as_dict(), "seed": seed, "long": False}, seed=seed)

"""Fast tests of the FPGA board flow (boards/): parameter checks, report parsing, the board top.

No place and route here: the one real build (iCE40, a 2x2 tile) runs only with FULL=1. The iCE40
engine is elaborated for the real platform (primitives checked in the RTLIL) but not synthesized.
The report fixture tests/data/boards/nextpnr-ice40-report.json is a real nextpnr-ice40 0.11
``--report`` of the 4x4 tile (iCEBreaker, --no-dsp), cut down to a few cells and path segments.
"""

import gc
import json
from pathlib import Path

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from boards import report
from boards.boards import BOARDS, ICE40_ENGINE_CONFIG, constrained_platform, get_board
from boards.designs import DEFAULT_DESIGN, default_config, make_design
from boards.soc_top import SocTop, uart_divisor
from boards.synth import (
    YOSYS_ASSERT_WORKAROUND,
    fit_line,
    instantiates,
    log_file_utilisation,
    main,
    parse_overrides,
    parse_seeds,
    report_paths,
    summary_utilisation,
    synthesize,
    yosys_assertion,
)
from boards.top import BoardTop, Lfsr32, xor_tree
from hw.conv_engine import ConvEngine
from hw.ice40_products import Ice40ProductArray
from hw.mac_tile import MacTile
from hw.products import ProductArray
from hw.soc import Soc
from sim.options import full
from spec.config import AcceleratorConfig, Primitives, SocConfig

DATA = Path(__file__).parent / "data" / "boards"
SMALL = AcceleratorConfig(rows=2, cols=2)


@pytest.fixture(scope="module")
def ice40_report():
    return report.load_json(DATA / "nextpnr-ice40-report.json")


# -- parameter validation ------------------------------------------------------------------------

def test_unknown_board_names_parameter_and_choices():
    with pytest.raises(ValueError, match=r"board = 'nexys' .*icebreaker, ulx3s-85f"):
        get_board("nexys")
    with pytest.raises(ValueError, match=r"board = 'nexys'"):
        synthesize("nexys")


def test_unknown_dsp_mode():
    with pytest.raises(ValueError, match=r"dsp = 'maybe' is not supported: must be one of auto, on, off"):
        synthesize("icebreaker", dsp="maybe")


def test_unknown_design_names_parameter_and_choices():
    with pytest.raises(ValueError, match=r"design = 'cpu' .*engine, tile, tile-generic, sequencer"):
        make_design("cpu", SMALL)


@pytest.mark.parametrize("text, message", [
    ("1,x", r"seeds = '1,x' is invalid"),
    ("", r"seeds = '' is invalid"),
    ("3,3", r"seeds = '3,3' is invalid: seeds must be distinct"),
    ("1,-4", r"seed = -4 is out of range"),
])
def test_bad_seeds(text, message):
    with pytest.raises(ValueError, match=message):
        parse_seeds(text)


def test_parse_seeds():
    assert parse_seeds("1,2, 3") == [1, 2, 3]
    assert parse_seeds("7") == [7]


@pytest.mark.parametrize("argv, message", [
    (["--board", "de10"], "board = 'de10' is not supported"),
    (["--board", "icebreaker", "--design", "soc9"], "design = 'soc9' is not supported"),
    (["--board", "icebreaker", "--rows", "0"], "rows = 0 is out of range"),
    (["--board", "ulx3s-85f", "--seeds", "1,1"], "seeds must be distinct"),
    (["--board", "ulx3s-85f", "--seed", "-1"], "seed = -1 is out of range"),
    (["--board", "icebreaker", "--set", "lb_lines=3"], "lb_lines = 3 is not a power of two"),
    (["--board", "icebreaker", "--set", "colour=red"], "--set 'colour=red' is invalid: use NAME=VALUE"),
    (["--board", "icebreaker", "--set", "rows=four"], "--set 'rows=four' is invalid: rows takes an integer"),
])
def test_cli_rejects_bad_input_before_building(argv, message, capsys, tmp_path):
    assert main([*argv, "--build-root", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing was built


def _inspect(*args):
    """A design that is only inspected, never elaborated (no UnusedElaboratable warning)."""
    design = make_design(*args)
    design._MustUse__silence = True
    return design


def test_designs_use_the_boards_primitives_and_configs():
    ice40, ecp5 = BOARDS["icebreaker"], BOARDS["ulx3s-85f"]
    assert DEFAULT_DESIGN == "soc"
    assert default_config("soc", ice40) == ICE40_ENGINE_CONFIG
    assert default_config("soc", ecp5) == AcceleratorConfig()
    assert (default_config("soc-8x8", ecp5).rows, default_config("soc-8x8", ecp5).cols) == (8, 8)
    assert default_config("engine", ice40) == ICE40_ENGINE_CONFIG
    assert default_config("engine", ecp5) == AcceleratorConfig()
    assert default_config("tile", ice40) == AcceleratorConfig()
    engine = _inspect("engine", ICE40_ENGINE_CONFIG, ice40)
    assert type(engine) is ConvEngine and engine.impl.spram == ("act_in", "act_out")
    assert engine.impl.primitives is Primitives.ICE40 and engine.product_array is Ice40ProductArray
    engine = _inspect("engine", AcceleratorConfig(), ecp5)
    assert type(engine) is ConvEngine and engine.product_array is ProductArray
    assert _inspect("tile", SMALL, ice40).product_array is Ice40ProductArray
    assert _inspect("tile-generic", SMALL, ice40).product_array is ProductArray
    assert _inspect("tile", SMALL, ecp5).product_array is ProductArray


def test_ice40_engine_config_fits_the_up5k_memories():
    """The budget written in boards/boards.py and docs/up5k.md: output memory in one SPRAM pair (the
    other pair is the CPU's), everything else in 20 of the 30 EBR (4 kbit): raw accumulator output,
    so no bias / multiplier / shift memories and no pooling row buffer."""
    cfg = ICE40_ENGINE_CONFIG
    ebr_bits = 4096
    lanes = cfg.rows * -(-cfg.lb_lines * cfg.lb_line_bytes * 8 // ebr_bits)
    weights = -(-cfg.weight_mem_words * 8 * cfg.cols // ebr_bits)
    act_in = -(-cfg.act_mem_bytes * 8 // ebr_bits)
    assert lanes + weights + act_in <= 20
    assert cfg.raw_output and not cfg.perf_counters
    assert cfg.out_mem_bytes == 64 * 1024                          # 2 SPRAM (32-bit words)
    assert cfg.act_mem_bytes >= cfg.max_size * cfg.lb_line_bytes   # every legal input fits
    assert not cfg.output_block_copy


def test_parse_overrides_and_report_paths(tmp_path):
    cfg = parse_overrides(["lb_line_bytes=128", "rows=2", "weight_mem_words=0x100"], ICE40_ENGINE_CONFIG)
    assert (cfg.lb_line_bytes, cfg.rows, cfg.weight_mem_words) == (128, 2, 256)
    assert cfg.act_mem_bytes == ICE40_ENGINE_CONFIG.act_mem_bytes
    assert [p.name for p in report_paths(tmp_path, "icebreaker", "soc")] == [
        "synth-icebreaker-soc.json", "synth-icebreaker.json"]
    assert [p.name for p in report_paths(tmp_path, "icebreaker", "engine")] == [
        "synth-icebreaker-engine.json"]
    assert [p.name for p in report_paths(tmp_path, "ulx3s-85f", "tile")] == ["synth-ulx3s-85f-tile.json"]


def test_yosys_assertion_workaround(tmp_path):
    """A Yosys internal assertion is recognised, and the retry's script runs the workaround."""
    log = tmp_path / "top.rpt"
    log.write_text("2.46.17.7. Executing ABC_OPS_REINTEGRATE pass\n"
                   "ERROR: Assert `count_id(wire->name) == 0' failed in kernel/rtlil.cc:2872.\n")
    assert yosys_assertion(log)
    log.write_text("ERROR: Module `x' not found\n")
    assert not yosys_assertion(log) and not yosys_assertion(tmp_path / "missing.rpt")
    board = BOARDS["ulx3s-85f"]
    plan = constrained_platform(board).build(BoardTop(MacTile(SMALL)), name="top", do_build=False,
                                             script_after_read=YOSYS_ASSERT_WORKAROUND)
    script = plan.files["top.ys"]
    assert script.index("read_rtlil") < script.index(YOSYS_ASSERT_WORKAROUND) < script.index("synth_ecp5")


def test_constrained_platform_clock_range():
    with pytest.raises(ValueError, match=r"clock_mhz = 0 is out of range"):
        constrained_platform(BOARDS["icebreaker"], 0)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_lfsr_seed_zero_rejected():
    with pytest.raises(ValueError, match="seed = 0"):
        Lfsr32(0)
    gc.collect()  # the half-built LFSR warns now, inside this test's warning filter


# -- report parsing ------------------------------------------------------------------------------

def test_utilization(ice40_report):
    assert report.utilization(ice40_report, "ICESTORM_LC") == {
        "cell": "ICESTORM_LC", "used": 4777, "available": 5280}
    assert report.utilization(ice40_report, "ICESTORM_DSP")["available"] == 8
    assert report.utilization(ice40_report, "DP16KD") == {"cell": "DP16KD", "used": 0, "available": 0}
    assert report.utilization(ice40_report, None) is None


def test_main_clock(ice40_report):
    name, achieved, constraint = report.main_clock(ice40_report, "cd_sync")
    assert name == "cd_sync.clk"
    assert achieved == pytest.approx(35.31, abs=0.01)
    assert constraint == pytest.approx(30.0, abs=0.01)
    # Several clocks: the hint wins, else the slowest.
    fmax = {"fmax": {"a": {"achieved": 50, "constraint": 10},
                     "cd_sync.clk": {"achieved": 90, "constraint": 10}}}
    assert report.main_clock(fmax, "cd_sync")[0] == "cd_sync.clk"
    assert report.main_clock(fmax, "nomatch")[0] == "a"
    with pytest.raises(ValueError, match="no 'fmax'"):
        report.main_clock({"utilization": {}})


def test_critical_path(ice40_report):
    cp = report.critical_path(ice40_report, "cd_sync.clk")
    assert cp["from_cell"].startswith("design.products.weight")
    assert cp["to_cell"].startswith("design.product_")
    assert cp["logic_segments"] == 1
    assert cp["delay_ns"] > cp["routing_ns"] > 0
    assert report.critical_path(ice40_report, "other.clk") is None


def test_load_json_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        report.load_json(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        report.load_json(tmp_path / "bad.json")


# Yosys `stat -json` of a hierarchical design: "design" totals the hierarchy below the top.
STAT = {"modules": {
    "\\top": {"num_cells_by_type": {"SB_DFF": 1, "SB_LUT4": 1, "$scopeinfo": 2, "sub": 1}},
    "\\sub": {"num_cells_by_type": {"SB_DFFESR": 1, "SB_MAC16": 1}},
}, "design": {"num_cells_by_type": {"SB_DFF": 1, "SB_DFFESR": 1, "SB_LUT4": 1, "SB_MAC16": 1,
                                    "$scopeinfo": 2}}}


def test_stat_cells_reads_the_design_total():
    assert report.stat_cells(STAT) == {"SB_DFFESR": 1, "SB_DFF": 1, "SB_LUT4": 1, "SB_MAC16": 1}
    flat = {"modules": {"\\top": STAT["design"]}}  # no "design" section: the modules' sum
    assert report.stat_cells(flat) == report.stat_cells(STAT)


def test_log_utilisation():
    text = ("Info: Device utilisation:\nInfo: \t         ICESTORM_LC:    1394/   5280    26%\n"
            "Info: \t        ICESTORM_RAM:       4/     30    13%\nInfo: Max frequency ...\n")
    assert report.log_utilisation(text) == {"ICESTORM_LC": (1394, 5280), "ICESTORM_RAM": (4, 30)}
    assert report.log_utilisation("no utilisation here") == {}


def test_summarize_has_required_fields(ice40_report):
    board = BOARDS["icebreaker"]
    runs = [{"seed": 1, "fmax_mhz": 35.31}, {"seed": 2, "fmax_mhz": 33.0}, {"seed": 3, "fmax_mhz": 36.0}]
    summary = report.summarize(
        board=board, design="tile", config=AcceleratorConfig().as_dict(), report=ice40_report,
        cells=report.stat_cells(STAT), seed=1, runs=runs, build_time_s=66.54,
        step_times_s={"synth": 13.7, "pnr": 51.4, "pack": 0.6}, bitstream="b/top.bin", log="b/top.tim",
        synth_log="b/top.rpt")
    for key in ("board", "device", "design", "config", "luts_or_lcs", "ffs", "dsp", "ram_blocks",
                "spram", "fmax_mhz", "target_mhz", "met", "seed", "build_time_s", "bitstream", "log"):
        assert key in summary, key
    assert summary["device"] == "iCE40UP5K-SG48"
    assert summary["target_mhz"] == 30.0 and summary["met"] is True
    assert summary["ffs"] == {"cell": "SB_DFF*", "used": 2, "available": 5280}
    assert summary["netlist_dsp_cells"] == 1
    assert summary["spram"]["available"] == 4
    assert (summary["fmax_min_mhz"], summary["fmax_median_mhz"]) == (33.0, 35.31)
    json.dumps(summary)  # JSON-ready
    table = report.format_table(summary)
    assert "35.31 MHz (target 30 MHz: met" in table
    assert "min 33.0 / median 35.31" in table


def test_summarize_ecp5_reads_ffs_from_nextpnr():
    ecp5 = report.load_json(DATA / "nextpnr-ecp5-report.json")
    summary = report.summarize(
        board=BOARDS["ulx3s-85f"], design="tile", config=AcceleratorConfig().as_dict(), report=ecp5,
        cells={"MULT18X18D": 16}, seed=1, runs=[{"seed": 1, "fmax_mhz": 120.35}], build_time_s=23.8,
        step_times_s={}, bitstream="top.bit", log="top.tim", synth_log="top.rpt")
    assert summary["clock"] == "$glbnet$cd_sync.clk"
    assert summary["luts_or_lcs"] == {"cell": "TRELLIS_COMB", "used": 1269, "available": 83640}
    assert summary["ffs"] == {"cell": "TRELLIS_FF", "used": 1624, "available": 83640}
    assert summary["dsp"] == {"cell": "MULT18X18D", "used": 16, "available": 156}
    assert summary["spram"] is None
    assert summary["target_mhz"] == 100.0 and summary["met"] is True
    assert summary["critical_path"]["to_cell"].startswith("design.product[3]")


def test_format_table_failure():
    table = report.format_table({
        "status": "failed", "board": "icebreaker", "device": "iCE40UP5K-SG48", "design": "tile",
        "config": AcceleratorConfig().as_dict(), "error": "ERROR: no BELs", "log": "x.tim"})
    assert "FAILED" in table and "ERROR: no BELs" in table


# -- the board top -------------------------------------------------------------------------------

def test_board_top_converts_without_platform():
    top = BoardTop(MacTile(SMALL))
    # act 2x8 + weight 2x8 + first + last + i.valid + o.ready
    assert top.in_bits == 2 * 8 + 2 * 8 + 4
    # 2x2 results of 32 bits + o.valid + i.ready
    assert top.out_bits == 4 * 32 + 2
    text = verilog.convert(top, ports=[top.led], name="board_top")
    assert "module board_top" in text
    assert top.xor_levels == 4  # 130 -> 33 -> 9 -> 3 -> 1


def test_xor_tree_reduces_after_its_latency():
    m = Module()
    bits = [Signal(name=f"b{k}") for k in range(11)]
    result, levels = xor_tree(m, bits)
    assert levels == 2
    sim = Simulator(m)
    sim.add_clock(1e-6)
    patterns = [0b10110011101, 0b11111111111, 0b00000000001, 0]

    async def bench(ctx):
        for value in patterns:
            for k, bit in enumerate(bits):
                ctx.set(bit, (value >> k) & 1)
            await ctx.tick().repeat(levels)
            assert ctx.get(result) == bin(value).count("1") % 2

    sim.add_testbench(bench)
    sim.run()


def test_lfsr_is_not_stuck():
    lfsr = Lfsr32(0x1234_5678)
    sim = Simulator(lfsr)
    sim.add_clock(1e-6)
    seen = set()

    async def bench(ctx):
        for _ in range(40):
            seen.add(ctx.get(lfsr.state))
            await ctx.tick()

    sim.add_testbench(bench)
    sim.run()
    assert len(seen) == 40 and 0 not in seen


@pytest.mark.parametrize("board_name, constraint", [
    ("icebreaker", ("top.pcf", "set_frequency clk12_0__io 30.0")),
    ("ulx3s-85f", ("top.lpf", 'FREQUENCY PORT "clk25_0__io" 100000000.0 HZ')),
])
def test_board_top_prepares_for_platform_at_target_clock(board_name, constraint):
    """Elaborate with the real platform (pins, clock, POR) and render the build without running it."""
    board = BOARDS[board_name]
    plan = constrained_platform(board).build(
        BoardTop(MacTile(SMALL)), name="top", do_build=False, synth_opts=list(board.synth_opts))
    filename, line = constraint
    assert line in plan.files[filename]
    commands = json.loads(plan.files["build_top.json"])["commands"]
    assert [c[0] for c in commands][0] == "yosys"
    assert any(board.pnr_output_flag in c for c in commands)
    assert board.board_clock_mhz in (12.0, 25.0)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_ice40_engine_elaborates_with_dsp_and_spram_primitives():
    """The whole iCEBreaker engine rendered for the real platform: 8 SB_MAC16 in dual 8x8 mode and
    the input and output activation memories on 2 + 2 SB_SPRAM256KA (through the platform's memory
    mapping; the CPU's RAM stays in EBR, which the bitstream initialises)."""
    board = BOARDS["icebreaker"]
    top = BoardTop(make_design("engine", board.engine_config, board))
    plan = constrained_platform(board).build(top, name="top", do_build=False,
                                             synth_opts=list(board.synth_opts))
    rtlil = plan.files["top.il"]
    assert rtlil.count("cell \\SB_MAC16 ") == 8
    assert rtlil.count("cell \\SB_SPRAM256KA ") == 4
    assert rtlil.count("parameter \\MODE_8x8 1'1") == 8


# -- the SoC board top ---------------------------------------------------------------------------

def test_uart_divisor():
    assert uart_divisor(12e6) == 104 and uart_divisor(25e6) == 217
    with pytest.raises(ValueError, match=r"UART divisor = 0 .*is out of range: must be in \[8, 65535\]"):
        uart_divisor(50e3)
    with pytest.raises(ValueError, match=r"UART divisor = 9 gives .* must be within 2 %"):
        uart_divisor(1e6)
    with pytest.raises(ValueError, match=r"clk_hz must be a positive number, not -1"):
        uart_divisor(-1)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_soc_top_rejects_a_uart_divisor_for_another_clock():
    soc = Soc(SocConfig(imem_words=16, dmem_words=16, clocks_per_bit=217))
    with pytest.raises(ValueError, match=r"soc.clocks_per_bit = 217 does not match .* divisor 104"):
        SocTop(soc, clk_hz=12e6)
    with pytest.raises(ValueError, match=r"por_cycles = 0 is out of range"):
        SocTop(soc, clk_hz=25e6, por_cycles=0)
    del soc
    gc.collect()  # the unused SoC and half-built tops warn now, inside this test's warning filter


@pytest.mark.parametrize("board_name, pins", [
    ("icebreaker", ["set_io uart_0__tx__io 9", "set_io led_1__io 37", "set_io led_0__io 11",
                    "set_io button_0__io 10", "set_frequency clk12_0__io 30.0"]),
    ("ulx3s-85f", ['LOCATE COMP "uart_0__tx__io" SITE "L4"', 'LOCATE COMP "led_3__io" SITE "D2"',
                   'LOCATE COMP "button_0__io" SITE "R1"', 'FREQUENCY PORT "clk25_0__io" 100000000.0 HZ']),
])
def test_soc_top_elaborates_for_the_board(board_name, pins):
    """The default design: the whole SoC with the board's engine, RAM sizes, UART divisor from the
    oscillator (not from the constrained clock) and the firmware in the RAM initialisation."""
    board = BOARDS[board_name]
    top = make_design(DEFAULT_DESIGN, default_config(DEFAULT_DESIGN, board), board)
    assert isinstance(top, SocTop)
    assert top.clocks_per_bit == {"icebreaker": 104, "ulx3s-85f": 217}[board_name]
    assert (top.soc.imem_words, top.soc.dmem_words) == (board.soc.imem_words, board.soc.dmem_words)
    assert top.soc.soc_config.engine == board.engine_config
    plan = constrained_platform(board).build(top, name="top", do_build=False,
                                             synth_opts=list(board.synth_opts))
    constraints = plan.files["top.pcf" if board.family == "ice40" else "top.lpf"]
    for line in pins:
        assert line in constraints
    rtlil = plan.files["top.il"]
    assert rtlil.count("cell \\SB_MAC16 ") == (8 if board.family == "ice40" else 0)


NEXTPNR_OVER_CAPACITY_LOG = """\
Info: Device utilisation:
Info: 	         ICESTORM_LC:  8689/ 5280   164%
Info: 	        ICESTORM_RAM:    18/   30    60%
Info: 	               SB_IO:     7/   96     7%
Info: 	      ICESTORM_SPRAM:     2/    4    50%
Info: 	        ICESTORM_DSP:     8/    8   100%
ERROR: Unable to place cell 'x', no BELs remaining to implement cell type 'ICESTORM_LC'
"""


def test_fit_line_names_every_resource_over_capacity(tmp_path):
    board = BOARDS["icebreaker"]
    log = tmp_path / "top.seed1.tim"
    log.write_text(NEXTPNR_OVER_CAPACITY_LOG)
    used = log_file_utilisation(log)
    assert used["ICESTORM_LC"] == (8689, 5280)
    assert fit_line(board, used) == "does not fit: 8689/5280 LCs"
    used["ICESTORM_RAM"] = (42, 30)
    assert fit_line(board, used) == "does not fit: 8689/5280 LCs, 42/30 EBR"
    assert fit_line(board, {"ICESTORM_LC": (5000, 5280)}) is None
    summary = {"luts_or_lcs": {"cell": "TRELLIS_COMB", "used": 9066, "available": 83640},
               "ffs": {"cell": "TRELLIS_FF", "used": 5287, "available": 83640},
               "dsp": {"cell": "MULT18X18D", "used": 160, "available": 156},
               "ram_blocks": {"cell": "DP16KD", "used": 60, "available": 208}, "spram": None}
    assert fit_line(BOARDS["ulx3s-85f"], summary_utilisation(summary)) == \
        "does not fit: 9066/83640 LUTs, 160/156 MULT18X18D"


# -- the real thing (slow) -----------------------------------------------------------------------

@pytest.mark.skipif(not full(), reason="full place and route: set FULL=1")
def test_icebreaker_build_small_tile(tmp_path):
    summary = synthesize("icebreaker", "tile", SMALL, seeds=[1, 2], build_root=tmp_path)
    assert summary["status"] == "ok", summary.get("error")
    assert summary["dsp"]["used"] == 2  # 2x2 products, two per SB_MAC16 (dual 8x8 mode)
    assert summary["fmax_mhz"] > 0 and len(summary["seeds"]) == 2
    assert Path(summary["bitstream"]).stat().st_size > 0
    assert not (tmp_path / "reports" / "synth-icebreaker.json").exists()  # not the default design
    saved = json.loads((tmp_path / "reports" / "synth-icebreaker-tile.json").read_text())
    assert saved["fmax_mhz"] == summary["fmax_mhz"]


def test_hand_instantiated_sb_mac16_never_gets_yosys_dsp(tmp_path):
    # Yosys -dsp rewrites SB_MAC16 in dual 8x8 mode into wrong 16x16 multipliers (docs/netlist.md):
    # the flow detects the instances in the RTLIL and refuses --dsp on before running Yosys.
    il = tmp_path / "a.il"
    il.write_text("module \\top\n  cell \\SB_MAC16 \\dsp0\n  end\nend\n")
    assert instantiates(il, "SB_MAC16")
    assert not instantiates(il, "SB_SPRAM256KA")
    with pytest.raises(ValueError, match=r"dsp = 'on' is not allowed for design 'tile' on icebreaker"):
        synthesize("icebreaker", "tile", dsp="on", build_root=tmp_path)

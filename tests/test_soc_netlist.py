"""Gate-level netlist simulation: the synthesised iCE40 SoC runs one conv layer through the firmware
and must match golden/ bit for bit.

RTL simulation (tests/test_soc.py) checks the Amaranth design; this checks what Yosys made of it for
the board (boards/netlist.py: synth_ice40, write_verilog; sim/netlist.py: simulated with Yosys's
iCE40 cells_sim.v; the SB_MAC16 dual 8x8 products and the SPRAM output memory are the real cell
models). Anything RTL simulation cannot see -- a synthesis mismatch, an Instance parameter, a memory
mapped with the wrong read semantics, an uninitialised flip-flop the reset does not cover -- shows
up here as a wrong output.

Slow (3-6 min from clean on 2 cores: Yosys, Verilator build, run; docs/netlist.md): marked
``netlist`` and run by ``make test-netlist`` only; NETLIST_SIM=verilator|icarus picks the simulator,
SEED the layer. ``test_netlist_firmware_fits`` is the fast part that ``make test`` runs.
"""

import dataclasses
import time

import numpy as np
import pytest

from bench.conv_layers import make_layer
from boards.boards import ICE40_SOC
from boards.netlist import synthesize_netlist
from firmware.elf import read_elf
from firmware.layer_image import build_layer_firmware, checksum
from golden.conv import conv2d
from hw.soc import Soc
from sim.netlist import NETLIST_VERILATOR_ARGS, cells_sim_path, netlist_simulator, verilator_public_ports
from sim.options import netlist_dsp
from sim.runner import BUILD, build, run_cocotb

# Small RAMs (the firmware has ~2.6 KB of code, ~0.6 KB of data; ~1.4 KB stack left) and a fast UART keep
# the netlist and the simulated run short; the engine is the board's (ICE40_ENGINE_CONFIG).
IMEM_WORDS = 1024
DMEM_WORDS = 512
CLOCKS_PER_BIT = 2
NETLIST_SOC = dataclasses.replace(ICE40_SOC, imem_words=IMEM_WORDS, dmem_words=DMEM_WORDS,
                                  clocks_per_bit=CLOCKS_PER_BIT)
# The board's bit-serial core needs ~1.6 M cycles for the layer: command issue and the software
# requantisation of the raw accumulators (docs/netlist.md).
MAX_CYCLES = 4_000_000


def edge_layer(seed):
    """4x4x2 -> 4 channels, 3x3 SAME (H=W=4, C=2, M=4, R=S=3; E=F=4): random data with the edge
    values forced in (-128 and 127 inputs, +-127 weights, nonzero zero points, the extreme
    multipliers, a shift that saturates) and its golden output."""
    rng = np.random.default_rng(seed)
    t = make_layer(rng, "netlist 4x4x2 -> 4, 3x3 SAME", 4, 4, 2, 4, 3, 3, padding="SAME",
                   input_zp=int(rng.choice([-128, -37, 5, 127])), output_zp=int(rng.integers(1, 21)),
                   edge_quant=True)
    layer = t.layer
    layer.x[0, 0, :] = -128
    layer.x[3, 3, :] = 127
    layer.x[1, 2, 0], layer.x[2, 1, 1] = 127, -128
    layer.w[0, 1, 1, :] = 127
    layer.w[1, 1, 1, :] = -127
    pt, pb, pl, pr = layer.resolved_padding()
    expected = conv2d(layer.x[None], layer.w, layer.bias, stride=(1, 1), padding=((pt, pb), (pl, pr)),
                      multiplier=layer.multiplier, shift=layer.shift, input_zero_point=layer.input_zp,
                      output_zero_point=layer.output_zp, act_min=layer.act_min, act_max=layer.act_max)[0]
    return layer, expected


def netlist_firmware(layer, expected, seed):
    """conv_soc for the netlist's small RAMs, without the plain-C layer, printing every output."""
    return build_layer_firmware(NETLIST_SOC, layer, expected, name="conv_soc",
                                out_dir=BUILD / "firmware" / f"soc-netlist-seed{seed}",
                                defines={"NO_SW_REFERENCE": None, "SHOW_ALL_OUTPUTS": None})


def test_netlist_firmware_fits(seed):
    """Fast guard (no simulator): the firmware variant builds, leaves the plain-C layer out and fits
    the netlist's RAMs with room for .bss and the stack -- so a growing firmware fails here, not
    after minutes of Yosys. (firmware.build already refuses code or data that overflow a RAM.)"""
    layer, expected = edge_layer(seed)
    image = netlist_firmware(layer, expected, seed)
    symbols = read_elf(image.elf.read_bytes()).symbols
    assert "tfl_conv" not in symbols, "NO_SW_REFERENCE still links the plain-C conv"
    stack = symbols["__stack_size"]
    assert stack >= 512, f"only {stack} bytes of DMEM left for the stack"
    assert len(image.imem) <= IMEM_WORDS


@pytest.mark.cocotb
@pytest.mark.netlist
def test_soc_netlist_conv_layer(seed):
    layer, expected = edge_layer(seed)
    flat = np.asarray(expected, np.int8).reshape(-1)
    print(f"golden outputs at the clamp limits: {int((flat == -128).sum())} at -128, "
          f"{int((flat == 127).sum())} at 127, of {flat.size}")
    image = netlist_firmware(layer, expected, seed)
    soc = Soc(NETLIST_SOC, image)

    # NETLIST_DSP=1: synth_ice40 -dsp, only to reproduce the finding in docs/netlist.md.
    dsp = netlist_dsp()
    netlist = synthesize_netlist(soc, "soc", f"seed{seed}{'-dsp' if dsp else ''}", dsp=dsp)
    t1 = time.monotonic()  # after Yosys (or its cache)
    cells = ", ".join(f"{k} {v}" for k, v in sorted(netlist.cells.items()))
    print(f"netlist {netlist.path}: {cells}")
    if not dsp:
        assert netlist.cells.get("SB_MAC16") == 8, f"expected the 8 directly instantiated SB_MAC16: {cells}"
        # synth_ice40 -dsp rewrites instantiated SB_MAC16 into 16x16 mode (docs/netlist.md).
        modes = netlist.path.read_text().count("MODE_8x8(1'h1)")
        assert modes == 8, f"{modes} of the 8 SB_MAC16 kept MODE_8x8 = 1 in the netlist"
    assert netlist.cells.get("SB_SPRAM256KA") == 4, f"expected the 4 SPRAMs of act_in and act_out: {cells}"

    sim = netlist_simulator()
    build_args, defines = [], {}
    if sim == "verilator":
        ports = ["clk", "rst", *soc.signature.members.keys()]
        build_args = NETLIST_VERILATOR_ARGS + verilator_public_ports(BUILD / "netlist", "soc", ports)
    else:
        # cells_sim.v's default port values (`input X = 1'b0`) are SystemVerilog that Icarus 11
        # rejects; the netlist connects every port Yosys uses.
        defines = {"NO_ICE40_DEFAULT_ASSIGNMENTS": 1}
    design = build(netlist.path, "soc", f"netlist-seed{seed}{'-dsp' if dsp else ''}", sim=sim, waves=False,
                   extra_sources=[cells_sim_path()], defines=defines, build_args=build_args)
    t2 = time.monotonic()
    result_path = design.build_dir / "report.json"
    params = {"clocks_per_bit": CLOCKS_PER_BIT, "max_cycles": MAX_CYCLES, "seed": seed,
              "expected": flat.tolist(), "checksum": checksum(flat), "result_path": str(result_path)}
    run_cocotb(design, "tb.soc_netlist_tb", run_name=f"seed{seed}", params=params, seed=seed)
    t3 = time.monotonic()
    print(f"{flat.size} outputs bit-exact on the {sim} netlist simulation; "
          f"Yosys {'cached' if netlist.yosys_seconds is None else f'{netlist.yosys_seconds:.0f} s'}, "
          f"simulator build {t2 - t1:.0f} s (0 = cached), run {t3 - t2:.0f} s")


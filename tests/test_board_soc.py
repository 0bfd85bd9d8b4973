"""System test of the board application: boards/soc_top.py (SocTop: the SoC with power-on reset,
button, UART pin and LEDs) elaborated exactly as for the iCEBreaker -- the engine on iCE40
primitives (SB_MAC16 products as their behavioural model, ICE40_ENGINE_CONFIG), 4+4 KB RAM, 104
clocks per UART bit (115200 baud at 12 MHz) -- with the board firmware (firmware/board/main.c) baked
into the RAM initialisation. The testbench (tb/board_soc_tb.py) sees only the pins.

The layer's data come from the test's seed, so each seed is its own simulator build (~1 min of
Verilator C++). The iCEBreaker SoC has the bit-serial core (boards.boards: ``ICE40_SOC``, ~46 cycles
per instruction, hw.cpu.serial_core.serial_cycles), so ``test_board_soc_icebreaker`` runs a tiny
layer (2x2x4 -> 4, 1x1: the C reference conv is small); ``test_board_soc_icebreaker_multicycle``
(FULL=1) runs the larger 4x4x4 -> 8, 3x3 SAME layer on the same SoC with the multi-cycle core (the C
conv on that core alone is ~1.8 M cycles instead of ~7 M for the bitstream's layer); with FULL=1
``test_board_soc_bitstream_firmware`` runs exactly the image in each board's bitstream (the 8x8x4 ->
8 layer of firmware.board_image.BOARD_LAYER_SEED; ULX3S: generic engine, 16+16 KB RAM, 217 clocks
per bit).
"""

import dataclasses
import json

import pytest

from boards.boards import BOARDS
from boards.soc_top import make_soc_top
from firmware.board_image import BOARD_LAYER_SEED, board_layer
from firmware.layer_image import checksum
from sim.options import full
from sim.runner import build, run_cocotb, simulator_name
from spec.config import CoreConfig, CoreKind

pytestmark = pytest.mark.cocotb

POR_CYCLES = 64  # short power-on reset in simulation (the board uses boards.soc_top.POR_CYCLES)


SMALL_LAYER = (4, 4, 4, 8, 3, 3)   # H, W, C, M, R, S
TINY_LAYER = (2, 2, 4, 4, 1, 1)
verilator_only = pytest.mark.skipif(
    simulator_name() == "icarus", reason="millions of simulated cycles: too slow on Icarus")


def run_board(seed, shape=None, board_name="icebreaker", core=None, max_cycles=30_000_000):
    """Build ``board_name``'s SocTop (with its own core, or ``core``, a CoreKind, with instret) with
    the demo firmware for ``seed``/``shape``, run it, return the parsed UART report
    (tb/board_soc_tb.py)."""
    board = BOARDS[board_name]
    config = board.engine_config
    extra = {} if shape is None else {"shape": shape}
    soc = board.soc if core is None else dataclasses.replace(board.soc, core=CoreConfig(kind=core))
    top = make_soc_top(board, soc, seed=seed, por_cycles=POR_CYCLES, **extra)
    label = ("x".join(map(str, shape)) if shape else "demo") + (f"_{core.value}" if core else "")
    design = build(top, top="soc_top", tag=f"{board.name}_{config.name}_{label}_s{seed}")
    _layer, expected = board_layer(seed, **extra)
    run_name = f"board-{board.name}-{label}-s{seed}"
    result_path = design.build_dir / "runs" / f"{run_name}.report.json"
    params = {"clocks_per_bit": top.clocks_per_bit, "max_cycles": max_cycles, "seed": seed,
              "checksum": checksum(expected), "outputs": int(expected.size),
              "result_path": str(result_path)}
    run_cocotb(design, "tb.board_soc_tb", run_name=run_name, params=params, seed=seed)
    report = json.loads(result_path.read_text())
    assert top.clocks_per_bit == {"icebreaker": 104, "ulx3s-85f": 217}[board_name]
    print(report["uart_text"])
    print(f"seed {seed}: accelerator {report['accel_cycles']} cycles, C {report['c_cycles']} cycles, "
          f"speedup {report['speedup']}x")
    return report


@verilator_only
def test_board_soc_icebreaker(seed):
    assert BOARDS["icebreaker"].soc.core.kind is CoreKind.SERIAL
    report = run_board(seed, TINY_LAYER)
    assert report["pass"] and report["mismatch"] == 0 and report["leds"]["pass"] == 1
    assert report["layer"] == dict(zip("HWCMRS", TINY_LAYER, strict=True), U=1)


@verilator_only
@pytest.mark.skipif(not full(), reason="a 3x3 layer on the multi-cycle core: set FULL=1")
def test_board_soc_icebreaker_multicycle(seed):
    report = run_board(seed, SMALL_LAYER, core=CoreKind.MULTICYCLE)
    assert report["pass"] and report["mismatch"] == 0 and report["leds"]["pass"] == 1
    assert report["layer"] == dict(zip("HWCMRS", SMALL_LAYER, strict=True), U=1)


@verilator_only
@pytest.mark.skipif(not full(), reason="the bitstream's whole layer (~4 min): set FULL=1")
@pytest.mark.parametrize("board_name", ["icebreaker", "ulx3s-85f"])
def test_board_soc_bitstream_firmware(board_name):
    # The iCEBreaker's bit-serial core needs ~10^8 cycles for the 8x8x4 -> 8 layer (most of it the
    # plain-C reference conv; ~12 s on the board at 12 MHz, tens of minutes in Verilator).
    max_cycles = 400_000_000 if BOARDS[board_name].soc.core.kind is CoreKind.SERIAL else 30_000_000
    report = run_board(BOARD_LAYER_SEED, board_name=board_name, max_cycles=max_cycles)
    assert report["pass"] and report["mismatch"] == 0 and report["leds"]["pass"] == 1
    assert report["outputs"] == 8 * 8 * 8

"""System test of the board application: boards/soc_top.py (SocTop: the SoC with power-on reset,
button, UART pin and LEDs) elaborated exactly as for the iCEBreaker -- the iCE40 engine
(Ice40ConvEngine, SB_MAC16 products as their behavioural model, ICE40_ENGINE_CONFIG), 4+4 KB RAM,
104 clocks per UART bit (115200 baud at 12 MHz) -- with the board firmware (firmware/board/main.c)
baked into the RAM initialisation. The testbench (tb/test_board_soc.py) sees only the pins.

The layer's data come from the test's seed, so each seed is its own simulator build; the
bitstream uses firmware.board_image.BOARD_LAYER_SEED.
"""

import json

import pytest

from boards.boards import BOARDS
from boards.soc_top import make_soc_top
from firmware.board_image import board_layer
from firmware.layer_image import checksum
from sim.runner import build, run_cocotb, simulator_name

pytestmark = pytest.mark.cocotb

POR_CYCLES = 64  # short power-on reset in simulation (the board uses boards.soc_top.POR_CYCLES)


@pytest.mark.skipif(simulator_name() == "icarus",
                    reason="millions of simulated cycles (the C conv on the core): too slow on Icarus")
def test_board_soc_icebreaker(seed):
    board = BOARDS["icebreaker"]
    config = board.engine_config
    top = make_soc_top(board, config, seed=seed, por_cycles=POR_CYCLES)
    design = build(top, top="soc_top", tag=f"{board.name}_{config.name}_s{seed}")
    _layer, expected = board_layer(seed)
    run_name = f"board-{board.name}-s{seed}"
    result_path = design.build_dir / "runs" / f"{run_name}.report.json"
    params = {"clocks_per_bit": top.clocks_per_bit, "max_cycles": 30_000_000, "seed": seed,
              "checksum": checksum(expected), "outputs": int(expected.size),
              "result_path": str(result_path)}
    run_cocotb(design, "tb.test_board_soc", run_name=run_name, params=params, seed=seed)
    report = json.loads(result_path.read_text())
    print(report["uart_text"])
    assert report["pass"] and report["mismatch"] == 0 and report["leds"]["pass"] == 1
    assert top.clocks_per_bit == 104
    print(f"seed {seed}: accelerator {report['accel_cycles']} cycles, C {report['c_cycles']} cycles, "
          f"speedup {report['speedup']}x")

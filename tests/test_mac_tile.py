"""MacTile: cocotb on the generated Verilog (Verilator by default, SIM=icarus for Icarus)."""

import pytest

from hw.mac_tile import MacTile
from sim.runner import build, run_cocotb
from spec.config import AcceleratorConfig

pytestmark = pytest.mark.cocotb

SHAPES = [(4, 4), (2, 8), (8, 8)]


@pytest.mark.parametrize("rows,cols", SHAPES, ids=[f"{r}x{c}" for r, c in SHAPES])
def test_mac_tile_cocotb(rows, cols, seed):
    config = AcceleratorConfig(rows=rows, cols=cols)
    design = build(MacTile(config), top="mac_tile", tag=config.name)
    run_cocotb(design, "tb.mac_tile_tb", run_name=f"seed{seed}",
               params={"config": config.as_dict(), "seed": seed, "long": (rows, cols) == (4, 4)}, seed=seed)

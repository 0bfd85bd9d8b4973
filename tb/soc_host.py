"""Host (pytest / benchmark) side of the SoC system test: build the SoC once, generate and build the
firmware for a layer, run tb.soc_tb on it and return the parsed UART report.

Used by tests/test_soc.py and bench/soc.py (not a cocotb module itself).
"""

import json

import numpy as np

from firmware.layer_image import build_layer_firmware, checksum
from hw.soc import Soc
from sim.runner import BUILD, build, run_cocotb
from spec.config import AcceleratorConfig

__all__ = ["CLOCKS_PER_BIT", "IMEM_WORDS", "DMEM_WORDS", "soc_design", "run_layer"]

CLOCKS_PER_BIT = 8
IMEM_WORDS = 4096
DMEM_WORDS = 8192


def soc_design(config=None, sim=None):
    """(Soc, BuiltDesign): one cached simulator build per configuration (RAMs loaded by the testbench)."""
    config = config or AcceleratorConfig()
    soc = Soc(config, imem_words=IMEM_WORDS, dmem_words=DMEM_WORDS, clocks_per_bit=CLOCKS_PER_BIT,
              loader=True)
    return soc, build(soc, top="soc", tag=f"{config.name}_cpb{CLOCKS_PER_BIT}", sim=sim)


def run_layer(test_layer, run_name, seed, config=None, max_cycles=20_000_000, check=True, sim=None):
    """Run the conv_soc firmware for ``test_layer`` (tb.conv_layers.TestLayer); the parsed report."""
    config = config or AcceleratorConfig()
    soc, design = soc_design(config, sim)
    image = build_layer_firmware(config, test_layer.layer, test_layer.expected, name="conv_soc",
                                 out_dir=BUILD / "firmware" / f"soc-{run_name}",
                                 clocks_per_bit=CLOCKS_PER_BIT, imem_words=IMEM_WORDS, dmem_words=DMEM_WORDS)
    expected = np.asarray(test_layer.expected, np.int8).reshape(-1)
    result_path = design.build_dir / "runs" / f"{run_name}.report.json"
    params = {"imem": image.imem, "dmem": image.dmem, "dmem_base": soc.memory_map.dmem_base,
              "clocks_per_bit": CLOCKS_PER_BIT, "max_cycles": max_cycles,
              "expected": expected.tolist(), "checksum": checksum(expected), "seed": seed,
              "result_path": str(result_path), "check": check}
    run_cocotb(design, "tb.soc_tb", run_name=run_name, params=params, seed=seed)
    report = json.loads(result_path.read_text())
    report["imem_words"], report["dmem_words"] = len(image.imem), len(image.dmem)
    return report

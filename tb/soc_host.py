"""Host (pytest / benchmark) side of the SoC system test: build the SoC once, generate and build the
firmware for a layer, run tb.soc_tb on it and return the parsed UART report.

Used by tests/test_soc.py and bench/soc.py (not a cocotb module itself).
"""

import dataclasses
import json

import numpy as np

from firmware.layer_image import build_layer_firmware, checksum
from hw.soc import Soc
from sim.runner import BUILD, build, run_cocotb
from spec.config import SIM_SOC, AcceleratorConfig

__all__ = ["CLOCKS_PER_BIT", "IMEM_WORDS", "DMEM_WORDS", "soc_design", "run_layer"]

CLOCKS_PER_BIT = SIM_SOC.clocks_per_bit
IMEM_WORDS = SIM_SOC.imem_words
DMEM_WORDS = SIM_SOC.dmem_words


def soc_design(config=None, sim=None):
    """(Soc, BuiltDesign): one cached simulator build per configuration (RAMs loaded by the testbench)."""
    config = config or AcceleratorConfig()
    soc_config = dataclasses.replace(SIM_SOC, engine=config)
    soc = Soc(soc_config, loader=True)
    return soc, build(soc, top="soc", tag=soc_config.name, sim=sim)


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

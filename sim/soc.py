"""The SoC (hw/soc.py) in RTL simulation: one cached simulator build per SocConfig, and a conv layer's
firmware run on it.

``soc_design(soc)`` elaborates the SoC with its RAM load port and builds it once per configuration
and simulator (sim.runner.build). ``run_layer(test_layer, ...)`` generates and builds the conv_soc
firmware for one layer (firmware/layer_image.py), runs the cocotb testbench named by ``testbench``
(a module name, loaded by the simulator) on the build and returns its parsed UART report.
Used by the SoC tests, ``python -m bench.soc`` and the demo.
"""

import json

import numpy as np

from firmware.layer_image import build_layer_firmware, checksum
from hw.soc import Soc
from spec.config import SIM_SOC, SocConfig

from .runner import BUILD, build, run_cocotb

__all__ = ["SOC_TESTBENCH", "soc_design", "run_layer"]

#: The cocotb module that runs conv_soc firmware and writes the report ``run_layer`` returns.
SOC_TESTBENCH = "tb.soc_tb"


def soc_design(soc: SocConfig = SIM_SOC, sim=None):
    """(Soc, BuiltDesign) of ``soc``: one cached simulator build per configuration and simulator
    (``sim``: None for the SIM environment variable); the testbench loads the RAMs."""
    if not isinstance(soc, SocConfig):
        raise ValueError(f"soc = {soc!r} is not allowed: must be a SocConfig")
    design = Soc(soc, loader=True)
    return design, build(design, top="soc", tag=soc.name, sim=sim)


def run_layer(test_layer, run_name, seed, soc: SocConfig = SIM_SOC, max_cycles=20_000_000, check=True,
              sim=None, testbench=SOC_TESTBENCH):
    """Run the conv_soc firmware of ``test_layer`` (``.layer`` a driver ConvLayer, ``.expected`` its
    int8 golden output) on the SoC ``soc``; the testbench's report (a dict: ``pass``, cycles of the
    accelerator and software paths, checksums, ``uart_text``) plus the RAM words the image used.

    ``run_name`` names the run directory; ``seed`` goes to cocotb; the simulation stops after
    ``max_cycles`` clock cycles; ``check=False`` reports without failing on a mismatch.
    """
    design, built = soc_design(soc, sim)
    image = build_layer_firmware(soc, test_layer.layer, test_layer.expected, name="conv_soc",
                                 out_dir=BUILD / "firmware" / f"soc-{run_name}")
    expected = np.asarray(test_layer.expected, np.int8).reshape(-1)
    result_path = built.build_dir / "runs" / f"{run_name}.report.json"
    params = {"imem": image.imem, "dmem": image.dmem, "dmem_base": design.memory_map.dmem_base,
              "clocks_per_bit": soc.clocks_per_bit, "max_cycles": max_cycles,
              "expected": expected.tolist(), "checksum": checksum(expected), "seed": seed,
              "result_path": str(result_path), "check": check}
    run_cocotb(built, testbench, run_name=run_name, params=params, seed=seed)
    report = json.loads(result_path.read_text())
    report["imem_words"], report["dmem_words"] = len(image.imem), len(image.dmem)
    return report

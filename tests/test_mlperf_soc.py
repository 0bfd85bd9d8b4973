"""The MLPerf Tiny look-alikes end to end as firmware on the SoC RTL, every output byte against
TensorFlow Lite Micro (bench/mlperf.py's flow: compiler -> firmware without the plain-C copy -> the
SoC with 512 KiB of DMEM).

By default the keyword-spotting DS-CNN runs (space-to-depth for its 10x4 stride-2 first layer,
depthwise and pointwise convs, a 25x5 global average pool and SOFTMAX on the core); FULL=1 runs all
four models (~5 minutes on Verilator).  Verilator only: millions of SoC cycles per inference.
"""

import pytest

from bench.mlperf import run_model
from models.mlperf_tiny import MODELS
from sim.options import full
from sim.runner import simulator_name

pytestmark = [pytest.mark.cocotb,
              pytest.mark.skipif(simulator_name() == "icarus",
                                 reason="millions of simulated SoC cycles per inference: too slow on Icarus")]


@pytest.mark.parametrize("name", list(MODELS) if full() else ["kws_dscnn"])
def test_model_on_soc_equals_tflm(name, seed):
    entry = run_model(name, 1, seed)
    print(f"{name}: {entry['cycles']} cycles per inference ({entry['engine_cycles']} in the engine, "
          f"{entry['core_step_cycles']} in core steps), utilisation {entry['utilisation']:.1%}, "
          f"DMEM {entry['dmem_bytes']} bytes")
    assert entry["bit_exact"], f"{name}: the SoC's output differs from TensorFlow Lite Micro"
    assert entry["cycle_model_exact"], f"{name}: an engine layer's CYCLES differs from spec.cycle_model"
    # the engine layers' counters and the core steps are parts of the inference
    assert entry["engine_cycles"] + entry["core_step_cycles"] < entry["cycles"]

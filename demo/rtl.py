"""Run a .tflite network on the conv engine RTL (CFU port build of tests/test_conv_engine.py) in cocotb.

``run_on_rtl(model, inputs, ...)`` writes a job file, runs tb/digits_tb.py on the cached simulator
build of ``CnnCfu(SIM_SOC.engine)`` (the same build as the conv engine tests: no extra Verilator
build when that one exists) and returns one result dict per image (output, references, per-layer
cycles). The simulation runs in a thread; ``on_result`` is called for every image as soon as the
testbench has written it (the demo's progress bar).
"""

import sys
from pathlib import Path

import numpy as np

from hw.cfu import CnnCfu
from sim.runner import BUILD, ROOT, build, run_cocotb
from spec.config import SIM_SOC

from .progress import SimRunError, run_with_progress

__all__ = ["CONFIG", "port_build", "run_on_rtl", "RtlRunError"]

CONFIG = SIM_SOC.engine  # the engine of the SoC the demo simulates


class RtlRunError(SimRunError):
    """The simulation failed; ``results`` holds the images that finished."""


def port_build(config=CONFIG, sim=None):
    """The cached simulator build of the engine with its CFU port (as tests/test_conv_engine.py)."""
    return build(CnnCfu(config), top="cnn_cfu", tag=config.name, sim=sim)


def run_on_rtl(model, inputs, expected_litert=None, ids=None, run_name="digits", require_litert=True,
               rsp_stall=0.0, cmd_gap=0.0, seed=1, config=CONFIG, on_result=None, design=None):
    """Run ``inputs`` (int8, [N, ...model input shape]) through ``model`` (a .tflite path) on the RTL.

    Returns the per-image result dicts of tb/digits_tb.py; raises RtlRunError if any output differs
    from golden.run_network (or from ``expected_litert`` with require_litert) or the port failed.
    """
    design = design or port_build(config)
    # cocotb hands the simulator's Python this process's sys.path: make sure the testbench can import
    # compiler/, models/ and demo/ from the source tree even when they are not installed.
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    job_dir = BUILD / "digits" / design.sim / run_name
    job_dir.mkdir(parents=True, exist_ok=True)
    job, results = job_dir / "job.npz", job_dir / "results.jsonl"
    arrays = {"inputs": np.asarray(inputs, np.int8)}
    if expected_litert is not None:
        arrays["expected_litert"] = np.asarray(expected_litert, np.int8)
    if ids is not None:
        arrays["ids"] = np.asarray(ids, np.int64)
    np.savez(job, **arrays)
    results.unlink(missing_ok=True)
    params = {"config": config.as_dict(), "model": str(Path(model).resolve()), "job": str(job),
              "results": str(results), "require_litert": require_litert, "rsp_stall": rsp_stall,
              "cmd_gap": cmd_gap, "seed": seed}
    return run_with_progress(
        lambda: run_cocotb(design, "tb.digits_tb", run_name=run_name, params=params, seed=seed),
        results, len(arrays["inputs"]), on_result, error=RtlRunError)

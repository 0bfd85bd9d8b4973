"""Run a compiled network as firmware on the SoC RTL (hw/soc.py): build once, run many images.

``network_firmware(model, soc)`` compiles a .tflite (compiler/) for ``soc.engine`` and builds
firmware/net/net.c with the generated schedule (compiler/firmware.py) for the SoC ``soc`` (default
spec.config.SIM_SOC, the SoC the SoC tests simulate, so their cached Verilator build is reused).
``run_images(fw, inputs)`` writes a job file and runs tb/soc_net_tb.py: each image is written into
``net_io`` in the DMEM image through the SoC's loader port, the core runs the firmware and the UART
report is parsed; one result dict per image (logits, rdcycle cycles per inference and per layer,
engine CYCLES / MAC_CYCLES per layer, and with ``flags=FLAG_ACCEL | FLAG_SW`` the plain-C run).
The simulation runs in a thread; ``on_result`` is called for every image as soon as it is done.
"""

import json
import sys
from pathlib import Path

import numpy as np

from compiler import compile_tflite
from compiler.firmware import FLAG_ACCEL, FLAG_SW, build_network_firmware
from sim.runner import BUILD, ROOT, run_cocotb
from sim.soc import soc_design
from spec.config import SIM_SOC, SocConfig

from .progress import SimRunError, run_with_progress

__all__ = ["SOC", "FLAG_ACCEL", "FLAG_SW", "SocRunError", "network_firmware", "run_images", "compare"]

#: The SoC the demo runs on; its engine configuration is the one models are compiled for.
SOC = SIM_SOC


class SocRunError(SimRunError):
    """The simulation failed; ``results`` holds the images that finished."""


def network_firmware(model, soc: SocConfig = SOC, schedule=None, name=None):
    """The network firmware of ``model`` (.tflite path, compiled for ``soc.engine``; or an already
    compiled ``schedule`` and a ``name``) for the SoC ``soc``."""
    schedule = schedule or compile_tflite(model, soc.engine)
    name = name or Path(model).stem
    return build_network_firmware(schedule, BUILD / "firmware" / f"net-{name}", soc, name="net")


def run_images(fw, inputs, ids=None, flags=FLAG_ACCEL, run_name="net", seed=1, max_cycles=2_000_000,
               design=None, on_result=None):
    """Run every input (int8, [N, ...input shape]) through the firmware ``fw`` on the RTL of the SoC
    it was built for (``design``: that SoC's simulator build, default ``sim.soc.soc_design(fw.soc)``).

    ``flags``: one value for every image, or a list with one per image (e.g. the plain-C run on the
    first image only). Returns the per-image reports of tb/soc_net_tb.py; raises SocRunError when
    the run failed (no halt, a firmware error code, UART problems)."""
    design = design or soc_design(fw.soc)[1]
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    inputs = np.asarray(inputs, np.int8)
    ids = list(range(len(inputs))) if ids is None else [int(i) for i in ids]
    flags = [int(flags)] * len(inputs) if np.ndim(flags) == 0 else [int(f) for f in flags]
    job_dir = BUILD / "soc_net" / design.sim / run_name
    job_dir.mkdir(parents=True, exist_ok=True)
    job, results = job_dir / "job.json", job_dir / "results.jsonl"
    job.write_text(json.dumps({
        "imem": fw.image.imem, "dmem_base": fw.dmem_base, "clocks_per_bit": fw.soc.clocks_per_bit,
        "max_cycles": max_cycles,
        "images": [{"id": i, "dmem": fw.dmem_with_input(x, f)}
                   for i, x, f in zip(ids, inputs, flags, strict=True)]}))
    results.unlink(missing_ok=True)
    params = {"job": str(job), "results": str(results), "seed": seed}
    return run_with_progress(
        lambda: run_cocotb(design, "tb.soc_net_tb", run_name=run_name, params=params, seed=seed),
        results, len(inputs), on_result, error=SocRunError)


def compare(report, litert=None, golden=None):
    """Flags of one image: logits present, bit-identical to LiteRT / golden (None: not given)."""
    logits = report.get("logits")
    out = {"logits": logits, "accel_ok": report.get("accel_rc") == 0 and logits is not None}
    for key, ref in (("litert", litert), ("golden", golden)):
        out[f"match_{key}"] = None if ref is None else (
            logits is not None and list(np.asarray(ref).reshape(-1).tolist()) == list(logits))
    if "sw_logits" in report:
        out["match_sw"] = report["sw_logits"] == logits
    return out

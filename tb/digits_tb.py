"""cocotb: a whole int8 network on the conv engine RTL, through the CFU port, layer after layer.

The model (.tflite) is compiled here (compiler.compile_tflite); for every image the CPU bus-functional
model (tb/cpu_bfm.py) runs each engine layer's custom-0 program (driver/program.py), reads the output
back and feeds it to the next layer's program as its input -- what firmware does. The network output
is compared with the references the pytest side computed (LiteRT BUILTIN_REF, ``expected_litert``)
and with golden.run_network computed here, bit for bit; each engine layer's output is also compared
with golden/'s conv + pool on the same input (so a mismatch names the layer), and the engine's
CYCLES / MAC_CYCLES counters with spec.cycle_model.

TB_PARAMS: config, job (an .npz: ``inputs`` int8 [N, ...input shape], optional ``expected_litert``
[N, ...output shape], ``ids``), model (path), results (JSON-lines file, one line per image, flushed as
soon as the image is done: the demo's progress bar reads it), require_litert (default true),
rsp_stall / cmd_gap (CPU model back-pressure and gaps, default 0), seed.
"""

import json

import cocotb
import numpy as np

from compiler import compile_tflite
from golden.network import run_network
from spec.config import AcceleratorConfig
from spec.cycle_model import conv_engine_cycles

from .common import reset, seeded_rng, start_clock, tb_params
from .cpu_bfm import CpuBfm, run_program_measured


async def run_inference(dut, bfm, schedule, x):
    """One inference on the RTL; returns (network output, per-layer log, first layer that differs
    from golden/ on its own input or None). The steps the SoC's core runs (ADD, SOFTMAX, pools,
    space-to-depth) are the host's here: golden/ computes them (Schedule.run_reference's step)."""
    cfg = schedule.config
    log = []
    first_bad = None
    tensors = [schedule.check_input(x)]
    for layer in schedule.layers:
        x = tensors[layer.sources[0]]
        if layer.runs_on == "core":
            tensors.append(layer.reference(*(tensors[t] for t in layer.sources)))
            continue
        program = layer.program(cfg, x, counters=True)
        responses, meas = await run_program_measured(bfm, program)
        out, counters = program.collect(responses)
        ref = layer.reference(x)
        if first_bad is None and not np.array_equal(out, ref):
            bad = tuple(int(v) for v in np.argwhere(out != ref)[0])
            first_bad = (f"engine layer {layer.index} ({layer.name}): {int((out != ref).sum())} of "
                         f"{out.size} outputs differ from golden/, first at {bad}: RTL {int(out[bad])}, "
                         f"golden {int(ref[bad])}")
        model = [conv_engine_cycles(cfg, *(p.program.registers[k] for k in
                                           ("H", "W", "C", "M", "R", "S", "U", "PAD_TOP", "E", "F", "CG",
                                            "POOL"))) for p in program.plan.passes]
        compute = sum(c["cycles"] for c in counters)
        mac = sum(c["mac_cycles"] for c in counters)
        if not cfg.perf_counters:      # MAC_CYCLES is absent and reads 0 (spec/registers.py)
            assert mac == 0, f"{layer.name}: MAC_CYCLES read {mac} with perf_counters = False"
            mac = sum(p.program.beats for p in program.plan.passes)
        assert compute == sum(m.cycles for m in model) and mac == sum(m.mac_cycles for m in model), \
            (f"{layer.name}: CYCLES/MAC_CYCLES {compute}/{mac} differ from spec.cycle_model "
             f"{sum(m.cycles for m in model)}/{sum(m.mac_cycles for m in model)}")
        log.append({"layer": layer.index, "name": layer.name, "describe": layer.describe(),
                    "passes": meas["passes"], "instructions": meas["instructions"],
                    "port_cycles": meas["port_cycles"], "wait_cycles": meas["wait_cycles"],
                    "bfm_cycles": meas["bfm_cycles"], "compute_cycles": compute, "mac_cycles": mac,
                    "ideal_cycles": layer.ideal_cycles(cfg), "macs": layer.macs})
        tensors.append(out)
    return schedule.finish(tensors[-1]), log, first_bad


@cocotb.test()
async def network_inference(dut):
    """Every image of the job through the whole network; all outputs bit-exact."""
    params = tb_params()
    cfg = AcceleratorConfig.from_dict(params["config"])
    schedule = compile_tflite(params["model"], cfg)
    job = np.load(params["job"])
    inputs = job["inputs"]
    litert = job["expected_litert"] if "expected_litert" in job else None
    ids = job["ids"] if "ids" in job else np.arange(len(inputs))
    require_litert = params.get("require_litert", True)

    rng = seeded_rng(dut, "network_inference")
    await start_clock(dut)
    bfm = CpuBfm(dut, rng, rsp_stall=params.get("rsp_stall", 0.0), cmd_gap=params.get("cmd_gap", 0.0))
    await reset(dut)
    failures = []
    with open(params["results"], "a") as results:
        for n, x in enumerate(inputs):
            x = x.reshape(schedule.input_shape)
            out, log, first_bad = await run_inference(dut, bfm, schedule, x)
            gold = run_network(schedule.net, x)
            entry = {"n": n, "id": int(ids[n]), "output": out.reshape(-1).tolist(),
                     "golden": gold.reshape(-1).tolist(), "match_golden": bool(np.array_equal(out, gold)),
                     "layers": log, "first_bad_layer": first_bad,
                     "port_cycles": sum(e["port_cycles"] for e in log),
                     "compute_cycles": sum(e["compute_cycles"] for e in log),
                     "bfm_cycles": sum(e["bfm_cycles"] for e in log)}
            entry["cycles"] = entry["port_cycles"] + entry["compute_cycles"]
            if litert is not None:
                ref = litert[n].reshape(out.shape)
                entry["litert"] = ref.reshape(-1).tolist()
                entry["match_litert"] = bool(np.array_equal(out, ref))
            results.write(json.dumps(entry) + "\n")
            results.flush()
            dut._log.info(f"image {n} (id {entry['id']}): output {entry['output']}, golden "
                          f"{'==' if entry['match_golden'] else '!='}, LiteRT "
                          f"{'==' if entry.get('match_litert', True) else '!='}; "
                          f"{entry['port_cycles']} port + {entry['compute_cycles']} compute = "
                          f"{entry['cycles']} cycles")
            if not entry["match_golden"]:
                failures.append(f"image {n}: RTL {entry['output']} != golden {entry['golden']}")
            if require_litert and not entry.get("match_litert", True):
                failures.append(f"image {n}: RTL {entry['output']} != LiteRT {entry['litert']}")
            if first_bad:
                failures.append(f"image {n}: {first_bad}")
    assert not failures, "; ".join(failures)

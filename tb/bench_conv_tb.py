"""cocotb benchmark: runs the bench layer table on the conv engine and records the RTL counters.

Results (per layer: counters, wall time of the compute phase) go to ``<log_dir>/bench.json``;
bench/run.py turns them into the report. Every layer is also checked bit-exactly against golden/.
"""

import json
import os
import time

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge, with_timeout

from bench.conv_layers import make_layer
from bench.layers import BenchLayer
from driver.conv_layer import plan_conv
from driver.program import command_overhead
from spec.config import AcceleratorConfig
from spec.registers import REG, Space, StatusWord

from .common import reset, seeded_rng, start_clock, tb_params
from .host_bus import HostBus


@cocotb.test()
async def bench_layers(dut):
    params = tb_params()
    cfg = AcceleratorConfig.from_dict(params["config"])
    rng = np.random.default_rng(seeded_rng(dut, "bench").getrandbits(32))
    await start_clock(dut)
    bus = HostBus(dut)
    await reset(dut)
    results = []
    for spec in params["layers"]:
        b = BenchLayer(**spec)
        t = make_layer(rng, b.name, b.H, b.W, b.C, b.M, b.R, b.S, stride=b.U, padding=b.padding,
                       kind=b.kind, k=1, pool=b.pool)
        program = plan_conv(cfg, t.layer)
        await bus.write_many(program.writes)
        await bus.write(Space.REGS, REG["CTRL"], 1)
        wall = time.perf_counter()
        if not int(dut.done.value):
            await with_timeout(RisingEdge(dut.done), (20 * program.beats + 100_000) * 10, "ns")
        wall = time.perf_counter() - wall
        status, cycles, macs, stalls = await bus.read_many(
            Space.REGS, [REG["STATUS"], REG["CYCLES"], REG["MAC_CYCLES"], REG["STALL_CYCLES"]])
        assert StatusWord(status).error == 0, f"{b.name}: {StatusWord(status)}"
        out = program.unpack_output(await bus.read_many(Space.ACT_OUT, range(program.out_words())))
        assert np.array_equal(out, t.expected), f"{b.name}: output differs from golden"
        regs = program.registers
        # What the same layer costs on the RISC-V command port (static model, checked against the
        # port's hardware counters by tests/test_conv_engine.py).
        port = command_overhead(cfg, t.layer)
        results.append({"layer": spec, "registers": regs, "cycles": cycles, "mac_cycles": macs,
                        "stall_cycles": stalls, "ideal_cycles": program.ideal_beats,
                        "beats": program.beats, "wall_s": wall, "outputs": int(out.size),
                        "port": {k: port[k] for k in ("instructions", "port_cycles", "passes",
                                                      "words_written", "words_read")}})
        dut._log.info(f"{b.name}: {cycles} cycles, ideal {program.ideal_beats:.0f}, "
                      f"utilisation {program.ideal_beats / cycles:.1%}, {cycles / wall:,.0f} cycles/s")
    with open(os.path.join(params["log_dir"], "bench.json"), "w") as f:
        json.dump(results, f, indent=1)

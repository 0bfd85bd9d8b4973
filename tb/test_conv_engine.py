"""cocotb tests of the whole conv engine on its generated Verilog, bit-exact against golden/.

Every layer is loaded through the host bus, started, and left alone until ``done`` (nothing is
toggled per cycle while it runs); then every output byte is compared with golden/ and the RTL
performance counters are logged.
"""

import json
import os

import cocotb
import numpy as np

from driver.conv_layer import plan_conv
from hw.config import AcceleratorConfig
from hw.registers import ERROR_CODE, REG, Space

from .common import reset, seeded_rng, start_clock, tb_params
from .conv_layers import edge_layers, random_layers
from .host_bus import HostBus


def _config():
    return AcceleratorConfig.from_dict(tb_params()["config"])


async def _setup(dut):
    await start_clock(dut)
    bus = HostBus(dut)
    await reset(dut)
    return bus


async def run_layer(dut, bus, cfg, test_layer, log):
    program = plan_conv(cfg, test_layer.layer)
    limit = 20 * program.beats + 20 * test_layer.layer.x.size + 10_000
    result = await bus.run(program, max_cycles=limit)
    assert result.error == 0, f"{test_layer.name}: engine error {result.error_name}"
    got = program.unpack_output(result.output)
    expected = test_layer.expected
    assert got.shape == expected.shape
    if not np.array_equal(got, expected):
        bad = np.argwhere(got != expected)
        raise AssertionError(f"{test_layer.name}: {len(bad)} of {got.size} outputs differ, first at "
                             f"(e, f, m) = {tuple(bad[0])}: RTL {got[tuple(bad[0])]}, golden "
                             f"{expected[tuple(bad[0])]}")
    assert result.mac_cycles == program.beats, \
        f"{test_layer.name}: tile accepted {result.mac_cycles} beats, the loop nest has {program.beats}"
    util = program.ideal_beats / result.cycles
    dut._log.info(f"{test_layer.name}: {got.size} outputs bit-exact; cycles {result.cycles}, "
                  f"MAC cycles {result.mac_cycles}, utilisation {util:.1%}")
    log.append({"name": test_layer.name, "cycles": result.cycles, "mac_cycles": result.mac_cycles,
                "ideal": program.ideal_beats, "distinct_outputs": int(len(np.unique(got)))})


def _save(log, name):
    out = tb_params().get("log_dir")
    if out:
        with open(os.path.join(out, f"{name}.json"), "w") as f:
            json.dump(log, f, indent=1)


@cocotb.test()
async def edge_set(dut):
    """The fixed edge layers, one after another on the same engine (no reset in between)."""
    if tb_params().get("part", "edge") not in ("edge", "all"):
        return
    cfg = _config()
    rng = seeded_rng(dut, "edge_set")
    bus = await _setup(dut)
    layers = edge_layers(np.random.default_rng(rng.getrandbits(32)), cfg)
    assert all(len(np.unique(t.expected)) > 1 or t.expected.size == 1 for t in layers[:1]) or True
    log = []
    for t in layers:
        await run_layer(dut, bus, cfg, t, log)
    # Not vacuous: the edge set's outputs cover a wide range of values.
    assert sum(entry["distinct_outputs"] for entry in log) > 100
    _save(log, "edge_set")


@cocotb.test()
async def random_layer_set(dut):
    """Random shapes and quantisation parameters (count and seed from the pytest side)."""
    params = tb_params()
    count = params.get("random", 0)
    if not count:
        return
    cfg = _config()
    rng = seeded_rng(dut, f"random_layers_{params.get('shard', 0)}")
    bus = await _setup(dut)
    log = []
    for t in random_layers(np.random.default_rng(rng.getrandbits(32)), cfg, count):
        await run_layer(dut, bus, cfg, t, log)
    _save(log, f"random_{params.get('shard', 0)}")


@cocotb.test()
async def illegal_configurations(dut):
    """Bad registers answer start with an error code and done, never a hang; then a good layer runs."""
    if tb_params().get("part", "edge") not in ("edge", "all"):
        return
    cfg = _config()
    rng = seeded_rng(dut, "illegal")
    bus = await _setup(dut)
    good = edge_layers(np.random.default_rng(rng.getrandbits(32)), cfg)[2]
    program = plan_conv(cfg, good.layer)
    await bus.write_many(program.writes)
    cases = [({"R": 0}, "BAD_SHAPE"), ({"R": cfg.max_kernel + 1}, "BAD_SHAPE"),
             ({"U": cfg.max_stride + 1}, "BAD_SHAPE"), ({"C": cfg.max_channels + 1}, "BAD_SHAPE"),
             ({"E": 0}, "BAD_SHAPE"), ({"POOL": 3}, "BAD_SHAPE"),
             ({"W": cfg.max_size, "C": cfg.max_channels, "CG": cfg.max_channels}, "ROW_TOO_WIDE")]
    # A block of output pixels whose input rows exceed the line buffer: F = 1, so the `rows`
    # lanes cover `rows` output rows, each U input rows apart, plus a tall kernel.
    span = {"W": 1, "F": 1, "S": 1, "PAD_LEFT": 0, "R": cfg.max_kernel, "U": cfg.max_stride,
            "H": cfg.max_size, "E": cfg.rows, "PAD_TOP": 0}
    if cfg.max_stride * (cfg.rows - 1) + cfg.max_kernel > cfg.lb_lines:
        cases.append((span, "LINE_BUFFER_SPAN"))
    for regs, error in cases:
        for reg, value in regs.items():
            await bus.write(Space.REGS, REG[reg], value)
        result = await bus.start_and_wait(20_000)
        assert result.error == ERROR_CODE[error], f"{regs}: got {result.error_name}, expected {error}"
        dut._log.info(f"{regs}: error {result.error_name} as expected, after {result.cycles} cycles")
        for reg in regs:
            await bus.write(Space.REGS, REG[reg], program.registers[reg])
    log = []
    await run_layer(dut, bus, cfg, good, log)

"""cocotb tests of whole conv layers through the RISC-V command port (hw/cfu.py), bit-exact.

Every layer goes the way firmware would run it: driver/program.py turns it into custom-0
instructions, the CPU bus-functional model (tb/cpu_bfm.py) decodes and executes each word on the
port with random response back-pressure and random gaps between commands, and the collected
output words are compared with golden/. The port's own counters are checked against the command
table's cycle costs, and instructions / port cycles / compute cycles are logged per layer.
"""

import cocotb
import numpy as np

from bench.conv_layers import edge_layers, random_layers
from driver.program import program_for_layer
from spec.config import AcceleratorConfig
from spec.registers import ERROR_CODE, REG, StatusWord, register_limit

from .common import seeded_rng, tb_params
from .cpu_bfm import run_layer, save_log, setup_port


def _config():
    return AcceleratorConfig.from_dict(tb_params()["config"])


@cocotb.test()
async def edge_set(dut):
    """The fixed edge layers, one after another on the same port (no reset in between)."""
    if tb_params().get("part", "edge") not in ("edge", "all"):
        return
    cfg = _config()
    rng = seeded_rng(dut, "edge_set")
    bfm = await setup_port(dut, rng)
    layers = edge_layers(np.random.default_rng(rng.getrandbits(32)), cfg)
    log = []
    for t in layers:
        await run_layer(dut, bfm, cfg, t, log)
    # Not vacuous: the edge set's outputs cover a wide range of values.
    assert sum(entry["distinct_outputs"] for entry in log) > 100
    save_log(log, "edge_set")


@cocotb.test()
async def random_layer_set(dut):
    """Random shapes and quantisation parameters (count and seed from the pytest side)."""
    params = tb_params()
    count = params.get("random", 0)
    if not count:
        return
    cfg = _config()
    rng = seeded_rng(dut, f"random_layers_{params.get('shard', 0)}")
    bfm = await setup_port(dut, rng)
    log = []
    for t in random_layers(np.random.default_rng(rng.getrandbits(32)), cfg, count):
        await run_layer(dut, bfm, cfg, t, log)
    save_log(log, f"random_{params.get('shard', 0)}")


@cocotb.test()
async def illegal_configurations(dut):
    """Bad layer registers answer with their documented error codes, never a hang; then a good
    layer runs. Values above a register's limit are refused by REG_WRITE (BAD_VALUE); zeros,
    inconsistent shapes and too-wide rows by START (BAD_SHAPE / ROW_TOO_WIDE); a line-buffer span
    by the engine while running (WAIT reports LINE_BUFFER_SPAN)."""
    if tb_params().get("part", "edge") not in ("edge", "all"):
        return
    cfg = _config()
    rng = seeded_rng(dut, "illegal")
    bfm = await setup_port(dut, rng)
    good = edge_layers(np.random.default_rng(rng.getrandbits(32)), cfg)[2]
    program = program_for_layer(cfg, good.layer)
    regs = program.plan.passes[0].program.registers
    for name, value in regs.items():
        assert await bfm.command("REG_WRITE", REG[name], value) == 0

    refused = [("R", cfg.max_kernel + 1), ("U", cfg.max_stride + 1), ("C", cfg.max_channels + 1),
               ("H", cfg.max_size + 1), ("PAD_TOP", cfg.max_kernel), ("POOL", 3), ("INPUT_ZP", 256),
               ("M", 2**32 - 1)]
    for name, value in refused:
        rd = await bfm.command("REG_WRITE", REG[name], value)
        assert rd == ERROR_CODE["BAD_VALUE"], f"REG_WRITE {name} = {value}: answered {rd}, expected BAD_VALUE"
        # (int8 registers read back sign-extended: compare the register's own bits)
        mask = (1 << register_limit(cfg, name).bit_length()) - 1
        back = await bfm.command("REG_READ", REG[name])
        assert back & mask == regs[name], f"{name} changed by a refused write: {back:#x}"
    st = StatusWord(await bfm.command("STATUS"))
    assert st.cmd_error and st.error == ERROR_CODE["BAD_VALUE"], st

    at_start = [({"R": 0}, "BAD_SHAPE"), ({"E": 0}, "BAD_SHAPE"), ({"U": 0}, "BAD_SHAPE"),
                ({"PAD_TOP": 2, "R": 2}, "BAD_SHAPE"),
                ({"W": cfg.max_size, "C": cfg.max_channels, "CG": cfg.max_channels}, "ROW_TOO_WIDE")]
    for change, error in at_start:
        for name, value in change.items():
            assert await bfm.command("REG_WRITE", REG[name], value) == 0
        rd = await bfm.command("START")
        assert rd == ERROR_CODE[error], f"{change}: START answered {rd}, expected {error}"
        st = StatusWord(await bfm.command("WAIT", limit=100))
        assert st.done and not st.busy and st.error == ERROR_CODE[error], f"{change}: {st}"
        dut._log.info(f"{change}: START answered {error} as documented")
        for name in change:
            assert await bfm.command("REG_WRITE", REG[name], regs[name]) == 0

    # A block of output pixels whose input rows exceed the line buffer: F = 1, so the `rows`
    # lanes cover `rows` output rows, each U input rows apart, plus a tall kernel.
    if cfg.max_stride * (cfg.rows - 1) + cfg.max_kernel > cfg.lb_lines:
        span = {"W": 1, "F": 1, "S": 1, "PAD_LEFT": 0, "R": cfg.max_kernel, "U": cfg.max_stride,
                "H": cfg.max_size, "E": cfg.rows, "PAD_TOP": 0, "C": 1, "CG": 1}
        for name, value in span.items():
            assert await bfm.command("REG_WRITE", REG[name], value) == 0
        assert await bfm.command("START") == 0
        st = StatusWord(await bfm.command("WAIT", limit=20_000))
        assert st.done and st.error == ERROR_CODE["LINE_BUFFER_SPAN"], st
        dut._log.info(f"line-buffer span: WAIT reported {st.error_name} after {st.cycles} cycles")

    if cfg.raw_output:
        await _raw_output_errors(dut, bfm, cfg, regs)

    # The good layer still runs bit-exactly afterwards (all registers rewritten: known_state empty).
    await run_layer(dut, bfm, cfg, good)


async def _raw_output_errors(dut, bfm, cfg, regs):
    """Raw output (output = Output.RAW): POOL != 0 is refused at START (POOL_UNSUPPORTED), the
    BIAS/MULT/SHIFT spaces have depth 0 (every write BAD_ADDRESS), OUTPUT_ZP/ACT_MIN/ACT_MAX are
    accepted and read 0, and a layer with E*F*M above the output memory stops with OUTPUT_TOO_BIG."""
    for name, value in regs.items():
        assert await bfm.command("REG_WRITE", REG[name], value) == 0
    for value in (1, 2):
        assert await bfm.command("REG_WRITE", REG["POOL"], value) == 0
        rd = await bfm.command("START")
        assert rd == ERROR_CODE["POOL_UNSUPPORTED"], f"POOL = {value}: START answered {rd}"
        st = StatusWord(await bfm.command("WAIT", limit=100))
        assert st.done and not st.busy and st.error == ERROR_CODE["POOL_UNSUPPORTED"], st
    assert await bfm.command("REG_WRITE", REG["POOL"], 0) == 0
    for name in ("BIAS", "MULT", "SHIFT"):
        assert await bfm.command("SET_ADDR", 0) == 0
        rd = await bfm.command(f"WRITE_{name}", 0x1234)
        assert rd == ERROR_CODE["BAD_ADDRESS"], f"WRITE_{name} answered {rd}, expected BAD_ADDRESS"
    # (the ERROR field shows the last layer's POOL_UNSUPPORTED: it takes precedence)
    st = StatusWord(await bfm.command("STATUS"))          # clears the command error
    assert st.cmd_error and st.error == ERROR_CODE["POOL_UNSUPPORTED"], st
    for name in ("OUTPUT_ZP", "ACT_MIN", "ACT_MAX"):
        assert await bfm.command("REG_WRITE", REG[name], 0x55) == 0
        assert await bfm.command("REG_READ", REG[name]) == 0, f"{name} is stored in raw mode"
    # E*F*M one channel group beyond the output memory's words: runs, writes nothing beyond it,
    # and stops with OUTPUT_TOO_BIG.
    words = cfg.out_mem_bytes // 4
    side = min(cfg.max_size, 32)
    big = {"H": side, "W": side, "E": side, "F": side, "C": 1, "CG": 1, "C_STEP": 0, "R": 1, "S": 1,
           "U": 1, "PAD_TOP": 0, "PAD_LEFT": 0, "M": min(cfg.max_channels, words // (side * side) + 1)}
    assert big["E"] * big["F"] * big["M"] > words, "the configuration's output memory is too big to test"
    for name, value in big.items():
        assert await bfm.command("REG_WRITE", REG[name], value) == 0
    assert await bfm.command("START") == 0
    st = StatusWord(await bfm.command("WAIT", limit=20 * side * side * big["M"] + 10_000))
    assert st.done and not st.busy and st.error == ERROR_CODE["OUTPUT_TOO_BIG"], st
    dut._log.info(f"raw output: POOL_UNSUPPORTED, BAD_ADDRESS for BIAS/MULT/SHIFT and OUTPUT_TOO_BIG "
                  f"(E*F*M = {big['E'] * big['F'] * big['M']} > {words}) as documented")

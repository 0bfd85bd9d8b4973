"""cocotb tests of the command port itself (hw/cfu.py): error responses, reading before done,
back-pressure, reset / abort in the middle of a layer, and layers split into several passes.

Every test drives the port only through the CPU bus-functional model (tb/cpu_bfm.py) or, for the
handshake checks, the raw port signals; every wait has a cycle limit.
"""

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, FallingEdge, Timer

from bench.conv_layers import edge_layers, make_layer, multi_pass_layers, random_multi_pass_layer
from driver.program import instruction, program_for_layer
from hw.conv_engine import host_addr_width
from spec.config import AcceleratorConfig
from spec.registers import (
    COMMAND,
    COMMAND_BY_ID,
    COUNTER,
    COUNTERS,
    ERROR_CODE,
    REG,
    REGISTERS,
    SPACES,
    StatusWord,
    space_depth,
)

from .common import reset, seeded_rng, tb_params
from .cpu_bfm import layer_wait_limit, run_layer, save_log, setup_port


def _config():
    return AcceleratorConfig.from_dict(tb_params()["config"])


def _port_counters():
    """Whether the port under test has its counters (CnnCfu(counters=...); TB_PARAMS port_counters)."""
    return bool(tb_params().get("port_counters", True))


def _small_layer(rng, name="small layer"):
    return make_layer(rng, name, 9, 9, 3, 5, 3, 3, padding="SAME")


async def _expect(bfm, name, rs1=None, rs2=None, code="OK"):
    rd = await bfm.command(name, rs1, rs2)
    assert rd == ERROR_CODE[code], f"{name}({rs1}, {rs2}) answered {rd}, expected {code} ({ERROR_CODE[code]})"


async def _load_and_start(bfm, program):
    """Run the program up to and including START (not WAIT); returns the remaining instructions."""
    insns = program.instructions
    start = next(i for i, insn in enumerate(insns) if insn.command.name == "START")
    responses, _ = await bfm.run(insns[:start + 1], wait_limit=100)
    assert all(r == 0 for r, insn in zip(responses, insns, strict=False) if insn.check == "ok"), responses
    return insns[start + 1:]


@cocotb.test()
async def port_errors(dut):
    """Every error case answers its documented code (spec/registers.py ERRORS), sets CMD_ERROR in the
    next status word (once), changes nothing, and never hangs; a good layer runs afterwards."""
    if tb_params().get("part") != "errors":
        return
    cfg = _config()
    rng = seeded_rng(dut, "port_errors")
    bfm = await setup_port(dut, rng)
    aw = host_addr_width(cfg)

    # Unknown function ids: every id not in the table, a sample of them (all 1024 would be slow).
    unknown = [fid for fid in range(1024) if fid not in COMMAND_BY_ID]
    sample = sorted(set(rng.sample(unknown, 60) + [fid for fid in unknown if fid < 64]))
    for fid in sample:
        rd = await bfm.raw(fid >> 3, fid & 7, rng.getrandbits(32), rng.getrandbits(32))
        assert rd == ERROR_CODE["UNKNOWN_FUNCTION"], f"function id {fid:#x} answered {rd}"
    st = StatusWord(await bfm.command("STATUS"))
    assert st.cmd_error and st.error == ERROR_CODE["UNKNOWN_FUNCTION"] and not st.busy, st
    st = StatusWord(await bfm.command("STATUS"))
    assert not st.cmd_error and st.error == 0, f"CMD_ERROR not cleared by reading it: {st}"
    dut._log.info(f"{len(sample)} unknown function ids answered UNKNOWN_FUNCTION")

    # Registers: unknown / not writable / not readable indices, values above the limit.
    for index in (REG["CTRL"], REG["STATUS"], REG["CYCLES"], len(REGISTERS), 1000, 2**32 - 1):
        await _expect(bfm, "REG_WRITE", index, 1, "BAD_REGISTER")
    for index in (REG["CTRL"], len(REGISTERS), 2**31):
        await _expect(bfm, "REG_READ", index, None, "BAD_REGISTER")
    for index in (len(COUNTERS), 2**32 - 1):
        await _expect(bfm, "PERF", index, None, "BAD_REGISTER")
    await _expect(bfm, "REG_WRITE", REG["R"], cfg.max_kernel + 1, "BAD_VALUE")
    assert await bfm.command("REG_READ", REG["R"]) == 0, "a refused write changed R"
    st = StatusWord(await bfm.command("STATUS"))
    assert st.cmd_error and st.error == ERROR_CODE["BAD_REGISTER"], f"the first error is kept: {st}"

    # Addresses: SET_ADDR beyond the widest space; in every write space the last word is written,
    # then the pointer is past the end (also when set there directly, or to the largest address
    # SET_ADDR takes) and every write answers BAD_ADDRESS. A depth-0 space refuses every address.
    await _expect(bfm, "SET_ADDR", 1 << aw, None, "BAD_ADDRESS")
    await _expect(bfm, "SET_ADDR", 2**32 - 1, None, "BAD_ADDRESS")
    for space in SPACES:
        if space.access != "w":
            continue
        depth = space_depth(cfg, space.index)
        assert depth < 1 << aw, f"{space.name}: depth {depth} needs more than {aw} address bits"
        if depth:
            await _expect(bfm, "SET_ADDR", depth - 1)
            await _expect(bfm, f"WRITE_{space.name}", 0x12345678)
            await _expect(bfm, f"WRITE_{space.name}", 0x12345678, None, "BAD_ADDRESS")
            await _expect(bfm, f"WRITE_{space.name}", 0x12345678, None, "BAD_ADDRESS")
        for addr in {depth, depth + 1, (1 << aw) - 1, 1 << (aw - 1)} - set(range(depth)):
            await _expect(bfm, "SET_ADDR", addr)
            await _expect(bfm, f"WRITE_{space.name}", 0x12345678, None, "BAD_ADDRESS")
        dut._log.info(f"{space.name}: depth {depth}, writes beyond it answered BAD_ADDRESS")
    st = StatusWord(await bfm.command("STATUS"))
    assert st.cmd_error and st.error == ERROR_CODE["BAD_ADDRESS"], st

    # Reading before any layer has completed (after reset).
    await _expect(bfm, "SET_ADDR", 0)
    rd = await bfm.command("READ_ACT_OUT")
    assert rd == ERROR_CODE["NOT_DONE"], f"READ_ACT_OUT before any layer answered {rd}"
    st = StatusWord(await bfm.command("WAIT"))           # idle: answers at once
    assert st.cmd_error and st.error == ERROR_CODE["NOT_DONE"] and not st.done, st

    # While a layer runs: writes, START and reads are refused with BUSY / NOT_DONE.
    layer_rng = np.random.default_rng(rng.getrandbits(32))
    for shape in ((12, 12, 16, 16), (12, 12, 8, 8)):      # the first that runs in one pass
        big = make_layer(layer_rng, "busy layer", *shape, 3, 3, padding="SAME")
        program = program_for_layer(cfg, big.layer)
        if len(program.plan.passes) == 1:
            break
    assert len(program.plan.passes) == 1, "no single-pass busy layer for this configuration"
    rest = await _load_and_start(bfm, program)
    st = StatusWord(await bfm.command("STATUS"))
    assert st.busy and not st.done, st
    await _expect(bfm, "REG_WRITE", REG["H"], 3, "BUSY")
    await _expect(bfm, "SET_ADDR", 0)
    await _expect(bfm, "WRITE_ACT_IN", 0, None, "BUSY")
    await _expect(bfm, "WRITE_WEIGHTS", 0, None, "BUSY")
    await _expect(bfm, "START", None, None, "BUSY")
    rd = await bfm.command("READ_ACT_OUT")
    assert rd == ERROR_CODE["NOT_DONE"], f"READ_ACT_OUT while running answered {rd}"
    # The layer is unharmed: finish the program (WAIT reports the command errors once, so the
    # program's own WAIT check is relaxed here) and compare with golden.
    st = StatusWord(await bfm.command("WAIT", limit=layer_wait_limit(program)))
    assert st.done and not st.busy and st.cmd_error and st.error == ERROR_CODE["BUSY"], st
    await _expect(bfm, "SET_ADDR", 0)
    words = [await bfm.command("READ_ACT_OUT") for _ in range(program.plan.passes[0].program.out_words())]
    got = program.plan.passes[0].program.unpack_output(words)
    assert np.array_equal(got, big.expected), "the refused commands disturbed the running layer"
    assert rest[0].command.name == "WAIT"

    # The layer is done: reads past the end of every read space answer BAD_ADDRESS (the pointer
    # stays put), reads inside it still work.
    for space in SPACES:
        if space.access != "r":
            continue
        depth = space_depth(cfg, space.index)
        if depth:
            await _expect(bfm, "SET_ADDR", depth - 1)
            await bfm.command(f"READ_{space.name}")          # the last word: data, not checked
            for _ in range(2):
                await _expect(bfm, f"READ_{space.name}", None, None, "BAD_ADDRESS")
        for addr in {depth, (1 << aw) - 1} - set(range(depth)):
            await _expect(bfm, "SET_ADDR", addr)
            await _expect(bfm, f"READ_{space.name}", None, None, "BAD_ADDRESS")
        await _expect(bfm, "SET_ADDR", 0)
        first = await bfm.command(f"READ_{space.name}") if depth else None
        assert depth == 0 or first == words[0], \
            f"READ_{space.name} at 0 answered {first:#x}, not {words[0]:#x}"
    st = StatusWord(await bfm.command("STATUS"))
    assert st.cmd_error and st.error == ERROR_CODE["BAD_ADDRESS"] and st.done, st

    # Counters read back (a port without counters answers 0 for them, and CLEAR_COUNTERS answers
    # OK); ABORT while idle is harmless; then a good layer through the driver.
    values = {c.name: await bfm.command("PERF", c.index) for c in COUNTERS}
    port = {c.name: values[c.name] for c in COUNTERS if c.register is None}
    if _port_counters():
        assert port["COMMANDS"] > 0 and port["PORT_CYCLES"] > port["COMMANDS"], values
    else:
        assert all(v == 0 for v in port.values()), f"absent port counters must read 0: {values}"
    assert values["CYCLES"] > 0, values
    if cfg.perf_counters:
        assert values["MAC_CYCLES"] > 0, values
    else:  # perf_counters = False (the UP5K configuration): only CYCLES is counted
        assert values["MAC_CYCLES"] == 0 and values["STALL_CYCLES"] == 0, values
    await _expect(bfm, "CLEAR_COUNTERS")
    await _expect(bfm, "ABORT")
    st = StatusWord(await bfm.command("STATUS"))
    assert not st.cmd_error, f"PERF / CLEAR_COUNTERS set CMD_ERROR: {st}"
    await run_layer(dut, bfm, cfg, _small_layer(np.random.default_rng(rng.getrandbits(32))),
                    port_counters=_port_counters())


@cocotb.test()
async def command_cycles(dut):
    """Every command answers in exactly its Command.cycles (accept to response handshake, CPU always
    ready) whether or not the port has counters; every refused command answers in 2 cycles."""
    if tb_params().get("part") != "errors":
        return
    cfg = _config()
    rng = seeded_rng(dut, "command_cycles")
    bfm = await setup_port(dut, rng, rsp_stall=0.0, cmd_gap=0.0)

    async def timed(name, rs1=None, rs2=None, code=None, cycles=None):
        start = bfm.now()
        rd = await bfm.command(name, rs1, rs2)
        took = round(bfm.now() - start)
        want = COMMAND[name].cycles if cycles is None else cycles
        assert took == want, f"{name}({rs1}, {rs2}) took {took} port cycles, the table says {want}"
        if code is not None:
            assert rd == ERROR_CODE[code], f"{name}({rs1}, {rs2}) answered {rd}, expected {code}"
        return rd

    # Before any layer: every command once, successes take their table cycles.
    await timed("REG_WRITE", REG["H"], 3, "OK")
    assert await timed("REG_READ", REG["H"]) == 3
    await timed("SET_ADDR", 0, None, "OK")
    for space in SPACES:
        if space.access == "w" and space_depth(cfg, space.index):
            await timed("SET_ADDR", 0, None, "OK")
            await timed(f"WRITE_{space.name}", rng.getrandbits(32), None, "OK")
    await timed("ABORT", None, None, "OK")
    await timed("CLEAR_COUNTERS", None, None, "OK")
    for c in COUNTERS:      # a port counter (or its absent stand-in, 0) answers from the port itself
        await timed("PERF", c.index, cycles=None if c.register else 2)
    await timed("STATUS")
    await timed("WAIT")                                   # idle: at once
    # Refusals answer in 2 cycles: unknown id, bad index, bad value, bad address, not done.
    for name, rs1, rs2, code in [("REG_WRITE", len(REGISTERS), 0, "BAD_REGISTER"),
                                 ("REG_WRITE", REG["R"], cfg.max_kernel + 1, "BAD_VALUE"),
                                 ("REG_READ", REG["CTRL"], None, "BAD_REGISTER"),
                                 ("PERF", len(COUNTERS), None, "BAD_REGISTER"),
                                 ("SET_ADDR", 1 << host_addr_width(cfg), None, "BAD_ADDRESS"),
                                 ("READ_ACT_OUT", None, None, "NOT_DONE")]:
        await timed(name, rs1, rs2, code, cycles=2)
    start = bfm.now()
    rd = await bfm.raw(127, 7, 0, 0)
    assert rd == ERROR_CODE["UNKNOWN_FUNCTION"] and round(bfm.now() - start) == 2, rd
    st = StatusWord(await timed("STATUS"))
    assert st.cmd_error and st.error == ERROR_CODE["BAD_REGISTER"], st
    # A layer: START answers OK in its cycles, reads after it in theirs.
    t = _small_layer(np.random.default_rng(rng.getrandbits(32)))
    program = program_for_layer(cfg, t.layer, counters=False)
    await _load_and_start(bfm, program)
    st = StatusWord(await bfm.command("WAIT", limit=layer_wait_limit(program)))
    assert st.done and not st.cmd_error and st.error == 0, st
    await timed("SET_ADDR", 0, None, "OK")
    words = [await timed("READ_ACT_OUT") for _ in range(program.plan.passes[0].program.out_words())]
    assert np.array_equal(program.plan.passes[0].program.unpack_output(words), t.expected)
    await timed("START", None, None, "OK")                # the same layer again
    st = StatusWord(await bfm.command("WAIT", limit=layer_wait_limit(program)))
    assert st.done and st.error == 0, st
    dut._log.info("every command answered in its table cycles")


@cocotb.test()
async def reading_before_done(dut):
    """Output reads while the layer runs answer NOT_DONE (and read nothing); after WAIT they
    return the right words; a layer that stopped with an error still reports done."""
    if tb_params().get("part") != "errors":
        return
    cfg = _config()
    rng = seeded_rng(dut, "reading_before_done")
    bfm = await setup_port(dut, rng)
    t = make_layer(np.random.default_rng(rng.getrandbits(32)), "read-before-done layer", 10, 10, 8, 8, 3, 3,
                   padding="SAME")
    program = program_for_layer(cfg, t.layer, counters=False)
    await _load_and_start(bfm, program)
    await _expect(bfm, "SET_ADDR", 0)
    refused = 0
    for _ in range(5):
        rd = await bfm.command("READ_ACT_OUT")
        assert rd == ERROR_CODE["NOT_DONE"], f"read while running answered {rd}"
        refused += 1
    st = StatusWord(await bfm.command("WAIT", limit=layer_wait_limit(program)))
    assert st.done and st.cmd_error and st.error == ERROR_CODE["NOT_DONE"], st
    # The refused reads did not move the pointer: this SET_ADDR-free read starts at word 0.
    words = [await bfm.command("READ_ACT_OUT") for _ in range(program.plan.passes[0].program.out_words())]
    assert np.array_equal(program.plan.passes[0].program.unpack_output(words), t.expected)
    st = StatusWord(await bfm.command("STATUS"))
    assert not st.cmd_error and st.done and st.error == 0 and st.cycles > 0, st
    dut._log.info(f"{refused} reads before done answered NOT_DONE; after WAIT the output is bit-exact")


@cocotb.test()
async def back_pressure(dut):
    """Heavy rsp_ready back-pressure and command gaps: responses are held with a stable payload,
    no second command is taken while a response is pending, layers stay bit-exact."""
    if tb_params().get("part") != "pressure":
        return
    cfg = _config()
    rng = seeded_rng(dut, "back_pressure")
    bfm = await setup_port(dut, rng, rsp_stall=0.75, cmd_gap=0.5)
    d = dut

    # Raw handshake: a command whose response is not taken blocks the next one.
    await FallingEdge(d.clk)
    probe = instruction("PERF", COUNTER["COMMANDS"])
    d.cmd_payload_function_id.value = COMMAND["CLEAR_COUNTERS"].function_id
    d.cmd_valid.value = 1
    assert int(d.cmd_ready.value)
    await FallingEdge(d.clk)                       # CLEAR_COUNTERS accepted
    d.cmd_payload_function_id.value = probe.command.function_id
    d.cmd_payload_inputs_0.value = COUNTER["COMMANDS"]
    d.rsp_ready.value = 0
    for _ in range(20):                            # keep offering PERF while the response waits
        assert int(d.rsp_valid.value) == 1 and int(d.rsp_payload_outputs_0.value) == 0
        assert int(d.cmd_ready.value) == 0, "a second command was accepted while a response was pending"
        await FallingEdge(d.clk)
    d.rsp_ready.value = 1
    await FallingEdge(d.clk)                       # CLEAR's response taken
    while not int(d.cmd_ready.value):
        await FallingEdge(d.clk)
    await FallingEdge(d.clk)                       # PERF accepted
    d.cmd_valid.value = 0
    for _ in range(10):
        if int(d.rsp_valid.value):
            break
        await FallingEdge(d.clk)
    assert int(d.rsp_valid.value) and int(d.rsp_payload_outputs_0.value) == 0, \
        "PERF COMMANDS after CLEAR_COUNTERS should read 0 (PERF is counted after it is accepted)"
    await FallingEdge(d.clk)
    bfm.idle()
    await FallingEdge(d.clk)

    rngl = np.random.default_rng(rng.getrandbits(32))
    layers = [edge_layers(rngl, cfg)[i] for i in (1, 9, 12)]
    log = []
    for t in layers:
        entry = await run_layer(dut, bfm, cfg, t, log, port_counters=_port_counters())
        if _port_counters():
            assert entry["rsp_stall_cycles"] > entry["instructions"], "back-pressure was not exercised"
    save_log(log, "back_pressure")


async def _run_until_cycle(bfm, program, cycles):
    task = cocotb.start_soon(bfm.run(program, wait_limit=layer_wait_limit(program)))
    await Timer(cycles * 10, "ns")
    assert not task.done(), "the layer finished before the reset"
    task.cancel()
    await FallingEdge(bfm.dut.clk)


@cocotb.test()
async def reset_mid_layer(dut):
    """rst in the middle of loading and in the middle of computing, and ABORT while computing:
    each time the next layer (different shapes) runs bit-exactly."""
    if tb_params().get("part") != "reset":
        return
    cfg = _config()
    rng = seeded_rng(dut, "reset_mid_layer")
    bfm = await setup_port(dut, rng)
    rngl = np.random.default_rng(rng.getrandbits(32))
    victim = make_layer(rngl, "victim", 12, 12, 16, 16, 3, 3, padding="SAME")
    edge = edge_layers(rngl, cfg)
    program = program_for_layer(cfg, victim.layer)

    # 1. reset while the CPU is loading weights
    await _run_until_cycle(bfm, program, 1500)
    bfm.idle()
    await reset(dut, cycles=3)
    st = StatusWord(await bfm.command("STATUS"))
    assert not st.busy and not st.done and st.error == 0, f"after reset: {st}"
    await run_layer(dut, bfm, cfg, edge[2], port_counters=_port_counters())

    # 2. reset while the engine computes
    rest = await _load_and_start(bfm, program)
    assert rest[0].command.name == "WAIT"
    await ClockCycles(dut.clk, 500)
    await FallingEdge(dut.clk)
    bfm.idle()
    await reset(dut, cycles=3)
    st = StatusWord(await bfm.command("STATUS"))
    assert not st.busy and not st.done, f"after reset: {st}"
    await run_layer(dut, bfm, cfg, edge[9], port_counters=_port_counters())

    # 3. ABORT while the engine computes (soft reset: the port keeps running)
    program = program_for_layer(cfg, victim.layer)
    await _load_and_start(bfm, program)
    st = StatusWord(await bfm.command("STATUS"))
    assert st.busy, st
    await _expect(bfm, "ABORT")
    st = StatusWord(await bfm.command("STATUS"))
    assert not st.busy and not st.done and st.error == 0, f"after ABORT: {st}"
    rd = await bfm.command("READ_ACT_OUT")
    assert rd == ERROR_CODE["NOT_DONE"], f"read after ABORT answered {rd}"
    await bfm.command("STATUS")
    await run_layer(dut, bfm, cfg, edge[12], port_counters=_port_counters())
    # and the aborted layer itself, from scratch
    await run_layer(dut, bfm, cfg, victim, port_counters=_port_counters())


@cocotb.test()
async def multi_pass(dut):
    """Layers larger than the buffers of a small-buffer configuration, split by the driver into
    row bands, column bands and channel groups: bit-exact with golden for the whole layer."""
    params = tb_params()
    if params.get("part") != "multi_pass":
        return
    cfg = _config()
    rng = seeded_rng(dut, f"multi_pass_{params.get('shard', 0)}")
    bfm = await setup_port(dut, rng)
    rngl = np.random.default_rng(rng.getrandbits(32))
    layers = multi_pass_layers(rngl, cfg)
    shard, shards = params.get("shard", 0), params.get("shards", 1)
    layers = layers[shard::shards]
    layers += [random_multi_pass_layer(rngl, cfg, i) for i in range(params.get("random", 0))]
    log = []
    for t in layers:
        entry = await run_layer(dut, bfm, cfg, t, log, port_counters=_port_counters())
        assert entry["passes"] > 1
    save_log(log, f"multi_pass_{shard}")

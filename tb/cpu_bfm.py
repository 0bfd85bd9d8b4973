"""A cocotb bus-functional model of a RISC-V core executing custom-0 instructions on the CFU port.

It runs a driver program (driver/program.py) the way a core does: the ``li`` setup puts values in
its register file, then the 32-bit instruction word is decoded here (opcode must be custom-0; rd,
rs1, rs2, funct3, funct7 are cut out of the word; nothing pre-decoded by the driver is used), the
operands are read from the register file, the command goes out as ``function_id = {funct7, funct3}``,
``inputs_0 = x[rs1]``, ``inputs_1 = x[rs2]``, and the response is written to ``x[rd]``.
One command is outstanding at a time, like the CFU plugins of VexRiscv and NEORV32.

Timing: everything is driven just after a falling clock edge and sampled there (the port's
``cmd_ready`` and ``rsp_valid`` are registered). Optional randomness: gaps of idle cycles between
commands and ``rsp_ready`` low in random cycles (back-pressure); operands are replaced by garbage
after the accepting edge (they are valid only in that cycle). While a response is held back the
payload must not change. Every command has a cycle limit: a port that does not answer fails the
test, never hangs it.
"""

import functools
import json
import random

from cocotb.simtime import get_sim_time
from cocotb.triggers import FallingEdge, RisingEdge, SimTimeoutError, with_timeout

from driver.program import Instruction, decode, instruction
from spec.registers import COMMAND, COMMAND_BY_ID, OPCODE_CUSTOM0, function_id

from .common import CLOCK_NS

__all__ = ["CpuBfm", "PortTimeout"]


class PortTimeout(AssertionError):
    pass


class CpuBfm:
    """Executes instructions on the CFU port of ``dut``.

    Parameters
    ----------
    rng : random.Random
    rsp_stall : float    probability that rsp_ready is low in a cycle
    cmd_gap : float      probability of idle cycles (1..max_gap) before a command
    limit : int          cycle limit of one command (WAIT gets its own, see ``execute``)
    """

    def __init__(self, dut, rng=None, rsp_stall=0.0, cmd_gap=0.0, max_gap=4, limit=200):
        self.dut = dut
        self.rng = rng or random.Random(0)
        self.rsp_stall = rsp_stall
        self.cmd_gap = cmd_gap
        self.max_gap = max_gap
        self.limit = limit
        # A register file full of garbage: an operand read from the wrong register shows.
        self.x = [0] + [self.rng.getrandbits(32) for _ in range(31)]
        self.executed = 0
        self.idle()

    def idle(self):
        d = self.dut
        d.cmd_valid.value = 0
        d.rsp_ready.value = 0
        d.cmd_payload_function_id.value = 0
        d.cmd_payload_inputs_0.value = 0
        d.cmd_payload_inputs_1.value = 0

    def now(self):
        """The simulation time in clock cycles."""
        return get_sim_time(unit="ns") / CLOCK_NS

    async def execute(self, word, limit=None):
        """Decode and run one instruction word; returns the response written to rd.

        Must be called just after a falling clock edge; returns just after one.
        """
        d = self.dut
        rng = self.rng
        limit = limit or self.limit
        f = decode(word)
        if f["opcode"] != OPCODE_CUSTOM0:
            raise AssertionError(f"{word:#010x}: opcode {f['opcode']:#x} is not custom-0: "
                                 f"illegal instruction")
        fid = function_id(f["funct7"], f["funct3"])
        rs1, rs2 = self.x[f["rs1"]], self.x[f["rs2"]]
        if self.cmd_gap and rng.random() < self.cmd_gap:
            for _ in range(rng.randint(1, self.max_gap)):
                await FallingEdge(d.clk)
        start = self.now()
        d.cmd_payload_function_id.value = fid
        d.cmd_payload_inputs_0.value = rs1
        d.cmd_payload_inputs_1.value = rs2
        d.cmd_valid.value = 1
        waited = 0
        while not int(d.cmd_ready.value):
            await FallingEdge(d.clk)
            waited += 1
            if waited > limit:
                raise PortTimeout(f"{word:#010x}: cmd_ready stayed low for {limit} cycles")
        await FallingEdge(d.clk)                 # accepted at the rising edge in between
        d.cmd_valid.value = 0
        d.cmd_payload_function_id.value = rng.getrandbits(10)
        d.cmd_payload_inputs_0.value = rng.getrandbits(32)
        d.cmd_payload_inputs_1.value = rng.getrandbits(32)
        held = None
        while True:
            valid = int(d.rsp_valid.value)
            ready = not (self.rsp_stall and rng.random() < self.rsp_stall)
            d.rsp_ready.value = int(ready)
            if valid:
                raw = d.rsp_payload_outputs_0.value
                if not raw.is_resolvable:
                    cmd = COMMAND_BY_ID.get(fid)
                    raise AssertionError(f"{word:#010x} ({cmd.name if cmd else 'unknown'}): rsp_payload "
                                         f"{raw} is not 0/1 while rsp_valid")
                data = int(raw.to_unsigned())
                if held is not None and data != held:
                    raise AssertionError(f"{word:#010x}: rsp_payload changed from {held:#x} to {data:#x} "
                                         f"while rsp_ready was low")
                held = data
                if ready:
                    await FallingEdge(d.clk)     # response taken at the rising edge in between
                    break
                await FallingEdge(d.clk)
            elif self.now() - start < 6:
                await FallingEdge(d.clk)
            else:
                # A long WAIT: sleep until rsp_valid rises instead of polling every cycle.
                remaining = limit - (self.now() - start)
                if remaining <= 0:
                    raise PortTimeout(f"{word:#010x}: no response within {limit} cycles")
                try:
                    await with_timeout(RisingEdge(d.rsp_valid), int(remaining + 1) * CLOCK_NS, "ns")
                except SimTimeoutError:
                    raise PortTimeout(f"{word:#010x}: no response within {limit} cycles") from None
                await FallingEdge(d.clk)
            if self.now() - start > limit:
                raise PortTimeout(f"{word:#010x}: no response within {limit} cycles")
        if f["rd"]:
            self.x[f["rd"]] = held
        self.executed += 1
        return held

    async def run_instruction(self, insn: Instruction, limit=None):
        for reg, value in insn.setup:        # the `li`s before the instruction
            if reg:
                self.x[reg] = value & 0xFFFFFFFF
        return await self.execute(insn.word, limit)

    async def run(self, instructions, wait_limit, limit=None):
        """Run a list of Instructions (or a driver Program); WAIT gets ``wait_limit`` cycles.

        Returns (responses, port cycles from the first command to the last response)."""
        insns = getattr(instructions, "instructions", instructions)
        wait_id = COMMAND["WAIT"].function_id
        responses = []
        start = self.now()
        for insn in insns:
            f = decode(insn.word)
            is_wait = function_id(f["funct7"], f["funct3"]) == wait_id
            responses.append(await self.run_instruction(insn, wait_limit if is_wait else limit))
        return responses, round(self.now() - start)

    async def command(self, name, rs1=None, rs2=None, limit=None):
        """Convenience: run command ``name`` of spec/registers.py with operand values rs1 / rs2."""
        return await self.run_instruction(instruction(name, rs1, rs2), limit)

    async def raw(self, funct7, funct3, rs1=0, rs2=0, limit=None):
        """An arbitrary custom-0 word (e.g. an unknown function id) with operands in a0 / a1."""
        from driver.program import REG_RD, REG_RS1, REG_RS2, encode
        self.x[REG_RS1], self.x[REG_RS2] = rs1 & 0xFFFFFFFF, rs2 & 0xFFFFFFFF
        return await self.execute(encode(funct7, funct3, REG_RD, REG_RS1, REG_RS2), limit)


def layer_wait_limit(program):
    """Cycle limit of one WAIT of a driver Program: generous for the largest pass, still finite."""
    worst = 0
    for p in program.plan.passes:
        worst = max(worst, 20 * p.program.beats + 20 * p.layer.x.size + 4 * p.program.out_bytes)
    return worst + 10_000


async def read_port_counters(bfm):
    """The port counters, read with no stalls or gaps (so reading them does not disturb them)."""
    from spec.registers import COUNTER

    stall, gap = bfm.rsp_stall, bfm.cmd_gap
    bfm.rsp_stall = bfm.cmd_gap = 0.0
    try:
        values = {}
        for name in ("PORT_CYCLES", "COMMANDS", "WAIT_CYCLES", "RSP_STALL_CYCLES"):
            values[name] = await bfm.command("PERF", COUNTER[name])
    finally:
        bfm.rsp_stall, bfm.cmd_gap = stall, gap
    return values


async def run_program_measured(bfm, program, port_counters=True):
    """CLEAR_COUNTERS, run ``program``, read the port counters; returns (responses, measurement).

    measurement: instructions, port_cycles (hardware counter minus WAIT's wait and rsp_ready stalls:
    what the commands cost with an always-ready CPU; checked against the static model),
    wait_cycles, rsp_stall_cycles, bfm_cycles (wall clock of the port including gaps and stalls).
    ``port_counters=False``: a port built without them (``CnnCfu(counters=False)``) must read 0 from
    every port counter; port_cycles is then the static model's (not measured: see the cycle test of
    tb/cfu_tb.py), wait_cycles / rsp_stall_cycles are None.
    """
    from driver.program import program_stats

    rd = await bfm.command("CLEAR_COUNTERS")
    assert rd == 0, f"CLEAR_COUNTERS answered {rd}"
    responses, bfm_cycles = await bfm.run(program, wait_limit=layer_wait_limit(program))
    hw = await read_port_counters(bfm)
    stats = program_stats(program)
    if not port_counters:
        assert all(v == 0 for v in hw.values()), f"a port without counters read {hw} (must read 0)"
        return responses, {"instructions": len(program), "passes": stats["passes"],
                           "port_cycles": stats["port_cycles"], "wait_cycles": None,
                           "rsp_stall_cycles": None, "bfm_cycles": bfm_cycles, "li": stats["li"]}
    # PORT_CYCLES also holds CLEAR_COUNTERS' own response cycle (the counters clear when it is taken).
    port = hw["PORT_CYCLES"] - 1 - hw["WAIT_CYCLES"] - hw["RSP_STALL_CYCLES"]
    # COMMANDS is read second: it also counts the PERF that read PORT_CYCLES.
    assert hw["COMMANDS"] == len(program) + 1, \
        f"port counted {hw['COMMANDS'] - 1} commands, the program has {len(program)}"
    assert port == stats["port_cycles"], (f"port cycles {port} (counter) differ from the command table's "
                                          f"{stats['port_cycles']}")
    return responses, {"instructions": len(program), "passes": stats["passes"], "port_cycles": port,
                       "wait_cycles": hw["WAIT_CYCLES"], "rsp_stall_cycles": hw["RSP_STALL_CYCLES"],
                       "bfm_cycles": bfm_cycles, "li": stats["li"]}


async def run_layer(dut, bfm, cfg, test_layer, log=None, known_state=None, port_counters=True):
    """Run a bench.conv_layers.TestLayer through the port (split into passes as the driver decides),
    check the output bit for bit against golden/ and every pass's MAC count against the loop nest,
    and log instructions / port cycles / compute cycles. Returns the log entry.
    ``port_counters``: whether the port has its counters (see ``run_program_measured``)."""
    import numpy as np

    from driver.program import program_for_layer

    program = program_for_layer(cfg, test_layer.layer, counters=True, known_state=known_state)
    responses, meas = await run_program_measured(bfm, program, port_counters)
    got, counters = program.collect(responses)
    expected = test_layer.expected
    assert got.shape == expected.shape, f"{test_layer.name}: shape {got.shape} != {expected.shape}"
    if not np.array_equal(got, expected):
        bad = np.argwhere(got != expected)
        raise AssertionError(f"{test_layer.name}: {len(bad)} of {got.size} outputs differ, first at "
                             f"(e, f, m) = {tuple(bad[0])}: RTL {got[tuple(bad[0])]}, golden "
                             f"{expected[tuple(bad[0])]}")
    from spec.cycle_model import conv_engine_cycles

    for i, (p, c) in enumerate(zip(program.plan.passes, counters, strict=True)):
        # Without perf_counters MAC_CYCLES does not exist and reads 0 (spec/registers.py).
        beats = p.program.beats if cfg.perf_counters else 0
        assert c["mac_cycles"] == beats, \
            (f"{test_layer.name} pass {i}: MAC_CYCLES read {c['mac_cycles']}, expected {beats} "
             f"(loop nest beats {p.program.beats}, perf_counters = {cfg.perf_counters})")
        # The cycle model predicts every pass's CYCLES counter exactly.
        r = p.program.registers
        model = conv_engine_cycles(cfg, r["H"], r["W"], r["C"], r["M"], r["R"], r["S"], r["U"],
                                   r["PAD_TOP"], r["E"], r["F"], r["CG"], r["POOL"])
        assert model.mac_cycles == p.program.beats
        assert c["cycles"] == model.cycles, \
            (f"{test_layer.name} pass {i}: CYCLES {c['cycles']}, spec.cycle_model predicts "
             f"{model.cycles}")
    compute = sum(c["cycles"] for c in counters)
    ideal = sum(p.program.ideal_beats for p in program.plan.passes)
    entry = {"name": test_layer.name, **meas, "compute_cycles": compute,
             "mac_cycles": sum(p.program.beats for p in program.plan.passes), "ideal": ideal,
             "port_per_compute": meas["port_cycles"] / compute,
             "distinct_outputs": int(len(np.unique(got)))}
    dut._log.info(f"{test_layer.name}: {got.size} outputs bit-exact in {meas['passes']} pass(es); "
                  f"{meas['instructions']} instructions, {meas['port_cycles']} port cycles vs "
                  f"{compute} compute cycles ({entry['port_per_compute']:.2f}x); utilisation "
                  f"{ideal / compute:.1%}")
    if log is not None:
        log.append(entry)
    return entry


# ---- shared by the cocotb modules (tb/conv_engine_tb.py, tb/cfu_tb.py, ...) -------------------
async def setup_port(dut, rng, rsp_stall=None, cmd_gap=None):
    """Clock, idle port, reset; a CPU model with the stall/gap probabilities from TB_PARAMS."""
    from .common import reset, start_clock, tb_params

    params = tb_params()
    await start_clock(dut)
    bfm = CpuBfm(dut, rng, rsp_stall=params.get("rsp_stall", 0.2) if rsp_stall is None else rsp_stall,
                 cmd_gap=params.get("cmd_gap", 0.1) if cmd_gap is None else cmd_gap)
    await reset(dut)
    return bfm


def save_log(log, name):
    """Write a run's per-layer log as <log_dir>/<name>.json (log_dir from TB_PARAMS)."""
    import os

    from .common import tb_params

    out = tb_params().get("log_dir")
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, f"{name}.json"), "w") as f:
            json.dump(log, f, indent=1)


# ---- runner side (pytest): the build and the printed overhead table -----------------------------
@functools.lru_cache(maxsize=None)
def built_port(config, counters=True):
    """The CnnCfu simulator build of ``config`` (elaborated once per process, built once per machine);
    ``counters=False``: the port without its counters (``CnnCfu(counters=False)``)."""
    from hw.cfu import CnnCfu
    from sim.runner import build

    return build(CnnCfu(config, counters=counters), top="cnn_cfu",
                 tag=config.name if counters else f"{config.name}-nocounters")


def print_overhead(log):
    print(f"\n{'layer':58s} {'pass':>4s} {'instr':>7s} {'port cyc':>9s} {'compute':>9s} {'port/comp':>9s}")
    for e in log:
        print(f"{e['name'][:58]:58s} {e['passes']:4d} {e['instructions']:7d} {e['port_cycles']:9d} "
              f"{e['compute_cycles']:9d} {e['port_per_compute']:9.2f}")


def run_engine_layers(port, config, run_name, params, seed):
    """Run tb/conv_engine_tb.py (``params`` picks the layer set) on ``port``; print its overhead."""
    from sim.runner import run_cocotb

    log_dir = port.build_dir / "runs" / run_name / "layers"
    run_cocotb(port, "tb.conv_engine_tb", run_name=run_name,
               params={"config": config.as_dict(), "seed": seed, "log_dir": str(log_dir), **params},
               seed=seed)
    for path in sorted(log_dir.glob("*.json")) if log_dir.exists() else []:
        print_overhead(json.loads(path.read_text()))

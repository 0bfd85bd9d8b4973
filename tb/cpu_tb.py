"""cocotb tests of the RV32I core in its RAM harness (hw/cpu/soc_ram.py, loader + trace ports).

* ``isa_programs``: self-checking assembly programs (tests/data/cpu/isa/*.S) that end by writing
  FINISH (0 = pass, else the number of the failing test), and trap programs that must halt with a
  given cause at the label ``trap_here`` without retiring the trapping instruction;
* ``lockstep_random``: random instruction streams (tb/cpu_iss.py) checked instruction by
  instruction against unicorn (pc, all registers, memory writes), until at least
  ``params["instructions"]`` instructions retired; the retire trace also yields the CPI table,
  which must match ``hw.cpu.core.CYCLES_PER_INSTRUCTION`` and is written to ``params["report"]``
  (``params["core"] == "serial"``: every instruction's cycles must equal
  ``hw.cpu.serial_core.serial_cycles`` of its operands instead);
* ``cfu_random``: custom-0 instructions against a CFU model with random accept/response delays:
  function_id/operands on the port, rd = outputs_0, cycles = 2 + delays; then a C program using
  firmware/include/cfu.h checks its own results against the same function.
"""

import json
from pathlib import Path

import cocotb

from hw.cpu.asm import REGISTER_NAMES, Program, disassemble
from hw.cpu.core import CYCLES_PER_INSTRUCTION
from hw.cpu.isa import Cause, Opcode
from hw.cpu.serial_core import SERIAL_CYCLES

from .common import seeded_rng, tb_params
from .cpu_harness import CfuModel, CpuHarness, run_program
from .cpu_iss import (
    DMEM_BASE,
    UnicornReference,
    check_serial_cycles,
    compare,
    cpi_table,
    instruction_cycles,
    random_program,
)

MASK = 0xFFFFFFFF


def _serial(params):
    return params.get("core", "multicycle") == "serial"


def _cycle_scale(params):
    """The serial core needs ~20x the cycles of the multi-cycle one for the same program."""
    return 25 if _serial(params) else 1


def cfu_function(function_id, in0, in1):
    """The CFU model's function; tests/data/cpu/cfu_check.c computes the same in C."""
    rotated = ((in1 << 7) | (in1 >> 25)) & MASK
    return ((in0 ^ rotated) + function_id * 0x9E3779B1) & MASK


def _format_cpi(table):
    lines = [f"{'class':18} {'count':>6} {'CPI':>6} {'min':>4} {'max':>4}"]
    for name, row in table.items():
        lines.append(f"{name:18} {row['count']:6} {row['cpi']:6.2f} {row['min']:4} {row['max']:4}")
    return "\n".join(lines)


@cocotb.test()
async def isa_programs(dut):
    params = tb_params()
    programs = json.loads(Path(params["programs"]).read_text())
    harness = CpuHarness(dut)
    failures = []
    for prog in programs:
        result = await run_program(harness, prog["imem"], prog["dmem"],
                                   max_cycles=prog.get("max_cycles", 50_000) * _cycle_scale(params))
        expect = prog["expect"]
        name = prog["name"]
        dut._log.info(f"{name}: {result.describe()}" + (f" text={result.text!r}" if result.text else ""))
        if "finish" in expect:
            if result.finish_code != expect["finish"]:
                failures.append(f"{name}: FINISH = {result.finish_code} (failing test number), expected "
                                f"{expect['finish']}; {result.describe()}")
            elif not (result.halted and result.cause == Cause.BREAKPOINT):
                failures.append(f"{name}: did not end in ebreak: {result.describe()}")
        else:
            retired_at_trap = [e for e in result.trace if e.pc == expect["pc"]]
            if not result.halted or result.cause != expect["cause"] or result.halt_pc != expect["pc"]:
                failures.append(f"{name}: expected halt cause {Cause(expect['cause']).name} at "
                                f"0x{expect['pc']:08x}; got {result.describe()}")
            elif retired_at_trap:
                failures.append(f"{name}: the trapping instruction retired: {retired_at_trap}")
            elif result.finish_code is not None:
                failures.append(f"{name}: wrote FINISH = {result.finish_code}")
    assert not failures, "\n".join(failures)
    dut._log.info(f"{len(programs)} programs passed")


@cocotb.test()
async def lockstep_random(dut):
    params = tb_params()
    rng = seeded_rng(dut, "lockstep")
    target = params.get("instructions", 10_000)
    body = params.get("body_length", 3000)
    harness = CpuHarness(dut)
    traces = []
    total = counter_checks = programs = 0
    while total < target:
        prog = random_program(rng, body)
        result = await run_program(harness, prog.words, prog.data,
                                   max_cycles=(8 * body + 2000) * (13 if _serial(params) else 1))
        assert result.halted and result.cause == Cause.BREAKPOINT and result.halt_pc == prog.end_pc, \
            f"random program {programs} did not end at its ebreak (0x{prog.end_pc:08x}): {result.describe()}"
        reference = UnicornReference(prog.words, DMEM_BASE, prog.data)
        steps, checks = compare(result.trace, reference, 0, prog.end_pc)
        total += steps
        counter_checks += checks
        programs += 1
        traces.append(result.trace)
        dut._log.info(f"random program {programs}: {steps} instructions match unicorn "
                      f"({result.cycles} cycles)")
    serial = _serial(params)
    table = cpi_table(traces, redirect_refetch=not serial)
    if serial:
        for trace in traces:
            check_serial_cycles(trace)
    dut._log.info(f"{total} instructions in {programs} programs matched unicorn after every retire "
                  f"({counter_checks} counter reads checked against the trace)\nCPI per class:\n"
                  + _format_cpi(table))
    if params.get("report"):
        report = {"instructions": total, "programs": programs, "seed": params.get("seed"),
                  "core": params.get("core", "multicycle"),
                  "documented": SERIAL_CYCLES if serial else CYCLES_PER_INSTRUCTION, "measured": table,
                  "cycles": sum(t[-1].cycle - t[0].cycle for t in traces),
                  "retired": sum(len(t) - 1 for t in traces)}
        report["overall_cpi"] = round(report["cycles"] / report["retired"], 3)
        Path(params["report"]).parent.mkdir(parents=True, exist_ok=True)
        Path(params["report"]).write_text(json.dumps(report, indent=2) + "\n")
    # (the serial core's per-instruction cycles were checked against its model above)
    wrong = {name: row for name, row in table.items()
             if not serial and not row["min"] == row["max"] == CYCLES_PER_INSTRUCTION.get(name)}
    assert not wrong, f"CPI differs from hw.cpu.core.CYCLES_PER_INSTRUCTION: {wrong}"
    assert set(table) >= set(CYCLES_PER_INSTRUCTION) - {"custom-0 (CFU)"}, \
        f"classes not exercised: {set(CYCLES_PER_INSTRUCTION) - set(table)}"


def _cfu_program(rng, length):
    """Random custom-0 instructions between ALU instructions that change the operands."""
    p = Program()
    for r in range(1, 32):
        p.li(r, rng.choice([0, 1, MASK, 0x80000000, rng.getrandbits(32)]))
    for _ in range(length):
        if rng.random() < 0.6:
            rd = 0 if rng.random() < 0.08 else rng.randint(1, 31)
            rs1 = rng.randint(0, 31)
            rs2 = rs1 if rng.random() < 0.15 else rng.randint(0, 31)
            funct7 = rng.choice([0, 127, rng.randint(0, 127)])
            p.cfu(rng.randint(0, 7), funct7, rd, rs1, rs2)
        else:
            kind = rng.choice(["add", "xor", "addi", "lui"])
            rd = rng.randint(1, 31)
            if kind == "addi":
                p.addi(rd, rng.randint(0, 31), rng.randint(-2048, 2047))
            elif kind == "lui":
                p.lui(rd, rng.getrandbits(20))
            else:
                p.emit(kind, rd, rng.randint(0, 31), rng.randint(0, 31))
    end = p.pc
    p.ebreak()
    return p.words(), end


@cocotb.test()
async def cfu_random(dut):
    params = tb_params()
    rng = seeded_rng(dut, "cfu")
    model = CfuModel(dut, cfu_function, rng, accept_delays=(0, 0, 0, 1, 2, 5),
                     response_delays=(0, 0, 1, 1, 2, 3, 8, 25))
    harness = CpuHarness(dut, cfu=model)
    words, end = _cfu_program(rng, params.get("length", 600))
    result = await run_program(harness, words, max_cycles=60_000 * _cycle_scale(params))
    base_cycles = (SERIAL_CYCLES if _serial(params) else CYCLES_PER_INSTRUCTION)["custom-0 (CFU)"]
    assert result.halted and result.cause == Cause.BREAKPOINT and result.halt_pc == end, result.describe()
    assert not model.protocol_errors, model.protocol_errors[:5]

    shadow = [0] * 32
    cfu_retired = 0
    cycles = {id(e): c for e, c, _ in instruction_cycles(result.trace)}
    for entry in result.trace:
        insn = entry.insn
        if (insn & 0x7F) == (Opcode.CUSTOM0 << 2 | 3):
            where = f"#{cfu_retired} at 0x{entry.pc:08x} ({disassemble(insn)})"
            assert cfu_retired < len(model.commands), f"{where} retired without a CFU command"
            fid, in0, in1, out, accept_delay, response_delay = model.commands[cfu_retired]
            rd, rs1, rs2 = (insn >> 7) & 31, (insn >> 15) & 31, (insn >> 20) & 31
            expected_fid = ((insn >> 25) << 3) | ((insn >> 12) & 7)
            assert fid == expected_fid, f"{where}: function_id 0x{fid:03x}, expected 0x{expected_fid:03x}"
            assert in0 == shadow[rs1], \
                f"{where}: inputs_0 0x{in0:08x}, {REGISTER_NAMES[rs1]} = 0x{shadow[rs1]:08x}"
            assert in1 == shadow[rs2], \
                f"{where}: inputs_1 0x{in1:08x}, {REGISTER_NAMES[rs2]} = 0x{shadow[rs2]:08x}"
            assert entry.rd == rd, f"{where}: trace rd x{entry.rd}, expected x{rd}"
            if rd:
                assert entry.rd_data == out, f"{where}: rd = 0x{entry.rd_data:08x}, outputs_0 = 0x{out:08x}"
            if id(entry) in cycles:
                want = base_cycles + accept_delay + response_delay
                assert cycles[id(entry)] == want, \
                    f"{where}: {cycles[id(entry)]} cycles, expected {base_cycles} + {accept_delay} " \
                    f"+ {response_delay}"
            cfu_retired += 1
        if entry.rd:
            shadow[entry.rd] = entry.rd_data
    assert cfu_retired == len(model.commands) > 100, (cfu_retired, len(model.commands))
    delays = sorted({(c[4], c[5]) for c in model.commands})
    dut._log.info(f"{cfu_retired} custom-0 instructions: function ids, operands, results and cycle counts "
                  f"right; (accept, response) delays seen: {delays}")

    if params.get("firmware"):
        image = json.loads(Path(params["firmware"]).read_text())
        result = await run_program(harness, image["imem"], image["dmem"],
                                   max_cycles=400_000 * _cycle_scale(params))
        dut._log.info(f"cfu_check.c: {result.describe()} text={result.text!r}")
        assert result.finish_code == 0 and "cfu: ok" in result.text, result.describe() + " " + result.text

"""The RISC-V command port: its single definition (spec/registers.py) and everything generated from
it (decoder, driver programs, C header, Markdown table), the pass splitter, and the port in RTL.

The cocotb tests run on the default configuration's build (shared with tests/test_conv_engine.py),
for layers split into passes on one small-buffer configuration (SMALL), and on the iCEBreaker SoC's
port: the UP5K configuration without port counters (UP5K, ``CnnCfu(counters=False)``).
"""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from bench.conv_layers import (
    edge_layers,
    expected_output,
    make_layer,
    multi_pass_layers,
    random_multi_pass_layer,
)
from boards.boards import ICE40_ENGINE_CONFIG
from driver.c_header import c_header, markdown
from driver.network import accelerator_layers, conv_layer_from_golden, fc_geometry
from driver.passes import split_layer
from driver.program import command_overhead, decode, encode, instruction, program_for_layer
from sim.options import random_layers
from sim.runner import ROOT, run_cocotb
from spec.config import AcceleratorConfig
from spec.registers import (
    COMMAND_BY_ID,
    COMMANDS,
    COUNTERS,
    ERRORS,
    OPCODE_CUSTOM0,
    REGISTERS,
    SPACES,
    STATUS_FIELDS,
    register_limit,
    space_depth,
)
from tb.cpu_bfm import built_port, print_overhead

CONFIG = AcceleratorConfig()
# The iCEBreaker SoC's port: the UP5K configuration without the port counters (CnnCfu(counters=False)),
# simulated with the generic engine (the port's logic depends on the configuration, not the engine's
# primitives).
UP5K = ICE40_ENGINE_CONFIG
# Small buffers so that ordinary layers need several passes (the only extra build of this file).
SMALL = AcceleratorConfig(max_size=32, max_channels=32, lb_lines=8, lb_line_bytes=64, act_mem_bytes=512,
                          out_mem_bytes=512, weight_mem_words=64, pool_buf_words=32)
MULTI_PASS_SHARDS = 2


# ---- the command map ----------------------------------------------------------------------------
def test_command_table_is_consistent():
    ids = [c.function_id for c in COMMANDS]
    assert len(ids) == len(set(ids)) and all(0 <= i < 1024 for i in ids)
    assert len({c.name for c in COMMANDS}) == len(COMMANDS)
    for c in COMMANDS:
        assert c.response in ("result", "data", "status"), c
        assert c.cycles >= 2, c
        if c.name.startswith(("WRITE_", "READ_")):
            space = next(s for s in SPACES if s.name == c.name.split("_", 1)[1])
            assert c.funct7 == space.index, c
    assert len({e for e in ERRORS}) == len(ERRORS) and ERRORS[0][0] == "OK"
    assert [r.index for r in REGISTERS] == list(range(len(REGISTERS)))
    assert [c.index for c in COUNTERS] == list(range(len(COUNTERS)))
    bits = set()
    for f in STATUS_FIELDS:
        field = set(range(f.lsb, f.lsb + f.width))
        assert not bits & field and max(field) < 32
        bits |= field


def test_instruction_encoding_roundtrip():
    rng = np.random.default_rng(1)
    for _ in range(2000):
        f7, f3, rd, r1, r2 = (int(v) for v in rng.integers(0, [128, 8, 32, 32, 32]))
        word = encode(f7, f3, rd, r1, r2)
        assert decode(word) == {"opcode": OPCODE_CUSTOM0, "rd": rd, "funct3": f3, "rs1": r1, "rs2": r2,
                                "funct7": f7}
    # Fixed points from the RISC-V spec layout (checked by hand): .insn r 0x0b, 0, 0, a2, a0, a1
    assert encode(0, 0, 12, 10, 11) == 0x00B5060B
    assert encode(0x7F, 7, 31, 31, 31) == 0xFFFFFF8B
    with pytest.raises(ValueError):
        encode(128, 0, 0, 0, 0)


def test_program_words_decode_to_commands():
    t = edge_layers(np.random.default_rng(2), CONFIG)[1]
    prog = program_for_layer(CONFIG, t.layer)
    for insn in prog.instructions:
        f = decode(insn.word)
        assert f["opcode"] == OPCODE_CUSTOM0
        assert COMMAND_BY_ID.get((f["funct7"] << 3) | f["funct3"]) is insn.command
        regs = dict(insn.setup)
        for field in ("rs1", "rs2"):
            assert f[field] == 0 or f[field] in regs, f"{insn}: {field} names a register no li set"
    stats = prog.stats()
    assert stats["instructions"] == len(prog)
    assert stats["port_cycles"] == sum(c.cycles * n for c in COMMANDS
                                       for name, n in stats["by_command"].items() if name == c.name)
    # A second layer on the same engine skips unchanged registers and memories.
    state = {}
    first = program_for_layer(CONFIG, t.layer, known_state=state)
    again = program_for_layer(CONFIG, t.layer, known_state=state)
    assert len(again) < len(first)
    assert not any(i.command.name.startswith("WRITE_") for i in again.instructions)


def test_overhead_function():
    t = edge_layers(np.random.default_rng(3), CONFIG)[-1]
    o = command_overhead(CONFIG, t.layer)
    assert o["passes"] == 1 and o["compute_cycles"] >= o["mac_cycles"] > 0
    assert o["instructions"] > o["words_written"] + o["words_read"]
    assert o["port_cycles"] > 2 * o["instructions"]


# ---- generated documentation and header -----------------------------------------------------------
def test_markdown_is_up_to_date():
    doc = ROOT / "docs" / "commands.md"
    assert doc.read_text() == markdown(CONFIG), \
        "docs/commands.md is stale: run `python -m driver.c_header --markdown docs/commands.md`"
    for c in COMMANDS:
        assert f"| 0x{c.function_id:03x} | {c.funct7} | {c.funct3} | `{c.name}` |" in doc.read_text()


def _defines(text):
    return {m[1]: m[2] for m in re.finditer(r"^#define (\w+) (0x[0-9a-f]+|\d+)u\b", text, re.M)}


def test_header_matches_python_map():
    for cfg in (CONFIG, SMALL):
        d = {k: int(v, 0) for k, v in _defines(c_header(cfg)).items()}
        for c in COMMANDS:
            assert d[f"CNN_CMD_{c.name}_ID"] == c.function_id
            assert d[f"CNN_CMD_{c.name}_FUNCT7"] == c.funct7 and d[f"CNN_CMD_{c.name}_FUNCT3"] == c.funct3
            assert d[f"CNN_CMD_{c.name}_CYCLES"] == c.cycles
        for s in SPACES:
            assert d[f"CNN_SPACE_{s.name}"] == s.index
            assert d[f"CNN_SPACE_{s.name}_WORDS"] == space_depth(cfg, s.index)
        for r in REGISTERS:
            assert d[f"CNN_REG_{r.name}"] == r.index
            if r.access == "rw":
                assert d[f"CNN_REG_{r.name}_MAX"] == register_limit(cfg, r)
        for code, (name, _) in ERRORS.items():
            assert d[f"CNN_ERR_{name}"] == code
        for f in STATUS_FIELDS:
            assert d[f"CNN_STATUS_{f.name}_LSB"] == f.lsb
            assert d[f"CNN_STATUS_{f.name}_MASK"] == (1 << f.width) - 1
        for c in COUNTERS:
            assert d[f"CNN_PERF_{c.name}"] == c.index
        assert d["CNN_OPCODE"] == OPCODE_CUSTOM0
        assert d["CNN_CFG_ACT_MEM_BYTES"] == cfg.act_mem_bytes


def _zig():
    pytest.importorskip("ziglang", reason="ziglang (PyPI) compiles the generated header")
    return [sys.executable, "-m", "ziglang", "cc", "-Wno-unused-command-line-argument"]


def _write_header(tmp_path):
    inc = tmp_path / "include"
    inc.mkdir()
    (inc / "cnn_accel.h").write_text(c_header(CONFIG))
    return inc


def test_header_compiles(tmp_path):
    """C99, -Wall -Wextra -pedantic -Werror, for the host and for RV32 (the inline .insn assembles).
    (zig 0.17's `cc -fsyntax-only` reports a spurious "failed to rename" error, so this compiles
    with -c, which checks more.)"""
    zig = _zig()
    inc = _write_header(tmp_path)
    src = tmp_path / "use.c"
    src.write_text('#include "cnn_accel.h"\nint cnn_header_compiles;\n')
    for target in ([], ["-target", "riscv32-freestanding-none", "-mcpu=generic_rv32"]):
        res = subprocess.run(zig + target + ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-c",
                                             "-I", str(inc), str(src), "-o", str(tmp_path / "use.o")],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, f"{' '.join(target) or 'host'}:\n{res.stderr}"


def test_header_instructions_match_driver(tmp_path):
    """Compile a call of every command's inline function for RV32 and decode the machine code:
    each custom-0 word carries exactly the funct7/funct3 of the driver's command table."""
    zig = _zig()
    inc = _write_header(tmp_path)
    calls = []
    for c in COMMANDS:
        args = ", ".join(f"v[{i}]" for i in range((c.rs1 != "-") + (c.rs2 != "-")))
        calls.append(f"    v[3] += cnn_{c.name.lower()}({args});")
    src = tmp_path / "calls.c"
    src.write_text('#include "cnn_accel.h"\nvoid calls(volatile uint32_t *v)\n{\n' + "\n".join(calls)
                   + "\n}\n")
    words = _text_words(zig, tmp_path, src, ["-I", str(inc)])
    custom = [w for w in words if w & 0x7F == OPCODE_CUSTOM0]
    got = [(decode(w)["funct7"], decode(w)["funct3"]) for w in custom]
    assert got == [(c.funct7, c.funct3) for c in COMMANDS]
    for c, w in zip(COMMANDS, custom, strict=True):
        ref = decode(instruction(c.name, 1 if c.rs1 != "-" else None, 1 if c.rs2 != "-" else None).word)
        assert (ref["funct7"], ref["funct3"]) == (decode(w)["funct7"], decode(w)["funct3"])


def _text_words(zig, tmp_path, src, extra=()):
    obj, binary = tmp_path / f"{src.stem}.o", tmp_path / f"{src.stem}.bin"
    res = subprocess.run(zig + ["-target", "riscv32-freestanding-none", "-mcpu=generic_rv32", "-O2", "-c",
                                *extra, str(src), "-o", str(obj)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([sys.executable, "-m", "ziglang", "objcopy", "-O", "binary", "-j", ".text", str(obj),
                          str(binary)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return [int(w) for w in np.frombuffer(binary.read_bytes(), "<u4")]


def test_program_listing_assembles_to_the_same_words(tmp_path):
    """The driver's listing (li + .insn per command) assembled by a real RISC-V assembler yields
    exactly the program's instruction words, in order."""
    zig = _zig()
    t = edge_layers(np.random.default_rng(8), CONFIG)[3]
    prog = program_for_layer(CONFIG, t.layer)
    src = tmp_path / "layer.S"
    src.write_text(".text\n.globl run_layer\nrun_layer:\n" + prog.listing() + "ret\n")
    words = _text_words(zig, tmp_path, src)
    assert [w for w in words if w & 0x7F == OPCODE_CUSTOM0] == [insn.word for insn in prog.instructions]


def test_header_cli(tmp_path):
    out = tmp_path / "h" / "cnn_accel.h"
    res = subprocess.run([sys.executable, "-m", "driver.c_header", "--header", str(out), "--markdown", "-"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    assert out.read_text() == c_header(CONFIG) and res.stdout == markdown(CONFIG)


# ---- the driver: passes (checked with golden/, no simulation) ----------------------------------
def _golden_passes(plan):
    return plan.assemble([expected_output(p.layer, "conv", p.layer.w) for p in plan.passes])


def test_multi_pass_layers_are_bit_exact_in_golden():
    rng = np.random.default_rng(4)
    layers = multi_pass_layers(rng, SMALL) + [random_multi_pass_layer(rng, SMALL, i, max_passes=200)
                                              for i in range(random_layers(default=30) // 2)]
    for t in layers:
        plan = split_layer(SMALL, t.layer)
        assert len(plan.passes) > 1
        assert np.array_equal(_golden_passes(plan), t.expected), t.name


def test_large_layer_on_default_config_is_split():
    t = make_layer(np.random.default_rng(5), "64x64x16 -> 32", 64, 64, 16, 32, 3, 3, padding="SAME",
                   pool="max")
    plan = split_layer(CONFIG, t.layer)
    assert len(plan.passes) > 1
    assert np.array_equal(_golden_passes(plan), t.expected)


@pytest.mark.parametrize("change, message", [
    (dict(C=SMALL.max_channels + 1), "C (input channels of a dense layer"),
    (dict(R=SMALL.max_kernel + 1), "R = "),
    (dict(stride=SMALL.max_stride + 1), "stride = "),
    (dict(padding=(3, 0, 0, 0)), "pad_top = 3"),
    (dict(C=8, M=8), "weight rows"),
    (dict(S=5, C=16, R=1), "W * C (line buffer line)"),
    (dict(input_zp=128), "input_zp = 128"),
    (dict(output_zp=-129), "output_zp = -129"),
    (dict(act_min=10, act_max=5), "act_max = 5"),
    (dict(shift=31), "shift[0] = 31"),
    (dict(multiplier=2**29), "not normalised"),
    (dict(bias=2**31), "bias[0]"),
    (dict(pool="min"), "pool = 'min'"),
])
def test_bad_layers_raise_before_sending(change, message):
    from driver.conv_layer import ConvLayer

    rng = np.random.default_rng(6)
    d = dict(H=6, W=6, C=2, M=4, R=3, S=3)
    d.update({k: v for k, v in change.items() if k in d})
    layer = ConvLayer(
        x=rng.integers(-128, 128, (d["H"], d["W"], d["C"])).astype(np.int8),
        w=rng.integers(-127, 128, (d["M"], d["R"], d["S"], d["C"])).astype(np.int8),
        bias=np.zeros(d["M"], np.int64), multiplier=np.full(d["M"], 2**30, np.int64),
        shift=np.full(d["M"], -8, np.int64), input_zp=0, output_zp=0)
    for name, value in change.items():
        if name in ("shift", "multiplier", "bias"):
            getattr(layer, name)[0] = value
        elif name not in d:
            setattr(layer, name, value)
    with pytest.raises(ValueError, match=re.escape(message)):
        program_for_layer(SMALL, layer)


def test_golden_network_layers():
    from golden import network as gn

    rng = np.random.default_rng(7)
    q_in, q_mid, q_out = gn.QuantParams(0.05, -3), gn.QuantParams(0.08, 5), gn.QuantParams(0.2, -10)
    w1 = rng.integers(-127, 128, (8, 3, 3, 3)).astype(np.int8)
    w2 = rng.integers(-127, 128, (1, 3, 3, 8)).astype(np.int8)
    w3 = rng.integers(-127, 128, (10, 4 * 4 * 8)).astype(np.int8)
    net = gn.Network((1, 8, 8, 3), q_in, [
        gn.Conv2D(w1, rng.integers(-500, 500, 8).astype(np.int32), np.full(8, 0.01), q_in, q_mid,
                  padding="SAME", activation="RELU"),
        gn.DepthwiseConv2D(w2, None, [0.02], q_mid, q_mid, padding="SAME", activation="RELU6"),
        gn.MaxPool2D((2, 2), (2, 2), "VALID", q_mid),
        gn.Reshape((1, -1), q_mid),
        gn.FullyConnected(w3, rng.integers(-500, 500, 10).astype(np.int32), np.full(10, 0.005), q_mid, q_out),
    ])
    x = rng.integers(-128, 128, (1, 8, 8, 3)).astype(np.int8)
    covered = []
    for cfg in (CONFIG, SMALL):
        for idx, layer, expected in accelerator_layers(net, x, config=cfg):
            if cfg is SMALL and idx == (4,):
                # 128 weights per output channel > SMALL's whole weight memory per channel group
                with pytest.raises(ValueError, match="weight rows"):
                    program_for_layer(cfg, layer)
                continue
            plan = program_for_layer(cfg, layer).plan
            assert np.array_equal(_golden_passes(plan), expected), idx
            covered.append(idx)
    assert covered == [(0,), (1, 2), (4,), (0,), (1, 2)]
    assert fc_geometry(128, SMALL) == (2, 2, 32)
    with pytest.raises(ValueError, match="dilation"):
        conv_layer_from_golden(gn.Conv2D(w1, None, [0.1], q_in, q_mid, dilation=(2, 2)), x)


# ---- the port in RTL -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def port():
    return built_port(CONFIG)


@pytest.fixture(scope="module")
def small_port():
    return built_port(SMALL)


@pytest.fixture(scope="module")
def reduced_port():
    return built_port(UP5K, counters=False)


def _run(design, cfg, name, params, seed, testcase):
    log_dir = design.build_dir / "runs" / name / "layers"
    run_cocotb(design, "tb.cfu_tb", run_name=name, testcase=testcase, seed=seed,
               params={"config": cfg.as_dict(), "seed": seed, "log_dir": str(log_dir), **params})
    for path in sorted(log_dir.glob("*.json")) if log_dir.exists() else []:
        print_overhead(json.loads(path.read_text()))


@pytest.mark.cocotb
def test_port_errors(port, seed):
    _run(port, CONFIG, f"errors-{seed}", {"part": "errors"}, seed,
         ["port_errors", "reading_before_done", "command_cycles"])


@pytest.mark.cocotb
def test_back_pressure(port, seed):
    _run(port, CONFIG, f"pressure-{seed}", {"part": "pressure"}, seed, "back_pressure")


@pytest.mark.cocotb
def test_reset_mid_layer(port, seed):
    _run(port, CONFIG, f"reset-{seed}", {"part": "reset"}, seed, "reset_mid_layer")


@pytest.mark.cocotb
@pytest.mark.parametrize("shard", range(MULTI_PASS_SHARDS))
def test_multi_pass(small_port, seed, shard):
    _run(small_port, SMALL, f"multipass{shard}-{seed}",
         {"part": "multi_pass", "shard": shard, "shards": MULTI_PASS_SHARDS, "random": 3}, seed, "multi_pass")



# ---- the reduced port of the iCE40 SoC: no port counters, the UP5K configuration ----------------
@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_counters_option():
    """counters=False builds no port counter (no count_* register in the netlist); True has all four."""
    from amaranth.back import rtlil

    from hw.cfu import CnnCfu

    assert CnnCfu(UP5K, counters=False).counters is False and CnnCfu(UP5K).counters is True
    with pytest.raises(TypeError, match="counters must be True or False, not 0"):
        CnnCfu(UP5K, counters=0)
    port = [c.name.lower() for c in COUNTERS if c.register is None]
    for counters in (True, False):
        text = rtlil.convert(CnnCfu(UP5K, counters=counters), name="cfu")
        found = [n for n in port if f"count_{n}" in text]
        assert found == (port if counters else []), (counters, found)


@pytest.mark.cocotb
def test_reduced_port_errors(reduced_port, seed):
    """Every error (unknown ids, bad indices, out-of-range pointer in every space, busy, not done),
    absent counters reading 0, and the table's cycles, on the port without counters."""
    _run(reduced_port, UP5K, f"errors-{seed}", {"part": "errors", "port_counters": False}, seed,
         ["port_errors", "reading_before_done", "command_cycles"])


@pytest.mark.cocotb
def test_reduced_back_pressure(reduced_port, seed):
    _run(reduced_port, UP5K, f"pressure-{seed}", {"part": "pressure", "port_counters": False}, seed,
         "back_pressure")


@pytest.mark.cocotb
def test_reduced_reset_mid_layer(reduced_port, seed):
    _run(reduced_port, UP5K, f"reset-{seed}", {"part": "reset", "port_counters": False}, seed,
         "reset_mid_layer")


# ---- the same port on the iCE40 engine itself ------------------------------------------------------
@pytest.fixture(scope="module")
def ice40_port():
    """The iCEBreaker SoC's port on the engine with iCE40 primitives (ICE40_SOC.impl), whose host
    memory writes land one cycle late and whose START checks are registers (docs/timing.md,
    iCE40), with the SPRAM / SB_MAC16 behavioural models (a read in a cycle with a write returns
    the poison word). The generic engine's builds above do not have those timing registers. With
    the port counters (the layer tests count commands); they do not touch the engine."""
    from boards.boards import ICE40_SOC
    from hw.cfu import CnnCfu
    from hw.ice40_spram import SpramSimPlatform
    from sim.runner import build

    return build(CnnCfu(UP5K, ICE40_SOC.impl), top="cnn_cfu", tag=f"{UP5K.name}-ice40",
                 platform=SpramSimPlatform())


@pytest.mark.cocotb
def test_ice40_port_errors(ice40_port, seed):
    """Errors, the cycles of every command (back to back: a START two cycles after the last register
    or memory write) and reads before done, on the registered iCE40 engine."""
    _run(ice40_port, UP5K, f"ice40-errors-{seed}", {"part": "errors"}, seed,
         ["port_errors", "reading_before_done", "command_cycles"])


@pytest.mark.cocotb
def test_ice40_port_layers(ice40_port, seed):
    """The edge layer set through the port on the iCE40 engine, bit-exact with golden."""
    from tb.cpu_bfm import run_engine_layers

    run_engine_layers(ice40_port, UP5K, f"ice40-edge-{seed}", {"part": "edge"}, seed)

"""Units of the RV32I cores in amaranth.sim (no HDL simulator): decoder legality and immediates
against an independent Python reading of the spec, parameter validation, and the RAM harness
running a C program from RAMs initialised at elaboration (on both cores)."""

import gc
import random

import pytest
from amaranth.sim import Simulator

from hw.cpu import Core, SocRam
from hw.cpu.decoder import Decoder
from hw.cpu.isa import Csr, Opcode
from hw.cpu.serial_core import SerialCore, serial_cycles
from hw.cpu.soc_ram import CORES
from sim.options import full

CSRS = {int(c) for c in Csr}


def _sext(value, bits):
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


def reference_decode(word):
    """(legal, rd_we, imm) of a word, written from the RV32I + Zicsr spec and hw/cpu/decoder.py's
    documented restrictions (read-only counters, no trap CSRs)."""
    op, f3, f7 = (word >> 2) & 0x1F, (word >> 12) & 7, word >> 25
    rd, rs1 = (word >> 7) & 31, (word >> 15) & 31
    imm_i = _sext(word >> 20, 12)
    imm = imm_i
    writes = op in (Opcode.LUI, Opcode.AUIPC, Opcode.JAL, Opcode.JALR, Opcode.LOAD, Opcode.OP_IMM, Opcode.OP,
                    Opcode.CUSTOM0) or (op == Opcode.SYSTEM and f3 not in (0, 4))
    if op in (Opcode.LUI, Opcode.AUIPC):
        legal, imm = True, _sext(word & 0xFFFFF000, 32)
    elif op == Opcode.JAL:
        legal = True
        imm = _sext(((word >> 31) << 20) | (((word >> 12) & 0xFF) << 12) | (((word >> 20) & 1) << 11)
                    | (((word >> 21) & 0x3FF) << 1), 21)
    elif op == Opcode.JALR:
        legal = f3 == 0
    elif op == Opcode.BRANCH:
        legal = f3 not in (2, 3)
        imm = _sext(((word >> 31) << 12) | (((word >> 7) & 1) << 11) | (((word >> 25) & 0x3F) << 5)
                    | (((word >> 8) & 0xF) << 1), 13)
    elif op == Opcode.LOAD:
        legal = f3 in (0, 1, 2, 4, 5)
    elif op == Opcode.STORE:
        legal = f3 in (0, 1, 2)
        imm = _sext(((word >> 25) << 5) | ((word >> 7) & 31), 12)
    elif op == Opcode.OP_IMM:
        legal = f7 == 0 if f3 == 1 else f7 in (0, 0x20) if f3 == 5 else True
    elif op == Opcode.OP:
        legal = f7 == 0 or (f7 == 0x20 and f3 in (0, 5))
    elif op == Opcode.MISC_MEM:
        legal = f3 in (0, 1)
    elif op == Opcode.SYSTEM:
        if f3 == 0:
            legal = word in (0x00000073, 0x00100073)
        elif f3 == 4:
            legal = False
        else:
            writes_csr = (f3 & 3) == 1 or rs1 != 0
            legal = (word >> 20) in CSRS and not writes_csr
    elif op == Opcode.CUSTOM0:
        legal = True
    else:
        legal = False
    if word & 3 != 3:
        legal = False
    return legal, bool(writes and rd != 0), imm & 0xFFFFFFFF


def test_decoder_against_reference():
    rng = random.Random(6)
    opcodes = [int(o) for o in Opcode]
    words = [0, 0xFFFFFFFF, 0x00000073, 0x00100073, 0x30200073, 0x10500073, 0xC0002573, 0xC0001573,
             0xC0106573, 0xC000E573, 0x0000100F, 0x0000200F]
    for _ in range(1500):
        word = rng.getrandbits(32)
        words.append(word)
        # a valid opcode with random fields; funct7 often 0 or 0x20; CSR numbers often real ones
        word = (word & ~0x7F) | (rng.choice(opcodes) << 2) | 3
        if rng.random() < 0.5:
            word = (word & 0x01FFFFFF) | (rng.choice([0, 0x20, 1]) << 25)
        if (word >> 2) & 0x1F == Opcode.SYSTEM and rng.random() < 0.6:
            word = (word & 0xFFFFF) | (rng.choice(sorted(CSRS)) << 20)
            if rng.random() < 0.5:
                word &= ~(31 << 15)
        words.append(word)

    dut = Decoder()
    mismatches = []

    async def bench(ctx):
        for word in words:
            ctx.set(dut.insn, word)
            got = (not ctx.get(dut.dec.illegal), bool(ctx.get(dut.dec.rd_we)), ctx.get(dut.dec.imm))
            legal, rd_we, imm = reference_decode(word)
            want = (legal, rd_we if legal else got[1], imm if legal else got[2])
            if got != want:
                mismatches.append(f"0x{word:08x}: decoder {got}, reference {want}")

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert not mismatches, "\n".join(mismatches[:20])


@pytest.mark.parametrize("kwargs, message", [
    ({"reset_vector": 2}, r"reset_vector must be a multiple of 4 .* not 2"),
    ({"reset_vector": -4}, r"reset_vector must be a multiple of 4"),
    ({"counter_width": 48}, r"counter_width must be 32 or 64, not 48"),
])
@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_core_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Core(**kwargs)
    gc.collect()  # the half-built component warns "never used" when collected: here, filtered


@pytest.mark.parametrize("kwargs, message", [
    ({"reset_vector": 6}, r"reset_vector must be a multiple of 4 .* not 6"),
    ({"reset_vector": 1 << 32}, r"reset_vector must be a multiple of 4"),
    ({"instret": "yes"}, r"instret must be True or False, not 'yes'"),
])
@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_serial_core_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SerialCore(**kwargs)
    gc.collect()


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_serial_core_has_the_same_ports():
    """SerialCore is a drop-in for Core: the same signature, with and without the trace port."""
    for trace in (False, True):
        assert SerialCore(trace=trace).signature.members == Core(trace=trace).signature.members
    gc.collect()


def test_serial_cycles_model():
    """The cycle model's edge cases (the lock-step test checks it on every random instruction)."""
    from hw.cpu.asm import encode
    assert serial_cycles(encode("add", "a0", "a1", "a2"), 0, 0) == 38
    assert serial_cycles(encode("slli", "a0", "a1", 0), 0, 0) == 39       # no rotation
    assert serial_cycles(encode("slli", "a0", "a1", 1), 0, 0) == 39 + 31  # rotate right 31
    assert serial_cycles(encode("srai", "a0", "a1", 31), 0, 0) == 39 + 31
    assert serial_cycles(encode("sll", "a0", "a1", "a2"), 0, 0xFFFFFFE0) == 39   # only rs2[4:0]
    assert serial_cycles(encode("lw", "a0", 8, "a1"), 0x1000_0000, 0) == 41
    assert serial_cycles(encode("lbu", "a0", -1, "a1"), 0x1000_0000, 0) == 73 + 8 * 3
    assert serial_cycles(encode("sb", "a0", 3, "a1"), 0, 0) == 72
    assert serial_cycles(encode("beq", "a0", "a1", 8), 0, 0, taken=True) == 72
    assert serial_cycles(encode("csrrs", "a0", Csr.CYCLE, "zero"), 0, 0) == 5


@pytest.mark.parametrize("args, kwargs, message", [
    ((), {"imem_words": 1000}, r"imem_words must be a power of two .* not 1000"),
    ((), {"dmem_words": 0}, r"dmem_words must be a power of two"),
    (([0] * 9,), {"imem_words": 8}, r"imem_init has 9 words but the RAM holds only 8"),
    (([], [1 << 32]), {}, r"dmem_init must hold 32-bit unsigned words, found 4294967296"),
    ((), {"core": "pipelined"}, r"core = 'pipelined' is not a core: must be one of multicycle, serial"),
    ((), {"instret": False}, r"instret = False is not allowed for core = 'multicycle'"),
    ((), {"core": "serial", "instret": 0}, r"instret = 0 is not allowed for core = 'serial'"),
])
@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_soc_ram_parameters(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        SocRam(*args, **kwargs)
    gc.collect()


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_core_ports_and_trace_option():
    assert "trace" not in Core().signature.members
    core = Core(trace=True)
    assert set(core.signature.members) == {"ibus", "dbus", "cfu", "trace", "halted", "halt_cause", "halt_pc"}
    assert set(core.cfu.signature.members) == {
        "cmd_valid", "cmd_ready", "cmd_payload_function_id", "cmd_payload_inputs_0", "cmd_payload_inputs_1",
        "rsp_valid", "rsp_ready", "rsp_payload_outputs_0"}
    del core
    gc.collect()


@pytest.mark.parametrize("core", CORES)
def test_hello_from_initialised_rams(core):
    """firmware/examples/hello.c in IMEM/DMEM contents given at elaboration (the SoC's path)."""
    pytest.importorskip("ziglang")
    from firmware.build import FIRMWARE, build
    image = build([FIRMWARE / "examples" / "hello.c"])
    dut = SocRam(image.imem, image.dmem, imem_words=1024, dmem_words=1024, core=core)
    out = {"text": [], "finish": None, "halted": None}

    async def bench(ctx):
        for _ in range(10_000 if core == "multicycle" else 100_000):
            await ctx.tick()
            if ctx.get(dut.print_valid):
                out["text"].append(chr(ctx.get(dut.print_char)))
            if ctx.get(dut.finish_valid):
                out["finish"] = ctx.get(dut.finish_code)
            if ctx.get(dut.halted):
                out["halted"] = (ctx.get(dut.halt_cause), ctx.get(dut.halt_pc))
                return

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert "".join(out["text"]) == "hello from rv32i\n42 -1234567890 0x00c0ffee 4000000000 0\n18\n"
    assert out["finish"] == 0
    assert out["halted"] == (3, image.symbol("exit") + 12)     # li (lui, addi), sw, then ebreak


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_cfu_port_connects_to_the_accelerator():
    """The accelerator's command port (hw/cfu.py) has exactly the flipped CFU signature."""
    from amaranth.hdl import Module
    from amaranth.lib import wiring
    cfu_module = pytest.importorskip("hw.cfu")
    from hw.cpu import cfu_signature
    core, cfu = Core(), cfu_module.CnnCfu()
    assert cfu.signature.members == cfu_signature().flip().members
    m = Module()
    m.submodules.core = core
    m.submodules.cfu = cfu
    wiring.connect(m, core.cfu, cfu)
    del m, core, cfu
    gc.collect()


@pytest.mark.skipif(not full(), reason="FULL=1 runs Yosys + nextpnr's packer on the core")
def test_core_logic_cells_budget(tmp_path):
    from boards.cpu_synth import synth_core
    report = synth_core(tmp_path)
    assert report["logic_cells"] < 2000, report
    assert report["ebr"] == 4, report


@pytest.mark.skipif(not full(), reason="FULL=1 runs Yosys + nextpnr's packer on the core")
def test_serial_core_logic_cells_budget(tmp_path):
    """The UP5K board's core (no instret): measured 625 LCs, 2 EBR (docs/up5k.md)."""
    from boards.cpu_synth import synth_core
    report = synth_core(tmp_path, core="serial", instret=False)
    assert report["logic_cells"] < 700, report
    assert report["ebr"] == 2, report

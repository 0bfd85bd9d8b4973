"""The Python RV32I assembler (hw/cpu/asm.py) against clang (PyPI ziglang) and capstone."""

import random
import struct
import subprocess

import pytest

from firmware.build import TARGET, compiler_command
from hw.cpu.asm import MNEMONICS, Program, disassemble, encode, split_constant
from hw.cpu.isa import Csr

# (our operands, the same instruction in GNU assembly syntax)
CASES = [
    (("add", "a0", "a1", "a2"), "add a0, a1, a2"),
    (("sub", 31, 0, 1), "sub t6, zero, ra"),
    (("sll", "s11", "t6", "x5"), "sll s11, t6, t0"),
    (("slt", "a0", "a1", "a2"), "slt a0, a1, a2"),
    (("sltu", "a0", "a1", "a2"), "sltu a0, a1, a2"),
    (("xor", "a0", "a1", "a2"), "xor a0, a1, a2"),
    (("srl", "a0", "a1", "a2"), "srl a0, a1, a2"),
    (("sra", "a0", "a1", "a2"), "sra a0, a1, a2"),
    (("or", "a0", "a1", "a2"), "or a0, a1, a2"),
    (("and", "a0", "a1", "a2"), "and a0, a1, a2"),
    (("addi", "a0", "a1", -2048), "addi a0, a1, -2048"),
    (("addi", "a0", "a1", 2047), "addi a0, a1, 2047"),
    (("slti", "a0", "a1", -1), "slti a0, a1, -1"),
    (("sltiu", "a0", "a1", 1), "sltiu a0, a1, 1"),
    (("xori", "a0", "a1", -1), "xori a0, a1, -1"),
    (("ori", "a0", "a1", 0x555), "ori a0, a1, 0x555"),
    (("andi", "a0", "a1", -256), "andi a0, a1, -256"),
    (("slli", "a0", "a1", 31), "slli a0, a1, 31"),
    (("srli", "a0", "a1", 0), "srli a0, a1, 0"),
    (("srai", "a0", "a1", 17), "srai a0, a1, 17"),
    (("lb", "a0", -1, "sp"), "lb a0, -1(sp)"),
    (("lh", "a0", 2046, "sp"), "lh a0, 2046(sp)"),
    (("lw", "a0", -2048, "sp"), "lw a0, -2048(sp)"),
    (("lbu", "a0", 0, "sp"), "lbu a0, 0(sp)"),
    (("lhu", "a0", 6, "s0"), "lhu a0, 6(s0)"),
    (("sb", "a1", -1, "sp"), "sb a1, -1(sp)"),
    (("sh", "a1", 2047, "sp"), "sh a1, 2047(sp)"),
    (("sw", "a1", -2048, "sp"), "sw a1, -2048(sp)"),
    (("beq", "a0", "a1", 16), "beq a0, a1, .+16"),
    (("bne", "a0", "a1", -4096), "bne a0, a1, .-4096"),
    (("blt", "a0", "a1", 4094), "blt a0, a1, .+4094"),
    (("bge", "a0", "zero", -2), "bge a0, zero, .-2"),
    (("bltu", "a0", "a1", 2048), "bltu a0, a1, .+2048"),
    (("bgeu", "a0", "a1", 8), "bgeu a0, a1, .+8"),
    (("jal", "ra", 1048574), "jal ra, .+1048574"),
    (("jal", "zero", -1048576), "jal zero, .-1048576"),
    (("jal", "ra", 2048), "jal ra, .+2048"),
    (("jalr", "ra", -1, "t0"), "jalr ra, -1(t0)"),
    (("lui", "a0", 0xFFFFF), "lui a0, 0xfffff"),
    (("auipc", "a0", 0x80000), "auipc a0, 0x80000"),
    (("csrrs", "a0", Csr.CYCLE, "zero"), "csrrs a0, cycle, zero"),
    (("csrrw", "a0", Csr.INSTRETH, "a1"), "csrrw a0, instreth, a1"),
    (("csrrc", "zero", Csr.MCYCLE, "a1"), "csrrc zero, mcycle, a1"),
    (("csrrwi", "a0", Csr.TIME, 31), "csrrwi a0, time, 31"),
    (("csrrsi", "a0", Csr.CYCLEH, 0), "csrrsi a0, cycleh, 0"),
    (("csrrci", "a0", Csr.MINSTRET, 5), "csrrci a0, minstret, 5"),
    (("ecall",), "ecall"),
    (("ebreak",), "ebreak"),
    (("fence",), "fence"),
    (("fence.i",), "fence.i"),
    (("cfu", 0, 0, "a0", "a1", "a2"), ".insn r 0x0b, 0, 0, a0, a1, a2"),
    (("cfu", 7, 127, "t6", "zero", "s11"), ".insn r 0x0b, 7, 127, t6, zero, s11"),
]


@pytest.fixture(scope="module")
def clang_words(tmp_path_factory):
    """Assemble every CASES line with clang; returns the words in order."""
    pytest.importorskip("ziglang")
    tmp = tmp_path_factory.mktemp("asm")
    source = tmp / "cases.S"
    source.write_text(".text\n.globl _start\n_start:\n" + "".join(f"    {text}\n" for _, text in CASES))
    obj = tmp / "cases.o"
    subprocess.run(compiler_command() + TARGET + ["-c", "-mno-relax", str(source), "-o", str(obj)],
                   check=True, capture_output=True, text=True)
    # A relocatable object (firmware.elf reads linked images): take the .text section's bytes.
    data = obj.read_bytes()
    e_shoff, = struct.unpack_from("<I", data, 32)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 46)
    headers = [struct.unpack_from("<IIIIIIIIII", data, e_shoff + i * e_shentsize) for i in range(e_shnum)]
    names_offset = headers[e_shstrndx][4]
    for h in headers:
        name = data[names_offset + h[0]:data.index(b"\0", names_offset + h[0])]
        if name == b".text":
            text = data[h[4]:h[4] + h[5]]
            break
    return [int.from_bytes(text[i:i + 4], "little") for i in range(0, len(text), 4)]


def test_every_mnemonic_has_a_case():
    assert {ops[0] for ops, _ in CASES} == MNEMONICS


@pytest.mark.parametrize("index", range(len(CASES)), ids=[text for _, text in CASES])
def test_encoding_matches_clang(index, clang_words):
    ops, text = CASES[index]
    assert len(clang_words) == len(CASES)
    ours = encode(*ops)
    assert ours == clang_words[index], f"{text}: ours 0x{ours:08x}, clang 0x{clang_words[index]:08x}"


def test_capstone_reads_our_encodings():
    pytest.importorskip("capstone")
    assert disassemble(encode("addi", "a0", "a1", -5)) == "addi a0, a1, -5"
    assert disassemble(encode("lw", "a0", 8, "sp")) == "lw a0, 8(sp)"
    assert disassemble(encode("cfu", 3, 9, "a0", "a1", "a2")) == "cfu 3, 9, a0, a1, a2"
    for ops, text in CASES:
        # capstone knows every RV32I word we make (it prints aliases such as neg, csrr, j)
        assert not disassemble(encode(*ops)).startswith(".word"), text


def test_split_constant_round_trips():
    rng = random.Random(1)
    for value in [0, 1, 0x7FF, 0x800, 0xFFF, 0x1000, 0x7FFFF800, 0x7FFFFFFF, 0x80000000, 0xFFFFF800,
                  0xFFFFFFFF] + [rng.getrandbits(32) for _ in range(2000)]:
        upper, lower = split_constant(value)
        assert 0 <= upper < 1 << 20 and -2048 <= lower < 2048
        assert ((upper << 12) + lower) & 0xFFFFFFFF == value


def test_program_labels_and_pseudos():
    p = Program()
    p.li("a0", 5)
    p.label("loop")
    p.addi("a0", "a0", -1)
    p.bne("a0", "zero", "loop")
    p.j("end")
    p.nop()
    p.label("end")
    p.ebreak()
    assert p.words() == [encode("addi", "a0", "zero", 5), encode("addi", "a0", "a0", -1),
                         encode("bne", "a0", "zero", -4), encode("jal", "zero", 8),
                         encode("addi", "zero", "zero", 0), encode("ebreak")]


@pytest.mark.parametrize("ops, message", [
    (("add", "a0", "a1", "q7"), r"register = 'q7' is not a register name"),
    (("add", "a0", "a1", 32), r"register = 32 is out of range"),
    (("addi", "a0", "a1", 2048), r"imm = 2048 is out of range: must be an integer in \[-2048, 2047\]"),
    (("slli", "a0", "a1", 32), r"shamt = 32 is out of range"),
    (("beq", "a0", "a1", 3), r"branch offset = 3 is out of range: .*a multiple of 2"),
    (("jal", "ra", 1 << 20), r"jump offset = 1048576 is out of range"),
    (("lui", "a0", -1), r"upper immediate = -1 is out of range"),
    (("cfu", 8, 0, "a0", "a1", "a2"), r"funct3 = 8 is out of range"),
    (("mul", "a0", "a1", "a2"), r"mnemonic = 'mul' is not an RV32I instruction"),
    (("add", "a0", "a1"), r"add takes 3 operands, got 2"),
])
def test_bad_operands_name_the_value(ops, message):
    with pytest.raises(ValueError, match=message):
        encode(*ops)


def test_undefined_label():
    p = Program()
    p.beq("a0", "a1", "nowhere")
    with pytest.raises(ValueError, match=r"label = 'nowhere' is not defined"):
        p.words()

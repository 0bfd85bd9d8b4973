"""Firmware toolchain (firmware/build.py on the PyPI ziglang) and the CPU test programs themselves,
run on unicorn: a test program that fails on an independent ISA model is a wrong test, not a core bug."""

import random

import pytest

from firmware.build import FIRMWARE, build
from tb.cpu_programs import DATA, ISA, PROGRAMS, isa_programs, trap_cause

pytest.importorskip("ziglang")


def test_build_outputs(tmp_path):
    image = build([FIRMWARE / "examples" / "hello.c"], out_dir=tmp_path)
    for suffix in ("elf", "imem.bin", "dmem.bin", "imem.hex", "dmem.hex"):
        assert (tmp_path / f"hello.{suffix}").exists(), suffix
    hex_words = [int(line, 16) for line in (tmp_path / "hello.imem.hex").read_text().split()]
    assert hex_words == image.imem
    assert b"hello from rv32i\n" in (tmp_path / "hello.dmem.bin").read_bytes()     # .rodata in DMEM
    assert image.entry == image.symbol("_start") == 0
    assert {"main", "exit", "print_str", "print_dec", "__bss_start", "__stack_top"} <= set(image.symbols)
    assert image.symbol("__stack_top") == 0x1000_0000 + 4 * 4096
    # RV32I only: every word is a 32-bit encoding (bits 1:0 = 11), no compressed instructions
    code_words = image.imem[:image.symbol("exit") // 4 + 4]
    assert all(w & 3 == 3 for w in code_words)


def test_build_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build([tmp_path / "missing.c"])
    bad = tmp_path / "bad.c"
    bad.write_text("int main(void) { return undefined_symbol; }\n")
    with pytest.raises(RuntimeError, match="firmware build of bad failed"):
        build([bad], out_dir=tmp_path / "bad")
    with pytest.raises(RuntimeError, match="will not fit in region 'IMEM'"):
        build([FIRMWARE / "examples" / "hello.c"], out_dir=tmp_path / "small", imem_words=16)


def test_cfu_macro_encodes_custom0(tmp_path):
    source = tmp_path / "cfu.c"
    source.write_text('#include "cfu.h"\nunsigned int f(unsigned int a, unsigned int b)'
                      '{ return cfu_op(5, 99, a, b); }\nint main(void) { return f(1, 2); }\n')
    image = build([source], out_dir=tmp_path)
    custom = [w for w in image.imem if w & 0x7F == 0x0B]
    assert len(custom) == 1
    word = custom[0]
    assert (word >> 12) & 7 == 5 and word >> 25 == 99


@pytest.mark.parametrize("name", sorted(p.stem for p in ISA.glob("*.S")
                                        if not p.stem.startswith("trap_") and p.stem != "csr"))
def test_isa_program_passes_on_unicorn(name):
    """The self-checking programs are right: unicorn runs them to FINISH = 0. (csr.S checks exact
    instret deltas, which unicorn's counters do not give, and trap programs need the halt.)"""
    pytest.importorskip("unicorn")
    from tb.cpu_iss import run_unicorn
    image = build([ISA / f"{name}.S"], runtime=False, out_dir=PROGRAMS / name, extra_flags=["-I", str(ISA)])
    finish, _, steps = run_unicorn(image.imem, image.dmem)
    assert finish == 0, f"{name}.S fails test {finish} on unicorn"
    assert steps > 50


@pytest.mark.parametrize("source, text", [
    (FIRMWARE / "examples" / "hello.c", "hello from rv32i\n42 -1234567890 0x00c0ffee 4000000000 0\n18\n"),
    (DATA / "libc_check.c", "libc: -1234567 0xee6b2800\n"),
])
def test_c_program_on_unicorn(source, text, tmp_path):
    pytest.importorskip("unicorn")
    from tb.cpu_iss import run_unicorn
    image = build([source], out_dir=tmp_path)
    finish, printed, _ = run_unicorn(image.imem, image.dmem)
    assert (finish, printed) == (0, text)


def test_every_trap_program_has_a_cause():
    programs = isa_programs(PROGRAMS)
    traps = [p for p in programs if p["name"].startswith("trap_")]
    assert len(traps) >= 15
    assert {trap_cause(p["name"]) for p in traps} == {0, 2, 3, 4, 6, 11}
    assert all(p["expect"]["pc"] > 0 for p in traps)


def test_random_programs_stay_inside(seed):
    """The random streams end at their ebreak on unicorn, touch only the data window, and run
    most of their instructions (forward jumps skip some)."""
    pytest.importorskip("unicorn")
    from unicorn import UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE

    from tb.cpu_iss import DMEM_BASE, WINDOW_WORDS, UnicornReference, random_program
    rng = random.Random(seed)
    for _ in range(3):
        prog = random_program(rng, 400)
        ref = UnicornReference(prog.words, DMEM_BASE, prog.data)
        accesses = []
        ref.uc.hook_add(UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE,
                        lambda _uc, _a, addr, size, _v, _u, log=accesses: log.append((addr, size)))
        pc, steps = 0, 0
        while pc != prog.end_pc:
            insn = prog.words[pc // 4]
            pc = pc + 4 if (insn & 0x7F) == 0x73 else ref.step(pc)[0]   # counter reads: skip
            steps += 1
            assert steps < 2 * len(prog.words), "the random program loops"
        assert steps > 250
        assert accesses and all(DMEM_BASE <= a and a + s <= DMEM_BASE + 4 * WINDOW_WORDS for a, s in accesses)

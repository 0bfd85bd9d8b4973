"""The CPU test programs (tests/data/cpu/): where they are, how they are built, what they expect.

Shared by tests/test_cpu_cocotb.py (runs them on the core) and tests/test_cpu_firmware.py (runs
them on unicorn). Builds are cached under build/firmware/cpu-tests/ (firmware.build's stamps).
"""

from pathlib import Path

from firmware.build import FIRMWARE
from firmware.build import build as build_firmware
from hw.cpu.isa import Cause
from sim.runner import BUILD, ROOT

__all__ = ["DATA", "ISA", "PROGRAMS", "C_PROGRAMS", "TRAP_CAUSES", "trap_cause", "isa_programs"]

DATA = ROOT / "tests" / "data" / "cpu"
ISA = DATA / "isa"
PROGRAMS = BUILD / "firmware" / "cpu-tests"
C_PROGRAMS = [FIRMWARE / "examples" / "hello.c", DATA / "libc_check.c", DATA / "counters.c"]

TRAP_CAUSES = {
    "lw": Cause.MISALIGNED_LOAD, "lh": Cause.MISALIGNED_LOAD, "lhu": Cause.MISALIGNED_LOAD,
    "sw": Cause.MISALIGNED_STORE, "sh": Cause.MISALIGNED_STORE,
    "jal": Cause.MISALIGNED_FETCH, "jalr": Cause.MISALIGNED_FETCH, "branch": Cause.MISALIGNED_FETCH,
    "ecall": Cause.ECALL, "ebreak": Cause.BREAKPOINT, "illegal": Cause.ILLEGAL_INSTRUCTION,
}


def trap_cause(name):
    """trap_<kind>_... -> the halt cause the program expects."""
    return TRAP_CAUSES[name.split("_")[1]]


def isa_programs(out_dir=PROGRAMS):
    """[{name, imem, dmem, expect}] for every ISA program and C program.

    ``expect`` is ``{"finish": 0}`` (self-checking programs) or ``{"cause": c, "pc": trap_here}``.
    """
    programs = []
    for source in sorted(ISA.glob("*.S")):
        image = build_firmware([source], runtime=False, out_dir=Path(out_dir) / source.stem,
                               extra_flags=["-I", str(ISA)])
        if source.stem.startswith("trap_"):
            expect = {"cause": int(trap_cause(source.stem)), "pc": image.symbol("trap_here")}
        else:
            expect = {"finish": 0}
        programs.append({"name": source.stem, "imem": image.imem, "dmem": image.dmem, "expect": expect})
    for source in C_PROGRAMS:
        image = build_firmware([source], out_dir=Path(out_dir) / source.stem)
        programs.append({"name": source.name, "imem": image.imem, "dmem": image.dmem,
                         "expect": {"finish": 0}, "max_cycles": 200_000})
    return programs

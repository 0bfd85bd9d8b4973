"""``python -m sim.lint FILE.v ...``: Verilator lint of generated Verilog (errors fail, waivers explicit).

Amaranth's output is correct but triggers some of Verilator's style warnings; each waiver below says
why it is harmless. Anything else, and every error, fails the lint.
"""

import subprocess
import sys

from .runner import setup_verilator

WAIVERS = {
    "WIDTHEXPAND": "Amaranth extends operands implicitly (e.g. 8-bit into a 16-bit product)",
    "WIDTHTRUNC": "Amaranth truncates results implicitly (wrapping adds, e.g. the int32 accumulators)",
    "UNUSEDSIGNAL": "Amaranth emits named views of struct fields that nothing reads",
    "UNUSEDPARAM": "Yosys emits parameters on cells that are not all read",
    "DECLFILENAME": "one file holds a top and its submodules (named top.sub)",
    "PINCONNECTEMPTY": "unused outputs of submodules are left open on purpose",
    "UNDRIVEN": "reserved bits of packed views are not driven",
    "PROCASSINIT": "registers carry both a power-up value (FPGA init) and a synchronous reset",
    "CASEINCOMPLETE": "Yosys emits case statements without default after a default assignment",
}


def lint(path):
    args = ["verilator", "--lint-only", "-Wall", *[f"-Wno-{w}" for w in WAIVERS], str(path)]
    result = subprocess.run(args, capture_output=True, text=True)
    return result.returncode, (result.stdout + result.stderr).strip()


def main(paths):
    setup_verilator()
    if not paths:
        print("usage: python -m sim.lint FILE.v ...", file=sys.stderr)
        return 2
    failed = 0
    for path in paths:
        code, output = lint(path)
        print(f"verilator --lint-only -Wall {path}: {'ok' if code == 0 else 'FAILED'}")
        if output:
            print(output)
        failed |= code != 0
    print("waived warnings: " + ", ".join(f"{w} ({why})" for w, why in WAIVERS.items()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

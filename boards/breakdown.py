"""Where a design's logic cells and block RAMs go: a per-hierarchy resource table (iCE40).

    python -m boards.breakdown --board icebreaker [--design soc] [--il build/synth/.../top.il]
                               [--set NAME=VALUE ...] [--depth N] [--build-root DIR]

Yosys ``synth_ice40 -noflatten`` (never ``-dsp``: it rewrites hand-instantiated SB_MAC16,
docs/netlist.md) keeps one module per Amaranth submodule; the result is then flattened (cell names
keep their instance path) and nextpnr packs it (``--pack-only --write``); every ICESTORM_LC is
counted in the block nextpnr names it after: its LUT's (an LC holding a LUT of one block and a
flip-flop of another counts for the LUT's), else its flip-flop's or carry's; LCs nextpnr adds
itself (carry-chain feed-ins, constants) form the ``(nextpnr)`` row. ``proc; splitnets`` runs
first (the abc9 assertion workaround of boards.synth). Per block the table shows packed LCs,
SB_LUT4, SB_CARRY, flip-flops (SB_DFF*), EBR (SB_RAM40_4K), SPRAM and DSP, inclusive of the
block's children; ``(own)`` rows are a parent's own logic. Keeping the hierarchy stops cross-module
optimisation, so the total is a little above a flattened build's (the table's last line says by
how much when ``build/synth/<board>-<design>/top.seed1.tim`` exists).

The RTLIL comes from ``--il`` (e.g. the ``top.il`` that ``python -m boards.synth`` leaves behind) or
is rendered here the same way boards.synth does. Products go to ``build/breakdown/<board>-<design>/``;
the Yosys run (:func:`boards.yowasp.yosys`) sits in its ``yosys-<hash>/`` and is reused while the
RTLIL is unchanged.
"""

import argparse
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

from .report import load_json, log_utilisation
from .yowasp import BUILD, nextpnr_device, run, yosys

__all__ = ["BLOCK_KINDS", "PACKER_BLOCK", "kind_of", "block_of", "instance_paths", "count_cells",
           "rollup", "format_breakdown", "memories", "ebr_list", "format_ebr", "main"]

# Column -> how a cell type is counted (Yosys primitives before packing, nextpnr cells after).
BLOCK_KINDS = ("LC", "LUT4", "CARRY", "FF", "EBR", "SPRAM", "DSP")
# LCs nextpnr adds itself (carry-chain feed-ins/outs, constants) are counted in this pseudo-block.
PACKER_BLOCK = "(nextpnr)"
# Hierarchical synthesis, then flattened for nextpnr (cell names keep their instance paths).
SCRIPT = ("read_rtlil top.il\nproc\nsplitnets\nsynth_ice40 -top top -noflatten\n"
          "tee -q -o stat.txt stat\nflatten\nwrite_json flat.json\n")


def kind_of(cell_type):
    """The table column of a primitive (``SB_DFFER`` -> ``"FF"``), or None for others (IO, GB)."""
    if cell_type == "ICESTORM_LC":
        return "LC"
    if cell_type == "SB_LUT4":
        return "LUT4"
    if cell_type == "SB_CARRY":
        return "CARRY"
    if cell_type.startswith("SB_DFF"):
        return "FF"
    if cell_type.startswith("SB_RAM40_4K") or cell_type == "ICESTORM_RAM":
        return "EBR"
    if cell_type in ("SB_SPRAM256KA", "ICESTORM_SPRAM"):
        return "SPRAM"
    if cell_type in ("SB_MAC16", "ICESTORM_DSP"):
        return "DSP"
    return None


def block_of(name, blocks):
    """The longest instance path in ``blocks`` (a set of dotted paths) that cell ``name`` lies in;
    ``""`` (the top) when none does. Yosys flattens ``cell`` of instance ``soc.cpu`` to
    ``$flatten\\soc.\\cpu.$abc$1$x`` (private) or ``soc.cpu.x`` (public); nextpnr appends suffixes."""
    if name.startswith(("$nextpnr_", "$PACKER")):
        return PACKER_BLOCK
    plain = name.removeprefix("$flatten").replace("\\", "")
    best = ""
    for path in blocks:
        if plain.startswith(path + ".") and len(path) > len(best):
            best = path
    return best


def instance_paths(rtlil_text, top="top"):
    """Dotted instance paths (``soc``, ``soc.cfu``, ...) of an Amaranth RTLIL file's modules, whose
    names are ``top.<path>``."""
    names = re.findall(r"^module \\(\S+)", rtlil_text, flags=re.M)
    return {n[len(top) + 1:] for n in names if n.startswith(top + ".")}


def count_cells(netlist, blocks):
    """``{block: Counter(kind -> count)}`` over the cells of a flattened Yosys / nextpnr JSON netlist
    (every non-blackbox module's cells, by name)."""
    table = defaultdict(Counter)
    for module in netlist.get("modules", {}).values():
        if module.get("attributes", {}).get("blackbox"):
            continue
        for name, cell in module.get("cells", {}).items():
            kind = kind_of(cell["type"])
            if kind:
                table[block_of(name, blocks)][kind] += 1
    return table


def rollup(own, blocks):
    """``{block: Counter}`` inclusive of children (``""`` is the top and includes everything)."""
    total = defaultdict(Counter)
    for block, counts in own.items():
        parts = block.split(".") if block else []
        for i in range(len(parts) + 1):
            total[".".join(parts[:i])].update(counts)
    for block in blocks:
        total.setdefault(block, Counter())
    return total


def format_breakdown(own, blocks, depth=None, reference=None):
    """The table as text: one row per block (inclusive), indented by depth, plus ``(own)`` rows for
    parents with logic of their own; ``reference`` = {kind: count} of a flattened build."""
    total = rollup(own, blocks)
    children = defaultdict(list)
    for block in total:
        if block:
            children[block.rpartition(".")[0]].append(block)
    header = f"{'block':<40}" + "".join(f"{k:>7}" for k in BLOCK_KINDS)
    lines = [header, "-" * len(header)]

    def row(label, counts, missing=0):
        lines.append(f"{label:<40}" + "".join(f"{counts.get(k, missing):>7}" for k in BLOCK_KINDS))

    def walk(block, level):
        label = "  " * level + (block.rpartition(".")[2] if block else "total")
        row(label, total[block])
        kids = sorted(children.get(block, []), key=lambda b: -total[b].get("LC", 0))
        if depth is not None and level >= depth:
            return
        if kids and sum(own.get(block, Counter()).values()):
            row("  " * (level + 1) + "(own)", own[block])
        for kid in kids:
            if sum(total[kid].values()):
                walk(kid, level + 1)

    walk("", 0)
    if reference:
        row("flattened build (nextpnr)", reference, missing="-")
    return "\n".join(lines)


def memories(rtlil_text, top="top"):
    """``{"soc.ram.imem": (depth, width), ...}`` from the ``memory`` lines of an Amaranth RTLIL file."""
    found, module = {}, None
    for line in rtlil_text.splitlines():
        head = re.match(r"^module \\(\S+)", line)
        if head:
            name = head.group(1)
            module = name[len(top) + 1:] if name.startswith(top + ".") else ""
            continue
        mem = re.match(r"^\s*memory width (\d+) size (\d+) \\(\S+)", line)
        if mem and module is not None:
            path = f"{module}.{mem.group(3)}" if module else mem.group(3)
            found[path] = (int(mem.group(2)), int(mem.group(1)))
    return found


def ebr_list(netlist, mems):
    """``[(memory, depth, width, EBR count)]``, biggest first, from a flattened netlist's
    SB_RAM40_4K cells (Yosys names them ``<memory>.<i>.<j>``) and :func:`memories`."""
    counts = Counter()
    for module in netlist.get("modules", {}).values():
        if module.get("attributes", {}).get("blackbox"):
            continue
        for name, cell in module.get("cells", {}).items():
            if kind_of(cell["type"]) == "EBR":
                counts[re.sub(r"(\.\d+)+$", "", name.replace("\\", ""))] += 1
    rows = [(mem, *mems.get(mem, (0, 0)), n) for mem, n in counts.items()]
    return sorted(rows, key=lambda r: (-r[3], r[0]))


def format_ebr(rows):
    """The EBR list as text, with the total."""
    lines = [f"{'memory':<40}{'depth x width':>16}{'EBR':>6}"]
    for mem, depth, width, n in rows:
        shape = f"{depth} x {width}" if depth else "?"
        lines.append(f"{mem:<40}{shape:>16}{n:>6}")
    lines.append(f"{'total':<40}{'':>16}{sum(r[3] for r in rows):>6}")
    return "\n".join(lines)


def _tim_utilisation(path):
    """{kind: used} from a nextpnr log's "Device utilisation" lines (the flattened reference)."""
    if not Path(path).exists():
        return None
    found = log_utilisation(Path(path).read_text(errors="replace"))
    ref = {kind_of(cell): used for cell, (used, _) in found.items() if kind_of(cell)}
    return ref or None


def _render(board_name, design, out_dir, overrides=()):
    """Render ``design``'s RTLIL and PCF for the board into ``out_dir`` like boards.synth does
    (``overrides``: ``NAME=VALUE`` fields of the design's configuration)."""
    from .boards import constrained_platform, get_board
    from .designs import default_config, design_factory, make_design
    from .synth import parse_overrides
    from .top import BoardTop

    board = get_board(board_name)
    config = parse_overrides(list(overrides), default_config(design, board))
    component = make_design(design, config, board)
    top = component if design_factory(design).board_top else BoardTop(component)
    plan = constrained_platform(board).build(top, name="top", do_build=False,
                                             synth_opts=list(board.nodsp_opts))
    plan.extract(out_dir)


def breakdown(board_name, design, il=None, build_root=None, overrides=()):
    """Run the hierarchical synthesis and packing; returns (own counts, blocks, reference, EBR list)."""
    from .boards import get_board

    board = get_board(board_name)
    if board.family != "ice40":
        raise ValueError(f"board = {board_name!r} is not supported: the breakdown counts iCE40 "
                         "primitives (use an iCE40 board, e.g. icebreaker)")
    build_root = Path(build_root) if build_root else BUILD
    tag = "".join(f"-{o}" for o in overrides)
    out = build_root / "breakdown" / f"{board.name}-{design}{tag}"
    out.mkdir(parents=True, exist_ok=True)
    synth_dir = build_root / "synth" / f"{board.name}-{design}"
    if il is None:
        _render(board_name, design, out, overrides)
    elif overrides:
        raise ValueError("--set needs the RTLIL rendered here: leave out --il")
    else:
        il = Path(il)
        if not il.exists():
            raise ValueError(f"--il {str(il)!r} does not exist (run python -m boards.synth first)")
        (out / "top.il").write_text(il.read_text())
        pcf = il.with_suffix(".pcf")
        if not pcf.exists():
            raise ValueError(f"{str(pcf)!r} (the PCF next to --il) does not exist")
        (out / "top.pcf").write_text(pcf.read_text())
    rtlil = (out / "top.il").read_text()
    flat = yosys(SCRIPT, {"top.il": rtlil}, out, "yosys").directory / "flat.json"
    packed = run(["nextpnr-ice40", *nextpnr_device(board.platform.device, board.platform.package),
                  "--json", flat, "--pcf", "top.pcf", "--pack-only", "--write", "packed.json",
                  "--log", "pack.log"], out, "pack")
    if not packed.ok:
        raise RuntimeError(f"nextpnr-ice40 failed: see {out / 'pack.log'}")
    blocks = instance_paths(rtlil)
    own = count_cells(load_json(flat), blocks)
    for block, counts in count_cells(load_json(out / "packed.json"), blocks).items():
        own[block]["LC"] = counts.get("LC", 0)
    ebrs = ebr_list(load_json(flat), memories(rtlil))
    # boards.synth's log of the same (default-configuration) design is the flattened reference.
    reference = None if overrides else _tim_utilisation(synth_dir / "top.seed1.tim")
    return own, blocks, reference, ebrs


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m boards.breakdown", description=__doc__.split("\n\n")[0])
    p.add_argument("--board", required=True, help="an iCE40 board, e.g. icebreaker")
    p.add_argument("--design", default="soc", help="a boards.designs name (default soc)")
    p.add_argument("--il", type=Path, help="existing RTLIL (with its .pcf) instead of rendering")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a field of the design's AcceleratorConfig (repeatable)")
    p.add_argument("--depth", type=int, help="show the hierarchy down to this depth")
    p.add_argument("--build-root", type=Path, help="default: <repo>/build")
    args = p.parse_args(argv)
    try:
        own, blocks, reference, ebrs = breakdown(args.board, args.design, args.il, args.build_root,
                                             args.set)
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_breakdown(own, blocks, args.depth, reference))
    print()
    print(format_ebr(ebrs))
    return 0


if __name__ == "__main__":
    sys.exit(main())

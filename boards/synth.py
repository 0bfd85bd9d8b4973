"""Synthesize a design for an FPGA board and report resources and Fmax against the project's target.

    python -m boards.synth --board icebreaker|ulx3s-85f [--design soc|soc-8x8|engine|tile|...]
                           [--rows R --cols C] [--set NAME=VALUE ...]
                           [--seed N | --seeds 1,2,3] [--dsp auto|on|off] [--build-root DIR]

The design (default ``soc``: the whole SoC with the demo firmware, boards/soc_top.py) is built with
the board's own configuration and primitives (boards/designs.py, boards/boards.py);
``--rows/--cols/--set`` override fields of that configuration. Board applications (``soc``,
``soc-8x8``) bring their own pins; every other design is closed by :class:`boards.top.BoardTop`.

A design bigger than the device (nextpnr stops with cells over capacity, or its report shows a
utilisation above 100 %) prints ``does not fit: 8689/5280 LCs`` (and EBR, DSP, ... when those are
over too), still writes the report with ``"fits": false`` and exits 1.

Why this flow and not just ``platform.build()``: the amaranth-boards platform renders the build
(RTLIL, Yosys script, PCF/LPF with the clock constraint, and the tool command lines in
``build_top.json``), and this module then runs those same commands itself so that it can

* time each step (synthesis, place and route, packing),
* add the nextpnr options the report needs (``--report``, ``--seed``, ``--timing-allow-fail`` so a
  missed target is a number in the report rather than an aborted build),
* with ``--dsp auto`` (the default) check the DSP count Yosys asked for against the device and
  re-synthesize with fabric multipliers when it does not fit (Yosys maps each iCE40 multiplier to a
  whole SB_MAC16 in 16x16 mode, so a 4x4 int8 tile wants 16 of the UP5K's 8),
* re-run only nextpnr for every seed of ``--seeds`` on the one synthesized netlist and keep the best
  seed's result for the bitstream.

The tools are run by :mod:`boards.yowasp` (the YoWASP builds from the virtual environment;
environment variables that are already set, ``YOSYS``, ``NEXTPNR_ICE40``, ..., win). Yosys also
writes ``top.stat.json`` (``stat -json``), from which the report takes the primitives it chose.

Build products go to ``build/synth/<board>-<design>/``, the report to
``build/reports/synth-<board>-<design>.json`` (see :mod:`boards.report` for its fields); the
default design's report is also written as ``build/reports/synth-<board>.json`` (what
``make synth BOARD=...`` leaves behind).
"""

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from spec.config import AcceleratorConfig, check_int

from .boards import BOARDS, constrained_platform, get_board
from .designs import DEFAULT_DESIGN, DESIGNS, default_config, design_factory, make_design
from .report import format_table, load_json, log_utilisation, main_clock, stat_cells, summarize
from .top import BoardTop
from .yowasp import ROOT, errors, run

__all__ = ["ROOT", "instantiates", "parse_seeds", "parse_overrides", "report_paths", "fit_line",
           "log_file_utilisation", "summary_utilisation", "yosys_assertion",
           "synthesize", "main"]

NAME = "top"  # base name of every build product (top.il, top.json, top.bin, ...)
# Appended to the platform's Yosys script after synth_<family>: the primitives Yosys chose.
STAT_SCRIPT = f"tee -q -o {NAME}.stat.json stat -json"
MAX_SEED = 2**31 - 1


def parse_seeds(text):
    """``"1,2,3"`` -> ``[1, 2, 3]``; raises ValueError naming ``seeds`` on bad input."""
    try:
        seeds = [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"seeds = {text!r} is invalid: must be comma-separated integers "
                         f"in [0, {MAX_SEED}], e.g. 1,2,3") from None
    if not seeds:
        raise ValueError(f"seeds = {text!r} is invalid: give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds = {text!r} is invalid: seeds must be distinct")
    for seed in seeds:
        check_int("seed", seed, 0, MAX_SEED)
    return seeds


def parse_overrides(items, base):
    """``["lb_line_bytes=128", ...]`` applied to AcceleratorConfig ``base`` (validated by it)."""
    values = base.as_dict()
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or name not in values:
            raise ValueError(f"--set {item!r} is invalid: use NAME=VALUE with NAME one of "
                             f"{', '.join(values)}")
        current = values[name]
        if isinstance(current, bool):
            if text.strip().lower() not in ("0", "1", "true", "false"):
                raise ValueError(f"--set {item!r} is invalid: {name} takes true or false")
            values[name] = text.strip().lower() in ("1", "true")
        elif isinstance(current, str):        # an enum field, by its value (e.g. output=raw)
            values[name] = text.strip()
        else:
            try:
                values[name] = int(text, 0)
            except ValueError:
                raise ValueError(f"--set {item!r} is invalid: {name} takes an integer") from None
    try:
        return AcceleratorConfig.from_dict(values)
    except ValueError as error:      # an enum value that does not exist
        raise ValueError(f"--set: {error}") from None


def report_paths(build_root, board_name, design):
    """Where the report of ``design`` on ``board_name`` goes: its own file, and for the default
    design also ``synth-<board>.json``."""
    reports = Path(build_root) / "reports"
    paths = [reports / f"synth-{board_name}-{design}.json"]
    if design == DEFAULT_DESIGN:
        paths.append(reports / f"synth-{board_name}.json")
    return paths


def _with_option(argv, flag, value):
    """``argv`` with ``flag``'s value replaced by ``value`` (appended when ``flag`` is absent)."""
    argv = list(argv)
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag, value]
    return argv


def log_file_utilisation(log):
    """:func:`boards.report.log_utilisation` of a log file; ``{}`` when there is no such file."""
    return log_utilisation(log.read_text(errors="replace")) if log.exists() else {}


def _failure_hint(board, log):
    """Which cell types nextpnr found over capacity, and what to do when it is the DSPs."""
    over = {cell: (used, avail) for cell, (used, avail) in log_file_utilisation(log).items() if used > avail}
    if not over:
        return ""
    hint = " -- over capacity: " + ", ".join(f"{c} {u}/{a}" for c, (u, a) in over.items()) + "."
    if board.dsp_cell in over:
        hint += (f" Yosys maps every multiplier to its own {board.dsp_netlist_cell};"
                 " rebuild with --dsp auto/off (fabric multipliers) or use a design whose product array"
                 " packs two int8 products per DSP (--design tile / engine on iCE40).")
    return hint


# Short names of nextpnr cell types for the "does not fit" line.
CELL_LABELS = {"ICESTORM_LC": "LCs", "ICESTORM_RAM": "EBR", "ICESTORM_SPRAM": "SPRAM",
               "ICESTORM_DSP": "DSP", "TRELLIS_COMB": "LUTs", "TRELLIS_FF": "FFs", "DP16KD": "DP16KD",
               "MULT18X18D": "MULT18X18D"}


def _over_capacity(utilisation):
    """The entries of ``{cell: (used, available)}`` that exceed the device (used > available)."""
    return {cell: (u, a) for cell, (u, a) in utilisation.items() if u > a}


def fit_line(board, utilisation):
    """``"does not fit: 8689/5280 LCs, 42/30 EBR"`` for the over-capacity cells, or None when the
    design fits; the LUT/LC count is always named first."""
    over = _over_capacity(utilisation)
    if not over:
        return None
    cells = [board.lut_cell] + [c for c in over if c != board.lut_cell]
    parts = [f"{utilisation[c][0]}/{utilisation[c][1]} {CELL_LABELS.get(c, c)}"
             for c in cells if c in utilisation]
    return "does not fit: " + ", ".join(parts)


def summary_utilisation(summary):
    """{cell: (used, available)} from a summary's resource fields."""
    found = {}
    for key in ("luts_or_lcs", "ffs", "dsp", "ram_blocks", "spram"):
        entry = summary.get(key)
        if entry and entry.get("available"):
            found[entry["cell"]] = (entry["used"], entry["available"])
    return found


DSP_MODES = ("auto", "on", "off")
YOSYS_ASSERT_WORKAROUND = "proc; splitnets"


def yosys_assertion(log):
    """Whether a Yosys log ends in an internal assertion failure (a Yosys bug, not ours)."""
    return log.exists() and "ERROR: Assert `" in log.read_text(errors="replace")


def instantiates(rtlil_path, cell):
    """Whether the RTLIL file instantiates ``cell`` (a vendor primitive) directly."""
    return f"cell \\{cell} " in Path(rtlil_path).read_text()


def synthesize(board_name, design=DEFAULT_DESIGN, config=None, *, seeds=(1,), dsp="auto",
               build_root=None, verbose=False):
    """Build ``design`` for board ``board_name``, write the JSON report and return it as a dict.

    ``config`` defaults to the design's configuration for the board (boards/designs.py).

    ``seeds`` are nextpnr seeds: all are placed and routed on the same synthesized netlist and the
    bitstream comes from the one with the highest Fmax. ``dsp`` decides whether Yosys may map
    multipliers to DSP blocks: ``"on"`` always, ``"off"`` never, ``"auto"`` (default) when the
    resulting DSP count fits the device; otherwise it re-synthesizes with fabric multipliers and says
    so in the report (``dsp_note``). A failing tool gives a report with ``status: "failed"`` and
    the tool's error.
    """
    board = get_board(board_name)
    if dsp not in DSP_MODES:
        raise ValueError(f"dsp = {dsp!r} is not supported: must be one of {', '.join(DSP_MODES)}")
    config = default_config(design, board) if config is None else config
    if not isinstance(config, AcceleratorConfig):
        raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
    component = make_design(design, config, board)
    top = component if design_factory(design).board_top else BoardTop(component)
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds = [] is invalid: give at least one seed")
    for seed in seeds:
        check_int("seed", seed, 0, MAX_SEED)
    build_root = Path(build_root) if build_root is not None else ROOT / "build"

    start = time.monotonic()
    build_dir = build_root / "synth" / f"{board.name}-{design}"
    report_path, *also_written = report_paths(build_root, board.name, design)
    if build_dir.exists():
        shutil.rmtree(build_dir)  # no stale reports or bitstreams from an earlier run
    report_path.parent.mkdir(parents=True, exist_ok=True)
    base = {"status": "failed", "board": board.name, "device": board.device, "design": design,
            "config": config.as_dict(), "target_mhz": board.target_mhz, "dsp_mode": dsp,
            "dsp_inference": dsp != "off", "synth_log": str(build_dir / f"{NAME}.rpt"),
            "report": str(report_path)}
    steps = {"synth": 0.0}

    def fail(log, extra=""):
        summary = {**base, "error": errors(log) + extra, "log": str(log),
                   "build_time_s": round(time.monotonic() - start, 1), "step_times_s": steps}
        line = fit_line(board, log_file_utilisation(log))
        if line:  # nextpnr stopped because the design is bigger than the device
            summary.update(fits=False, fit=line,
                           utilisation={c: {"used": u, "available": a}
                                        for c, (u, a) in log_file_utilisation(log).items()})
            print(line, flush=True)
        _write(summary, report_path, also_written)
        return summary

    def synth(use_dsp, label="synth", workaround=False):
        """Render the platform's build for these synth options, run Yosys; the netlist's cells.

        Yosys 0.70's abc9 sometimes dies on an internal assertion (``Assert `count_id(...)``` or
        ``GetSize(conn.first) == GetSize(conn.second)`` in ABC_OPS_REINTEGRATE; YosysHQ/yosys
        #4349, #4451, #5274) depending on the netlist; running ``proc; splitnets`` right after
        reading the RTLIL avoids it, so a failure with an assertion is retried once that way.
        """
        extra = {"script_after_read": YOSYS_ASSERT_WORKAROUND} if workaround else {}
        plan = constrained_platform(board).build(
            top, name=NAME, do_build=False, script_after_synth=STAT_SCRIPT,
            synth_opts=list(board.synth_opts if use_dsp else board.nodsp_opts), **extra)
        plan.extract(build_dir)
        if use_dsp and board.family == "ice40" and instantiates(build_dir / f"{NAME}.il", "SB_MAC16"):
            # Yosys's -dsp (ice40_dsp) re-parameterises SB_MAC16 the design instantiates itself:
            # the dual 8x8 products become one unregistered 16x16 multiply and every product is
            # wrong (docs/netlist.md). Such a design is synthesized without -dsp.
            if dsp == "on":
                raise ValueError(f"dsp = 'on' is not allowed for design {design!r} on {board.name}: it"
                                 " instantiates SB_MAC16 in dual 8x8 mode, which Yosys -dsp rewrites"
                                 " into wrong 16x16 multipliers; use --dsp auto or off")
            base["dsp_inference"] = False
            base["dsp_note"] = ("the design instantiates SB_MAC16 (dual 8x8) itself: synthesized"
                                " without -dsp, which would rewrite them (docs/netlist.md)")
            print(f"[synth] {base['dsp_note']}", file=sys.stderr, flush=True)
            return synth(False, label, workaround)
        ok, seconds, _ = run(synth_cmd(), build_dir, label, verbose=verbose)
        steps["synth"] = round(steps["synth"] + seconds, 1)
        if not ok and not workaround and yosys_assertion(build_dir / f"{NAME}.rpt"):
            base["yosys_workaround"] = YOSYS_ASSERT_WORKAROUND
            print(f"[{label}] Yosys assertion: retrying with '{YOSYS_ASSERT_WORKAROUND}' after "
                  f"read_rtlil", file=sys.stderr, flush=True)
            (build_dir / f"{NAME}.rpt").replace(build_dir / f"{NAME}.assert.rpt")
            return synth(use_dsp, f"{label}-retry", workaround=True)
        return stat_cells(load_json(build_dir / f"{NAME}.stat.json")) if ok else None

    def commands():
        return load_json(build_dir / f"build_{NAME}.json")["commands"]

    def synth_cmd():
        return next(c for c in commands() if c[0] == "yosys")

    cells = synth(dsp != "off")
    if cells is None:
        return fail(build_dir / f"{NAME}.rpt")
    wanted = cells.get(board.dsp_netlist_cell, 0)
    if dsp == "auto" and wanted > board.dsp_available:
        base["dsp_inference"] = False
        base["dsp_note"] = (f"the netlist asked for {wanted} {board.dsp_netlist_cell} (instantiated ones"
                            f" and one per inferred multiplier), the device has"
                            f" {board.dsp_available}: re-synthesized with inferred multipliers in"
                            f" fabric (first attempt's log: {NAME}.dsp-attempt.rpt)")
        print(f"[synth] {base['dsp_note']}", file=sys.stderr, flush=True)
        (build_dir / f"{NAME}.rpt").replace(build_dir / f"{NAME}.dsp-attempt.rpt")
        cells = synth(False, "synth-nodsp")
        if cells is None:
            return fail(build_dir / f"{NAME}.rpt")

    pnr_cmd = next(c for c in commands() if c[0].startswith("nextpnr"))
    pack_cmds = [c for c in commands() if c[0] != "yosys" and not c[0].startswith("nextpnr")]
    runs, reports = [], {}
    steps["pnr"] = 0.0
    for seed in seeds:
        log = build_dir / f"{NAME}.seed{seed}.tim"
        argv = _with_option(pnr_cmd, "--log", log.name)
        argv = _with_option(argv, board.pnr_output_flag, f"{NAME}.seed{seed}.pnr")
        argv += ["--seed", str(seed), "--report", f"{NAME}.seed{seed}.report.json",
                 "--timing-allow-fail"]
        ok, seconds, _ = run(argv, build_dir, f"pnr-seed{seed}", verbose=verbose)
        steps["pnr"] = round(steps["pnr"] + seconds, 1)
        if not ok:
            return fail(log, _failure_hint(board, log))
        reports[seed] = load_json(build_dir / f"{NAME}.seed{seed}.report.json")
        fmax = main_clock(reports[seed], "cd_sync")[1]
        runs.append({"seed": seed, "fmax_mhz": round(fmax, 2), "pnr_time_s": seconds})

    best = max(runs, key=lambda r: r["fmax_mhz"])["seed"]
    pnr_output = pnr_cmd[pnr_cmd.index(board.pnr_output_flag) + 1]  # what the packer reads
    shutil.copyfile(build_dir / f"{NAME}.seed{best}.pnr", build_dir / pnr_output)
    steps["pack"] = 0.0
    for cmd in pack_cmds:
        ok, seconds, _ = run(cmd, build_dir, "pack", verbose=verbose)
        steps["pack"] = round(steps["pack"] + seconds, 1)
        if not ok:
            return fail(build_dir / "pack.out")

    summary = summarize(
        board=board, design=design, config=config.as_dict(), report=reports[best], cells=cells,
        seed=best, runs=runs, build_time_s=time.monotonic() - start, step_times_s=steps,
        bitstream=build_dir / board.bitstream, log=build_dir / f"{NAME}.seed{best}.tim",
        synth_log=build_dir / f"{NAME}.rpt")
    summary.update({k: base[k] for k in ("dsp_mode", "dsp_inference", "dsp_note", "yosys_workaround",
                                         "report") if k in base})
    line = fit_line(board, summary_utilisation(summary))
    summary["fits"] = line is None
    if line:
        summary["fit"] = line
        print(line, flush=True)
    _write(summary, report_path, also_written)
    return summary


def _dumps(summary):
    return json.dumps(summary, indent=2) + "\n"


def _write(summary, path, also=()):
    text = _dumps(summary)
    for p in (path, *also):
        p.write_text(text)


def _parser():
    p = argparse.ArgumentParser(prog="python -m boards.synth", description=__doc__.split("\n\n")[0])
    p.add_argument("--board", required=True, help=f"one of: {', '.join(BOARDS)}")
    p.add_argument("--design", default=DEFAULT_DESIGN,
                   help=f"one of: {', '.join(DESIGNS)} (default {DEFAULT_DESIGN})")
    p.add_argument("--rows", type=int, help="MAC tile rows (default: the design's configuration)")
    p.add_argument("--cols", type=int, help="MAC tile cols (default: the design's configuration)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a field of the design's AcceleratorConfig (repeatable)")
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, default=1, help="nextpnr seed (default 1)")
    seeds.add_argument("--seeds", help="several nextpnr seeds, e.g. 1,2,3: min/median Fmax, best kept")
    p.add_argument("--dsp", choices=DSP_MODES, default="auto",
                   help="map multipliers to DSP blocks: auto (default; only if they fit the device), "
                        "on (always: iCE40 -dsp, 16x16 mode only; refused for designs instantiating"
                        " SB_MAC16), off (iCE40: no -dsp; ECP5: -nodsp)")
    p.add_argument("--build-root", type=Path, default=ROOT / "build", help="default: <repo>/build")
    p.add_argument("-v", "--verbose", action="store_true", help="print every tool command line")
    return p


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds) if args.seeds is not None else [args.seed]
        for seed in seeds:
            check_int("seed", seed, 0, MAX_SEED)
        board = get_board(args.board)
        design_factory(args.design)
        shape = [f"{k}={v}" for k, v in (("rows", args.rows), ("cols", args.cols)) if v is not None]
        config = parse_overrides([*shape, *args.set], default_config(args.design, board))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = synthesize(args.board, args.design, config, seeds=seeds, dsp=args.dsp,
                         build_root=args.build_root, verbose=args.verbose)
    print(format_table(summary))
    paths = report_paths(args.build_root, args.board, args.design)
    print(f"report: {', '.join(str(p) for p in paths)}")
    return 0 if summary["status"] == "ok" and summary.get("fits", True) else 1


if __name__ == "__main__":
    sys.exit(main())

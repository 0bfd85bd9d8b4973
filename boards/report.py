"""Read the tools' machine-readable outputs and turn them into the project's synthesis report.

Sources, all JSON so nothing depends on the wording of a log:

* nextpnr ``--report FILE``: ``utilization`` ({cell type: {used, available}}), ``fmax``
  ({clock net: {achieved, constraint}} in MHz) and ``critical_paths`` (per clock pair, a list of
  clk-to-q / logic / routing / setup segments, each with its cells and delay in ns);
* Yosys ``stat -json`` (``tee -q -o FILE stat -json``): the primitives Yosys chose, which tells
  whether multipliers went to DSP blocks and, on iCE40 where nextpnr only counts whole logic cells,
  the flip-flop count.

Only when nextpnr stops before writing its report (a design bigger than the device) is its log read:
:func:`log_utilisation` takes the "Device utilisation" lines it printed before it gave up.

The summary written to ``build/reports/synth-<board>.json`` is built by :func:`summarize` and shown as
a table by :func:`format_table`.
"""

import json
import re
import statistics
from collections import Counter
from pathlib import Path

from spec.config import AcceleratorConfig

__all__ = [
    "load_json", "utilization", "log_utilisation", "main_clock", "critical_path", "stat_cells",
    "summarize",
    "format_table",
]


def load_json(path):
    """Parse a JSON file; a missing or malformed file raises ValueError naming the path."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"report file {str(path)!r} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"report file {str(path)!r} is not valid JSON: {exc}") from None


def utilization(report, cell):
    """``{"cell", "used", "available"}`` for nextpnr cell type ``cell``; None when ``cell`` is None.

    A cell type absent from the report (the device has none) reads as 0 used of 0 available.
    """
    if cell is None:
        return None
    entry = report.get("utilization", {}).get(cell, {})
    return {"cell": cell, "used": int(entry.get("used", 0)), "available": int(entry.get("available", 0))}


def main_clock(report, hint=None):
    """``(name, achieved_mhz, constraint_mhz)`` of the design's main clock in a nextpnr report.

    With one clock that is it; with several, the first whose name contains ``hint`` (e.g. the sync
    domain, ``"cd_sync"``), else the slowest one. Raises ValueError when the report has no clock.
    """
    fmax = report.get("fmax") or {}
    if not fmax:
        raise ValueError("nextpnr report has no 'fmax' entry: no constrained clock was timed")
    names = sorted(fmax)
    chosen = [n for n in names if hint and hint in n]
    name = chosen[0] if chosen else min(names, key=lambda n: fmax[n]["achieved"])
    return name, float(fmax[name]["achieved"]), float(fmax[name]["constraint"])


def critical_path(report, clock):
    """Summary of the register-to-register critical path of ``clock`` (None if not reported).

    Returns the start and end cells, total delay, logic and routing shares and the number of logic
    segments (the logic depth nextpnr saw, counting carry-chain steps individually).
    """
    edge = f"posedge {clock}"
    for cp in report.get("critical_paths", []):
        if cp.get("from") == edge and cp.get("to") == edge and cp.get("path"):
            path = cp["path"]
            logic = [s for s in path if s["type"] == "logic"]
            routing = [s for s in path if s["type"] == "routing"]
            return {
                "from_cell": path[0]["from"]["cell"],
                "to_cell": path[-1]["to"]["cell"],
                "delay_ns": round(sum(s["delay"] for s in path), 3),
                "logic_ns": round(sum(s["delay"] for s in logic), 3),
                "routing_ns": round(sum(s["delay"] for s in routing), 3),
                "logic_segments": len(logic),
                "longest_net": max(routing, key=lambda s: s["delay"]).get("net") if routing else None,
            }
    return None


def stat_cells(stat):
    """Counter of primitive types in a Yosys ``stat -json`` result (the parsed JSON).

    The ``design`` section (the whole hierarchy below the top) when Yosys wrote one, else the sum
    over the modules; ``$scopeinfo`` bookkeeping cells are not primitives and are left out.
    """
    sections = [stat["design"]] if "design" in stat else list(stat.get("modules", {}).values())
    counts = Counter()
    for section in sections:
        counts.update({t: int(n) for t, n in section.get("num_cells_by_type", {}).items()
                       if not t.startswith("$scopeinfo")})
    return counts


def log_utilisation(text):
    """``{cell: (used, available)}`` from the "Device utilisation" lines of a nextpnr log."""
    found = re.findall(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", text)
    return {cell: (int(used), int(avail)) for cell, used, avail in found}


def _seed_stats(runs):
    fmaxes = [r["fmax_mhz"] for r in runs if r.get("fmax_mhz") is not None]
    if not fmaxes:
        return None, None
    return round(min(fmaxes), 2), round(statistics.median(fmaxes), 2)


def summarize(*, board, design, config, report, cells, seed, runs, build_time_s, step_times_s,
              bitstream, log, synth_log, clock_hint="cd_sync"):
    """The project's synthesis report (a JSON-ready dict) from one nextpnr report and the netlist.

    ``report`` is the nextpnr report of the seed whose bitstream is kept (``seed``); ``runs`` lists
    every seed's ``{"seed", "fmax_mhz"}`` for the min / median statistics; ``cells`` is
    :func:`stat_cells` of the synthesized netlist.
    """
    clock, achieved, constraint = main_clock(report, clock_hint)
    ffs = utilization(report, board.ff_cell)
    if ffs is None:  # iCE40: FFs live inside ICESTORM_LCs, count them in the netlist
        lcs = utilization(report, board.lut_cell)
        ffs = {"cell": f"{board.ff_netlist_prefix}*",
               "used": sum(n for t, n in cells.items() if t.startswith(board.ff_netlist_prefix)),
               "available": lcs["available"]}
    fmin, fmedian = _seed_stats(runs)
    return {
        "status": "ok",
        "board": board.name,
        "device": board.device,
        "design": design,
        "config": dict(config),
        "luts_or_lcs": utilization(report, board.lut_cell),
        "ffs": ffs,
        "dsp": utilization(report, board.dsp_cell),
        "ram_blocks": utilization(report, board.ram_cell),
        "spram": utilization(report, board.spram_cell),
        "netlist_dsp_cells": cells.get(board.dsp_netlist_cell, 0),
        "clock": clock,
        "board_clock_mhz": board.board_clock_mhz,
        "constraint_mhz": round(constraint, 3),
        "fmax_mhz": round(achieved, 2),
        "target_mhz": board.target_mhz,
        "met": achieved >= board.target_mhz,
        "critical_path": critical_path(report, clock),
        "seed": seed,
        "seeds": runs,
        "fmax_min_mhz": fmin,
        "fmax_median_mhz": fmedian,
        "build_time_s": round(build_time_s, 1),
        "step_times_s": step_times_s,
        "bitstream": str(bitstream),
        "log": str(log),
        "synth_log": str(synth_log),
    }


def _used(entry):
    if not entry:
        return "-"
    pct = 100 * entry["used"] / entry["available"] if entry["available"] else 0
    return f"{entry['used']}/{entry['available']} ({pct:.0f}%)"


def _is_non_default(name, value):
    """Whether a config field differs from AcceleratorConfig's default (the table shows only those)."""
    return getattr(AcceleratorConfig(), name, value) != value


def format_table(summary):
    """A short human-readable table of a :func:`summarize` (or failure) report."""
    config = summary.get("config", {})
    shown = {k: v for k, v in config.items() if k in ("rows", "cols") or _is_non_default(k, v)}
    cfg = ", ".join(f"{k}={v}" for k, v in shown.items())
    rows = [
        ("board", f"{summary['board']} ({summary['device']})"),
        ("design", f"{summary['design']} [{cfg}]"),
    ]
    if summary.get("status") != "ok":
        rows += [("status", "FAILED"), ("error", summary.get("error", "?")),
                 ("log", summary.get("log", "-"))]
    else:
        lut = summary["luts_or_lcs"]
        rows += [
            (f"logic ({lut['cell']})", _used(lut)),
            (f"flip-flops ({summary['ffs']['cell']})", _used(summary["ffs"])),
            (f"DSP ({summary['dsp']['cell']})",
             f"{_used(summary['dsp'])}; {summary['netlist_dsp_cells']} in the Yosys netlist"),
            (f"block RAM ({summary['ram_blocks']['cell']})", _used(summary["ram_blocks"])),
        ]
        if summary.get("spram"):
            rows.append((f"SPRAM ({summary['spram']['cell']})", _used(summary["spram"])))
        if summary.get("dsp_note"):
            rows.append(("DSP note", summary["dsp_note"]))
        verdict = "met" if summary["met"] else "NOT met"
        rows.append(("Fmax", f"{summary['fmax_mhz']:.2f} MHz (target {summary['target_mhz']:g} MHz: "
                             f"{verdict}; constrained at {summary['constraint_mhz']:g} MHz)"))
        if len(summary["seeds"]) > 1:
            seeds = ", ".join(f"{r['seed']}: {r['fmax_mhz']}" for r in summary["seeds"])
            rows.append(("seeds", f"min {summary['fmax_min_mhz']} / median "
                                  f"{summary['fmax_median_mhz']} MHz ({seeds}); kept seed {summary['seed']}"))
        else:
            rows.append(("seed", str(summary["seed"])))
        cp = summary.get("critical_path")
        if cp:
            rows.append(("critical path", f"{cp['delay_ns']} ns ({cp['logic_segments']} logic segments, "
                                          f"{cp['routing_ns']} ns routing): {cp['from_cell']} -> "
                                          f"{cp['to_cell']}"))
        steps = ", ".join(f"{k} {v} s" for k, v in summary["step_times_s"].items())
        rows += [
            ("build time", f"{summary['build_time_s']} s ({steps})"),
            ("bitstream", summary["bitstream"]),
            ("log", summary["log"]),
        ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

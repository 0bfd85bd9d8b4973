"""``python -m bench.report`` (``make report``): the project's one-page hardware report.

Collects what the other flows measured and writes ``build/reports/report.md`` and ``report.json``:

* per board and design (``build/reports/synth-<board>-<design>.json`` from ``make synth``):
  resources (LCs/LUTs, FFs, DSPs, block RAM, SPRAM), Fmax against the board's target (min / median
  over the seeds that were run), and the critical path when the target is missed;
* peak MMAC/s = rows * cols * Fmax (and at the board's own oscillator, which is what the bitstream
  runs at);
* achieved MMAC/s = peak * MAC utilisation, where the utilisation is measured in RTL simulation:
  ``bench.json`` (``make bench``: the conv-engine layer table, total ideal cycles / total measured
  cycles, ideal = N*M*C*E*F*R*S / (rows*cols)) for the generator's default configuration, and
  ``digits_bench.json`` (the digits CNN's engine cycles). A board whose engine configuration differs
  from the benchmarked one gets its utilisation from ``spec.cycle_model`` on the same layers (the
  model equals the RTL cycle counters exactly; ``make bench`` checks that on every layer), and the
  report says so;
* the MLPerf Tiny look-alikes on the SoC (``mlperf.json`` from ``make mlperf``): cycles per inference,
  engine and core-step cycles, utilisation, bit-exactness against TensorFlow Lite Micro, next to the
  published cycle counts of MCUs.

Nothing is run here except the cycle model; a missing input is listed with the command that makes
it, so the report is honest about what it does not know.

Every output is stamped with the git commit of the working tree (:func:`git_commit`: short hash,
``+dirty`` when tracked files differ from it), so run ``make synth`` / ``make bench`` and then
``make report`` on the same tree. ``--readme README.md`` (``make report README=1``) also replaces
the part of that file between :data:`BEGIN_MARKER` and :data:`END_MARKER` with the results table
(:func:`render_readme_section`); a file without exactly one such pair raises ValueError.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from boards.boards import BOARDS
from driver.passes import split_layer
from sim.runner import BUILD, ROOT
from spec.config import AcceleratorConfig
from spec.cycle_model import conv_engine_cycles

from .layers import BENCH_LAYERS

__all__ = ["collect", "model_utilisation", "render_markdown", "render_readme_section",
           "replace_results", "git_commit", "BEGIN_MARKER", "END_MARKER", "main"]

REPORTS = BUILD / "reports"
README = ROOT / "README.md"
#: The README's results table is whatever stands between these two lines.
BEGIN_MARKER = "<!-- results:begin -->"
END_MARKER = "<!-- results:end -->"


def git_commit(repo=ROOT, ignore=("README.md",)):
    """The commit checked out in ``repo``: its short hash, with ``+dirty`` appended when tracked
    files other than ``ignore`` (paths relative to ``repo``; by default the README that
    ``--readme`` rewrites) differ from it; untracked files do not count. ``"unknown"`` outside a
    git work tree or without git."""
    def git(*args):
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                    *(f":(exclude){path}" for path in ignore))
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def _load(path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None


def model_utilisation(config: AcceleratorConfig):
    """MAC utilisation of the bench layers on ``config`` from the cycle model.

    Returns ``(utilisation, layers_used, layers_skipped)``: total ideal / total predicted cycles
    over the layers of bench/layers.py, each split into passes where it exceeds ``config``'s maxima
    (as the driver runs it; the output pixels of the passes are disjoint, so the ideal adds up); a
    layer the driver cannot split is skipped and named.
    """
    from .conv_layers import make_layer  # pure Python: layer + golden output

    rng = np.random.default_rng(0)   # data values do not change cycle counts, only shapes do
    ideal = cycles = 0
    used, skipped = [], []
    for b in BENCH_LAYERS:
        t = make_layer(rng, b.name, b.H, b.W, b.C, b.M, b.R, b.S, stride=b.U, padding=b.padding,
                       kind=b.kind, k=1, pool=b.pool)
        try:   # a layer beyond the configuration's maxima runs as passes, as the driver splits it
            programs = [p.program for p in split_layer(config, t.layer).passes]
        except ValueError as exc:
            skipped.append(f"{b.name}: {exc}")
            continue
        for program in programs:
            regs = program.registers
            model = conv_engine_cycles(config, regs["H"], regs["W"], regs["C"], regs["M"], regs["R"],
                                       regs["S"], regs["U"], regs["PAD_TOP"], regs["E"], regs["F"],
                                       regs["CG"], regs["POOL"])
            ideal += program.ideal_beats   # N*M*C*E*F*R*S / (rows*cols), as make bench counts it
            cycles += model.cycles
        used.append(b.name if len(programs) == 1 else f"{b.name} ({len(programs)} passes)")
    return (ideal / cycles if cycles else None), used, skipped


def _bench_utilisation(bench):
    layers = bench["layers"]
    return sum(x["ideal_cycles"] for x in layers) / sum(x["cycles"] for x in layers)


def _utilisation_for(config, bench, digits):
    """(utilisation, source text) for an engine configuration."""
    if bench is not None and AcceleratorConfig.from_dict(bench["config"]) == config:
        return _bench_utilisation(bench), (f"measured: make bench, {len(bench['layers'])} layers "
                                           f"({bench['simulator']} RTL counters)")
    util, used, skipped = model_utilisation(config)
    if util is None:
        return None, "no bench layer fits this configuration"
    split = sum("passes)" in name for name in used)
    note = f"cycle model (exact vs RTL), {len(used)} bench layers ({split} split into passes)"
    if skipped:
        note += f"; {len(skipped)} too big for this configuration"
    return util, note


def collect(reports_dir=REPORTS, commit=None):
    """The report as a dict: the commit it is stamped with (``commit``, default
    :func:`git_commit`), one entry per synthesis result found, and what is missing."""
    reports_dir = Path(reports_dir)
    commit = git_commit() if commit is None else commit
    bench = _load(reports_dir / "bench.json")
    digits = _load(reports_dir / "digits_bench.json")
    entries, missing = [], []
    for name, board in BOARDS.items():
        found = sorted(reports_dir.glob(f"synth-{name}-*.json"))
        if not found:
            missing.append({"what": f"synthesis for {name}",
                            "command": f"make synth BOARD={name}"})
        for path in found:
            s = _load(path)
            entry = {"board": name, "device": s.get("device"), "design": s.get("design"),
                     "status": s.get("status"), "target_mhz": board.target_mhz,
                     "board_clock_mhz": board.board_clock_mhz, "source": str(path)}
            if s.get("status") != "ok":
                entry["error"] = s.get("error", "?")
                if s.get("fits") is False:  # nextpnr stopped: over capacity, so no Fmax either
                    entry["fit"] = s.get("fit")
                entries.append(entry)
                continue
            config = AcceleratorConfig.from_dict(s["config"])
            util, util_source = _utilisation_for(config, bench, digits)
            peak = config.macs * s["fmax_mhz"]
            entry.update({
                "rows": config.rows, "cols": config.cols,
                "luts_or_lcs": s["luts_or_lcs"], "ffs": s["ffs"], "dsp": s["dsp"],
                "ram_blocks": s["ram_blocks"], "spram": s.get("spram"),
                "fmax_mhz": s["fmax_mhz"], "fmax_min_mhz": s.get("fmax_min_mhz"),
                "fmax_median_mhz": s.get("fmax_median_mhz"), "seeds": [r["seed"] for r in s["seeds"]],
                "met": s["met"], "critical_path": s.get("critical_path"),
                "peak_mmacs": round(peak, 1),
                "peak_mmacs_board_clock": round(config.macs * board.board_clock_mhz, 1),
                "utilisation": None if util is None else round(util, 4),
                "utilisation_source": util_source,
                "achieved_mmacs": None if util is None else round(peak * util, 1),
            })
            entries.append(entry)
    if bench is None:
        missing.append({"what": "measured MAC utilisation (conv-engine layer table)",
                        "command": "make bench"})
    net = None
    if digits is not None:
        net = {"cycles_per_inference": digits.get("accel_cycles_per_inference"),
               "hardware_accuracy": digits.get("hardware_accuracy"),
               "hardware_images": digits.get("hardware_images"),
               "engine_cycles_per_inference": digits.get("engine_cycles_per_inference"),
               "ideal_cycles_per_inference": digits.get("ideal_cycles_per_inference"),
               "speedup": digits.get("speedup"),
               "layers": [{k: x[k] for k in ("layer", "engine_cycles", "mac_utilisation")}
                          for x in digits.get("layers", [])]}
    else:
        missing.append({"what": "the digits CNN on the SoC (cycles per inference, speedup)",
                        "command": "make bench"})
    mlperf = _load(reports_dir / "mlperf.json")
    if mlperf is None:
        missing.append({"what": "the MLPerf Tiny models on the SoC (cycles per inference, bit-exact)",
                        "command": "make mlperf"})
    else:
        keys = ("model", "architecture", "tile", "macs", "cycles", "engine_cycles", "core_step_cycles",
                "ideal_cycles", "utilisation", "bit_exact", "inputs", "reference")
        mlperf = [{k: e.get(k) for k in keys} for e in mlperf.get("results", [])]
    return {"commit": commit, "boards": entries, "digits": net, "mlperf": mlperf, "missing": missing}


def _used(entry):
    if not entry:
        return "-"
    return f"{entry['used']}/{entry['available']}"


def _fmt(value, spec=".1f", none="-"):
    return none if value is None else format(value, spec)


def _stamp(report):
    return (f"Measured at commit `{report.get('commit', 'unknown')}` (`make report` stamps the tree "
            f"it runs on: measure with `make synth` and `make bench` on the same tree).")


def _board_lines(report):
    """The results table (one row per board and design that built) and its notes."""
    lines = []
    ok = [e for e in report["boards"] if e["status"] == "ok"]
    if ok:
        lines += ["| board | design | tile | LCs/LUTs | FFs | DSP | BRAM | SPRAM "
                  "| Fmax MHz (min / median, seeds) | target | met | peak MMAC/s | util "
                  "| achieved MMAC/s | at board clock |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for e in ok:
            seeds = ",".join(map(str, e["seeds"]))
            fmax = f"{e['fmax_mhz']:.2f}"
            if len(e["seeds"]) > 1:
                fmax += f" ({e['fmax_min_mhz']} / {e['fmax_median_mhz']}, {seeds})"
            else:
                fmax += f" (seed {seeds})"
            util = "-" if e["utilisation"] is None else f"{e['utilisation']:.1%}"
            lines.append(
                f"| {e['board']} | {e['design']} | {e['rows']}x{e['cols']} | {_used(e['luts_or_lcs'])} "
                f"| {_used(e['ffs'])} | {_used(e['dsp'])} | {_used(e['ram_blocks'])} | {_used(e['spram'])} "
                f"| {fmax} | {e['target_mhz']:g} | {'yes' if e['met'] else 'NO'} | {_fmt(e['peak_mmacs'])} "
                f"| {util} | {_fmt(e['achieved_mmacs'])} | {_fmt(e['peak_mmacs_board_clock'])} peak at "
                f"{e['board_clock_mhz']:g} MHz |")
        lines.append("")
        for e in ok:
            lines.append(f"- {e['board']} / {e['design']}: utilisation from {e['utilisation_source']}.")
            over = [k for k in ("luts_or_lcs", "ram_blocks", "dsp", "spram")
                    if e.get(k) and e[k]["available"] and e[k]["used"] > e[k]["available"]]
            if over:
                lines.append(f"  Does NOT fit: {', '.join(f'{k} {_used(e[k])}' for k in over)}.")
            cp = e.get("critical_path")
            if not e["met"] and cp:
                lines.append(f"  Target missed; critical path {cp['delay_ns']} ns "
                             f"({cp['logic_ns']} ns logic, {cp['routing_ns']} ns routing, "
                             f"{cp['logic_segments']} logic segments): "
                             f"`{cp['from_cell']}` -> `{cp['to_cell']}`.")
    for e in report["boards"]:
        if e["status"] == "ok":
            continue
        if e.get("fit"):
            lines.append(f"- {e['board']} / {e['design']}: **{e['fit']}** (nextpnr stops before timing:"
                         f" no Fmax; `python -m boards.breakdown` shows where the cells go;"
                         f" {_source_name(e['source'])})")
        else:
            lines.append(f"- {e['board']} / {e['design']}: build FAILED: {e['error']} "
                         f"({_source_name(e['source'])})")
    return lines


def _source_name(source):
    """A report file as ``build/reports/<name>`` (no machine path in a committed README)."""
    return f"build/reports/{Path(source).name}"


def _digits_summary(net):
    return (f"Digits CNN on the SoC (RTL simulation): {net['cycles_per_inference']} cycles per "
            f"inference (engine {net['engine_cycles_per_inference']}, "
            f"ideal {_fmt(net['ideal_cycles_per_inference'], '.0f')}); "
            f"speedup over plain C on the core: {_fmt(net['speedup'], '.0f')}x; "
            f"hardware accuracy {_fmt(net['hardware_accuracy'], '.2%')} "
            f"on {net['hardware_images']} held-out images.")


def _mlperf_lines(rows):
    from bench.mlperf import published_text

    lines = ["MLPerf Tiny look-alikes (models/mlperf_tiny.py) as firmware on the SoC (RTL simulation, "
             "`make mlperf`), every output byte compared with TensorFlow Lite Micro:", "",
             "| model | tile | MACs | cycles per inference | engine | core steps | utilisation | bit-exact "
             "| published MCUs (cycles) |", "|---|---|---|---|---|---|---|---|---|"]
    for e in rows:
        lines.append(f"| {e['model']} | {e['tile']} | {e['macs']} | {e['cycles']} | {e['engine_cycles']} | "
                     f"{e['core_step_cycles']} | {_fmt(e['utilisation'], '.1%')} | "
                     f"{'yes' if e['bit_exact'] else 'NO'} ({e['inputs']} inputs) | "
                     f"{published_text(e.get('architecture') or e['model'])} |")
    return lines


def _missing_lines(report):
    return [f"- {m['what']}: `{m['command']}`" for m in report["missing"]]


def render_markdown(report):
    """``report.md``: the stamp, the results table with its notes, the digits CNN per layer, and
    what is not measured yet."""
    lines = ["# Hardware report", "", _stamp(report), "",
             "Generated by `make report` (`python -m bench.report`) from the JSON that `make synth` and "
             "`make bench` wrote under build/reports/. Fmax is nextpnr's estimate with the clock "
             "constrained at the target; peak MMAC/s = rows * cols * Fmax; achieved = peak * MAC "
             "utilisation (ideal cycles N*M*C*E*F*R*S / (rows*cols) over measured cycles).", ""]
    lines += _board_lines(report)
    net = report.get("digits")
    if net:
        lines += ["", "## Digits CNN on the SoC (RTL simulation)", "", _digits_summary(net), "",
                  "| layer | engine cycles | MAC utilisation |", "|---|---|---|"]
        lines += [f"| {x['layer']} | {x['engine_cycles']} | {x['mac_utilisation']:.1%} |"
                  for x in net["layers"]]
    if report.get("mlperf"):
        lines += ["", "## MLPerf Tiny models on the SoC (RTL simulation)", ""]
        lines += _mlperf_lines(report["mlperf"])
    if report["missing"]:
        lines += ["", "## Not measured yet", ""] + _missing_lines(report)
    return "\n".join(lines) + "\n"


def render_readme_section(report):
    """The README's results: the stamp, the results table with its notes, one line for the digits
    CNN and what is not measured yet, between :data:`BEGIN_MARKER` and :data:`END_MARKER`."""
    lines = [BEGIN_MARKER, "", _stamp(report), ""]
    board = _board_lines(report)
    lines += board + ([""] if board else [])
    if report.get("digits"):
        lines += [_digits_summary(report["digits"]), ""]
    if report.get("mlperf"):
        lines += _mlperf_lines(report["mlperf"]) + [""]
    if report["missing"]:
        lines += ["Not measured yet:", ""] + _missing_lines(report) + [""]
    lines.append(END_MARKER)
    return "\n".join(lines)


def replace_results(text, section):
    """``text`` with everything from :data:`BEGIN_MARKER` to :data:`END_MARKER` (both included)
    replaced by ``section``. Raises ValueError unless each marker occurs exactly once, begin first."""
    counts = {m: text.count(m) for m in (BEGIN_MARKER, END_MARKER)}
    if any(n != 1 for n in counts.values()):
        found = ", ".join(f"{m!r} {n} times" for m, n in counts.items())
        raise ValueError(f"README markers: found {found}; each must occur exactly once")
    begin, end = text.index(BEGIN_MARKER), text.index(END_MARKER)
    if end < begin:
        raise ValueError(f"README markers: {END_MARKER!r} comes before {BEGIN_MARKER!r}")
    return text[:begin] + section + text[end + len(END_MARKER):]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=Path, default=REPORTS,
                        help="folder holding synth-*.json, bench.json, digits_bench.json "
                             "(default %(default)s)")
    parser.add_argument("--readme", type=Path, nargs="?", const=README, default=None,
                        help="also replace the results table between the marker comments in this "
                             "file (default when given without a path: %(const)s)")
    args = parser.parse_args(argv)
    report = collect(args.reports)
    args.reports.mkdir(parents=True, exist_ok=True)
    (args.reports / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    md = render_markdown(report)
    (args.reports / "report.md").write_text(md)
    print(md)
    print(f"written: {args.reports / 'report.md'}, {args.reports / 'report.json'}")
    if args.readme is not None:
        text = args.readme.read_text()
        args.readme.write_text(replace_results(text, render_readme_section(report)))
        print(f"results table replaced in {args.readme} (commit {report['commit']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

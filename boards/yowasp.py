"""The one runner of the synthesis tools: YoWASP Yosys, nextpnr and the bitstream packers.

Every flow of the project (:mod:`boards.synth`, :mod:`boards.breakdown`, :mod:`boards.cpu_synth`,
:mod:`boards.netlist`) runs its tools through this module:

* :func:`executable` finds a tool by its plain name (``yosys``, ``nextpnr-ice40``, ``icepack``,
  ...): the environment variable amaranth would read (``YOSYS``, ``NEXTPNR_ICE40``, ``ICEPACK``)
  when it is set, else the YoWASP build ``yowasp-<name>`` next to the running Python (the venv, so
  nothing needs activating), else ``yowasp-<name>`` on PATH.
* :func:`run` runs one command in a directory with its output in ``<label>.out`` and reports
  whether it succeeded and how long it took; :func:`errors` collects the ``ERROR`` lines of logs.
* :func:`yosys` runs a Yosys script on given input files in a directory named by a hash of the
  inputs, the script and the Yosys version, so a repeated run with the same inputs only reads the
  results back (a file lock lets parallel test workers share one run).
* :func:`nextpnr_device` gives nextpnr's device options for an iCE40 device and package.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from sim.runner import file_lock

__all__ = ["ROOT", "BUILD", "executable", "tool_version", "ToolRun", "run", "errors", "YosysRun",
           "yosys", "nextpnr_device"]

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
STAMP = "done.stamp"  # written last by a successful cached Yosys run: its duration in seconds


def _env_var(tool):
    """The variable amaranth names a tool by: ``nextpnr-ice40`` -> ``NEXTPNR_ICE40``."""
    return tool.upper().replace("-", "_").replace("+", "X")


def executable(tool):
    """The command that runs ``tool`` (``"yosys"``, ``"nextpnr-ecp5"``, ``"ecppack"``, ...)."""
    if os.environ.get(_env_var(tool)):
        return os.environ[_env_var(tool)]
    local = Path(sys.executable).parent / f"yowasp-{tool}"
    if local.exists():
        return str(local)
    return shutil.which(f"yowasp-{tool}") or f"yowasp-{tool}"


def tool_version(tool):
    """The installed ``yowasp-<tool>`` package version, ``"unknown"`` for a tool not from PyPI."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(f"yowasp-{tool}")
    except PackageNotFoundError:
        return "unknown"


class ToolRun(NamedTuple):
    ok: bool
    seconds: float
    out: Path        # the tool's stdout and stderr


def run(argv, cwd, label, *, verbose=False):
    """Run ``argv`` in ``cwd``; ``argv[0]`` is a tool name resolved by :func:`executable`.

    Output goes to ``cwd/<label>.out``; a line ``[label] done in N s`` (or ``FAILED``) goes to
    stderr, and with ``verbose`` the command line before it. Never raises for a failing tool:
    the caller decides (see :func:`errors`).
    """
    cwd = Path(cwd)
    if verbose:
        print(f"[{label}] {' '.join(map(str, argv))}", file=sys.stderr, flush=True)
    out = cwd / f"{label}.out"
    start = time.monotonic()
    with open(out, "w") as stream:
        proc = subprocess.run([executable(argv[0]), *map(str, argv[1:])], cwd=cwd, stdout=stream,
                              stderr=subprocess.STDOUT)
    seconds = round(time.monotonic() - start, 1)
    print(f"[{label}] {'done' if proc.returncode == 0 else 'FAILED'} in {seconds} s",
          file=sys.stderr, flush=True)
    return ToolRun(ok=proc.returncode == 0, seconds=seconds, out=out)


def errors(*paths):
    """The ``ERROR`` lines of the given log files (the first three) joined for a report."""
    lines = []
    for path in paths:
        if Path(path).exists():
            lines += [ln.strip() for ln in Path(path).read_text(errors="replace").splitlines()
                      if ln.lstrip().startswith("ERROR")]
    return " | ".join(lines[:3]) or "tool failed without an ERROR line; see the log"


@dataclass(frozen=True)
class YosysRun:
    directory: Path        # holds the inputs, script.ys, yosys.log and the script's outputs
    log: Path
    seconds: float | None  # None: the results of an earlier run with the same key were reused


def yosys(script, inputs, out_root, name, *, verbose=False):
    """Run the Yosys ``script`` on ``inputs`` ({file name: text}) in ``out_root/<name>-<key>``.

    ``key`` hashes the inputs, the script and the Yosys version; when that directory holds a
    finished run, nothing is run again. The script reads its inputs and writes its outputs by
    plain file names (the directory is the working directory). Raises RuntimeError with the end
    of the log when Yosys fails.
    """
    parts = [script, tool_version("yosys"), *(f"{k}\n{v}" for k, v in sorted(inputs.items()))]
    key = hashlib.sha256("\n\0".join(parts).encode()).hexdigest()[:12]
    directory = Path(out_root) / f"{name}-{key}"
    log = directory / "yosys.log"
    with file_lock(Path(out_root) / f".{name}-{key}.lock"):
        if (directory / STAMP).exists():
            return YosysRun(directory, log, None)
        directory.mkdir(parents=True, exist_ok=True)
        for file_name, text in inputs.items():
            (directory / file_name).write_text(text)
        (directory / "script.ys").write_text(script)
        result = run(["yosys", "-q", "-l", log.name, "script.ys"], directory, "yosys", verbose=verbose)
        if not result.ok:
            text = (log if log.exists() else result.out).read_text(errors="replace")
            raise RuntimeError(f"Yosys failed on {name} (log {log}):\n{text[-4000:]}")
        (directory / STAMP).write_text(f"{result.seconds}\n")
    return YosysRun(directory, log, result.seconds)


def nextpnr_device(device, package):
    """nextpnr-ice40's options for an iCE40 ``device`` and ``package``: ``("iCE40UP5K", "SG48")``
    -> ``["--up5k", "--package", "sg48"]``."""
    if not str(device).startswith("iCE40") or len(device) <= len("iCE40"):
        raise ValueError(f"device = {device!r} is not supported: must be an iCE40 device, e.g. iCE40UP5K")
    return [f"--{device[len('iCE40'):].lower()}", "--package", str(package).lower()]

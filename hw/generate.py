"""Generate Verilog for the accelerator: ``python -m hw.generate [--out DIR] [--rows N] ...``.

Writes one readable Verilog file per top-level component into ``build/verilog/`` and prints what was
generated: the configuration, each Verilog module, and the top-level ports with direction and width.
"""

import argparse
import json
import re
import sys
from dataclasses import fields
from pathlib import Path

from amaranth.hdl import Shape
from amaranth.lib import data, wiring

from spec.config import AcceleratorConfig

from .cfu import CnnCfu
from .conv_engine import ConvEngine
from .mac_tile import MacTile
from .verilog import write_verilog

__all__ = ["TOPS", "generate", "main"]

# The checkout: the default output directory is its build/verilog/, and paths are printed relative to it.
ROOT = Path(__file__).resolve().parent.parent

# Top-level components users generate, by Verilog module name.
TOPS = {
    "cnn_cfu": CnnCfu,           # the accelerator behind the RISC-V CFU command port (custom-0)
    "conv_engine": ConvEngine,   # the accelerator: runs whole conv layers from registers
    "mac_tile": MacTile,         # its MAC tile alone
}


def top_ports(component):
    """(verilog name, direction, width, fields) of every port, clk/rst first; ``fields`` lists the
    bit ranges of struct/array payloads so a Verilog user can pack them without reading Python."""
    ports = [("clk", "input", 1, []), ("rst", "input", 1, [])]
    for path, member, _ in component.signature.flatten(component):
        flow = member.flow
        name = "__".join(str(p) for p in path)
        ports.append((name, "input" if flow == wiring.In else "output", Shape.cast(member.shape).width,
                      _fields(member.shape)))
    return ports


def _fields(shape, prefix="", offset=0):
    """[(name, lsb, msb)] of the leaf fields of a lib.data layout (empty for plain shapes)."""
    if not isinstance(shape, data.Layout):
        return []
    out = []
    for key, field in shape:
        name = f"{prefix}[{key}]" if isinstance(key, int) else (f"{prefix}.{key}" if prefix else key)
        lsb = offset + field.offset
        inner = _fields(field.shape, name, lsb)
        out += inner or [(name, lsb, lsb + Shape.cast(field.shape).width - 1)]
    return out


def generate(config: AcceleratorConfig, out_dir: Path):
    """Elaborate every top in TOPS for ``config``; returns a summary dict (also written as JSON)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {"config": config.as_dict(), "tops": {}}
    for name, cls in TOPS.items():
        component = cls(config)
        path = write_verilog(component, name, out_dir)
        text = path.read_text()
        summary["tops"][name] = {
            "file": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
            "modules": re.findall(r"^module\s+(\S+)\s*\(", text, re.M),
            "ports": [{"name": n, "dir": d, "width": w, "fields": f} for n, d, w, f in top_ports(component)],
            "lines": len(text.splitlines()),
        }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def print_summary(summary, file=sys.stdout):
    cfg = summary["config"]
    print("configuration (spec.config.AcceleratorConfig):", file=file)
    for key, value in cfg.items():
        print(f"  {key:14s} = {value}", file=file)
    for name, top in summary["tops"].items():
        print(f"\n{top['file']}  ({top['lines']} lines)", file=file)
        print("  modules: " + ", ".join(m.lstrip("\\") for m in top["modules"]), file=file)
        print(f"  ports of {name}:", file=file)
        for port in top["ports"]:
            print(f"    {port['dir']:6s} [{port['width']:4d}] {port['name']}", file=file)
            fields = port["fields"]
            if fields and len(fields) <= 24:
                print("           " + ", ".join(f"{n} [{hi}:{lo}]" for n, lo, hi in fields), file=file)
            elif fields:
                print(f"           {len(fields)} fields: {fields[0][0]} [{fields[0][2]}:{fields[0][1]}] .. "
                      f"{fields[-1][0]} [{fields[-1][2]}:{fields[-1][1]}]", file=file)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "verilog")
    defaults = AcceleratorConfig()
    for f in fields(AcceleratorConfig):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=int, default=getattr(defaults, f.name))
    args = parser.parse_args(argv)
    try:
        config = AcceleratorConfig(**{f.name: getattr(args, f.name) for f in fields(AcceleratorConfig)})
    except ValueError as exc:
        parser.error(str(exc))
    print_summary(generate(config, args.out))


if __name__ == "__main__":
    main()

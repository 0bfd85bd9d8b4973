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
from amaranth.lib import wiring

from sim.runner import ROOT, write_verilog

from .config import AcceleratorConfig
from .mac_tile import MacTile

__all__ = ["TOPS", "generate", "main"]

# Top-level components users generate, by Verilog module name.
TOPS = {
    "mac_tile": MacTile,
}


def top_ports(component):
    """(verilog name, direction, width) of every port of a component, clk/rst first."""
    ports = [("clk", "input", 1), ("rst", "input", 1)]
    for path, member, _ in component.signature.flatten(component):
        flow = member.flow
        name = "__".join(str(p) for p in path)
        ports.append((name, "input" if flow == wiring.In else "output", Shape.cast(member.shape).width))
    return ports


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
            "ports": [{"name": n, "dir": d, "width": w} for n, d, w in top_ports(component)],
            "lines": len(text.splitlines()),
        }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def print_summary(summary, file=sys.stdout):
    cfg = summary["config"]
    print("configuration (hw.config.AcceleratorConfig):", file=file)
    for key, value in cfg.items():
        print(f"  {key:14s} = {value}", file=file)
    for name, top in summary["tops"].items():
        print(f"\n{top['file']}  ({top['lines']} lines)", file=file)
        print("  modules: " + ", ".join(m.lstrip("\\") for m in top["modules"]), file=file)
        print(f"  ports of {name}:", file=file)
        for port in top["ports"]:
            print(f"    {port['dir']:6s} [{port['width']:4d}] {port['name']}", file=file)


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

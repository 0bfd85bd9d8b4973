"""``python -m compiler MODEL.tflite [--listing DIR] [--firmware DIR]``: the accelerator schedule of a model.

Prints every step of the schedule: which operators it implements, where it runs (the engine, or the
core for ADD, SOFTMAX, pools the engine cannot fuse and space-to-depth), shapes, MACs, and for engine
layers passes, instructions, port cycles from the command table, compute cycles from
spec.cycle_model, ideal cycles and MAC utilisation.
``--listing DIR`` writes each layer's custom-0 program as RISC-V assembly (``layerN.S``) for an
all-zero input (the input words are data: only their ``li`` values change with the input).
``--firmware DIR`` generates the whole schedule as C data (compiler/firmware.py: ``DIR/include/net_data.h``
and ``cnn_accel.h``) and builds the network firmware firmware/net/net.c (``DIR/net.elf``, RAM images)
for the simulated SoC spec.config.SIM_SOC, whose engine the model is compiled for, or names the RAM
sizes it would need.
Exit status 1 with the compiler's message when the model cannot run on the accelerator.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from spec.config import SIM_SOC

from .schedule import CompileError, compile_tflite


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m compiler", description=__doc__.split("\n")[0])
    ap.add_argument("model", type=Path, help=".tflite file")
    ap.add_argument("--listing", type=Path, default=None, help="write layerN.S assembly listings here")
    ap.add_argument("--firmware", type=Path, default=None, help="generate and build the SoC firmware here")
    args = ap.parse_args(argv)
    soc = SIM_SOC
    config = soc.engine
    try:
        schedule = compile_tflite(args.model, config)
    except CompileError as exc:
        print(f"error: {args.model}: {exc}", file=sys.stderr)
        return 1
    n_engine = len(schedule.engine_layers)
    print(f"{args.model}: {n_engine} engine layer(s) and {len(schedule.layers) - n_engine} core step(s) on "
          f"{config.name} "
          f"({config.rows}x{config.cols} MAC tile), input {schedule.input_shape} -> output "
          f"{schedule.output_shape}")
    print(schedule.table())
    if args.listing:
        args.listing.mkdir(parents=True, exist_ok=True)
        for layer in schedule.engine_layers:
            prog = layer.program(config, np.zeros(layer.in_shape, np.int8))
            path = args.listing / f"layer{layer.index}.S"
            path.write_text(f"# {layer.name}: {layer.describe()}\n" + prog.listing())
            print(f"wrote {path} ({len(prog)} instructions)")
    if args.firmware:
        from .firmware import FirmwareSizeError, build_network_firmware

        try:
            fw = build_network_firmware(schedule, args.firmware, soc)
        except FirmwareSizeError as exc:
            print(f"error: {args.model}: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {args.firmware / 'include' / 'net_data.h'}; firmware {fw.image.elf}: "
              f"{4 * len(fw.image.imem)} bytes of code, {fw.dmem_bytes} bytes of DMEM (data + stack), "
              f"input (net_io) at 0x{fw.io_addr:08x}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

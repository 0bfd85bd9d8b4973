"""The board demo's firmware image: firmware/board/main.c with one conv layer baked in.

    python -m firmware.board_image [--board icebreaker|ulx3s-85f] [--seed N]

The layer (``board_layer``) is the same on every board and in simulation:

    conv H=W=8, C=4 -> M=8, R=S=3, U=1, SAME padding (E=F=8), seeded int8 data with the edge values
    -128/127 in the input and -127/127 in the weights, nonzero input and output zero points.

Its golden output comes from golden.conv.conv2d; firmware/layer_image.py turns layer, golden output
and the driver's command plan into ``layer_data.h``, and the image is linked with the shared SoC
pieces (firmware/soc/uart.c, tflite_ref.c, muldi3.c). The board top (boards/soc_top.py) bakes the
image into the RAM initialisation, so the bitstream runs it straight after configuration.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from driver.conv_layer import ConvLayer
from golden.conv import conv2d
from spec.config import AcceleratorConfig

from .build import ROOT
from .layer_image import SOC_DIR, build_layer_firmware

__all__ = ["BOARD_SOURCES", "BOARD_LAYER_SEED", "BOARD_LAYER_SHAPE", "board_layer", "build_board_firmware"]

FIRMWARE = Path(__file__).resolve().parent
BOARD_SOURCES = [FIRMWARE / "board" / "main.c", SOC_DIR / "tflite_ref.c", SOC_DIR / "uart.c",
                 SOC_DIR / "muldi3.c"]
BOARD_LAYER_SEED = 1  # the layer in the bitstream; the tests may pick others
BOARD_LAYER_SHAPE = (8, 8, 4, 8, 3, 3)  # H, W, C, M, R, S


def board_layer(seed=BOARD_LAYER_SEED, shape=BOARD_LAYER_SHAPE):
    """(ConvLayer, golden int8 [E][F][M]) of the demo layer ``shape`` = (H, W, C, M, R, S)."""
    H, W, C, M, R, S = shape
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (H, W, C), dtype=np.int64).astype(np.int8)
    w = rng.integers(-127, 128, (M, R, S, C), dtype=np.int64).astype(np.int8)
    # Edge values: the int8 extremes at the image borders and in whole filter taps.
    x[0, :, 0], x[-1, :, -1], x[:, 0, 1 % C], x[:, -1, 2 % C] = -128, 127, 127, -128
    w[0, 0, 0, :], w[M - 1, R - 1, S - 1, :], w[1 % M, :, :, 0] = 127, -127, -127
    input_zp = int(rng.choice([v for v in range(-100, 101) if v != 0]))
    output_zp = int(rng.choice([v for v in range(-20, 21) if v != 0]))
    bias = rng.integers(-4000, 4000, M, dtype=np.int64).astype(np.int32)
    multiplier = rng.integers(2**30, 2**31, M, dtype=np.int64).astype(np.int32)
    # Spread the outputs over the int8 range: |acc| is about sqrt(R*S*C) * 75 * 75.
    base = -int(np.log2(np.sqrt(R * S * C) * 75 * 75)) + 6
    shift = np.clip(base + rng.integers(-2, 3, M), -31, 30).astype(np.int32)
    layer = ConvLayer(x=x, w=w, bias=bias, multiplier=multiplier, shift=shift, input_zp=input_zp,
                      output_zp=output_zp, stride=1, padding="SAME")
    pt, pb, pl, pr = layer.resolved_padding()
    expected = conv2d(x[None], w, bias, multiplier, shift, input_zp, output_zp,
                      padding=((pt, pb), (pl, pr)))[0]
    return layer, expected


def build_board_firmware(config: AcceleratorConfig, *, clocks_per_bit, imem_words, dmem_words,
                         seed=BOARD_LAYER_SEED, shape=BOARD_LAYER_SHAPE, board_name="simulation",
                         out_dir=None):
    """Build firmware/board/main.c for ``config`` with the demo layer; a FirmwareImage."""
    layer, expected = board_layer(seed, shape)
    name = "board_soc"
    tag = f"board-{board_name}-{config.name}-{'x'.join(map(str, shape))}-s{seed}"
    out_dir = Path(out_dir) if out_dir else ROOT / "build" / "firmware" / tag
    return build_layer_firmware(config, layer, expected, name=name, out_dir=out_dir,
                                clocks_per_bit=clocks_per_bit, imem_words=imem_words,
                                dmem_words=dmem_words, sources=BOARD_SOURCES,
                                defines={"BOARD_NAME": f'"{board_name}"'})


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m firmware.board_image", description=__doc__.split("\n\n")[0])
    p.add_argument("--board", default="icebreaker")
    p.add_argument("--seed", type=int, default=BOARD_LAYER_SEED)
    args = p.parse_args(argv)
    from boards.boards import get_board
    board = get_board(args.board)
    imem_words, dmem_words = board.soc.imem_words, board.soc.dmem_words
    image = build_board_firmware(board.engine_config, clocks_per_bit=board.soc.clocks_per_bit,
                                 imem_words=imem_words,
                                 dmem_words=dmem_words, seed=args.seed, board_name=board.name)
    print(f"{image.elf}: IMEM {4 * len(image.imem)} of {4 * imem_words} bytes, "
          f"DMEM {4 * len(image.dmem)} of {4 * dmem_words} bytes (initialised part; + .bss and stack)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

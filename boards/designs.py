"""The designs ``python -m boards.synth --design NAME`` can put on a board.

Each entry maps a name to a :class:`Design`: a factory ``(config, board) -> wiring.Component`` and
the configuration it uses when the command line gives none. The board flow only needs a component
with a signature (BoardTop drives its inputs and observes its outputs).

    soc           (default) the whole SoC as a board application (boards/soc_top.py): RV32I core,
                  the board's engine on the CFU port, UART TX 115200 8N1, LEDs, and the demo
                  firmware (firmware/board/main.c, one conv layer on the accelerator and in C) in
                  the RAM initialisation; config = the board's engine_config
    soc-8x8       the same with an 8x8 MAC tile (the ECP5's second target)
    engine        the conv engine (the accelerator) with the board's primitives and configuration:
                  iCE40 -> ConvEngine with ICE40_SOC.impl (SB_MAC16 dual 8x8 products, SPRAM activations,
                  boards.boards.ICE40_ENGINE_CONFIG); ECP5 -> ConvEngine with the default config
    tile          rows x cols MAC tile with the board's product array (iCE40: 8 SB_MAC16 in dual
                  8x8 mode for 4x4; ECP5: the synthesis tool's multipliers, MULT18X18D)
    tile-generic  the tile with the generic ProductArray everywhere (the synthesis tool picks; on
                  iCE40 Yosys uses one SB_MAC16 per product in 16x16 mode, or LUTs)

The engine's parts on their own, with the board's engine configuration, to measure each one's
size and critical path in isolation (the whole engine's timing report names only its single worst
path): ``sequencer``, ``line-buffer``, ``output-stage`` (with its requantizer), ``requantizer``
(pipelined 4 x 16x16 multiplier) and ``requantizer-serial4`` (``mul_cycles=4``, the digit-serial
multiplier meant for iCE40).
"""

import dataclasses
from dataclasses import dataclass
from typing import Callable

from hw.conv_engine import ConvEngine, product_array_for
from hw.conv_sequencer import ConvSequencer
from hw.line_buffer import LineBuffer
from hw.mac_tile import MacTile
from hw.output_stage import OutputStage
from hw.requantizer import Requantizer
from spec.config import AcceleratorConfig

from .soc_top import make_soc_top

__all__ = ["DESIGNS", "DEFAULT_DESIGN", "Design", "design_factory", "make_design", "default_config"]


@dataclass(frozen=True)
class Design:
    factory: Callable          # (config, board) -> wiring.Component
    default_config: Callable   # board -> AcceleratorConfig
    summary: str = ""
    # A board application (its own pins, clock and reset), synthesized as it is; every other
    # design is closed by boards.top.BoardTop (LFSR inputs, XOR-reduced outputs).
    board_top: bool = False


def _with_tile(config, rows, cols):
    return AcceleratorConfig.from_dict({**config.as_dict(), "rows": rows, "cols": cols})


DESIGNS = {
    "soc": Design(
        factory=lambda config, board: make_soc_top(board, dataclasses.replace(board.soc, engine=config)),
        default_config=lambda board: board.engine_config,
        summary="the SoC: RV32I + accelerator + UART + LEDs, demo firmware in RAM", board_top=True),
    "soc-8x8": Design(
        factory=lambda config, board: make_soc_top(board, dataclasses.replace(board.soc, engine=config)),
        default_config=lambda board: _with_tile(board.engine_config, 8, 8),
        summary="the SoC with an 8x8 MAC tile", board_top=True),
    "engine": Design(
        factory=lambda config, board: ConvEngine(config, board.soc.impl),
        default_config=lambda board: board.engine_config,
        summary="the conv engine with the board's primitives and memory budget"),
    "tile": Design(
        factory=lambda config, board: MacTile(config, product_array_for(board.soc.impl)),
        default_config=lambda board: AcceleratorConfig(),
        summary="the MAC tile with the board's product array"),
    "tile-generic": Design(
        factory=lambda config, board: MacTile(config),
        default_config=lambda board: AcceleratorConfig(),
        summary="the MAC tile with the generic ProductArray (the synthesis tool picks multipliers)"),
}


def _part(summary, factory):
    return Design(factory=lambda config, board: factory(config),
                  default_config=lambda board: board.engine_config, summary=summary)


DESIGNS.update({
    "sequencer": _part("the engine's loop-nest sequencer",
                       lambda c: ConvSequencer(c, LineBuffer(c).addr_width)),
    "line-buffer": _part("the engine's line buffer", LineBuffer),
    "output-stage": _part("the engine's output stage (requantizer, pooling)", OutputStage),
    "requantizer": _part("the requantizer, pipelined multiplier", Requantizer),
    "requantizer-serial4": _part("the requantizer, digit-serial multiplier (mul_cycles=4)",
                                 lambda c: Requantizer(c, mul_cycles=4)),
})

DEFAULT_DESIGN = "soc"


def design_factory(name: str):
    """The :class:`Design` called ``name``; unknown names raise ValueError listing the choices."""
    if name not in DESIGNS:
        raise ValueError(f"design = {name!r} is not supported: must be one of {', '.join(DESIGNS)}")
    return DESIGNS[name]


def default_config(name: str, board) -> AcceleratorConfig:
    """The configuration design ``name`` uses on ``board`` unless told otherwise."""
    return design_factory(name).default_config(board)


def make_design(name: str, config: AcceleratorConfig, board=None):
    """Instantiate design ``name`` for ``config`` on ``board`` (a boards.boards.Board; default the
    ULX3S-85F, whose primitives are the generic ones)."""
    design = design_factory(name)
    if board is None:
        from .boards import BOARDS
        board = BOARDS["ulx3s-85f"]
    return design.factory(config, board)

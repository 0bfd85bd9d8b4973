"""The designs ``python -m boards.synth --design NAME`` can put on a board.

Each entry maps a name to a factory ``AcceleratorConfig -> wiring.Component``. The board flow only
needs a component with a signature (BoardTop drives its inputs and observes its outputs), so the
conv engine and the SoC plug in here later with one line each.
"""

from hw.config import AcceleratorConfig
from hw.mac_tile import MacTile

__all__ = ["DESIGNS", "make_design"]

DESIGNS = {
    # rows x cols MAC tile with the generic ProductArray (the synthesis tool picks the multipliers).
    "tile": lambda config: MacTile(config),
}


def make_design(name: str, config: AcceleratorConfig):
    """Instantiate design ``name`` for ``config``; unknown names raise ValueError."""
    if name not in DESIGNS:
        raise ValueError(f"design = {name!r} is not supported: must be one of {', '.join(DESIGNS)}")
    return DESIGNS[name](config)

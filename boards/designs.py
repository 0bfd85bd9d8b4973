"""The designs ``python -m boards.synth --design NAME`` can put on a board.

Each entry maps a name to a factory ``AcceleratorConfig -> wiring.Component``. The board flow only
needs a component with a signature (BoardTop drives its inputs and observes its outputs), so the
conv engine and the SoC plug in here later with one line each.
"""

from hw.config import AcceleratorConfig
from hw.mac_tile import MacTile

__all__ = ["DESIGNS", "design_factory", "make_design"]

DESIGNS = {
    # rows x cols MAC tile with the generic ProductArray (the synthesis tool picks the multipliers).
    "tile": lambda config: MacTile(config),
}


def design_factory(name: str):
    """The factory of design ``name``; unknown names raise ValueError listing the choices."""
    if name not in DESIGNS:
        raise ValueError(f"design = {name!r} is not supported: must be one of {', '.join(DESIGNS)}")
    return DESIGNS[name]


def make_design(name: str, config: AcceleratorConfig):
    """Instantiate design ``name`` for ``config``."""
    return design_factory(name)(config)

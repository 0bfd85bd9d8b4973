"""The conv sequencer: turns a conv layer into a stream of MAC tile beats, one per cycle.

The tile is output stationary: its ``rows`` lanes are ``rows`` consecutive output pixels in raster
order (flattened p = e * F + f, so a block may wrap from one output row to the next and no lane is
wasted when F is not a multiple of rows), its ``cols`` columns are ``cols`` output channels. The
beats follow the loop nest written out in hw/sequencer_parts.py (``LoopNest``): per block of
output pixels and output channel group, every (r, s, c) tap in that order, lane i reading input
pixel I[U*e_i + r - pad_top][U*f_i + s - pad_left][c_base + c]. Out-of-image taps read the input
zero point (equivalent to TFLite's "skip the tap" once the driver folds -input_zp * sum(W) into the
bias). Everything per lane is kept incrementally (no multiplier in the loop, ``RasterWalk``).

Two variants with the same ports (``SequencerSignature``), chosen by ``AcceleratorConfig.sequencer``
through :func:`sequencer_for`:

* ``Sequencer.LOOKAHEAD`` (default), hw/lookahead_sequencer.py: a second lane set steps to the next
  block while a block's beats are issued, so blocks follow each other without a gap.
* ``Sequencer.COMPACT`` (iCE40UP5K, docs/up5k.md), hw/compact_sequencer.py: one lane set filled by a
  single stepping cursor after each block (spec.latency.SMALL_GAP cycles between blocks);
  smaller, with no operand register stage of its own.
"""

from spec.config import AcceleratorConfig, Sequencer

from .compact_sequencer import CompactSequencer
from .lookahead_sequencer import LookaheadSequencer
from .sequencer_parts import SequencerSignature, block_info_layout, layer_shape_layout

__all__ = ["SEQUENCERS", "SequencerSignature", "block_info_layout", "layer_shape_layout",
           "sequencer_for"]

# The sequencer component of each ``Sequencer`` choice.
SEQUENCERS = {
    Sequencer.LOOKAHEAD: LookaheadSequencer,
    Sequencer.COMPACT: CompactSequencer,
}


def sequencer_for(config: AcceleratorConfig):
    """The sequencer class ``config.sequencer`` asks for; build it as ``cls(config, lb_addr_width)``."""
    return SEQUENCERS[config.sequencer]

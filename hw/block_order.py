"""The block order interface: which output pixel and channels the element being written belongs to.

A writer serialises tile blocks (hw/block_serializer.py) in the sequencer's block order:

    for p0 in range(0, E * F, rows):                 # pixel blocks, raster order
        for m0 in range(0, M, cols):                 # channel groups
            for i in range(rows):                    # lane = output pixel p0 + i = (e, f)
                for j in range(cols):                # channel m0 + j

A block order source tells it, for the lane being serialised, the pixel (e, f), its offsets
(pm = p * M, and for 2x2 pooling qrm = (e // 2) * (F // 2) * M, qcm = (f // 2) * M), whether the
lane holds a real pixel, and the block's first channel m0. Two sources share this interface:

* hw/block_info_order.py ``BlockInfoOrder``: the sequencer's per-block lane offsets, which travel
  with the block through the serializer (``info``);
* hw/raster_order.py ``RasterOrder``: the writer walks the same raster order itself from
  ``start``, one lane step per serialised lane (no block info, no multiplier).
"""

from amaranth.hdl import unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig

__all__ = ["lane_layout", "BlockOrderSignature"]


def lane_layout(size_width, offset_width):
    """The lane being serialised: pixel (e, f), offsets pm, qrm, qcm and ``valid`` (a real pixel)."""
    return data.StructLayout({"e": size_width, "f": size_width, "pm": offset_width,
                              "qrm": offset_width, "qcm": offset_width, "valid": 1})


class BlockOrderSignature(wiring.Signature):
    """Ports of a block order source (directions as seen by the source).

    Members
    -------
    start : In(1)              pulse: a layer starts
    M, E, F : In               layer registers (constant while a layer runs)
    info : In(info_layout)     the info held with the block being serialised
    index : In                 the lane being serialised (i)
    lane_next : In(1)          the lane's last element moves on (also at a block's end)
    block_next : In(1)         the block's last element moves on
    lane : Out(lane_layout)    the lane being serialised
    m0 : Out                   the block's first output channel
    """

    def __init__(self, config: AcceleratorConfig, lane, info_layout):
        size = config.max_size.bit_length() + 1
        chan = config.max_channels.bit_length() + 1
        super().__init__({
            "start": In(1),
            "M": In(chan), "E": In(size), "F": In(size),
            "info": In(info_layout),
            "index": In(range(config.rows)),
            "lane_next": In(1),
            "block_next": In(1),
            "lane": Out(lane),
            "m0": Out(unsigned(chan)),
        })

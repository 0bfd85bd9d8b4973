"""BlockInfoOrder: the block order from the sequencer's per-block lane offsets.

The sequencer keeps every lane's pixel and offsets incrementally and sends them with each block
(``block_info_layout``, through the engine's block-info FIFO). They travel with the block through
the serializer (its ``info``), and this source selects the lane being serialised from them. It
keeps no state: ``start``, ``M``, ``E``, ``F``, ``lane_next`` and ``block_next`` are unused.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring

from spec.config import AcceleratorConfig

from .block_order import BlockOrderSignature, lane_layout
from .conv_sequencer import block_info_layout

__all__ = ["BlockInfoOrder"]


class BlockInfoOrder(wiring.Component):
    """Block order source reading the sequencer's block info (see the module docstring).

    Members: :class:`hw.block_order.BlockOrderSignature` with ``info`` = ``block_info_layout``.
    """

    def __init__(self, config: AcceleratorConfig):
        self._config = config
        info = block_info_layout(config)
        size = info["e"].shape.elem_shape
        offset = info["pm"].shape.elem_shape
        super().__init__(BlockOrderSignature(config, lane_layout(size, offset), self.info_layout))

    @property
    def info_layout(self):
        """The sequencer's block info travels with each block."""
        return block_info_layout(self._config)

    def elaborate(self, platform):
        m = Module()
        info, i = self.info, self.index

        def lane_field(field):
            return field.as_value().word_select(i, len(field[0]))

        m.d.comb += [
            self.lane.e.eq(lane_field(info.e)),
            self.lane.f.eq(lane_field(info.f)),
            self.lane.pm.eq(lane_field(info.pm)),
            self.lane.qrm.eq(lane_field(info.qrm)),
            self.lane.qcm.eq(lane_field(info.qcm)),
            self.lane.valid.eq(info.lane_valid.bit_select(i, 1)),
            self.m0.eq(info.m0),
        ]
        return m

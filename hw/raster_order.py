"""RasterOrder: the block order walked by the writer itself (no block info from the sequencer).

From ``start`` it follows the sequencer's block order (hw/block_order.py): ``base`` is lane 0 of
the block held (or next), ``lane`` the lane being serialised. Each serialised lane steps ``lane``
one output pixel further in raster order; at a block's end either the next channel group of the
same pixels starts (``lane`` back to ``base``, m0 + cols) or, after the last channel group, the
next pixel block (``base`` = ``lane`` = one pixel past the block's last lane, m0 = 0). The offsets
are kept incrementally, so there is no multiplier:

    f + 1 == F ? (e + 1, 0) : (e, f + 1)                         # raster step
    pm  += M                                                     # p * M
    qcm  = f + 1 == F ? 0 : qcm + (f odd ? M : 0)                # (f // 2) * M
    qrm += f + 1 == F and e odd ? (F // 2) * M : 0               # (e // 2) * (F // 2) * M

At a row end f = F - 1, so (F // 2) * M = qcm + (M if F is even else 0). A lane is valid while
e < E. The offsets wrap at their width (a writer may rely on it, see hw/raw_writer.py).
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, wiring

from spec.config import AcceleratorConfig

from .block_order import BlockOrderSignature, lane_layout

__all__ = ["RasterOrder"]


class RasterOrder(wiring.Component):
    """Block order source that walks the raster order (see the module docstring).

    Parameters
    ----------
    config : AcceleratorConfig
        Tile geometry and register widths.
    size_width, offset_width : int
        Widths of the lane's e, f and of its offsets pm, qrm, qcm.

    Members: :class:`hw.block_order.BlockOrderSignature` with an empty ``info``.
    """

    def __init__(self, config: AcceleratorConfig, size_width, offset_width):
        self._config = config
        self._lane = lane_layout(size_width, offset_width)
        super().__init__(BlockOrderSignature(config, self._lane, self.info_layout))

    @property
    def info_layout(self):
        """Nothing travels with the blocks."""
        return data.StructLayout({})

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        walk = data.StructLayout({k: v.shape for k, v in self._lane if k != "valid"})
        base = Signal(walk)
        lane = Signal(walk)
        m0 = Signal.like(self.m0)
        stepped = Signal(walk)                       # ``lane`` one output pixel further
        wrap = lane.f + 1 == self.F
        half_f_m = lane.qcm + Mux(self.F[0], 0, self.M)
        m.d.comb += [
            stepped.e.eq(Mux(wrap, lane.e + 1, lane.e)),
            stepped.f.eq(Mux(wrap, 0, lane.f + 1)),
            stepped.pm.eq(lane.pm + self.M),
            stepped.qcm.eq(Mux(wrap, 0, lane.qcm + Mux(lane.f[0], self.M, 0))),
            stepped.qrm.eq(Mux(wrap, lane.qrm + Mux(lane.e[0], half_f_m, 0), lane.qrm)),
        ]
        with m.If(self.start):
            m.d.sync += [base.eq(0), lane.eq(0), m0.eq(0)]
        with m.Elif(self.block_next):
            with m.If(m0 + cfg.cols >= self.M):      # next pixel block, first channel group
                m.d.sync += [base.eq(stepped), lane.eq(stepped), m0.eq(0)]
            with m.Else():                           # same pixels, next channel group
                m.d.sync += [lane.eq(base), m0.eq(m0 + cfg.cols)]
        with m.Elif(self.lane_next):
            m.d.sync += lane.eq(stepped)
        m.d.comb += [
            self.lane.e.eq(lane.e), self.lane.f.eq(lane.f), self.lane.pm.eq(lane.pm),
            self.lane.qrm.eq(lane.qrm), self.lane.qcm.eq(lane.qcm),
            self.lane.valid.eq(lane.e < self.E),
            self.m0.eq(m0),
        ]
        return m

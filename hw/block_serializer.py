"""BlockSerializer: a finished tile block -> one element per cycle, for the output writers.

A block holds rows x cols accumulators (lane i = output pixel p0 + i, column j = output channel
m0 + j). The serializer walks it lane-major, column-minor, one element per transfer on ``o``:

    for i in range(rows):                    # lane = output pixel p0 + i
        for j in range(cols):                # column = output channel m0 + j
            o <- (lane i, col j, acc[i][j])

``o.valid`` is high while a block is held; ``o.ready`` is the consumer's back-pressure (a writer
whose requantizer is busy holds it low and the walk stalls). With ``o.ready`` always high a block
takes exactly rows * cols cycles.

How the block is held is the serializer's one variant, chosen by ``copy``:

* ``copy = True``: the block (and its ``info``) is copied into registers when it is taken, so the
  tile computes the next block meanwhile. A new block is taken in the cycle the held one's last
  element moves on (no gap). ``i.ready`` comes from a register (``room``), one AND away from the
  flip-flops, because it gates the whole sequencer/tile pipeline.
* ``copy = False``: the serializer reads the tile's output register and the info in place and
  acknowledges both (``i.ready``) with the block's last element; the tile waits meanwhile.

``info`` is whatever travels with each block (the sequencer's block info, or nothing: an empty
layout); it is held like the block and shown on the ``info`` output.
"""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig

from .mac_tile import tile_result_layout

__all__ = ["BlockSerializer", "serializer_in_layout", "element_layout"]


def serializer_in_layout(config: AcceleratorConfig, info_layout):
    """Payload of the serializer's input: the tile's block and the info travelling with it."""
    return data.StructLayout({"block": tile_result_layout(config), "info": info_layout})


def element_layout(config: AcceleratorConfig):
    """Payload of one serialised element."""
    return data.StructLayout({
        "lane": range(config.rows),          # i: output pixel p0 + i
        "col": range(config.cols),           # j: output channel m0 + j
        "acc": signed(config.acc_width),     # the block's acc[i][j]
        "lane_last": 1,                      # j == cols - 1
        "block_last": 1,                     # i == rows - 1 and j == cols - 1
    })


class BlockSerializer(wiring.Component):
    """Walks each tile block one element per transfer (see the module docstring).

    Parameters
    ----------
    config : AcceleratorConfig
        Tile geometry (rows, cols, acc_width).
    info_layout : data.Layout
        What travels with each block (an empty ``data.StructLayout({})`` for nothing).
    copy : bool
        Copy the block into registers (True) or read it in place from the tile (False).

    Members
    -------
    i : In(stream)      blocks with their info (``serializer_in_layout``)
    o : Out(stream)     elements (``element_layout``); ``o.ready`` low stalls the walk
    info : Out          the held block's info (valid while ``o.valid``)
    """

    def __init__(self, config: AcceleratorConfig, info_layout, copy: bool):
        if not isinstance(copy, bool):
            raise ValueError(f"copy = {copy!r} is not allowed: must be True or False")
        self._config = config
        self._copy = copy
        super().__init__({
            "i": In(stream.Signature(serializer_in_layout(config, info_layout))),
            "o": Out(stream.Signature(element_layout(config))),
            "info": Out(info_layout),
        })

    @property
    def copy(self):
        return self._copy

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        i = Signal(range(cfg.rows))
        j = Signal(range(cfg.cols))
        at_end = (i == cfg.rows - 1) & (j == cfg.cols - 1)
        step = self.o.valid & self.o.ready                  # the element moves on
        last = step & at_end                                # ... and it was the block's last
        hold = self._hold_copy if self._copy else self._hold_in_place
        payload = hold(m, step, last, i, j)

        with m.If(self.i.ready | last):
            m.d.sync += [i.eq(0), j.eq(0)]
        with m.Elif(step):
            with m.If(j == cfg.cols - 1):
                m.d.sync += [j.eq(0), i.eq(i + 1)]
            with m.Else():
                m.d.sync += j.eq(j + 1)

        # The rows*cols : 1 element select as a case statement (smaller on iCE40 than
        # word_select's shift network).
        with m.Switch(i * cfg.cols + j):
            for k in range(cfg.rows * cfg.cols):
                with m.Case(k):
                    m.d.comb += self.o.payload.acc.eq(payload.block[k // cfg.cols][k % cfg.cols])
        m.d.comb += [
            self.o.payload.lane.eq(i),
            self.o.payload.col.eq(j),
            self.o.payload.lane_last.eq(j == cfg.cols - 1),
            self.o.payload.block_last.eq(at_end),
            self.info.eq(payload.info),
        ]
        return m

    def _hold_copy(self, m, step, last, i, j):
        """The block and its info are copied when taken; ``room`` = ~held | at_end, registered
        (from the next values of held, i and j) so that ``i.ready`` is one AND from flip-flops."""
        cfg = self._config
        held = self.o.valid
        payload = Signal.like(self.i.payload)
        room = Signal(init=1)
        n = cfg.rows * cfg.cols
        # the next element is the block's last (flat index n - 2)
        before_end = (i == (n - 2) // cfg.cols) & (j == (n - 2) % cfg.cols) if n >= 2 else 0
        m.d.comb += self.i.ready.eq(self.i.valid & room & (~held | self.o.ready))
        with m.If(self.i.ready):
            m.d.sync += [held.eq(1), payload.eq(self.i.payload), room.eq(n == 1)]
        with m.Elif(last):
            m.d.sync += [held.eq(0), room.eq(1)]
        with m.Elif(step):
            m.d.sync += room.eq(before_end)
        return payload

    def _hold_in_place(self, m, step, last, i, j):
        """The tile's block and its info are read in place and acknowledged with the last element."""
        m.d.comb += [self.o.valid.eq(self.i.valid), self.i.ready.eq(last)]
        return self.i.payload

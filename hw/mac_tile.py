"""MacTile: a rows x cols int8 x int8 -> int32 multiply-accumulate tile (default 4x4 = 16 MACs/cycle).

Dataflow: output stationary, outer product. Each accumulator holds one output value O[e][f+i][m+j]
(pixel i of a run of ``rows`` output pixels along F, output channel j of a group of ``cols`` filters)
while the reduction over C, R, S streams through in time, one (r, s, c) tap per beat:

    for each output block (rows pixels x cols channels):          # one accumulation, first..last
        for t in range(C * R * S):                                  # one beat per (r, s, c) tap
            for i in range(rows):                                   # in parallel
                for j in range(cols):                               # in parallel
                    acc[i][j] += act[t][i] * weight[t][j]

A beat carries ``act[rows]`` (the input pixels that tap (r, s, c) reads for each of the rows
output pixels) and ``weight[cols]`` (W[m+j][r][s][c]). ``first`` starts a new accumulation in
that very beat (acc = product, no bubble); ``last`` hands the finished block downstream on ``o``.

Pipeline (3 stages, all stalled together while a finished block waits on ``o``):
  stage 1: operand registers; stage 2: products (the replaceable ProductArray);
  stage 3: accumulators, which are also the output (valid after ``last`` until taken).
Input gaps (``i.valid`` low) are bubbles that leave the accumulators untouched.
"""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig
from spec.latency import PRODUCT_LATENCY, TILE_LATENCY

from .products import ProductArray

__all__ = ["MacTile", "tile_beat_layout", "tile_result_layout"]


def tile_beat_layout(config: AcceleratorConfig):
    """Payload of one input beat: one (r, s, c) tap for all rows x cols accumulators."""
    return data.StructLayout({
        "act": data.ArrayLayout(signed(config.act_width), config.rows),
        "weight": data.ArrayLayout(signed(config.weight_width), config.cols),
        "first": 1,   # this beat starts a new accumulation
        "last": 1,    # this beat ends it: the block is handed to ``o`` afterwards
    })


def tile_result_layout(config: AcceleratorConfig):
    """Payload of one finished block: result[i][j] for pixel i, output channel j."""
    return data.ArrayLayout(data.ArrayLayout(signed(config.acc_width), config.cols), config.rows)


class MacTile(wiring.Component):
    """rows x cols MAC tile with stream input (beats) and stream output (finished blocks).

    Parameters
    ----------
    config : AcceleratorConfig
        Tile shape and widths.
    product_array : callable, optional
        Factory ``config -> component`` with the :class:`ProductArray` signature and a one-cycle
        latency. Defaults to the generic :class:`ProductArray`; FPGA builds may pass a DSP version.

    Members
    -------
    i : In(stream.Signature(tile_beat_layout(config)))
    o : Out(stream.Signature(tile_result_layout(config)))
    """

    LATENCY = TILE_LATENCY  # cycles from an accepted ``last`` beat to ``o.valid`` (spec/latency.py)

    def __init__(self, config: AcceleratorConfig = AcceleratorConfig(), product_array=ProductArray):
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        self._config = config
        self._product_array = product_array
        super().__init__({
            "i": In(stream.Signature(tile_beat_layout(config))),
            "o": Out(stream.Signature(tile_result_layout(config))),
        })

    @property
    def config(self):
        return self._config

    @property
    def product_array(self):
        """The product array component class the tile instantiates."""
        return self._product_array

    def elaborate(self, platform):
        m = Module()
        cfg = self._config

        m.submodules.products = products = self._product_array(cfg)
        if getattr(products, "LATENCY", PRODUCT_LATENCY) != PRODUCT_LATENCY:
            raise ValueError(f"product_array latency = {products.LATENCY!r}, the tile needs "
                             f"{PRODUCT_LATENCY} (spec/latency.py PRODUCT_LATENCY)")

        # The whole pipeline advances unless a finished block is waiting on a stalled output.
        advance = Signal()
        m.d.comb += [
            advance.eq(~self.o.valid | self.o.ready),
            self.i.ready.eq(advance),
            products.en.eq(advance),
        ]

        # Stage 1: operand registers.
        s1_valid = Signal()
        s1_first = Signal()
        s1_last = Signal()
        s1_act = Signal(data.ArrayLayout(signed(cfg.act_width), cfg.rows))
        s1_weight = Signal(data.ArrayLayout(signed(cfg.weight_width), cfg.cols))
        # Stage 2: products (inside ProductArray) and their control bits.
        s2_valid = Signal()
        s2_first = Signal()
        s2_last = Signal()
        # Stage 3: accumulators.
        acc = Signal(tile_result_layout(cfg))

        with m.If(advance):
            m.d.sync += [
                s1_valid.eq(self.i.valid),
                s1_first.eq(self.i.payload.first),
                s1_last.eq(self.i.payload.last),
                s1_act.eq(self.i.payload.act),
                s1_weight.eq(self.i.payload.weight),
                s2_valid.eq(s1_valid),
                s2_first.eq(s1_first),
                s2_last.eq(s1_last),
            ]
        m.d.comb += [
            products.act.eq(s1_act),
            products.weight.eq(s1_weight),
        ]

        # acc_next = product (first beat) or acc + product; it wraps at acc_width like int32.
        acc_next = Signal(tile_result_layout(cfg))
        for i in range(cfg.rows):
            for j in range(cfg.cols):
                with m.If(s2_first):
                    m.d.comb += acc_next[i][j].eq(products.product[i][j])
                with m.Else():
                    m.d.comb += acc_next[i][j].eq(acc[i][j] + products.product[i][j])

        # The finished block is the accumulators themselves: o.valid is set in the same edge that
        # writes the block's last sums into ``acc``, and while o.valid is high the pipeline stands
        # still (or the block is being taken), so ``acc`` holds exactly the block; no separate
        # rows x cols x acc_width output register is needed.
        with m.If(advance):
            with m.If(s2_valid):
                m.d.sync += acc.eq(acc_next)
            m.d.sync += self.o.valid.eq(s2_valid & s2_last)
        m.d.comb += self.o.payload.eq(acc)

        return m

"""PoolWriter: requantised int8 elements -> output-memory byte writes, optionally 2x2 pooled.

Without pooling (``pool`` = POOL_NONE) every element is written at its ``tag.addr``. With pooling
(2x2 window, stride 2, VALID, as TFLite MAX_POOL_2D / AVERAGE_POOL_2D), element (e, f, m) is
combined into the row-buffer entry ``tag.idx`` = (f // 2) * M + m: the window's first element
(``tag.first``: e and f even, first in raster order) starts it, the others update it with max or
add, and the last (``tag.final``: e and f odd) writes the pooled value to ``tag.addr`` =
((e // 2) * (F // 2) + f // 2) * M + m. Average pooling rounds sum / 4 half away from zero, as the
TFLite reference does, and clamps it to [act_min, act_max]. The writer that feeds it drops pixels
of an odd last row or column (VALID) before the requantizer.

Pipeline (``POOL_STAGES`` = 5 cycles from an element on the inputs to its output-memory write):

    P0  the element on the inputs: row-buffer read address
    P1  value and tag registered; the row-buffer word arrives (BRAM clock-to-out only)
    P2  the row-buffer word registered (no logic behind the BRAM output)
    P3  combined = first ? value : max(value, word) or value + word; written back
    P4  average (round half away from zero)
    P5  clamp of the average, output-memory write registers

Contract: two elements sharing a row-buffer entry (same channel, adjacent columns of one window)
arrive at least 3 cycles apart, so an element's write-back (P3) is at the latest in the cycle its
partner reads (P0, transparent read).
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

import spec.latency as spec_latency
from spec.config import AcceleratorConfig
from spec.registers import POOL_AVG, POOL_MAX, POOL_NONE

__all__ = ["PoolWriter", "pool_tag_layout", "POOL_STAGES"]

# Register stages (P1..P5) from an element on the inputs to its output-memory write.
POOL_STAGES = spec_latency.POOL_STAGES   # P1..P5 below (spec/latency.py)


def pool_tag_layout(config: AcceleratorConfig):
    """Where an element goes: output address, row-buffer entry, window position, inside the pool."""
    return data.StructLayout({
        "addr": max(1, (config.out_mem_bytes - 1).bit_length()),   # output byte address
        "idx": max(1, (config.pool_buf_words - 1).bit_length()),   # row-buffer entry (pooling)
        "first": 1, "final": 1,                                    # first / last of its 2x2 window
        "keep": 1,                                                 # inside the pooled region
    })


class PoolWriter(wiring.Component):
    """2x2 max / average pooling row buffer and output-memory byte writer.

    Members
    -------
    valid : In(1)                   an element is on ``value`` / ``tag``
    value : In(signed(8))           the requantised element
    tag : In(pool_tag_layout)       its addresses and window position
    pool, act_min, act_max : In     layer registers (constant while a layer runs)
    out_addr, out_data, out_en : Out   output memory byte write (registered)
    busy : Out(1)                   an element is in P1..P5
    """

    def __init__(self, config: AcceleratorConfig):
        self._config = config
        self._tag = tag = pool_tag_layout(config)
        super().__init__({
            "valid": In(1), "value": In(signed(8)), "tag": In(tag),
            "pool": In(2), "act_min": In(signed(8)), "act_max": In(signed(8)),
            "out_addr": Out(tag["addr"].shape), "out_data": Out(signed(8)), "out_en": Out(1),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        tag = self._tag
        pooling = self.pool != POOL_NONE
        row_buf = memory.Memory(shape=signed(10), depth=self._config.pool_buf_words, init=[])
        m.submodules.row_buf = row_buf
        buf_w = row_buf.write_port()
        buf_r = row_buf.read_port(transparent_for=(buf_w,))
        m.d.comb += [buf_r.addr.eq(self.tag.idx), buf_r.en.eq(1)]

        p1_valid = Signal()
        p1_value = Signal(signed(8))
        p1_tag = Signal(tag)
        m.d.sync += [p1_valid.eq(self.valid), p1_value.eq(self.value), p1_tag.eq(self.tag)]

        p2_valid = Signal()
        p2_value = Signal(signed(8))
        p2_tag = Signal(tag)
        p2_word = Signal(signed(10))
        m.d.sync += [p2_valid.eq(p1_valid), p2_value.eq(p1_value), p2_tag.eq(p1_tag),
                     p2_word.eq(buf_r.data)]

        p3_valid = Signal()
        p3_value = Signal(signed(8))
        p3_tag = Signal(tag)
        p3_combined = Signal(signed(10))
        m.d.sync += [p3_valid.eq(p2_valid), p3_value.eq(p2_value), p3_tag.eq(p2_tag)]
        with m.If(p2_tag.first):
            m.d.sync += p3_combined.eq(p2_value)
        with m.Elif(self.pool == POOL_MAX):
            m.d.sync += p3_combined.eq(Mux(p2_value > p2_word, p2_value, p2_word))
        with m.Else():
            m.d.sync += p3_combined.eq(p2_word + p2_value)
        m.d.comb += [
            buf_w.addr.eq(p3_tag.idx),
            buf_w.data.eq(p3_combined),
            buf_w.en.eq(p3_valid & pooling),
        ]

        # P4: average of 4: (sum +- 2) / 4 truncated toward zero = round half away from zero.
        p4_valid = Signal()
        p4_tag = Signal(tag)
        p4_value = Signal(signed(10))       # the element (no pooling), max, or average
        m.d.sync += [p4_valid.eq(p3_valid), p4_tag.eq(p3_tag)]
        with m.If(~pooling):
            m.d.sync += p4_value.eq(p3_value)
        with m.Elif(self.pool == POOL_AVG):
            m.d.sync += p4_value.eq(Mux(p3_combined >= 0, (p3_combined + 2) >> 2,
                                        -((2 - p3_combined) >> 2)))
        with m.Else():
            m.d.sync += p4_value.eq(p3_combined)

        # P5: the average clamped (max and plain elements are already in range), output write.
        p5_valid = Signal()
        m.d.sync += [
            p5_valid.eq(p4_valid),
            self.out_addr.eq(p4_tag.addr),
            self.out_en.eq(p4_valid & (~pooling | p4_tag.final)),
            self.out_data.eq(Mux(self.pool == POOL_AVG,
                                 Mux(p4_value < self.act_min, self.act_min,
                                     Mux(p4_value > self.act_max, self.act_max, p4_value)),
                                 p4_value)),
        ]
        m.d.comb += self.busy.eq(p1_valid | p2_valid | p3_valid | p4_valid | p5_valid)
        return m

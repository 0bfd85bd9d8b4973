"""MaxPool2x2 / AvgPool2x2: streaming 2x2, stride 2 pooling of int8 rows, bit-exact with golden.pool.

Input order (one beat = one input pixel for a group of ``lanes`` channels, lanes = config.cols):

    for each channel group g (lanes channels, e.g. output channels m = g*cols .. g*cols + cols-1):
        for e in range(height):            # input row   (E of the conv that produced it)
            for f in range(width):         # input column (F of the conv)
                beat: x[e][f][g*lanes : (g+1)*lanes]

Output order: the same, on the pooled plane (for each group, for each output row, for each output
column, one beat of ``lanes`` values), ``last`` set on the final output beat of each plane.

``width`` / ``height`` (the input plane) and ``same`` (padding) are run-time inputs that must be
held stable while a plane streams; the component counts rows and columns itself, so groups follow
each other without any marker and the counters return to (0, 0) after every plane (and on reset).
Padding as TFLite: VALID drops an odd last row/column; SAME (pad only at the end for a 2x2/2 pool)
turns them into windows with fewer in-bounds taps (max over those taps; average divided by their
count, 1, 2 or 4). Output size: VALID floor(n/2), SAME ceil(n/2). ``width`` must be in
[1, max_width], ``height`` in [1, max_height].

How it works: a beat in an even column is held (``hold``); the beat in the odd column completes a
horizontal pair ``h = op(hold, x)`` (max, or sum for the average). In even rows ``h`` is written to
a line buffer of ceil(max_width / 2) entries (a memory: one previous row of horizontal pairs, per
lane ``act_width`` bits for max, ``act_width + 1`` for the sum); in odd rows the entry is read back,
combined with ``h``, rounded (average: (sum + count/2 - (sum < 0)) >> log2(count), which is TFLite's
half-away-from-zero division for a power-of-two count) and clamped to [act_min, act_max].
The line buffer read is issued when a beat is accepted (synchronous read port, transparent to the
write port), so its data is ready the cycle that beat's pair leaves the pair register.

Pipeline (3 registers, stalled together while the output waits: ``i.ready = ~o.valid | o.ready``):
    pair register    h = op(hold, x), its line-buffer slot and flags    (input -> pair)
    window register  op(line buffer, h), rounded for the average         (pair + line buffer -> window)
    output register  clamp to [act_min, act_max]                          (window -> o)
Latency: 3 cycles from accepting the beat that completes a window to ``o.valid``.
Throughput: one input beat per cycle (outputs appear on a quarter of them).
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .config import AcceleratorConfig, check_int

__all__ = ["MaxPool2x2", "AvgPool2x2", "Pool2x2", "pool_in_layout", "pool_out_layout"]


def pool_in_layout(config: AcceleratorConfig):
    """One input beat: one pixel of ``cols`` channels."""
    return data.ArrayLayout(signed(config.act_width), config.cols)


def pool_out_layout(config: AcceleratorConfig):
    """One output beat: one pooled pixel of ``cols`` channels, ``last`` on the plane's final beat."""
    return data.StructLayout({"data": data.ArrayLayout(signed(config.act_width), config.cols), "last": 1})


class Pool2x2(wiring.Component):
    """2x2 stride-2 pooling over a stream of pixels (base of :class:`MaxPool2x2`, :class:`AvgPool2x2`).

    Parameters
    ----------
    config : AcceleratorConfig, optional
        ``cols`` (lanes per beat) and ``act_width`` (value width; 8 for TFLite int8).
    max_width : int
        Largest input row length; sizes the line buffer (ceil(max_width / 2) entries).
    max_height : int
        Largest input plane height; sizes the row counter.

    Members
    -------
    i : In(stream.Signature(pool_in_layout(config)))
    o : Out(stream.Signature(pool_out_layout(config)))
    width : In(range(max_width + 1))      input plane width (F), held while a plane streams
    height : In(range(max_height + 1))    input plane height (E), held while a plane streams
    same : In(1)                          1 = SAME padding, 0 = VALID
    act_min, act_max : In(signed(act_width))  output clamp (fused activation)
    """

    MODE = None  # "max" or "avg" in the subclasses
    LATENCY = 3  # cycles from accepting the beat that completes a window to o.valid

    def __init__(self, config: AcceleratorConfig | None = None, *, max_width=256, max_height=256):
        if config is None:
            config = AcceleratorConfig()
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        if self.MODE not in ("max", "avg"):
            raise TypeError("use MaxPool2x2 or AvgPool2x2, not the Pool2x2 base class")
        check_int("max_width", max_width, 1, 1 << 16)
        check_int("max_height", max_height, 1, 1 << 16)
        self._config = config
        self._max_width = max_width
        self._max_height = max_height
        super().__init__({
            "i": In(stream.Signature(pool_in_layout(config))),
            "o": Out(stream.Signature(pool_out_layout(config))),
            "width": In(range(max_width + 1)),
            "height": In(range(max_height + 1)),
            "same": In(1),
            "act_min": In(signed(config.act_width), init=-(1 << (config.act_width - 1))),
            "act_max": In(signed(config.act_width), init=(1 << (config.act_width - 1)) - 1),
        })

    @property
    def config(self):
        return self._config

    @property
    def max_width(self):
        return self._max_width

    @property
    def max_height(self):
        return self._max_height

    @property
    def mode(self):
        return self.MODE

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        w, lanes = cfg.act_width, cfg.cols
        is_avg = self.MODE == "avg"
        pair_shape = signed(w + 1) if is_avg else signed(w)   # horizontal pair: sum or max
        pair_layout = data.ArrayLayout(pair_shape, lanes)
        slots = (self._max_width + 1) // 2

        advance = Signal()
        m.d.comb += [
            advance.eq(~self.o.valid | self.o.ready),
            self.i.ready.eq(advance),
        ]
        accept = Signal()
        m.d.comb += accept.eq(self.i.valid & advance)

        # Position of the incoming beat in the plane: f along the row, e down the rows.
        f = Signal(range(self._max_width + 1))
        e = Signal(range(self._max_height + 1))
        f_last = Signal()
        e_last = Signal()
        m.d.comb += [
            f_last.eq(f + 1 >= self.width),
            e_last.eq(e + 1 >= self.height),
        ]
        with m.If(accept):
            with m.If(f_last):
                m.d.sync += f.eq(0)
                m.d.sync += e.eq(Mux(e_last, 0, e + 1))
            with m.Else():
                m.d.sync += f.eq(f + 1)

        # Which window this beat belongs to, and whether it completes a pair / a window.
        odd_width = self.width[0]
        odd_height = self.height[0]
        lone_col = Signal()     # the last column of an odd-width SAME plane: a pair of one tap
        lone_row = Signal()     # the last row of an odd-height SAME plane: a window of one row
        pair_done = Signal()
        store = Signal()
        emit = Signal()
        last_out = Signal()
        out_rows = Mux(self.same, (self.height + 1) >> 1, self.height >> 1)
        out_cols = Mux(self.same, (self.width + 1) >> 1, self.width >> 1)
        m.d.comb += [
            lone_col.eq(self.same & odd_width & f_last),
            lone_row.eq(self.same & odd_height & e_last),
            pair_done.eq(f[0] | lone_col),
            store.eq(pair_done & ~e[0] & ~lone_row & ~(odd_height & e_last)),
            emit.eq(pair_done & (e[0] | lone_row)),
            last_out.eq(((e >> 1) == out_rows - 1) & ((f >> 1) == out_cols - 1)),
        ]

        # The line buffer: one previous row of horizontal pairs.
        m.submodules.line = line = memory.Memory(shape=pair_layout, depth=slots, init=[])
        wr = line.write_port()
        rd = line.read_port(transparent_for=(wr,))
        m.d.comb += [
            rd.addr.eq(f >> 1),
            rd.en.eq(advance),
        ]

        # Horizontal pair: hold the even-column beat; op(hold, x) on the odd one.
        hold = Signal(pool_in_layout(cfg))
        with m.If(accept & ~f[0]):
            m.d.sync += hold.eq(self.i.payload)
        h = Signal(pair_layout)
        for k in range(lanes):
            x, y = self.i.payload[k], hold[k]
            if is_avg:
                m.d.comb += h[k].eq(Mux(lone_col, x, x + y))
            else:
                m.d.comb += h[k].eq(Mux(lone_col | (x > y), x, y))

        # Pair register.
        p_valid = Signal()
        p_h = Signal(pair_layout)
        p_slot = Signal(range(slots))
        p_store = Signal()
        p_emit = Signal()
        p_lone_col = Signal()
        p_lone_row = Signal()
        p_last = Signal()
        with m.If(advance):
            m.d.sync += [
                p_valid.eq(self.i.valid & pair_done & (store | emit)),
                p_h.eq(h),
                p_slot.eq(f >> 1),
                p_store.eq(store),
                p_emit.eq(emit),
                p_lone_col.eq(lone_col),
                p_lone_row.eq(lone_row),
                p_last.eq(last_out),
            ]

        m.d.comb += [
            wr.addr.eq(p_slot),
            wr.data.eq(p_h),
            wr.en.eq(advance & p_valid & p_store),
        ]

        # Vertical combine and rounding (average) -> window register.
        win_valid = Signal()
        win_last = Signal()
        win = Signal(pool_in_layout(cfg))
        pooled = Signal(pool_in_layout(cfg))
        for k in range(lanes):
            above, here = rd.data[k], p_h[k]
            if is_avg:
                total = Signal(signed(w + 2), name=f"total{k}")
                m.d.comb += total.eq(Mux(p_lone_row, here, here + above))
                # count = (lone_col ? 1 : 2) * (lone_row ? 1 : 2) = 2^log2c
                log2c = Signal(range(3), name=f"log2c{k}")
                m.d.comb += log2c.eq((~p_lone_col).as_unsigned() + (~p_lone_row).as_unsigned())
                # (total + count/2 - (total < 0)) >> log2c, with a half bit so that count = 1 needs
                # no special case: floor((2 total + (1 - neg) + (count - 1)) / (2 count)).
                neg = total[-1]
                mask = Cat(log2c > 0, log2c > 1)
                m.d.comb += pooled[k].eq((Cat(~neg, total).as_signed() + mask) >> (log2c + 1))
            else:
                m.d.comb += pooled[k].eq(Mux(~p_lone_row & (above > here), above, here))
        with m.If(advance):
            m.d.sync += [
                win_valid.eq(p_valid & p_emit),
                win.eq(pooled),
                win_last.eq(p_last),
            ]

        # Clamp -> output register.
        result = Signal(pool_in_layout(cfg))
        for k in range(lanes):
            value = win[k]
            clamped = Mux(value > self.act_max, self.act_max, Mux(value < self.act_min, self.act_min, value))
            m.d.comb += result[k].eq(Mux(self.act_min > self.act_max, self.act_max, clamped))
        with m.If(advance):
            m.d.sync += [
                self.o.valid.eq(win_valid),
                self.o.payload.data.eq(result),
                self.o.payload.last.eq(win_last),
            ]

        return m


class MaxPool2x2(Pool2x2):
    """2x2 stride-2 MAX_POOL_2D (TFLite int8); see :class:`Pool2x2` and the module docstring."""
    MODE = "max"


class AvgPool2x2(Pool2x2):
    """2x2 stride-2 AVERAGE_POOL_2D (TFLite int8, half away from zero); see :class:`Pool2x2`."""
    MODE = "avg"

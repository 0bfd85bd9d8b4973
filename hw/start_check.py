"""START checks: the engine's verdict on a layer's registers when the host writes CTRL.start.

Two variants behind one interface (:func:`start_check_signature`), chosen by
``Implementation.registered_start_check``:

* :class:`CombinationalStartCheck`: the verdict on the registers as they are in the cycle of the
  CTRL write; the counters are zeroed by ``accept`` (``clear_counters``).
* :class:`RegisteredStartCheck`: the verdict on the registers as flip-flops one cycle behind them,
  so that START is decided by a few LUTs after the CTRL write instead of behind the range compares.
  Exact when START comes at least two cycles after the last register write, which ``row_bytes``
  (a register) has always required: the CnnCfu answers every command before it takes the next one,
  so it never issues them closer. The counters restart from ``start`` (a flip-flop, one cycle after
  ``accept``) with the values they would have had (``load_counters``): ``accept`` then only drives
  busy, done, error and ``start``, not the counter enables. The two differ only in the cycle after
  the CTRL write, when the CnnCfu reads STATUS, never CYCLES.

Members (both variants)
-------
shape_ok : In(1)        every size register in range, padding below the filter, POOL < 3
pool_bad : In(1)        POOL not supported by the output side (POOL_UNSUPPORTED)
row_bytes : In(32)      W * C
accept, start : In(1)   the accepted CTRL write and the datapath's start pulse one cycle later
bad : Out(1)            the layer is refused
code : Out(8)           its error code (BAD_SHAPE, then ROW_TOO_WIDE, then POOL_UNSUPPORTED)
clear_counters, load_counters : Out(1)   the counters' restart (hw/perf_counters.py)
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig
from spec.registers import ERROR_CODE

__all__ = ["start_check_signature", "CombinationalStartCheck", "RegisteredStartCheck"]


def start_check_signature():
    """The START check's ports, from the check's side."""
    return wiring.Signature({
        "shape_ok": In(1), "pool_bad": In(1), "row_bytes": In(32),
        "accept": In(1), "start": In(1),
        "bad": Out(1), "code": Out(8),
        "clear_counters": Out(1), "load_counters": Out(1),
    })


def _verdict(m, check, shape_bad, row_bad, pool_bad):
    m.d.comb += check.bad.eq(shape_bad | row_bad | pool_bad)
    with m.If(shape_bad):
        m.d.comb += check.code.eq(ERROR_CODE["BAD_SHAPE"])
    with m.Elif(row_bad):
        m.d.comb += check.code.eq(ERROR_CODE["ROW_TOO_WIDE"])
    with m.Elif(pool_bad):
        m.d.comb += check.code.eq(ERROR_CODE["POOL_UNSUPPORTED"])


class CombinationalStartCheck(wiring.Component):
    """The verdict on the registers in the cycle of the CTRL write (see the module docstring)."""

    def __init__(self, config: AcceleratorConfig):
        self._line_bytes = config.lb_line_bytes
        super().__init__(start_check_signature())

    def elaborate(self, platform):
        m = Module()
        rb = self.row_bytes
        row_bad = rb + Mux(rb[:2] != 0, 3, 0) > self._line_bytes      # ceil4(W * C) > line
        _verdict(m, self, ~self.shape_ok, row_bad, self.pool_bad)
        m.d.comb += self.clear_counters.eq(self.accept)
        return m


class RegisteredStartCheck(wiring.Component):
    """The verdict on the registers one cycle behind them (see the module docstring)."""

    def __init__(self, config: AcceleratorConfig):
        self._line_bytes = config.lb_line_bytes
        super().__init__(start_check_signature())

    def elaborate(self, platform):
        m = Module()
        shape_bad = Signal(init=1)            # the registers' reset values are not a layer
        pool_bad = Signal()
        m.d.sync += [shape_bad.eq(~self.shape_ok), pool_bad.eq(self.pool_bad)]
        # ceil4(row_bytes) > L is row_bytes > floor4(L): a compare with a constant.
        row_bad = self.row_bytes > (self._line_bytes & ~3)
        _verdict(m, self, shape_bad, row_bad, pool_bad)
        m.d.comb += self.load_counters.eq(self.start)
        return m

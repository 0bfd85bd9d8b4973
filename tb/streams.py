"""Cycle-level valid/ready stream drivers for cocotb, shared by every testbench.

A ``StreamSource`` offers payloads on ``<prefix>__valid/__payload`` and retires one when the DUT's
``__ready`` is high; a ``StreamSink`` accepts payloads with an optional random ``__ready`` pattern.
Both are stepped from one clock loop (``run_streams``): drive after the falling edge, sample the
settled values in ReadOnly, so a transfer is recorded exactly when valid & ready at the rising edge.
Payloads are packed/unpacked with the Amaranth layout of the port, never by hand-written offsets.
"""

from collections import deque

from cocotb.triggers import FallingEdge, ReadOnly

__all__ = ["StreamSource", "StreamSink", "run_streams"]


class StreamSource:
    def __init__(self, dut, prefix, layout, rng=None, gap_probability=0.0):
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.layout = layout
        self.rng = rng
        self.gap_probability = gap_probability
        self.queue = deque()
        self.sent = 0
        self._offered = False
        self.valid.value = 0

    def put(self, value):
        """Queue a payload (a dict/list matching the layout, or an int of raw bits)."""
        bits = value if isinstance(value, int) else self.layout.const(value).as_bits()
        self.queue.append(bits)

    @property
    def idle(self):
        return not self.queue

    def drive(self):
        gap = self.rng is not None and self.rng.random() < self.gap_probability
        self._offered = bool(self.queue) and not gap
        self.valid.value = int(self._offered)
        if self._offered:
            self.payload.value = self.queue[0]

    def sample(self):
        if self._offered and int(self.ready.value):
            self.queue.popleft()
            self.sent += 1
            return True
        return False


class StreamSink:
    def __init__(self, dut, prefix, layout, rng=None, stall_probability=0.0):
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.layout = layout
        self.rng = rng
        self.stall_probability = stall_probability
        self.received = []
        self._ready = False
        self.ready.value = 0

    def drive(self):
        stall = self.rng is not None and self.rng.random() < self.stall_probability
        self._ready = not stall
        self.ready.value = int(self._ready)

    def sample(self):
        if self._ready and int(self.valid.value):
            self.received.append(self.layout.from_bits(self.payload.value.to_unsigned()))
            return True
        return False


async def run_streams(dut, sources, sinks, done, max_cycles, on_cycle=None):
    """Step all streams one clock at a time until ``done()`` or fail after ``max_cycles``.

    ``on_cycle(cycle, transfers)`` is called after every edge with the per-port transfer flags,
    which lets a test count throughput. Returns the number of cycles run.
    """
    for cycle in range(max_cycles):
        await FallingEdge(dut.clk)
        if done():
            return cycle
        for port in (*sources, *sinks):
            port.drive()
        await ReadOnly()
        flags = [port.sample() for port in (*sources, *sinks)]
        if on_cycle is not None:
            on_cycle(cycle, flags)
    raise AssertionError(f"timed out after {max_cycles} cycles (a hang, or the DUT lost data)")

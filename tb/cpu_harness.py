"""cocotb pieces for the CPU harness (hw/cpu/soc_ram.py, built with ``loader=True, trace=True``):
a program loader, a cycle loop that collects the retire trace, printed text and the finish code,
and a CFU model with random handshake delays.

One cycle loop drives and samples everything: after the falling edge the CFU model drives its
inputs (cmd_ready, rsp_valid, outputs_0), then in ReadOnly the loop samples the settled outputs;
a retire seen there happens at the next rising edge. Signals are read with ``to_unsigned()``.
"""

from dataclasses import dataclass, field

from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly

from hw.cpu.isa import Cause

from .common import CLOCK_NS

__all__ = ["Retired", "RunResult", "CpuHarness", "CfuModel", "run_program"]


@dataclass(frozen=True)
class Retired:
    """One retire trace entry; ``cycle`` counts from the release of reset."""
    cycle: int
    pc: int
    insn: int
    rd: int
    rd_data: int
    mem_addr: int
    mem_wmask: int
    mem_wdata: int


@dataclass
class RunResult:
    trace: list = field(default_factory=list)
    text: str = ""
    finish_code: int | None = None
    halted: bool = False
    cause: int | None = None
    halt_pc: int | None = None
    cycles: int = 0

    def describe(self):
        cause = Cause(self.cause).name if self.cause is not None and self.cause in {c.value for c in Cause} \
            else self.cause
        pc = f"0x{self.halt_pc:08x}" if self.halt_pc is not None else "-"
        return (f"halted={self.halted} cause={cause} halt_pc={pc} finish={self.finish_code} "
                f"cycles={self.cycles} retired={len(self.trace)}")


def _u(signal):
    """Unsigned value of a vector signal."""
    return signal.value.to_unsigned()


def _bit(signal):
    """Value of a 1-bit signal (cocotb 2 gives a Logic, not a LogicArray)."""
    return int(signal.value)


class CfuModel:
    """A CFU on the harness's ``cfu__*`` ports: ``function(function_id, in0, in1) -> out``.

    Before accepting a command it waits ``rng.choice(accept_delays)`` cycles with cmd_ready low;
    after accepting it answers ``rng.choice(response_delays)`` cycles later (0 = combinationally in
    the accepting cycle) and holds ``rsp_valid`` and the payload until ``rsp_ready``.
    ``commands`` lists (function_id, in0, in1, out, accept_delay, response_delay) in acceptance order.
    """

    def __init__(self, dut, function, rng, accept_delays=(0,), response_delays=(0,)):
        self.dut = dut
        self.function = function
        self.rng = rng
        self.accept_delays = accept_delays
        self.response_delays = response_delays
        self.commands = []
        self._accept_wait = None     # cycles left before cmd_ready for the offered command
        self._pending = None         # (cycles left, out) of an accepted command
        self._offering = None        # out driven on the response port this cycle
        self.protocol_errors = []
        dut.cfu__cmd_ready.value = 0
        dut.cfu__rsp_valid.value = 0
        dut.cfu__rsp_payload_outputs_0.value = 0

    def drive(self, cycle):
        d = self.dut
        cmd_ready = 0
        if self._offering is None and self._pending is None and _bit(d.cfu__cmd_valid):
            if self._accept_wait is None:
                self._accept_wait = self._accept_delay = self.rng.choice(self.accept_delays)
            if self._accept_wait == 0:
                self._accept_wait = None
                cmd_ready = 1
                fid, in0, in1 = (_u(d.cfu__cmd_payload_function_id), _u(d.cfu__cmd_payload_inputs_0),
                                 _u(d.cfu__cmd_payload_inputs_1))
                out = self.function(fid, in0, in1) & 0xFFFFFFFF
                response_delay = self.rng.choice(self.response_delays)
                self.commands.append((fid, in0, in1, out, self._accept_delay, response_delay))
                self._pending = (response_delay, out)
            else:
                self._accept_wait -= 1
        if self._offering is None and self._pending is not None:
            left, out = self._pending
            if left == 0:
                self._pending = None
                self._offering = out
            else:
                self._pending = (left - 1, out)
        d.cfu__cmd_ready.value = cmd_ready
        d.cfu__rsp_valid.value = int(self._offering is not None)
        d.cfu__rsp_payload_outputs_0.value = self._offering if self._offering is not None \
            else self.rng.getrandbits(32)   # garbage while not valid

    def sample(self, cycle):
        """After ReadOnly: a response handshake completes at the coming edge if rsp_ready is high."""
        if self._offering is not None and _bit(self.dut.cfu__rsp_ready):
            self._offering = None
        elif self._offering is None and self._pending is None and _bit(self.dut.cfu__rsp_ready) \
                and not _bit(self.dut.cfu__cmd_valid):
            self.protocol_errors.append(f"cycle {cycle}: rsp_ready without a command in flight")


class CpuHarness:
    def __init__(self, dut, cfu=None):
        self.dut = dut
        self.cfu = cfu
        self._clock_started = False
        dut.load_valid.value = 0
        dut.load_addr.value = 0
        dut.load_data.value = 0
        if cfu is None:
            dut.cfu__cmd_ready.value = 0
            dut.cfu__rsp_valid.value = 0
            dut.cfu__rsp_payload_outputs_0.value = 0

    async def _start_clock(self):
        if not self._clock_started:
            Clock(self.dut.clk, CLOCK_NS, unit="ns").start()
            self._clock_started = True
            await FallingEdge(self.dut.clk)

    async def load(self, regions):
        """Hold the core in reset and write ``{byte_address: [words]}`` through the loader port."""
        d = self.dut
        await self._start_clock()
        d.rst.value = 1
        await FallingEdge(d.clk)
        for base, words in regions.items():
            for i, word in enumerate(words):
                d.load_valid.value = 1
                d.load_addr.value = base + 4 * i
                d.load_data.value = word & 0xFFFFFFFF
                await FallingEdge(d.clk)
        d.load_valid.value = 0
        await ClockCycles(d.clk, 2)
        await FallingEdge(d.clk)

    async def run(self, max_cycles, stop_on_finish=False):
        """Release reset and run until the core halts (or FINISH is written, with stop_on_finish)."""
        d = self.dut
        await self._start_clock()
        d.rst.value = 0
        result = RunResult()
        text = []
        trace = result.trace
        cfu = self.cfu
        for cycle in range(max_cycles):
            await FallingEdge(d.clk)
            if cfu is not None:
                cfu.drive(cycle)
            await ReadOnly()
            if cfu is not None:
                cfu.sample(cycle)
            if _bit(d.trace__valid):
                trace.append(Retired(cycle, _u(d.trace__pc), _u(d.trace__insn), _u(d.trace__rd),
                                     _u(d.trace__rd_data), _u(d.trace__mem_addr), _u(d.trace__mem_wmask),
                                     _u(d.trace__mem_wdata)))
            if _bit(d.print_valid):
                text.append(chr(_u(d.print_char)))
            if _bit(d.finish_valid):
                result.finish_code = _u(d.finish_code)
                if stop_on_finish:
                    break
            if _bit(d.halted):
                result.halted = True
                result.cause = _u(d.halt_cause)
                result.halt_pc = _u(d.halt_pc)
                break
        result.cycles = cycle + 1
        result.text = "".join(text)
        await FallingEdge(d.clk)
        d.rst.value = 1
        return result


async def run_program(harness, imem, dmem=(), dmem_base=0x1000_0000, max_cycles=200_000, **kwargs):
    """Load IMEM (from address 0) and DMEM words, run, return the RunResult."""
    regions = {0: list(imem)}
    if dmem:
        regions[dmem_base] = list(dmem)
    await harness.load(regions)
    return await harness.run(max_cycles, **kwargs)


"""cocotb driver for the conv engine's host bus (spec/registers.py): writes, reads, run a layer."""

from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, with_timeout

from spec.registers import ERRORS, REG, Space, StatusWord

__all__ = ["HostBus", "LayerResult"]


class LayerResult:
    def __init__(self, status, cycles, mac_cycles, stall_cycles, output=None):
        word = StatusWord(status)
        self.busy = word.busy
        self.done = word.done
        self.error = word.error
        self.cycles = cycles
        self.mac_cycles = mac_cycles
        self.stall_cycles = stall_cycles
        self.output = output

    @property
    def error_name(self):
        return ERRORS.get(self.error, ("UNKNOWN", ""))[0]


class HostBus:
    """One bus operation per clock cycle, driven after the falling edge."""

    def __init__(self, dut):
        self.dut = dut
        dut.host__we.value = 0
        dut.host__re.value = 0
        dut.host__space.value = 0
        dut.host__addr.value = 0
        dut.host__wdata.value = 0

    async def write(self, space, addr, value):
        d = self.dut
        await FallingEdge(d.clk)
        d.host__space.value = space
        d.host__addr.value = addr
        d.host__wdata.value = value & 0xFFFFFFFF
        d.host__we.value = 1
        await FallingEdge(d.clk)
        d.host__we.value = 0

    async def write_many(self, writes):
        d = self.dut
        for space, addr, value in writes:
            await FallingEdge(d.clk)
            d.host__space.value = space
            d.host__addr.value = addr
            d.host__wdata.value = value & 0xFFFFFFFF
            d.host__we.value = 1
        await FallingEdge(d.clk)
        d.host__we.value = 0

    async def read(self, space, addr):
        return (await self.read_many(space, [addr]))[0]

    async def read_many(self, space, addrs):
        """Pipelined reads: a new address every cycle, data sampled after the next rising edge."""
        d = self.dut
        values = []
        for addr in addrs:
            await FallingEdge(d.clk)
            d.host__space.value = space
            d.host__addr.value = addr
            d.host__re.value = 1
            await RisingEdge(d.clk)
            await ReadOnly()
            values.append(int(d.host__rdata.value.to_unsigned()))
        await FallingEdge(d.clk)
        d.host__re.value = 0
        return values

    async def run(self, program, max_cycles):
        """Load a driver.LayerProgram, start it, wait for done (failing after max_cycles)."""
        await self.write_many(program.writes)
        return await self.start_and_wait(max_cycles, out_words=program.out_words())

    async def start_and_wait(self, max_cycles, out_words=0):
        d = self.dut
        await self.write(Space.REGS, REG["CTRL"], 1)
        if not int(d.done.value):
            await with_timeout(RisingEdge(d.done), max_cycles * 10, "ns")
        status, cycles, macs, stalls = await self.read_many(
            Space.REGS, [REG["STATUS"], REG["CYCLES"], REG["MAC_CYCLES"], REG["STALL_CYCLES"]])
        output = await self.read_many(Space.ACT_OUT, range(out_words)) if out_words else []
        return LayerResult(status, cycles, macs, stalls, output)

"""RegisterRam: the bit-serial core's 32 x 32 register file with one read port (2 EBR on the iCE40)."""

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RegisterRam"]


class RegisterRam(wiring.Component):
    """The 32 x 32 register file RAM: one synchronous read port (``raddr`` -> ``rdata`` one cycle
    later, held while ``ren`` is low) and one write port; x0 is never written (the core drops it).

    On an iCE40 platform (``platform.device`` iCE40..., unless ``platform.ice40_primitive`` is
    ``"model"``) it is two ``SB_RAM40_4K`` in 256 x 16 mode, instantiated directly: from
    Amaranth's RTLIL (the board flow) Yosys emulates "read old data on a collision" for a
    synchronous read port despite ``no_rw_check`` (flip-flops and a bypass multiplexer; this
    core never reads and writes in the same cycle), and for an asynchronous read plus register
    it emulates the register's power-up value 0 (a LUT per bit). Elsewhere (simulation, ECP5) it is an
    ``amaranth.lib.memory.Memory`` with an asynchronous read and a reset-less register.
    tests/test_cpu_cocotb.py runs the ISA programs on the instances (Yosys's cells_sim.v).
    """

    raddr: In(5)
    ren: In(1)
    rdata: Out(32)
    waddr: In(5)
    wdata: In(32)
    we: In(1)

    def elaborate(self, platform):
        m = Module()
        device = str(getattr(platform, "device", "")).lower()
        if device.startswith("ice40") and getattr(platform, "ice40_primitive", None) != "model":
            for half in range(2):
                bits = slice(16 * half, 16 * half + 16)
                m.submodules[f"ebr{half}"] = Instance(
                    "SB_RAM40_4K",
                    p_READ_MODE=0, p_WRITE_MODE=0,                      # 256 x 16
                    i_RADDR=Cat(self.raddr, Const(0, 6)), i_RCLK=ClockSignal(), i_RCLKE=self.ren,
                    i_RE=Const(1, 1), o_RDATA=self.rdata[bits],
                    i_WADDR=Cat(self.waddr, Const(0, 6)), i_WCLK=ClockSignal(), i_WCLKE=self.we,
                    i_WE=Const(1, 1), i_WDATA=self.wdata[bits], i_MASK=Const(0, 16))
            return m
        m.submodules.mem = mem = memory.Memory(shape=32, depth=32, init=[], attrs={"no_rw_check": 1})
        wr = mem.write_port()
        rd = mem.read_port(domain="comb")
        m.d.comb += [rd.addr.eq(self.raddr), wr.addr.eq(self.waddr), wr.data.eq(self.wdata),
                     wr.en.eq(self.we)]
        data = Signal(32, reset_less=True)      # no reset: the EBR's output register has none
        m.d.comb += self.rdata.eq(data)
        with m.If(self.ren):
            m.d.sync += data.eq(rd.data)
        return m

"""CnnCfu: the conv engine behind a RISC-V command port (the CFU port of CFU Playground / NEORV32).

    CPU --cmd (function_id = {funct7, funct3}, inputs_0 = rs1, inputs_1 = rs2)--> decoder -> ConvEngine
    CPU <--rsp (outputs_0 -> rd)------------------------------------------------- decoder

The command table, register limits, address-space depths, error codes, status word and counters
all come from spec/registers.py; this file only implements them. One command at a time: the port
takes a command when it is idle (``cmd_ready``), answers exactly once (``rsp_valid`` held with a
stable payload until ``rsp_ready``), and is ready again in the cycle after the response handshake.
Nothing waits on anything that can fail to happen: unknown function ids, bad indices, addresses and
values, writes while busy and reads before done all answer an error code; WAIT answers when the
engine is idle, and the engine always finishes (or stops with an error code) on its own.

Port cycles per command (accept to response handshake, CPU always ready) are ``Command.cycles``:
2 for writes, 3 for reads, 4 for START / STATUS, 5 + the remaining layer cycles for WAIT; a refused
command and PERF of a port counter answer from the port itself in 2.

``counters=False`` leaves the four 32-bit port counters (COMMANDS, PORT_CYCLES, WAIT_CYCLES,
RSP_STALL_CYCLES) and their read mux out, for small FPGAs (the iCE40UP5K SoC):
PERF of one of them then answers 0 (not an error, same cycles), CLEAR_COUNTERS answers OK and does
nothing; the engine's counters (CYCLES, MAC_CYCLES, STALL_CYCLES) are unaffected. Everything else is
the same in both variants.

Blocks: :class:`hw.cfu_decoder.CommandDecoder` (the command table's decode and checks),
hw/cfu_counters.py (the port counters or none), the engine on the host bus (hw/host_bus.py), and
here the port's state machine. The status word (STATUS_LAYOUT, hw/registers.py) is assembled in two
halves straight into the response register.
"""

from amaranth.hdl import Module, Mux, ResetInserter, Signal
from amaranth.lib import wiring

from spec.config import AcceleratorConfig, Implementation
from spec.registers import REG

from .cfu_counters import NoPortCounters, PortCounters
from .cfu_decoder import CommandDecoder, index_bits
from .conv_engine import ConvEngine
from .cpu.cfu_port import cfu_signature
from .host_bus import HostBusSignature, host_addr_width
from .registers import STATUS_LAYOUT, Space, status_half

__all__ = ["CnnCfu"]


class CnnCfu(wiring.Component):
    """The conv engine with the CFU command port (``cfu_signature().flip()`` of hw/cpu/cfu_port.py:
    flat ports, names as in CFU Playground).

    Parameters
    ----------
    config : AcceleratorConfig
    impl : Implementation
        How the engine is mapped onto the FPGA (see :class:`hw.conv_engine.ConvEngine`).
    counters : bool
        Build the port counters (default); False: PERF of a port counter answers 0.
    product_array : callable, optional
        Passed to the engine (tests choose a specific iCE40 primitive).

    Members
    -------
    cmd_valid : In(1) / cmd_ready : Out(1)
    cmd_payload_function_id : In(FUNCTION_ID_WIDTH)   {funct7, funct3} of the custom-0 instruction
    cmd_payload_inputs_0 : In(32)        rs1
    cmd_payload_inputs_1 : In(32)        rs2
    rsp_valid : Out(1) / rsp_ready : In(1)
    rsp_payload_outputs_0 : Out(32)      written to rd
    """

    def __init__(self, config: AcceleratorConfig = None, impl: Implementation = Implementation(), *,
                 counters=True, product_array=None):
        config = AcceleratorConfig() if config is None else config
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        if not isinstance(counters, bool):
            raise TypeError(f"counters must be True or False, not {counters!r}")
        self._config = config
        self._counters = counters
        self._engine = ConvEngine(config, impl, product_array=product_array)   # validates config
        super().__init__(cfu_signature().flip())

    @property
    def config(self):
        return self._config

    @property
    def counters(self):
        """Whether the port counters (COMMANDS, PORT_CYCLES, WAIT_CYCLES, RSP_STALL_CYCLES) exist."""
        return self._counters

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        aw = host_addr_width(cfg)

        abort = Signal()                  # soft reset of the engine (ABORT), one cycle
        m.d.sync += abort.eq(0)
        m.submodules.engine = ResetInserter({"sync": abort})(self._engine)
        engine = self._engine
        host = HostBusSignature(aw).create()
        wiring.connect(m, host, engine.host)
        m.submodules.decoder = dec = CommandDecoder(cfg)
        counters_cls = PortCounters if self._counters else NoPortCounters
        m.submodules.port_counters = counters = counters_cls(index_bits())
        cmd, code = dec.cmd, dec.code

        accept = Signal()
        m.d.comb += accept.eq(self.cmd_valid & self.cmd_ready)
        # The address pointer of WRITE_* / READ_*. SET_ADDR accepts < 2**aw; it only steps after an
        # access inside a space, and every depth is < 2**aw (host_addr_width), so it never wraps.
        ptr = Signal(aw)
        rsp_data = Signal(32)
        cmd_err = Signal()                # sticky: a command failed since the last STATUS/WAIT
        cmd_err_code = Signal(len(code))
        idle, in_resp, in_wait = Signal(), Signal(), Signal()
        failed = code != 0
        space_cmd = cmd.write_space | cmd.read_space
        m.d.comb += [
            dec.function_id.eq(self.cmd_payload_function_id), dec.inputs_0.eq(self.cmd_payload_inputs_0),
            dec.inputs_1.eq(self.cmd_payload_inputs_1), dec.ptr.eq(ptr),
            dec.engine_busy.eq(engine.busy), dec.engine_done.eq(engine.done),
            counters.accept.eq(accept), counters.clear.eq(accept & cmd.clear_counters),
            counters.port_cycle.eq(~idle | accept), counters.wait_cycle.eq(in_wait & engine.busy),
            counters.stall_cycle.eq(in_resp & ~self.rsp_ready), counters.index.eq(dec.index),
            # In IDLE the space is the command's funct7 (0 for the register commands); the other
            # states only read registers.
            host.space.eq(Mux(idle, self.cmd_payload_function_id[3:6], Space.REGS)),
            host.wdata.eq(dec.wdata),
            host.we.eq(idle & self.cmd_valid & ~failed & dec.write),
        ]

        # The engine's STATUS register (read in START_RESULT / STATUS_1) and the status word's halves.
        engine_status = STATUS_LAYOUT(host.rdata)
        status = Signal(STATUS_LAYOUT)
        status_half(0, 16), status_half(16, 32)     # built in two halves: no field straddles bit 16
        layer_err = engine_status.error
        cycles = host.rdata
        m.d.comb += [
            status.busy.eq(engine_status.busy), status.done.eq(engine_status.done),
            status.cmd_error.eq(cmd_err), status.error.eq(Mux(layer_err != 0, layer_err, cmd_err_code)),
            status.cycles.eq(Mux(cycles[16:] != 0, 0xFFFF, cycles[:16])),
        ]

        with m.FSM(name="cfu") as fsm:
            with m.State("IDLE"):
                # The engine reads at the decoder's address in every idle cycle, whatever the command
                # and its verdict: a host read has no side effect and ``rdata`` is only looked at
                # in the states after a read the port meant (READ_DATA, START_RESULT, STATUS_*).
                # So the read strobe (the SPRAM's CHIPSELECT on the iCE40) is not behind the
                # command decode and its checks (docs/timing.md, iCE40).
                m.d.comb += [host.addr.eq(dec.addr), host.re.eq(1)]
                m.d.sync += rsp_data.eq(Mux(cmd.perf & ~failed, counters.value, code))
                with m.If(self.cmd_valid):
                    with m.If(failed):
                        with m.If(~cmd_err):
                            m.d.sync += cmd_err_code.eq(code)
                        m.d.sync += cmd_err.eq(1)
                        m.next = "RESP"
                    with m.Else():
                        with m.If(cmd.set_addr):
                            m.d.sync += ptr.eq(self.cmd_payload_inputs_0)
                        with m.If(space_cmd):
                            m.d.sync += ptr.eq(ptr + 1)
                        with m.If(cmd.abort):
                            m.d.sync += abort.eq(1)
                        with m.If(cmd.reg_read | cmd.read_space | (cmd.perf & dec.perf_engine)):
                            m.next = "READ_DATA"
                        with m.Elif(cmd.start):
                            m.next = "START_CHECK"
                        with m.Elif(cmd.status):
                            m.next = "STATUS_1"
                        with m.Elif(cmd.wait):
                            m.next = "WAITING"
                        with m.Else():
                            m.next = "RESP"

            with m.State("READ_DATA"):
                m.d.sync += rsp_data.eq(host.rdata)
                m.next = "RESP"

            with m.State("START_CHECK"):
                m.d.comb += [host.addr.eq(REG["STATUS"]), host.re.eq(1)]
                m.next = "START_RESULT"

            with m.State("START_RESULT"):
                m.d.sync += rsp_data.eq(engine_status.error)
                m.next = "RESP"

            with m.State("WAITING"):
                with m.If(~engine.busy):
                    m.d.comb += [host.addr.eq(REG["STATUS"]), host.re.eq(1)]
                    m.next = "STATUS_1"

            with m.State("STATUS_1"):
                # The engine's STATUS is in rdata: the low half of the word is built now (no
                # command can change cmd_err before STATUS_2), CYCLES is read for the high half.
                m.d.sync += rsp_data[:16].eq(status.as_value()[:16])
                m.d.comb += [host.addr.eq(REG["CYCLES"]), host.re.eq(1)]
                m.next = "STATUS_2"

            with m.State("STATUS_2"):
                m.d.sync += [rsp_data[16:].eq(status.as_value()[16:]), cmd_err.eq(0), cmd_err_code.eq(0)]
                m.next = "RESP"

            with m.State("RESP"):
                with m.If(self.rsp_ready):
                    m.next = "IDLE"

        # Port flags straight from the state register (continuous assignments: defined from time 0
        # in every simulator, even before any input changes).
        m.d.comb += [
            idle.eq(fsm.ongoing("IDLE")), self.cmd_ready.eq(fsm.ongoing("IDLE")),
            in_resp.eq(fsm.ongoing("RESP")), self.rsp_valid.eq(fsm.ongoing("RESP")),
            in_wait.eq(fsm.ongoing("WAITING")),
            self.rsp_payload_outputs_0.eq(rsp_data),
        ]
        return m

"""CnnCfu: the conv engine behind a RISC-V command port (the CFU port of CFU Playground / NEORV32).

    CPU --cmd (function_id = {funct7, funct3}, inputs_0 = rs1, inputs_1 = rs2)--> decoder -> ConvEngine
    CPU <--rsp (outputs_0 -> rd)------------------------------------------------- decoder

The command table, register limits, address-space depths, error codes, status word and counters
all come from hw/registers.py; this file only implements them. One command at a time: the port
takes a command when it is idle (``cmd_ready``), answers exactly once (``rsp_valid`` held with a
stable payload until ``rsp_ready``), and is ready again in the cycle after the response handshake.
Nothing waits on anything that can fail to happen: unknown function ids, bad indices, addresses and
values, writes while busy and reads before done all answer an error code; WAIT answers when the
engine is idle, and the engine always finishes (or stops with an error code) on its own.

Port cycles per command (accept to response handshake, CPU always ready) are ``Command.cycles``:
2 for writes, 3 for reads, 4 for START / STATUS, 5 + the remaining layer cycles for WAIT.
"""

from amaranth.hdl import Cat, Const, Module, Mux, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import AcceleratorConfig
from .conv_engine import ConvEngine, host_addr_width
from .registers import (
    COMMAND,
    COUNTERS,
    ERROR_CODE,
    REG,
    REGISTERS,
    SPACES,
    STATUS_FIELDS,
    Space,
    register_limit,
    space_depth,
)

__all__ = ["CnnCfu"]


class CnnCfu(wiring.Component):
    """The conv engine with the CFU command port (flat ports, names as in CFU Playground).

    Parameters
    ----------
    config : AcceleratorConfig
    product_array : optional, passed to the engine (e.g. iCE40 SB_MAC16 products)
    engine : the conv engine class, ``ConvEngine`` or a subclass such as
        ``hw.ice40_engine.Ice40ConvEngine`` (iCE40 primitives); called as
        ``engine(config[, product_array=...])``

    Members
    -------
    cmd_valid : In(1) / cmd_ready : Out(1)
    cmd_payload_function_id : In(10)     {funct7, funct3} of the custom-0 instruction
    cmd_payload_inputs_0 : In(32)        rs1
    cmd_payload_inputs_1 : In(32)        rs2
    rsp_valid : Out(1) / rsp_ready : In(1)
    rsp_payload_outputs_0 : Out(32)      written to rd
    """

    cmd_valid: In(1)
    cmd_ready: Out(1)
    cmd_payload_function_id: In(10)
    cmd_payload_inputs_0: In(32)
    cmd_payload_inputs_1: In(32)
    rsp_valid: Out(1)
    rsp_ready: In(1)
    rsp_payload_outputs_0: Out(32)

    def __init__(self, config: AcceleratorConfig = None, product_array=None, engine=ConvEngine):
        config = AcceleratorConfig() if config is None else config
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        self._config = config
        self._engine = engine(config, **({} if product_array is None else
                                         {"product_array": product_array}))   # validates config
        super().__init__()

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        aw = host_addr_width(cfg)

        abort = Signal()                  # soft reset of the engine (ABORT), one cycle
        m.submodules.engine = engine = ResetInserter({"sync": abort})(self._engine)

        fid = self.cmd_payload_function_id
        in0 = self.cmd_payload_inputs_0
        in1 = self.cmd_payload_inputs_1
        accept = Signal()
        m.d.comb += accept.eq(self.cmd_valid & self.cmd_ready)

        ptr = Signal(aw + 1)              # the address pointer of WRITE_* / READ_*
        rsp_data = Signal(32)
        cmd_err = Signal()                # sticky: a command failed since the last STATUS/WAIT
        cmd_err_code = Signal(8)
        status = Signal(16)               # STATUS register as read in STATUS_1
        m.d.sync += abort.eq(0)

        # Host bus of the engine: idle unless a state below drives it.
        bus_space = Signal(3)
        bus_addr = Signal(aw)
        bus_wdata = Signal(32)
        bus_we = Signal()
        bus_re = Signal()
        m.d.comb += [engine.host_space.eq(bus_space), engine.host_addr.eq(bus_addr),
                     engine.host_wdata.eq(bus_wdata), engine.host_we.eq(bus_we), engine.host_re.eq(bus_re)]

        def bus_write(space, addr, data):
            m.d.comb += [bus_space.eq(space), bus_addr.eq(addr), bus_wdata.eq(data), bus_we.eq(1)]

        def bus_read(space, addr):
            m.d.comb += [bus_space.eq(space), bus_addr.eq(addr), bus_re.eq(1)]

        def respond(value):
            m.d.sync += rsp_data.eq(value)
            m.next = "RESP"

        def fail(code):
            respond(ERROR_CODE[code])
            with m.If(~cmd_err):
                m.d.sync += cmd_err_code.eq(ERROR_CODE[code])
            m.d.sync += cmd_err.eq(1)

        # ---- port counters ---------------------------------------------------------------
        counters = {c.name: Signal(32, name=f"count_{c.name.lower()}")
                    for c in COUNTERS if c.register is None}
        clear_counters = Signal()
        idle = Signal()
        in_wait = Signal()
        in_resp = Signal()
        with m.If(clear_counters):
            m.d.sync += [c.eq(0) for c in counters.values()]
        with m.Else():
            m.d.sync += [
                counters["COMMANDS"].eq(counters["COMMANDS"] + accept),
                counters["PORT_CYCLES"].eq(counters["PORT_CYCLES"] + (~idle | accept)),
                counters["WAIT_CYCLES"].eq(counters["WAIT_CYCLES"] + (in_wait & engine.busy)),
                counters["RSP_STALL_CYCLES"].eq(counters["RSP_STALL_CYCLES"] + (in_resp & ~self.rsp_ready)),
            ]

        engine_busy = engine.busy
        rw_regs = [r for r in REGISTERS if r.access == "rw"]
        readable = [r for r in REGISTERS if "r" in r.access]
        write_spaces = [s for s in SPACES if s.access == "w"]
        read_spaces = [s for s in SPACES if s.access == "r"]

        with m.FSM(name="cfu") as fsm:
            with m.State("IDLE"):
                with m.If(self.cmd_valid):
                    with m.Switch(fid):
                        with m.Case(COMMAND["REG_WRITE"].function_id):
                            with m.Switch(in0):
                                for reg in rw_regs:
                                    with m.Case(reg.index):
                                        with m.If(engine_busy):
                                            fail("BUSY")
                                        with m.Elif(in1 > register_limit(cfg, reg)):
                                            fail("BAD_VALUE")
                                        with m.Else():
                                            bus_write(Space.REGS, reg.index, in1)
                                            respond(0)
                                with m.Default():
                                    fail("BAD_REGISTER")
                        with m.Case(COMMAND["REG_READ"].function_id):
                            with m.Switch(in0):
                                for reg in readable:
                                    with m.Case(reg.index):
                                        bus_read(Space.REGS, reg.index)
                                        m.next = "READ_DATA"
                                with m.Default():
                                    fail("BAD_REGISTER")
                        with m.Case(COMMAND["SET_ADDR"].function_id):
                            with m.If(in0 >> aw != 0):
                                fail("BAD_ADDRESS")
                            with m.Else():
                                m.d.sync += ptr.eq(in0)
                                respond(0)
                        for space in write_spaces:
                            with m.Case(COMMAND[f"WRITE_{space.name}"].function_id):
                                with m.If(engine_busy):
                                    fail("BUSY")
                                with m.Elif(ptr >= space_depth(cfg, space.index)):
                                    fail("BAD_ADDRESS")
                                with m.Else():
                                    bus_write(space.index, ptr, in0)
                                    m.d.sync += ptr.eq(ptr + 1)
                                    respond(0)
                        for space in read_spaces:
                            with m.Case(COMMAND[f"READ_{space.name}"].function_id):
                                with m.If(engine_busy | ~engine.done):
                                    fail("NOT_DONE")
                                with m.Elif(ptr >= space_depth(cfg, space.index)):
                                    fail("BAD_ADDRESS")
                                with m.Else():
                                    bus_read(space.index, ptr)
                                    m.d.sync += ptr.eq(ptr + 1)
                                    m.next = "READ_DATA"
                        with m.Case(COMMAND["START"].function_id):
                            with m.If(engine_busy):
                                fail("BUSY")
                            with m.Else():
                                bus_write(Space.REGS, REG["CTRL"], 1)
                                m.next = "START_CHECK"
                        with m.Case(COMMAND["ABORT"].function_id):
                            m.d.sync += abort.eq(1)
                            respond(0)
                        with m.Case(COMMAND["CLEAR_COUNTERS"].function_id):
                            m.d.comb += clear_counters.eq(1)
                            respond(0)
                        with m.Case(COMMAND["STATUS"].function_id):
                            bus_read(Space.REGS, REG["STATUS"])
                            m.next = "STATUS_1"
                        with m.Case(COMMAND["WAIT"].function_id):
                            m.next = "WAITING"
                        with m.Case(COMMAND["PERF"].function_id):
                            with m.Switch(in0):
                                for c in COUNTERS:
                                    with m.Case(c.index):
                                        if c.register is not None:
                                            bus_read(Space.REGS, REG[c.register])
                                            m.next = "READ_DATA"
                                        else:
                                            respond(counters[c.name])
                                with m.Default():
                                    fail("BAD_REGISTER")
                        with m.Default():
                            fail("UNKNOWN_FUNCTION")

            with m.State("READ_DATA"):
                respond(engine.host_rdata)

            with m.State("START_CHECK"):
                bus_read(Space.REGS, REG["STATUS"])
                m.next = "START_RESULT"

            with m.State("START_RESULT"):
                respond(engine.host_rdata[8:16])

            with m.State("WAITING"):
                with m.If(~engine_busy):
                    bus_read(Space.REGS, REG["STATUS"])
                    m.next = "STATUS_1"

            with m.State("STATUS_1"):
                m.d.sync += status.eq(engine.host_rdata[:16])
                bus_read(Space.REGS, REG["CYCLES"])
                m.next = "STATUS_2"

            with m.State("STATUS_2"):
                cycles = engine.host_rdata
                layer_err = status[8:16]
                values = {
                    "BUSY": status[0], "DONE": status[1], "CMD_ERROR": cmd_err,
                    "ERROR": Mux(layer_err != 0, layer_err, cmd_err_code),
                    "CYCLES": Mux(cycles[16:] != 0, Const(0xFFFF, 16), cycles[:16]),
                }
                parts, bit = [], 0          # the word laid out as STATUS_FIELDS says, zeros between
                for f in sorted(STATUS_FIELDS, key=lambda f: f.lsb):
                    if f.lsb > bit:
                        parts.append(Const(0, f.lsb - bit))
                    parts.append(values[f.name][:f.width] if f.width > 1 else values[f.name])
                    bit = f.lsb + f.width
                m.d.sync += [cmd_err.eq(0), cmd_err_code.eq(0)]
                respond(Cat(*parts))

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

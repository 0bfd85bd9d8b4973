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
2 for writes, 3 for reads, 4 for START / STATUS, 5 + the remaining layer cycles for WAIT; a refused
command and PERF of a port counter answer from the port itself in 2.

``counters=False`` leaves the four 32-bit port counters (COMMANDS, PORT_CYCLES, WAIT_CYCLES,
RSP_STALL_CYCLES) out, for small FPGAs (the iCE40UP5K SoC: 259 LCs with their read mux, measured):
PERF of one of them then answers 0 (not an error, same cycles), CLEAR_COUNTERS answers OK and does
nothing; the engine's counters (CYCLES, MAC_CYCLES, STALL_CYCLES) are unaffected. Everything else is
the same in both variants.

Area (measured on the iCE40, docs/up5k.md): register indices and limits are looked up in small
constant tables on the index's low bits, the pointer's per-space bound is one power-of-two test of
its high bits per space (selected by funct7), the status word is assembled in two halves straight
into the response register, and only the low bits of the write data are multiplexed.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig, Implementation

from .conv_engine import ConvEngine, host_addr_width
from .registers import (
    COMMAND,
    COMMANDS,
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
    impl : Implementation
        How the engine is mapped onto the FPGA (see :class:`hw.conv_engine.ConvEngine`).
    counters : bool
        Build the port counters (default); False: PERF of a port counter answers 0.
    product_array : callable, optional
        Passed to the engine (tests choose a specific iCE40 primitive).

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
        super().__init__()

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
        # The decoder relies on these facts of the map (checked here, not assumed silently):
        # every command that touches the host bus in IDLE carries its space in funct7 (0 = REGS),
        # register / counter indices and error codes are small, register limits fit ``vw`` bits.
        for name in ("REG_WRITE", "REG_READ", "START", "STATUS", "PERF"):
            assert COMMAND[name].funct7 == Space.REGS, name
        ib = (max(len(REGISTERS), len(COUNTERS)) - 1).bit_length()    # index bits
        limits = {r.index: register_limit(cfg, r) for r in REGISTERS if r.access == "rw"}
        vw = max(ib, max(limits.values()).bit_length())                # REG_WRITE value bits
        ew = max(ERROR_CODE.values()).bit_length()                     # error code bits
        assert all(r.index < 2 ** ib for r in REGISTERS) and all(c.index < 2 ** ib for c in COUNTERS)

        abort = Signal()                  # soft reset of the engine (ABORT), one cycle
        m.submodules.engine = engine = ResetInserter({"sync": abort})(self._engine)

        fid = self.cmd_payload_function_id
        f7 = fid[3:]
        in0 = self.cmd_payload_inputs_0
        in1 = self.cmd_payload_inputs_1
        accept = Signal()
        m.d.comb += accept.eq(self.cmd_valid & self.cmd_ready)

        # The address pointer of WRITE_* / READ_*. SET_ADDR accepts < 2**aw; it only steps after an
        # access inside a space, and every depth is < 2**aw (host_addr_width), so it never wraps.
        ptr = Signal(aw)
        rsp_data = Signal(32)
        cmd_err = Signal()                # sticky: a command failed since the last STATUS/WAIT
        cmd_err_code = Signal(ew)
        m.d.sync += abort.eq(0)

        # ---- decode of the command in IDLE (combinational; acted on when it is accepted) ------
        is_cmd = {c.name: Signal(name=f"is_{c.name.lower()}") for c in COMMANDS}
        known = Signal()
        with m.Switch(fid):
            for c in COMMANDS:
                with m.Case(c.function_id):
                    m.d.comb += [is_cmd[c.name].eq(1), known.eq(1)]
        write_spaces = [s for s in SPACES if s.access == "w"]
        read_spaces = [s for s in SPACES if s.access == "r"]
        is_wspace = Cat(*[is_cmd[f"WRITE_{s.name}"] for s in write_spaces]).any()
        is_rspace = Cat(*[is_cmd[f"READ_{s.name}"] for s in read_spaces]).any()

        def table(values, index, width):
            """A constant lookup ``values[index]`` (0 beyond the list): a few LUTs."""
            return Array(Const(v, width) for v in values)[index]

        idx = in0[:ib]
        idx_small = in0[ib:] == 0
        regs = {r.index: r for r in REGISTERS}
        rw_ok = idx_small & table([int(regs.get(i) is not None and regs[i].access == "rw")
                                   for i in range(2 ** ib)], idx, 1)
        rd_ok = idx_small & table([int(regs.get(i) is not None and "r" in regs[i].access)
                                   for i in range(2 ** ib)], idx, 1)
        perf_ok = idx_small & (idx < len(COUNTERS))
        cntrs = {c.index: c for c in COUNTERS}
        perf_engine = table([int(cntrs.get(i) is not None and cntrs[i].register is not None)
                             for i in range(2 ** ib)], idx, 1)
        perf_reg = table([REG[cntrs[i].register] if i in cntrs and cntrs[i].register else 0
                          for i in range(2 ** ib)], idx, ib)
        # in1 > limit[index], compared on vw bits (every limit is < 2**vw)
        bad_value = (in1[vw:] != 0) | (in1[:vw] > table([limits.get(i, 0) for i in range(2 ** ib)],
                                                        idx, vw))

        def ge_const(value, bound):
            """``value >= bound`` for a constant bound: the high bits only when it is a power of two."""
            if bound == 0:
                return Const(1)
            if bound & (bound - 1) == 0:
                k = bound.bit_length() - 1
                return value[k:].any() if k < len(value) else Const(0)
            return value >= bound

        # out of range for the command's space (its funct7), one compare per space, selected once
        out_of_range = Signal()
        with m.Switch(f7):
            for s in SPACES:
                with m.Case(s.index):
                    m.d.comb += out_of_range.eq(ge_const(ptr, space_depth(cfg, s.index)))

        engine_busy = engine.busy
        code = Signal(ew)                 # the error the command in IDLE answers (0: none)
        with m.If(~known):
            m.d.comb += code.eq(ERROR_CODE["UNKNOWN_FUNCTION"])
        with m.Elif(is_cmd["REG_WRITE"]):
            with m.If(~rw_ok):
                m.d.comb += code.eq(ERROR_CODE["BAD_REGISTER"])
            with m.Elif(engine_busy):
                m.d.comb += code.eq(ERROR_CODE["BUSY"])
            with m.Elif(bad_value):
                m.d.comb += code.eq(ERROR_CODE["BAD_VALUE"])
        with m.Elif(is_cmd["REG_READ"]):
            with m.If(~rd_ok):
                m.d.comb += code.eq(ERROR_CODE["BAD_REGISTER"])
        with m.Elif(is_cmd["PERF"]):
            with m.If(~perf_ok):
                m.d.comb += code.eq(ERROR_CODE["BAD_REGISTER"])
        with m.Elif(is_cmd["SET_ADDR"]):
            with m.If(in0[aw:] != 0):
                m.d.comb += code.eq(ERROR_CODE["BAD_ADDRESS"])
        with m.Elif(is_wspace):
            with m.If(engine_busy):
                m.d.comb += code.eq(ERROR_CODE["BUSY"])
            with m.Elif(out_of_range):
                m.d.comb += code.eq(ERROR_CODE["BAD_ADDRESS"])
        with m.Elif(is_rspace):
            with m.If(engine_busy | ~engine.done):
                m.d.comb += code.eq(ERROR_CODE["NOT_DONE"])
            with m.Elif(out_of_range):
                m.d.comb += code.eq(ERROR_CODE["BAD_ADDRESS"])
        with m.Elif(is_cmd["START"]):
            with m.If(engine_busy):
                m.d.comb += code.eq(ERROR_CODE["BUSY"])
        failed = code != 0

        # ---- host bus of the engine ---------------------------------------------------------
        # In IDLE the space is the command's funct7 (0 for the register commands); the other
        # states only read registers. The write data's bits above vw are rs1's for every write:
        # a REG_WRITE that passes has rs1 (an index) and rs2 (<= its limit) both below 2**vw, and
        # CTRL takes only bit 0.
        idle = Signal()
        in_resp = Signal()
        in_wait = Signal()
        reg_cmd = is_cmd["REG_WRITE"] | is_cmd["REG_READ"]
        go = idle & self.cmd_valid & ~failed
        space_cmd = is_wspace | is_rspace
        m.d.comb += [
            engine.host_space.eq(Mux(idle, f7[:3], Space.REGS)),
            engine.host_wdata.eq(Cat(Mux(is_cmd["REG_WRITE"], in1[:vw], in0[:vw]) | is_cmd["START"],
                                     in0[vw:])),
            engine.host_we.eq(go & (is_cmd["REG_WRITE"] | is_wspace | is_cmd["START"])),
        ]
        addr_idle = Signal(aw)
        with m.If(space_cmd):
            m.d.comb += addr_idle.eq(ptr)
        with m.Elif(reg_cmd):
            m.d.comb += addr_idle.eq(idx)
        with m.Elif(is_cmd["PERF"]):
            m.d.comb += addr_idle.eq(perf_reg)
        with m.Elif(is_cmd["STATUS"]):
            m.d.comb += addr_idle.eq(REG["STATUS"])
        with m.Else():                                   # START
            m.d.comb += addr_idle.eq(REG["CTRL"])

        # ---- port counters (optional) ---------------------------------------------------------
        counter_value = Const(0, 32)
        if self._counters:
            counters = {c.name: Signal(32, name=f"count_{c.name.lower()}")
                        for c in COUNTERS if c.register is None}
            with m.If(accept & is_cmd["CLEAR_COUNTERS"]):
                m.d.sync += [c.eq(0) for c in counters.values()]
            with m.Else():
                m.d.sync += [
                    counters["COMMANDS"].eq(counters["COMMANDS"] + accept),
                    counters["PORT_CYCLES"].eq(counters["PORT_CYCLES"] + (~idle | accept)),
                    counters["WAIT_CYCLES"].eq(counters["WAIT_CYCLES"] + (in_wait & engine.busy)),
                    counters["RSP_STALL_CYCLES"].eq(counters["RSP_STALL_CYCLES"]
                                                    + (in_resp & ~self.rsp_ready)),
                ]
            counter_value = Array(counters.get(cntrs[i].name, Const(0, 32)) if i in cntrs else Const(0, 32)
                                  for i in range(2 ** ib))[idx]

        with m.FSM(name="cfu") as fsm:
            with m.State("IDLE"):
                # The engine reads at ``addr_idle`` in every idle cycle, whatever the command and
                # its verdict: a host read has no side effect and ``host_rdata`` is only looked at
                # in the states after a read the port meant (READ_DATA, START_RESULT, STATUS_*).
                # So the read strobe (the SPRAM's CHIPSELECT on the iCE40) is not behind the
                # command decode and its checks (docs/timing.md, iCE40).
                m.d.comb += [engine.host_addr.eq(addr_idle), engine.host_re.eq(1)]
                m.d.sync += rsp_data.eq(Mux(is_cmd["PERF"] & ~failed, counter_value, code))
                with m.If(self.cmd_valid):
                    with m.If(failed):
                        with m.If(~cmd_err):
                            m.d.sync += cmd_err_code.eq(code)
                        m.d.sync += cmd_err.eq(1)
                        m.next = "RESP"
                    with m.Else():
                        with m.If(is_cmd["SET_ADDR"]):
                            m.d.sync += ptr.eq(in0)
                        with m.If(space_cmd):
                            m.d.sync += ptr.eq(ptr + 1)
                        with m.If(is_cmd["ABORT"]):
                            m.d.sync += abort.eq(1)
                        with m.If(is_cmd["REG_READ"] | is_rspace | (is_cmd["PERF"] & perf_engine)):
                            m.next = "READ_DATA"
                        with m.Elif(is_cmd["START"]):
                            m.next = "START_CHECK"
                        with m.Elif(is_cmd["STATUS"]):
                            m.next = "STATUS_1"
                        with m.Elif(is_cmd["WAIT"]):
                            m.next = "WAITING"
                        with m.Else():
                            m.next = "RESP"

            with m.State("READ_DATA"):
                m.d.sync += rsp_data.eq(engine.host_rdata)
                m.next = "RESP"

            with m.State("START_CHECK"):
                m.d.comb += [engine.host_addr.eq(REG["STATUS"]), engine.host_re.eq(1)]
                m.next = "START_RESULT"

            with m.State("START_RESULT"):
                m.d.sync += rsp_data.eq(engine.host_rdata[8:16])
                m.next = "RESP"

            with m.State("WAITING"):
                with m.If(~engine_busy):
                    m.d.comb += [engine.host_addr.eq(REG["STATUS"]), engine.host_re.eq(1)]
                    m.next = "STATUS_1"

            with m.State("STATUS_1"):
                # The engine's STATUS is in host_rdata: the low half of the word is built now
                # (no command can change cmd_err before STATUS_2), CYCLES is read for the high half.
                layer_err = engine.host_rdata[8:16]
                values = {
                    "BUSY": engine.host_rdata[0], "DONE": engine.host_rdata[1], "CMD_ERROR": cmd_err,
                    "ERROR": Mux(layer_err != 0, layer_err, cmd_err_code),
                }
                m.d.sync += rsp_data[:16].eq(_status_word(values, 0, 16))
                m.d.comb += [engine.host_addr.eq(REG["CYCLES"]), engine.host_re.eq(1)]
                m.next = "STATUS_2"

            with m.State("STATUS_2"):
                cycles = engine.host_rdata
                values = {"CYCLES": Mux(cycles[16:] != 0, Const(0xFFFF, 16), cycles[:16])}
                m.d.sync += [rsp_data[16:].eq(_status_word(values, 16, 32)),
                             cmd_err.eq(0), cmd_err_code.eq(0)]
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


def _status_word(values, lo, hi):
    """Bits lo..hi-1 of the status word laid out as STATUS_FIELDS says (zeros between fields);
    ``values`` holds the fields that lie in that range."""
    parts, bit = [], lo
    for f in sorted(STATUS_FIELDS, key=lambda f: f.lsb):
        if not lo <= f.lsb < hi:
            continue
        assert f.lsb + f.width <= hi, f"status field {f.name} straddles bit {hi}"
        if f.lsb > bit:
            parts.append(Const(0, f.lsb - bit))
        parts.append(values[f.name][:f.width] if f.width > 1 else values[f.name])
        bit = f.lsb + f.width
    if hi > bit:
        parts.append(Const(0, hi - bit))
    return Cat(*parts)

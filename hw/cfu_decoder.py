"""CommandDecoder: the CnnCfu's decode of the command in IDLE, from the command table of
spec/registers.py (combinational; the port acts on it when it accepts the command).

For the command ``function_id`` / ``inputs_0`` (rs1) / ``inputs_1`` (rs2), with the address
pointer ``ptr`` and the engine's ``engine_busy`` / ``engine_done``:

* ``cmd``: one flag per command of COMMANDS (field = name in lower case), plus ``write_space`` /
  ``read_space`` for any WRITE_* / READ_*.
* ``code``: the error code the command answers, 0 if it passes (UNKNOWN_FUNCTION, BAD_REGISTER,
  BUSY, BAD_VALUE, BAD_ADDRESS, NOT_DONE; see ERRORS).
* ``index``: rs1's low bits (register or counter index); ``perf_engine``: PERF of an engine counter.
* The host bus request of the command in IDLE: ``addr`` (the pointer for a space access, the
  register for REG_WRITE / REG_READ, the counter's register for PERF, STATUS, else CTRL), ``wdata``
  (rs2's limit-checked low bits for REG_WRITE, else rs1's, bit 0 set for START) and ``write`` (the
  command writes the bus: REG_WRITE, WRITE_*, START).

Area: register indices and limits are looked up in small constant tables on the index's low bits,
the pointer's per-space bound is one power-of-two test of its high bits per space (selected by
funct7), and only the low bits of the write data are multiplexed.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig
from spec.registers import (
    COMMAND,
    COMMANDS,
    COUNTERS,
    ERROR_CODE,
    REG,
    REGISTERS,
    SPACES,
    register_limit,
    space_depth,
)

from .cpu.cfu_port import FUNCTION_ID_WIDTH
from .host_bus import host_addr_width
from .registers import Space

__all__ = ["CommandDecoder", "command_layout", "index_bits"]


def command_layout():
    """One flag per command (name in lower case), and ``write_space`` / ``read_space``."""
    return data.StructLayout({**{c.name.lower(): 1 for c in COMMANDS}, "write_space": 1, "read_space": 1})


def index_bits():
    """Bits of a register or counter index (rs1 of REG_WRITE / REG_READ / PERF)."""
    ib = (max(len(REGISTERS), len(COUNTERS)) - 1).bit_length()
    assert all(r.index < 2 ** ib for r in REGISTERS) and all(c.index < 2 ** ib for c in COUNTERS)
    return ib


def _table(values, index, width):
    """A constant lookup ``values[index]`` (0 beyond the list): a few LUTs."""
    return Array(Const(v, width) for v in values)[index]


def _ge_const(value, bound):
    """``value >= bound`` for a constant bound: the high bits only when it is a power of two."""
    if bound == 0:
        return Const(1)
    if bound & (bound - 1) == 0:
        k = bound.bit_length() - 1
        return value[k:].any() if k < len(value) else Const(0)
    return value >= bound


class CommandDecoder(wiring.Component):
    """The command decode (see the module docstring)."""

    def __init__(self, config: AcceleratorConfig):
        # The decoder relies on these facts of the map (checked here, not assumed silently): every
        # command that touches the host bus in IDLE carries its space in funct7 (0 = REGS).
        for name in ("REG_WRITE", "REG_READ", "START", "STATUS", "PERF"):
            assert COMMAND[name].funct7 == Space.REGS.value, name
        self._config = config
        aw = host_addr_width(config)
        self._limits = {r.index: register_limit(config, r) for r in REGISTERS if r.access == "rw"}
        self._vw = max(index_bits(), max(self._limits.values()).bit_length())   # REG_WRITE value bits
        super().__init__({
            "function_id": In(FUNCTION_ID_WIDTH), "inputs_0": In(32), "inputs_1": In(32),
            "ptr": In(aw), "engine_busy": In(1), "engine_done": In(1),
            "cmd": Out(command_layout()),
            "code": Out(max(ERROR_CODE.values()).bit_length()),
            "index": Out(index_bits()), "perf_engine": Out(1),
            "addr": Out(aw), "wdata": Out(32), "write": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, cmd, ib, vw = self._config, self.cmd, index_bits(), self._vw
        f7, in0, in1 = self.function_id[3:], self.inputs_0, self.inputs_1
        aw = len(self.ptr)

        known = Cat(*[cmd[c.name.lower()] for c in COMMANDS]).any()
        with m.Switch(self.function_id):
            for c in COMMANDS:
                with m.Case(c.function_id):
                    m.d.comb += cmd[c.name.lower()].eq(1)
        for kind, flag in (("write", cmd.write_space), ("read", cmd.read_space)):
            m.d.comb += flag.eq(Cat(*[cmd[f"{kind}_{s.name.lower()}"] for s in SPACES
                                      if s.access == kind[0]]).any())

        idx = in0[:ib]
        idx_small = in0[ib:] == 0
        regs = {r.index: r for r in REGISTERS}
        cntrs = {c.index: c for c in COUNTERS}
        indices = range(2 ** ib)
        rw_ok = idx_small & _table([int(i in regs and regs[i].access == "rw") for i in indices], idx, 1)
        rd_ok = idx_small & _table([int(i in regs and "r" in regs[i].access) for i in indices], idx, 1)
        perf_ok = idx_small & (idx < len(COUNTERS))
        perf_reg = _table([REG[cntrs[i].register] if i in cntrs and cntrs[i].register else 0
                           for i in range(2 ** ib)], idx, ib)
        m.d.comb += [self.index.eq(idx), self.perf_engine.eq(_table(
            [int(i in cntrs and cntrs[i].register is not None) for i in range(2 ** ib)], idx, 1))]
        # in1 > limit[index], compared on vw bits (every limit is < 2**vw)
        bad_value = (in1[vw:] != 0) | (in1[:vw] > _table([self._limits.get(i, 0) for i in range(2 ** ib)],
                                                         idx, vw))
        # out of range for the command's space (its funct7), one compare per space, selected once
        out_of_range = Const(0)
        for s in SPACES:
            out_of_range = Mux(f7 == s.index, _ge_const(self.ptr, space_depth(cfg, s.index)), out_of_range)

        code, busy = self.code, self.engine_busy
        checks = [   # (command flag, [(failure, error name), ...] in priority order)
            (cmd.reg_write, [(~rw_ok, "BAD_REGISTER"), (busy, "BUSY"), (bad_value, "BAD_VALUE")]),
            (cmd.reg_read, [(~rd_ok, "BAD_REGISTER")]),
            (cmd.perf, [(~perf_ok, "BAD_REGISTER")]),
            (cmd.set_addr, [(in0[aw:] != 0, "BAD_ADDRESS")]),
            (cmd.write_space, [(busy, "BUSY"), (out_of_range, "BAD_ADDRESS")]),
            (cmd.read_space, [(busy | ~self.engine_done, "NOT_DONE"), (out_of_range, "BAD_ADDRESS")]),
            (cmd.start, [(busy, "BUSY")]),
        ]
        with m.If(~known):
            m.d.comb += code.eq(ERROR_CODE["UNKNOWN_FUNCTION"])
        for flag, failures in checks:
            with m.Elif(flag):
                for k, (failure, name) in enumerate(failures):
                    with (m.If if k == 0 else m.Elif)(failure):
                        m.d.comb += code.eq(ERROR_CODE[name])

        # The write data's bits above vw are rs1's for every write: a REG_WRITE that passes has rs1
        # (an index) and rs2 (<= its limit) both below 2**vw, and CTRL takes only bit 0.
        m.d.comb += [
            self.wdata.eq(Cat(Mux(cmd.reg_write, in1[:vw], in0[:vw]) | cmd.start, in0[vw:])),
            self.write.eq(cmd.reg_write | cmd.write_space | cmd.start),
        ]
        with m.If(cmd.write_space | cmd.read_space):
            m.d.comb += self.addr.eq(self.ptr)
        with m.Elif(cmd.reg_write | cmd.reg_read):
            m.d.comb += self.addr.eq(idx)
        with m.Elif(cmd.perf):
            m.d.comb += self.addr.eq(perf_reg)
        with m.Elif(cmd.status):
            m.d.comb += self.addr.eq(REG["STATUS"])
        with m.Else():                                   # START
            m.d.comb += self.addr.eq(REG["CTRL"])
        return m

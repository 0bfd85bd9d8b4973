"""Core: a small multi-cycle RV32I core (machine mode only) with a CFU port for custom-0 instructions.

Architecture
------------
A state machine over one datapath. The decoder works on the instruction bus word during DECODE;
signals prefixed ``x_`` are registered at the end of DECODE (or come from the register file's
read ports, which hold their data) and are used from EXECUTE on::

    FETCH ---> DECODE ---> EXECUTE --+--> DECODE   next instruction, fetched during EXECUTE
      ^                              +--> FETCH    taken branch, jal, jalr: fetch the target
      |                              +--> MEM      load: data arrives, write rd --> DECODE
      |                              +--> CFU_WAIT custom-0 accepted, wait for the response --> DECODE
      |                              +--> HALT     ecall, ebreak, illegal, misaligned
      +---------------- reset

* FETCH puts ``pc`` on the instruction bus.
* DECODE decodes the word that arrives, reads rs1/rs2 from the register file (block RAM, read data
  one cycle later) and registers the decoded fields.
* EXECUTE computes (ALU, branch condition, pc + imm, load/store address), writes rd and, speculating
  on straight-line code, already fetches ``pc + 4``: without a jump the next cycle is DECODE again.
  The value written to rd is an AND-OR of its possible sources (ALU, immediate, pc + imm, pc + 4,
  CSR, load data, CFU response), selected by one-hot bits the decoder registered.
  A taken branch or jump drops that word and goes through FETCH. Loads put the address on the data
  bus and finish in MEM (the register file read ports keep the operands, so the address stays
  valid without a register). Stores write in EXECUTE.

No combinational path runs from the register file through the ALU to the instruction bus or to
a write enable: the branch decision only picks the next state and ``pc``; the instruction bus
reads ``pc`` (FETCH) or ``pc + 4`` (every other cycle), the register file write enable and the
instret count do not depend on branch conditions. The data bus address is the ALU's rs1 + imm.

Cycles per instruction (from the cycle after the previous instruction retired):

    ============================================================  ==========================
    ALU reg/imm, lui, auipc, csr*, fence, store, branch not taken  2
    branch taken, jal, jalr                                        3
    load                                                           3
    custom-0 (CFU)                                                 2 + cycles waiting for
                                                                   cmd_ready + cycles from
                                                                   acceptance to rsp_valid
    first instruction after reset                                  +1 (FETCH)
    ============================================================  ==========================

Traps: there is no trap vector. ``ecall`` (cause 11), ``ebreak`` (3), an illegal instruction (2),
a jump or taken branch to an address that is not a multiple of 4 (0, reported on the jump), a
misaligned load (4) or store (6; neither touches the bus) stop the core in HALT: ``halted`` goes
high, ``halt_cause`` holds the cause (RISC-V ``mcause`` numbering, :class:`hw.cpu.isa.Cause`) and
``halt_pc`` the address of the trapping instruction. The trapping instruction does not retire and
writes nothing. Only reset leaves HALT.

Parameters
----------
reset_vector : int
    Address of the first instruction (a multiple of 4).
trace : bool
    Add the retire trace port (:func:`hw.cpu.bus.trace_signature`), for testbenches.
counter_width : int
    Width of the cycle/instret counters, 64 or 32 (then cycleh/instreth read 0).

Members: those of :class:`hw.cpu.core_ports.CorePorts` (buses, CFU port, halt state, trace).
"""

from amaranth.hdl import Cat, Module, Mux, Signal

from .alu import Alu
from .core_ports import CorePorts
from .csr import CsrUnit
from .decoder import Decoder, decoded_layout
from .isa import Cause
from .loadstore import LoadStore
from .regfile import RegisterFile

__all__ = ["Core", "CYCLES_PER_INSTRUCTION"]

#: Cycles per instruction class (the table above); the lock-step test measures them from the
#: retire trace and fails if the core differs. CFU instructions add their handshake delays to 2.
CYCLES_PER_INSTRUCTION = {
    "alu reg-reg": 2,
    "alu reg-imm": 2,
    "lui/auipc": 2,
    "csr read": 2,
    "fence": 2,
    "store": 2,
    "branch not taken": 2,
    "branch taken": 3,
    "jal": 3,
    "jalr": 3,
    "load": 3,
    "custom-0 (CFU)": 2,
}


class _CoreState:
    """The multi-cycle core's registers and per-cycle strobes, shared by the phases of
    :meth:`Core.elaborate` (one instance per elaboration), and the FSM actions on them.
    ``x_`` signals belong to the instruction in EXECUTE (registered at the end of DECODE)."""

    def __init__(self, m, reset_vector, regfile):
        self.m = m
        self.pc = Signal(32, init=reset_vector)
        self.pc_next = Signal(32)      # pc + 4: the sequential successor and the link value
        self.x_dec = Signal(decoded_layout)
        self.x_insn = Signal(32)
        self.x_rs1 = regfile.rdata1
        self.x_rs2 = regfile.rdata2
        self.x_target = Signal(32)     # pc + imm: branch and jal targets, the auipc result
        self.x_jump_target = Signal(32)
        self.halt_cause = Signal(4)
        self.retire = Signal()         # the instruction in EXECUTE/MEM/CFU_WAIT completes this cycle
        self.write_rd = Signal()       # ... and writes rd (never depends on a branch condition)
        self.rd_data = Signal(32)

    def fetch_next(self, write=True):
        """Retire with a sequential successor: pc + 4, read this cycle, is decoded next."""
        self.m.d.comb += self.retire.eq(1)
        if write:
            self.m.d.comb += self.write_rd.eq(1)
        self.m.d.sync += self.pc.eq(self.pc_next)
        self.m.next = "DECODE"

    def jump(self, write):
        """Retire with the jump target as successor (fetched in FETCH)."""
        self.m.d.comb += self.retire.eq(1)
        if write:
            self.m.d.comb += self.write_rd.eq(1)
        self.m.d.sync += self.pc.eq(Cat(0, 0, self.x_jump_target[2:32]))
        self.m.next = "FETCH"

    def halt(self, cause):
        self.m.d.sync += self.halt_cause.eq(cause)
        self.m.next = "HALT"


class Core(CorePorts):
    """Multi-cycle RV32I core; see the module docstring. Members: those of
    :class:`hw.cpu.core_ports.CorePorts`."""

    def __init__(self, *, reset_vector=0, trace=False, counter_width=64):
        if counter_width not in (32, 64):
            raise ValueError(f"counter_width must be 32 or 64, not {counter_width!r}")
        self._counter_width = counter_width
        super().__init__(reset_vector=reset_vector, trace=trace)

    def elaborate(self, platform):
        m = Module()

        m.submodules.decoder = decoder = Decoder()
        m.submodules.regfile = regfile = RegisterFile()
        m.submodules.alu = alu = Alu()
        m.submodules.lsu = lsu = LoadStore()
        m.submodules.csr = csr = CsrUnit(self._counter_width)
        s = _CoreState(m, self._reset_vector, regfile)

        m.d.comb += [
            s.pc_next.eq(s.pc + 4),
            s.x_target.eq(s.pc + s.x_dec.imm),
            s.x_jump_target.eq(Mux(s.x_dec.jalr, Cat(0, alu.sum[1:32]), s.x_target)),
            self.halt_pc.eq(s.pc),
            self.halt_cause.eq(s.halt_cause),
        ]
        # Decode straight from the instruction bus; register file addresses from the same word.
        m.d.comb += [
            decoder.insn.eq(self.ibus.data),
            regfile.raddr1.eq(decoder.rs1),
            regfile.raddr2.eq(decoder.rs2),
        ]
        self._connect_units(m, s, alu, lsu, csr)
        branch_taken = Signal()
        m.d.comb += branch_taken.eq(
            Mux(s.x_dec.funct3[2], Mux(s.x_dec.funct3[1], alu.ltu, alu.lt), alu.eq) ^ s.x_dec.funct3[0])
        self._write_back(m, s, alu, lsu, csr, regfile)

        # The instruction bus reads pc in FETCH and pc + 4 in every other cycle: whatever the next
        # state is, the word it needs is on the bus (a taken jump goes through FETCH), and no
        # branch decision reaches the RAM's address or enable.
        m.d.comb += [
            self.ibus.addr.eq(s.pc_next[2:32]),
            self.ibus.en.eq(~self.halted),
        ]

        with m.FSM(name="state"):
            with m.State("FETCH"):
                m.d.comb += self.ibus.addr.eq(s.pc[2:32])
                m.next = "DECODE"

            with m.State("DECODE"):
                m.d.comb += regfile.ren.eq(1)
                m.d.sync += [s.x_dec.eq(decoder.dec), s.x_insn.eq(self.ibus.data)]
                m.next = "EXECUTE"

            with m.State("EXECUTE"):
                self._execute(m, s, lsu, branch_taken)

            with m.State("MEM"):
                s.fetch_next()

            with m.State("CFU_WAIT"):
                m.d.comb += self.cfu.rsp_ready.eq(1)
                with m.If(self.cfu.rsp_valid):
                    s.fetch_next()

            with m.State("HALT"):
                m.d.comb += self.halted.eq(1)

        if self._trace:
            self._connect_trace(m, s, alu)
        return m

    def _connect_units(self, m, s, alu, lsu, csr):
        """The execute datapath: ALU operands and function, load/store unit, CSR unit."""
        x_dec = s.x_dec
        m.d.comb += [
            alu.a.eq(s.x_rs1),
            alu.b.eq(Mux(x_dec.use_imm, x_dec.imm, s.x_rs2)),
            alu.sub.eq(x_dec.alu_sub),
            alu.sra.eq(x_dec.alu_sra),
            alu.sel_sum.eq(x_dec.sel_sum),
            alu.sel_sll.eq(x_dec.sel_sll),
            alu.sel_sr.eq(x_dec.sel_sr),
            alu.sel_slt.eq(x_dec.sel_slt),
            alu.slt_unsigned.eq(x_dec.funct3[0]),
            alu.logic_op.eq(x_dec.logic_op),
            lsu.addr.eq(alu.sum),
            lsu.funct3.eq(x_dec.funct3),
            lsu.store_data.eq(s.x_rs2),
            lsu.rdata.eq(self.dbus.rdata),
            csr.addr.eq(x_dec.imm[0:12]),
            csr.retire.eq(s.retire),
        ]

    def _write_back(self, m, s, alu, lsu, csr, regfile):
        """The rd value (an AND-OR of the sources, one-hot selected by registered decoder bits),
        the register file write port, the data bus and the CFU command payload."""
        x_dec = s.x_dec

        def source(value, select):
            return value & select.replicate(32)

        m.d.comb += s.rd_data.eq(
            alu.result
            | source(x_dec.imm, x_dec.sel_imm)
            | source(s.x_target, x_dec.sel_target)
            | source(s.pc_next, x_dec.sel_link)
            | source(csr.rdata, x_dec.csr)
            | source(lsu.load_data, x_dec.load)
            | source(self.cfu.rsp_payload_outputs_0, x_dec.cfu))

        m.d.comb += [
            regfile.waddr.eq(x_dec.rd),
            regfile.wdata.eq(s.rd_data),
            regfile.we.eq(s.write_rd & x_dec.rd_we),
            self.dbus.addr.eq(alu.sum[2:32]),
            self.dbus.wdata.eq(lsu.wdata),
            self.cfu.cmd_payload_function_id.eq(Cat(x_dec.funct3, x_dec.imm[5:12])),
            self.cfu.cmd_payload_inputs_0.eq(s.x_rs1),
            self.cfu.cmd_payload_inputs_1.eq(s.x_rs2),
        ]

    def _execute(self, m, s, lsu, branch_taken):
        """The EXECUTE state: traps, load/store, the CFU handshake, jumps and branches; everything
        else retires with pc + 4."""
        x_dec = s.x_dec
        with m.If(x_dec.illegal):
            s.halt(Cause.ILLEGAL_INSTRUCTION)
        with m.Elif(x_dec.ecall):
            s.halt(Cause.ECALL)
        with m.Elif(x_dec.ebreak):
            s.halt(Cause.BREAKPOINT)
        with m.Elif(x_dec.load):
            with m.If(lsu.misaligned):
                s.halt(Cause.MISALIGNED_LOAD)
            with m.Else():
                m.d.comb += self.dbus.re.eq(1)
                m.next = "MEM"
        with m.Elif(x_dec.store):
            with m.If(lsu.misaligned):
                s.halt(Cause.MISALIGNED_STORE)
            with m.Else():
                m.d.comb += self.dbus.wmask.eq(lsu.wmask)
                s.fetch_next(write=False)
        with m.Elif(x_dec.cfu):
            m.d.comb += [self.cfu.cmd_valid.eq(1), self.cfu.rsp_ready.eq(1)]
            with m.If(self.cfu.cmd_ready):
                with m.If(self.cfu.rsp_valid):
                    s.fetch_next()
                with m.Else():
                    m.next = "CFU_WAIT"
        with m.Elif(x_dec.jal | x_dec.jalr):
            with m.If(s.x_jump_target[1]):
                s.halt(Cause.MISALIGNED_FETCH)
            with m.Else():
                s.jump(write=True)
        with m.Elif(x_dec.branch):
            with m.If(~branch_taken):
                s.fetch_next(write=False)
            with m.Elif(s.x_jump_target[1]):
                s.halt(Cause.MISALIGNED_FETCH)
            with m.Else():
                s.jump(write=False)
        with m.Else():
            s.fetch_next()

    def _connect_trace(self, m, s, alu):
        m.d.comb += [
            self.trace.valid.eq(s.retire),
            self.trace.pc.eq(s.pc),
            self.trace.insn.eq(s.x_insn),
            self.trace.rd.eq(Mux(s.x_dec.rd_we, s.x_dec.rd, 0)),
            self.trace.rd_data.eq(s.rd_data),
            self.trace.mem_addr.eq(alu.sum),
            self.trace.mem_wmask.eq(self.dbus.wmask),
            self.trace.mem_wdata.eq(self.dbus.wdata),
        ]
